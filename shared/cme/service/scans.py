"""Scan ingest (`POST /scans`): one result per scan in request order, with a reason for each refusal.

Accepted scans are written once (conditional put on the attendee's partition); the stream outbox turns
each new scan into CheckInScanned. Scans are dated by the device's clock, so an offline backlog counts
at the time the badge was really scanned."""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from pydantic import ValidationError

from cme import clock
from cme.adapters import store
from cme.api import is_id
from cme.auth import device_token_hash
from cme.cache import ttl_memo
from cme.concurrency import map_io
from cme.config import settings
from cme.domain.models import Activity, DoorScan, Scan, epoch
from cme.domain.presence import covered_sessions, sessions_by_room
from cme.errors import Forbidden, NotFound, Unauthorized, Unprocessable

MAX_SCANS = 500
#: A device's token record and the agenda are re-read at most this often by one container: a revoked
#: device is refused, and an agenda change applies to the door screen, within this many seconds.
CACHE_SECONDS = 15


@ttl_memo(CACHE_SECONDS)
def _device(token_hash: str) -> dict[str, Any] | None:
    return store.get_device(token_hash)


@ttl_memo(CACHE_SECONDS)
def _activity(activity_id: str) -> Activity | None:
    return store.get_activity(activity_id)


def forget_cached() -> None:
    """Drop the cached device tokens and agendas (the local stack, when it starts a new deployment)."""
    _device.cache_clear()  # type: ignore[attr-defined]
    _activity.cache_clear()  # type: ignore[attr-defined]


def authenticate_device(token: str | None) -> dict[str, Any]:
    if not token:
        raise Unauthorized("a scanner device token is required")
    device = _device(device_token_hash(token))
    if not device:
        raise Unauthorized("unknown scanner device token")
    if device.get("revoked"):
        raise Forbidden("this scanner device was revoked by the organizer", code="device_revoked")
    return device


