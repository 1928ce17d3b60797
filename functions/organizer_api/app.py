"""Organizer routes: agenda import, roster, scanner devices, session end, dashboard, help-desk views."""

import io
from typing import Any

from aws_lambda_powertools.event_handler import Response

from cme import clock
from cme.adapters import store
from cme.api import base_url, content_type, is_id, json_body, json_response, new_resolver, parse, raw_body
from cme.auth import Organizer, device_token_hash, issue_learner_token, new_device_token, require_organizer
from cme.config import settings
from cme.domain.models import Activity
from cme.errors import NotFound, Unprocessable
from cme.observability import logger
from cme.service import branding, certificate_admin, counters, reports
from cme.service.activities import import_activity
from cme.service.dashboard import dashboard, differences, recount
from cme.service.learners import learner_view
from cme.service.review import review_list
from cme.service.roster import parse_roster, upsert_roster

app = new_resolver()


def _authorized(activity_id: str) -> Organizer:
    organizer = require_organizer(app.current_event.raw_event, activity_id)
    _path_id(activity_id, "activity")
    return organizer


def _path_id(value: str, what: str) -> str:
    """An id no record can have (too long, or characters no id uses) is a 404 before any lookup: DynamoDB
    answers a key over its size with an error, not with nothing."""
    if not is_id(value):
        raise NotFound(f"no {what} has that id")
    return value


def _existing(activity_id: str) -> Activity:
    activity = store.get_activity(activity_id)
    if activity is None:
        raise NotFound(f"no activity {activity_id!r}")
    return activity


@app.put("/activities/<activity_id>")
def put_activity(activity_id: str) -> Response:
    require_organizer(app.current_event.raw_event, activity_id)  # the agenda's checks name a bad id (422)
    body = json_body(app)
    if not isinstance(body, dict):
        raise Unprocessable("expected a JSON object", [{"field": "body", "message": "not an object"}])
    if body.get("activity_id") not in (None, activity_id):
        raise Unprocessable(
            "activity_id differs from the path", [{"field": "activity_id", "message": "differs from the path"}]
        )
    activity = parse(Activity, {**body, "activity_id": activity_id})
    result = import_activity(activity)
    return json_response(201 if result["created"] else 200, result)


@app.get("/activities/<activity_id>")
def get_activity(activity_id: str) -> Response:
    """The agenda as stored (what `PUT` took, with its defaults filled in)."""
    _authorized(activity_id)
    return json_response(200, _existing(activity_id).model_dump(mode="json"))


@app.post("/activities/<activity_id>/attendees")
def post_attendees(activity_id: str) -> Response:
    _authorized(activity_id)
    _existing(activity_id)
    rows = parse_roster(raw_body(app), content_type(app))
    flag = (app.current_event.get_query_string_value("send_links") or "true").strip().lower()
    if flag not in ("true", "false"):
        raise Unprocessable("send_links must be true or false", [{"field": "send_links", "message": flag[:40]}])
    return json_response(200, upsert_roster(activity_id, rows, send_links=flag == "true"))


def _qr_svg(text: str) -> str:
    """A standalone SVG document of the QR code (with its namespace: a page parses it as SVG)."""
    import segno  # only a new device's set-up link needs it: not in every cold start

    out = io.BytesIO()
    segno.make(text, error="m").save(
        out, kind="svg", scale=4, border=4, dark="#000", xmldecl=False, svgns=True, omitsize=True, nl=False
    )
    return out.getvalue().decode()


@app.post("/activities/<activity_id>/devices")
def post_device(activity_id: str) -> Response:
    organizer = _authorized(activity_id)
    _existing(activity_id)
    body: Any = json_body(app) if app.current_event.body else {}
    label = str(body.get("label", ""))[:100] if isinstance(body, dict) else ""
    token = new_device_token()
    device_id = f"dev-{device_token_hash(token)[:12]}"
    store.put_device(
        device_token_hash(token),
        activity_id=activity_id,
        device_id=device_id,
        created_at=clock.iso(clock.now()),
        label=label,
    )
    logger.info(
        "scanner device issued", extra={"activity_id": activity_id, "device_id": device_id, "by": organizer.subject}
    )
    # The door phone opens the set-up link (or scans its QR code); the token rides in the fragment,
    # which the browser never sends to a server.
    setup_url = f"{base_url(app)}/scanner#device={token}"
    return json_response(
        201,
        {
            "device_id": device_id,
            "token": token,
            "label": label,
            "setup_url": setup_url,
            "setup_qr_svg": _qr_svg(setup_url),
        },
    )


@app.get("/activities/<activity_id>/devices")
def get_devices(activity_id: str) -> Response:
    _authorized(activity_id)
    return json_response(200, {"devices": store.list_devices(activity_id)})


@app.delete("/activities/<activity_id>/devices/<device_id>")
def delete_device(activity_id: str, device_id: str) -> Response:
    """Revoke a scanner device: its token is refused from now on; the scans it sent stay."""
    organizer = _authorized(activity_id)
    device = store.revoke_device(activity_id, _path_id(device_id, "scanner device"), revoked_at=clock.iso(clock.now()))
    if device is None:
        raise NotFound(f"no scanner device {device_id!r} in this activity")
    logger.info(
        "scanner device revoked", extra={"activity_id": activity_id, "device_id": device_id, "by": organizer.subject}
    )
    return json_response(200, device)


