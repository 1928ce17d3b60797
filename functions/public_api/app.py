"""Public routes: certificate verification (HTML or JSON) and the health check."""

import html
from typing import Any

from aws_lambda_powertools.event_handler import Response

from cme.api import json_response, new_resolver
from cme.errors import BadRequest, NotFound
from cme.observability import logger
from cme.service.certificates import verification

app = new_resolver()

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Certificate {status}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}}
.s{{font-size:1.5rem;font-weight:700;padding:.5rem 1rem;border-radius:.5rem;display:inline-block}}
.valid{{background:#d8f5dd;color:#0b5a1a}}.superseded{{background:#fff1c2;color:#6b4e00}}.revoked{{background:#fddede;color:#8a1111}}
dt{{font-weight:600;margin-top:.75rem}}dd{{margin:0}}code{{word-break:break-all}}</style></head><body>
<h1>Certificate verification</h1><p class="s {status}">{status_text}</p><dl>
<dt>Learner</dt><dd>{learner}</dd><dt>Activity</dt><dd>{title}</dd><dt>Dates</dt><dd>{dates}</dd>
<dt>Credits</dt><dd>{credits}</dd><dt>Issued</dt><dd>{issued}</dd><dt>Version</dt><dd>{version}</dd>
<dt>SHA-256 of the PDF</dt><dd><code>{sha}</code></dd></dl></body></html>"""

_STATUS_TEXT = {
    "valid": "Valid: this is the current version of the certificate.",
    "superseded": "Superseded: a newer version of this certificate was issued.",
    "revoked": "Revoked by the provider.",
}


@app.get("/verify/<certificate_id>")
def get_verification(certificate_id: str) -> Response:
    raw_version = app.current_event.get_query_string_value("version")
    if raw_version is not None and not raw_version.isdigit():
        raise BadRequest("version must be a whole number")
    result = verification(certificate_id, int(raw_version) if raw_version else None)
    if result is None:
        raise NotFound("no such certificate")
    accept = app.current_event.headers.get("accept", "")
    if "application/json" in accept or "text/html" not in accept:
        return json_response(200, result)
    credits = ", ".join(f"{v} {k}" for k, v in result["credits"].items())
    page = _PAGE.format(
        status=result["status"],
        status_text=_STATUS_TEXT[result["status"]],
        learner=html.escape(result["learner_name"]),
        title=html.escape(result["activity_title"]),
        dates=html.escape(result["dates"].replace("/", " – ")),
        credits=html.escape(credits),
        issued=html.escape(result["issued_at"]),
        version=result["version"],
        sha=result["sha256"],
    )
    return Response(status_code=200, content_type="text/html; charset=utf-8", body=page)


@app.get("/health")
def health() -> Response:
    return json_response(200, {"status": "ok"})


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
