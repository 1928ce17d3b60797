"""Server-rendered pages (jinja2): the learner's phone pages work without JavaScript."""
