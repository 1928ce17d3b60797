"""Public routes: certificate verification (HTML or JSON), the health check, the organizer's dashboard page
and the door scanner (shells and static files only: their data comes from the organizer API or the scanner
set-up, read by the page with a token)."""

from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response

from cme.api import is_id, json_response, new_resolver
from cme.errors import BadRequest, NotFound
from cme.observability import logger
from cme.service.certificates import verification
from cme.web import organizer, pages, scanner

app = new_resolver()


@app.get("/verify/<certificate_id>")
def get_verification(certificate_id: str) -> Response:
    raw_version = app.current_event.get_query_string_value("version")
    # ASCII digits only: "²" is a digit to str.isdigit() but no number to int().
    if raw_version is not None and not (raw_version.isascii() and raw_version.isdigit() and len(raw_version) <= 9):
        raise BadRequest("version must be a whole number")
    found = is_id(certificate_id)  # else no certificate has it (and no lookup is made with it)
    result = verification(certificate_id, int(raw_version) if raw_version else None) if found else None
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


def _organizer_shell(view: organizer.View, activity_id: str = "") -> Response:
    body = organizer.shell(view, activity_id)
    return Response(status_code=200, headers=organizer.page_headers(organizer.sign_in()), body=body)


@app.get("/organizer/")
def organizer_home() -> Response:
    """Sign-in state and a way to pick an activity."""
    return _organizer_shell("home")


@app.get("/organizer/activities/<activity_id>")
def organizer_dashboard(activity_id: str) -> Response:
    """The same shell for any id: whether the activity exists, and whether the caller manages it, is the
    organizer API's answer to the page's first call. The id arrives as the raw path segment."""
    return _organizer_shell("activity", unquote(activity_id))


@app.get("/organizer/callback")
def organizer_callback() -> Response:
    """Cognito's hosted UI returns here with `?code=`; the page exchanges it (PKCE) itself."""
    return _organizer_shell("callback")


def _organizer_asset(name: str) -> Response:
    status, body, headers = organizer.asset(name, app.current_event.headers.get("if-none-match"))
    return Response(status_code=status, headers=headers, body=body)


@app.get("/organizer/app.js")
def organizer_script() -> Response:
    return _organizer_asset("app.js")


@app.get("/organizer/app.css")
def organizer_styles() -> Response:
    return _organizer_asset("app.css")


@app.get("/scanner")
def scanner_page() -> Response:
    """The door scanner's shell; the device token arrives in the fragment and stays on the device."""
    return Response(status_code=200, headers=dict(scanner.PAGE_HEADERS), body=scanner.shell())


def _scanner_asset(name: str) -> Response:
    status, body, headers = scanner.asset(name, app.current_event.headers.get("if-none-match"))
    return Response(status_code=status, headers=headers, body=body)


@app.get("/scanner-sw.js")
def scanner_worker() -> Response:
    """The service worker, at the root so that its scope may cover `/scanner` itself."""
    return _scanner_asset("sw.js")


@app.get("/scanner/app.js")
def scanner_script() -> Response:
    return _scanner_asset("app.js")


@app.get("/scanner/app.css")
def scanner_styles() -> Response:
    return _scanner_asset("app.css")


@app.get("/scanner/jsqr.js", compress=True)
def scanner_qr_decoder() -> Response:
    return _scanner_asset("jsqr.js")


@app.get("/scanner/manifest.webmanifest")
def scanner_manifest() -> Response:
    return _scanner_asset("manifest.webmanifest")


@app.get("/scanner/icon.svg")
def scanner_icon() -> Response:
    return _scanner_asset("icon.svg")


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
