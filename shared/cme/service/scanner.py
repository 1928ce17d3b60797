"""The door scanner's set-up (`GET /scanner/setup`): what a scanner device keeps so that it can decide at the
door without the network — the activity's dates and time zone, its rooms with their sessions, and each badge
with the one thing door staff may see, the name printed on it. Nothing else about an attendee leaves here."""

from __future__ import annotations

import re
from operator import itemgetter
from typing import Any

from cme import clock
from cme.adapters import store
from cme.cache import ttl_memo
from cme.domain.models import Activity, Attendee
from cme.errors import BadRequest, Forbidden, NotFound

#: A door rush starts every device of a meeting at once: one container reads an activity's roster at most
#: this often (a roster change reaches the doors within this many seconds, or at the devices' next refresh).
CACHE_SECONDS = 15
ACTIVITY_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def badge_name(attendee: Attendee) -> str:
    """The name as the badge prints it: given and family name, without degree or title."""
    return f"{attendee.given_name} {attendee.family_name}"


def _rooms(activity: Activity) -> list[dict[str, Any]]:
    """Rooms in the order their first session starts, each with its sessions in time order."""
    by_room: dict[str, list[dict[str, Any]]] = {}
    for session in sorted(activity.sessions, key=lambda s: (s.starts_at, s.session_id)):
        by_room.setdefault(session.room, []).append(
            {
                "session_id": session.session_id,
                "title": session.title,
                "starts_at": session.starts_at.isoformat(),
                "ends_at": session.ends_at.isoformat(),
            }
        )
    return [{"room": room, "sessions": sessions} for room, sessions in by_room.items()]


@ttl_memo(CACHE_SECONDS)
def _setup(activity_id: str) -> dict[str, Any] | None:
    activity = store.get_activity(activity_id)
    if activity is None:
        return None
    badges = sorted(
        ({"badge_id": a.badge_id, "name": badge_name(a)} for a in store.roster(activity_id)), key=itemgetter("badge_id")
    )
    return {
        "activity": {
            "activity_id": activity.activity_id,
            "title": activity.title,
            "timezone": activity.timezone,
            "starts_on": activity.starts_on.isoformat(),
            "ends_on": activity.ends_on.isoformat(),
        },
        "rooms": _rooms(activity),
        "badges": badges,
        "as_of": clock.iso(clock.now()),
    }


def _activity_id(device: dict[str, Any], requested: str | None) -> str:
    """The device's own activity, or for a device of every activity (`*`) the one it asks for."""
    bound = str(device.get("activity_id"))
    if requested is not None and not ACTIVITY_ID.match(requested):
        raise BadRequest("activity_id is not a valid activity id")
    if bound == "*":
        if not requested:
            raise BadRequest("this scanner device serves every activity: add ?activity_id= to choose one")
        return requested
    if requested and requested != bound:
        raise Forbidden("this scanner device belongs to another activity")
    return bound


def scanner_setup(device: dict[str, Any], requested_activity_id: str | None = None) -> dict[str, Any]:
    """`{"device_id", "activity", "rooms", "badges", "as_of"}` for an authenticated device."""
    activity_id = _activity_id(device, requested_activity_id)
    setup = _setup(activity_id)
    if setup is None:
        _setup.cache_clear()  # type: ignore[attr-defined]  # do not remember a miss
        raise NotFound(f"no activity {activity_id!r}")
    return {"device_id": str(device.get("device_id") or ""), **setup}
