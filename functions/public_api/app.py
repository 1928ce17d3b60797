"""Public routes: certificate verification (HTML or JSON) and the health check."""

from typing import Any

from aws_lambda_powertools.event_handler import Response

from cme.api import json_response, new_resolver
from cme.errors import BadRequest, NotFound
from cme.observability import logger
from cme.service.certificates import verification
from cme.web import pages

app = new_resolver()


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
    page = pages.verify_page(result)
    return Response(status_code=200, headers=dict(pages.HEADERS), body=page)


@app.get("/health")
def health() -> Response:
    return json_response(200, {"status": "ok"})


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