def _result(
    scan_id: Any,
    status: str,
    reason: str | None = None,
    name: str | None = None,
    session: str | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    result = {
        "scan_id": scan_id if isinstance(scan_id, str) else None,
        "status": status,
        "reason": reason,
        "attendee_name": name,
        "session_id": session,
    }
    if message is not None:
        result["message"] = message  # for the door screen and the device's log: what to fix
    return result


def _invalid_message(raw: Any, exc: ValidationError | None) -> str:
    if exc is None:
        return "each scan must be a JSON object"
    problems = []
    for error in exc.errors(include_url=False, include_input=False)[:3]:
        field = ".".join(str(part) for part in error["loc"]) or "scan"
        problems.append(f"{field}: {str(error['msg']).removeprefix('Value error, ')}")
    return "; ".join(problems)


def _refusal_message(reason: str, activity: Activity, scan: Scan, latest: datetime) -> str:
    if reason == "unknown_badge":
        return f"badge {scan.badge_id} is not on this activity's roster"
    if reason == "unknown_room":
        return f"no session of this activity is held in room {scan.room}"
    if reason == "unknown_session":
        return f"no session {scan.session_id} in this activity"
    if scan.scanned_at > latest:
        return "scanned_at is in the future: check the device's clock"
    return f"scanned_at is outside the activity's dates ({activity.starts_on} to {activity.ends_on})"


def _local_day(moment: datetime, zone: tzinfo) -> date | None:
    """The scan's date where the activity is; None within a day of the calendar's ends (0001-01-01,
    9999-12-31), where the conversion overflows: no activity is held then."""
    try:
        return moment.astimezone(zone).date()
    except OverflowError:
        return None


def _reason_for_place(activity: Activity, scan: Scan) -> tuple[str | None, str | None]:
    """(room, None) when the scan's place is known, else (None, reason)."""
    if scan.session_id is not None:
        session = activity.session(scan.session_id)
        return (session.room, None) if session else (None, "unknown_session")
    return (scan.room, None) if scan.room in activity.rooms else (None, "unknown_room")


def ingest_scans(device: dict[str, Any], body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("scans"), list):
        raise Unprocessable(
            'expected {"activity_id", "scans": [...]}', [{"field": "scans", "message": "required list"}]
        )
    raw_scans: list[Any] = body["scans"]
    if not 1 <= len(raw_scans) <= MAX_SCANS:
        raise Unprocessable(
            f"send 1 to {MAX_SCANS} scans per request", [{"field": "scans", "message": f"{len(raw_scans)} scans"}]
        )
    bound = str(device.get("activity_id"))
    activity_id = body.get("activity_id") or (bound if bound != "*" else None)
    if not isinstance(activity_id, str) or not activity_id:
        raise Unprocessable("activity_id is required", [{"field": "activity_id", "message": "required"}])
    if not is_id(activity_id):
        raise Unprocessable("activity_id is not an activity id", [{"field": "activity_id", "message": "not an id"}])
    if bound not in ("*", activity_id):
        raise Forbidden("this scanner device belongs to another activity")
    activity = _activity(activity_id)
    if activity is None:
        _activity.cache_clear()  # type: ignore[attr-defined]  # do not remember a miss
        raise NotFound(f"no activity {activity_id!r}")

    parsed: list[Scan | None] = []
    problems: list[str] = []
    for raw in raw_scans:
        try:
            parsed.append(Scan.model_validate(raw))
            problems.append("")
        except ValidationError as exc:
            parsed.append(None)
            problems.append(_invalid_message(raw, exc if isinstance(raw, dict) else None))
    attendees = store.get_attendees(activity_id, [s.badge_id for s in parsed if s is not None])

    now = clock.now()
    latest = now + timedelta(seconds=settings().scan_clock_skew_seconds)
    zone = activity.zone
    received_at = clock.iso(now)
    by_room = sessions_by_room(activity)
    results: list[dict[str, Any]] = []
    writes: list[tuple[int, Scan, DoorScan, str | None, str]] = []  # (result index, scan, stored form, session, name)
    seen: set[str] = set()
    for raw, scan, problem in zip(raw_scans, parsed, problems, strict=True):
        if scan is None:
            scan_id = raw.get("scan_id") if isinstance(raw, dict) else None
            results.append(_result(scan_id, "rejected", "invalid", message=problem))
            continue
        room, reason = _reason_for_place(activity, scan)
        attendee = attendees.get(scan.badge_id)
        if reason is None and attendee is None:
            reason = "unknown_badge"
        local_day = _local_day(scan.scanned_at, zone)
        if reason is None and (
            local_day is None or scan.scanned_at > latest or not activity.starts_on <= local_day <= activity.ends_on
        ):
            reason = "outside_activity"
        if reason is not None or room is None or attendee is None:
            reason = reason or "invalid"
            message = _refusal_message(reason, activity, scan, latest)
            results.append(_result(scan.scan_id, "rejected", reason, message=message))
            continue
        door_scan = DoorScan(scan_id=scan.scan_id, room=room, at=epoch(scan.scanned_at), direction=scan.direction)
        covered = (
            covered_sessions(by_room.get(room, []), door_scan.at, activity.policy.lookahead_minutes * 60)
            if scan.direction == "entry"
            else []
        )
        session_id = scan.session_id or (covered[0].session_id if covered else None)
        results.append(_result(scan.scan_id, "duplicate", None, attendee.greeting_name, session_id))
        if scan.scan_id in seen:
            continue  # repeated within this request: the first one in request order is the one stored
        seen.add(scan.scan_id)
        writes.append((len(results) - 1, scan, door_scan, session_id, attendee.greeting_name))

    def write(entry: tuple[int, Scan, DoorScan, str | None, str]) -> bool:
        _, scan, door_scan, session_id, _ = entry
        return store.put_scan(
            activity_id,
            scan.badge_id,
            door_scan,
            scanned_at=scan.scanned_at.isoformat(),
            received_at=received_at,
            device_id=scan.device_id or device.get("device_id"),
            session_id=session_id,
        )

    # Each scan is its own conditional write; they are independent, so they overlap.
    for (index, *_), stored in zip(writes, map_io(write, writes), strict=True):
        if stored:
            results[index]["status"] = "accepted"
    return {"results": results}
