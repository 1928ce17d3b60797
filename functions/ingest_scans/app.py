"""`POST /scans`: a scanner device uploads 1–500 scans and gets one result per scan; `GET /scanner/setup`:
what the door scanner keeps to decide at the door while offline (same device token)."""

from typing import Any

from aws_lambda_powertools.event_handler import Response

from cme.api import bearer_token, json_body, json_response, new_resolver
from cme.observability import count, logger, metrics
from cme.service.scanner import scanner_setup
from cme.service.scans import authenticate_device, ingest_scans

app = new_resolver()


@app.post("/scans")
def post_scans() -> Response:
    device = authenticate_device(bearer_token(app))
    result = ingest_scans(device, json_body(app))
    statuses = [r["status"] for r in result["results"]]
    count("ScansAccepted", statuses.count("accepted"))
    count("ScansRejected", statuses.count("rejected"))
    logger.info(
        "scans received",
        extra={
            "accepted": statuses.count("accepted"),
            "duplicate": statuses.count("duplicate"),
            "rejected": statuses.count("rejected"),
        },
    )
    return json_response(200, result)


@app.get("/scanner/setup", compress=True)
def get_scanner_setup() -> Response:
    """The device's activity, rooms and badge names. Gzipped when the device accepts it: a 40,000-badge roster
    is about 2 MB of JSON, fetched over a door's Wi-Fi."""
    device = authenticate_device(bearer_token(app))
    setup = scanner_setup(device, app.current_event.get_query_string_value("activity_id"))
    logger.info(
        "scanner set-up read",
        extra={
            "activity_id": setup["activity"]["activity_id"],
            "device_id": setup["device_id"],
            "badges": len(setup["badges"]),
        },
    )
    return json_response(200, setup, headers={"Cache-Control": "no-store"})


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
