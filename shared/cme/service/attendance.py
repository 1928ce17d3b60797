"""Attendance: finalizing a session for everyone who was in its room, recomputing one attendee when
late scans arrive, and the live presence cache behind "inside now". Credit is always recomputed from
the full scan set (credit-rules.md), so replays and late uploads converge on the same numbers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cme import clock
from cme.adapters import store
from cme.concurrency import map_io
from cme.domain.credit import session_attendance
from cme.domain.models import Activity, SessionAttendance
from cme.domain.presence import walk_presence
from cme.observability import logger


def finalize_session(activity_id: str, session_id: str) -> dict[str, Any]:
    """Compute and store every attendee's attendance for one session (idempotent)."""
    activity = store.get_activity(activity_id)
    session = activity.session(session_id) if activity else None
    if activity is None or session is None:
        logger.warning(
            "session end for an unknown session", extra={"activity_id": activity_id, "session_id": session_id}
        )
        return {"finalized": False, "attendees": 0}
    store.mark_session_finalized(activity_id, session_id, at=clock.iso(clock.now()))
    candidates = store.badges_with_entries_in(activity_id, session.room, before=session.end) | set(session.faculty)
    badges = sorted(candidates)
    scan_sets = map_io(lambda badge: store.scans_of(activity_id, badge), badges)
    rows: list[tuple[str, SessionAttendance]] = []
    for badge_id, scans in zip(badges, scan_sets, strict=True):
        attendance = session_attendance(activity, badge_id, scans, only={session_id}).get(session_id)
        if attendance is not None:
            rows.append((badge_id, attendance))
    written = store.put_attendances(activity_id, rows)
    logger.info(
        "session finalized",
        extra={"activity_id": activity_id, "session_id": session_id, "candidates": len(candidates), "records": written},
    )
    return {"finalized": True, "attendees": written}


def live_presence(
    activity: Activity, scans: list[Any], now: int, attended: dict[str, SessionAttendance]
) -> dict[str, Any]:
    """The attendee's live state: the room they are in now (if any) and the sessions they checked into."""
    walk = walk_presence(activity, scans)
    inside = next((p for p in reversed(walk.presences) if p.start <= now < p.end), None)
    in_session = None
    if inside is not None:
        running = sorted(
            (s for s in activity.sessions if s.room == inside.room and s.start <= now < s.end),
            key=lambda s: (s.start, s.session_id),
        )
        in_session = running[0].session_id if running else None
    return {
        "first_scan_at": min((s.at for s in scans), default=None),
        "room": inside.room if inside else None,
        "session_id": in_session,
        "since": inside.start if inside else None,
        "until": inside.end if inside else None,
        "sessions": sorted(sid for sid, a in attended.items() if a.seconds > 0),
    }


def on_scans(
    activity_id: str,
    badge_id: str,
    new_scan_ids: set[str],
    agenda: Callable[[str], tuple[Activity | None, dict[str, dict[str, Any]]]] = store.activity_and_states,
) -> dict[str, Any]:
    """New scans for one attendee: refresh the live cache, and rewrite every finalized session whose
    attendance the new scans change. Credit is a pure function of the scan set, so comparing the full
    set with the set less the new scans finds exactly those sessions; no stored record is read."""
    activity, states = agenda(activity_id)
    if activity is None:
        return {"updated": 0}
    scans = store.scans_of(activity_id, badge_id)
    now = int(clock.now().timestamp())
    fresh = session_attendance(activity, badge_id, scans)
    store.put_live(activity_id, badge_id, live_presence(activity, scans, now, fresh))
    finalized = {sid for sid, state in states.items() if state.get("finalized")}
    if not finalized:
        return {"updated": 0}
    earlier = [s for s in scans if s.scan_id not in new_scan_ids]
    before = session_attendance(activity, badge_id, earlier, only=finalized)
    changed = []
    for sid in sorted(finalized & (fresh.keys() | before.keys())):
        if fresh.get(sid) == before.get(sid):
            continue
        old = before.get(sid)
        attendance = fresh.get(sid) or SessionAttendance(
            session_id=sid,
            seconds=0,
            credit_seconds=old.credit_seconds if old else 0,
            credits={},
            explanation="No presence in this session after the latest scans.",
        )
        changed.append((badge_id, attendance))
    if changed:
        store.put_attendances(activity_id, changed)
        logger.info(
            "attendance recomputed after a late scan",
            extra={"activity_id": activity_id, "sessions": [a.session_id for _, a in changed]},
        )
    return {"updated": len(changed)}