@app.post("/activities/<activity_id>/sessions/<session_id>/end")
def end_session(activity_id: str, session_id: str) -> Response:
    _authorized(activity_id)
    session = _existing(activity_id).session(session_id)
    if session is None:
        raise NotFound(f"no session {session_id!r} in this activity")
    now = clock.iso(clock.now())
    store.request_session_end(
        activity_id, session_id, reason="manual", ended_at=session.ends_at.isoformat(), requested_at=now
    )
    return json_response(202, {"activity_id": activity_id, "session_id": session_id, "status": "accepted"})


@app.get("/activities/<activity_id>/dashboard")
def get_dashboard(activity_id: str) -> Response:
    _authorized(activity_id)
    return json_response(200, dashboard(activity_id))


def _comparison(activity_id: str) -> dict[str, Any]:
    recounted = recount(activity_id)
    live = dashboard(activity_id)
    found = differences(live, recounted)
    return {"consistent": not found, "differences": found, "live": live, "recount": recounted}


@app.get("/activities/<activity_id>/dashboard/recount")
def get_recount(activity_id: str) -> Response:
    """The counts recomputed from the records, beside the live ones, and where they differ."""
    _authorized(activity_id)
    return json_response(200, _comparison(activity_id))


@app.post("/activities/<activity_id>/dashboard/recount")
def post_recount(activity_id: str) -> Response:
    """Set the live counts to the records (see counters.repair), then compare again."""
    organizer = _authorized(activity_id)
    _existing(activity_id)
    corrected = counters.repair(activity_id, int(clock.now().timestamp()))
    logger.info("counts repaired", extra={"activity_id": activity_id, "corrected": corrected, "by": organizer.subject})
    return json_response(200, {"corrected": corrected, **_comparison(activity_id)})


@app.get("/activities/<activity_id>/reports/<name>")
def get_report(activity_id: str, name: str) -> Response:
    _authorized(activity_id)
    built = reports.report(_existing(activity_id), name)
    headers = {
        "Content-Type": built.content_type,
        "Content-Disposition": f'attachment; filename="{activity_id}-{name}"',
        "Cache-Control": "no-store",
        **built.headers,
    }
    # Counts only (`X-CME-Excluded`): never a name, board id or birth date.
    logger.info(
        "report downloaded",
        extra={"activity_id": activity_id, "report": name, "bytes": len(built.body), **built.headers},
    )
    return Response(status_code=200, headers=headers, body=built.body)


@app.get("/activities/<activity_id>/review")
def get_review_list(activity_id: str) -> Response:
    """Learners whose certificate shows more credit than their scans now support."""
    _authorized(activity_id)
    return json_response(200, review_list(activity_id))


@app.get("/activities/<activity_id>/attendees/<badge_id>")
def get_attendee_view(activity_id: str, badge_id: str) -> Response:
    _authorized(activity_id)
    _path_id(badge_id, "attendee")
    return json_response(200, learner_view(activity_id, badge_id, base_url(app), for_organizer=True))


@app.get("/activities/<activity_id>/attendees/<badge_id>/link")
def get_learner_link(activity_id: str, badge_id: str) -> Response:
    _authorized(activity_id)
    if store.get_attendee(activity_id, _path_id(badge_id, "attendee")) is None:
        raise NotFound("no such attendee")
    from datetime import timedelta

    expires = clock.now() + timedelta(days=settings().learner_link_days)
    token = issue_learner_token(activity_id, badge_id, expires)
    return json_response(200, {"url": f"{base_url(app)}/l/{token}", "expires_at": clock.iso(expires)})


@app.get("/activities/<activity_id>/certificates/<certificate_id>")
def get_certificate_download(activity_id: str, certificate_id: str) -> Response:
    _authorized(activity_id)
    url = certificate_admin.download_url(activity_id, _path_id(certificate_id, "certificate"))
    return Response(status_code=302, headers={"Location": url, "Cache-Control": "no-store"}, body="")


@app.post("/activities/<activity_id>/certificates/<certificate_id>/revoke")
def post_certificate_revoke(activity_id: str, certificate_id: str) -> Response:
    organizer = _authorized(activity_id)
    body = json_body(app)
    return json_response(
        200, certificate_admin.revoke(activity_id, _path_id(certificate_id, "certificate"), body, organizer.subject)
    )


@app.post("/activities/<activity_id>/certificates/<certificate_id>/reissue")
def post_certificate_reissue(activity_id: str, certificate_id: str) -> Response:
    _authorized(activity_id)
    return json_response(202, certificate_admin.reissue(activity_id, _path_id(certificate_id, "certificate")))


@app.post("/activities/<activity_id>/certificates/<certificate_id>/resend")
def post_certificate_resend(activity_id: str, certificate_id: str) -> Response:
    organizer = _authorized(activity_id)
    certificate_id = _path_id(certificate_id, "certificate")
    return json_response(202, certificate_admin.resend(activity_id, certificate_id, organizer.subject))


@app.put("/activities/<activity_id>/branding/<kind>")
def put_branding_image(activity_id: str, kind: str) -> Response:
    _authorized(activity_id)
    _existing(activity_id)
    return json_response(200, branding.upload(activity_id, kind, raw_body(app), content_type(app)))


@app.get("/activities/<activity_id>/branding")
def get_branding(activity_id: str) -> Response:
    _authorized(activity_id)
    return json_response(200, {**branding.listing(activity_id), **_existing(activity_id).branding.model_dump()})


@app.delete("/activities/<activity_id>/branding/<kind>")
def delete_branding_image(activity_id: str, kind: str) -> Response:
    _authorized(activity_id)
    branding.remove(activity_id, kind)
    return Response(status_code=204, body="")


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
