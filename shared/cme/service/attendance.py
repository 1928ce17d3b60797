"""Attendance: finalizing a session for everyone who was in its room, recomputing one attendee when
late scans arrive, and the live presence cache behind "inside now". Credit is always recomputed from
the full scan set (credit-rules.md), so replays and late uploads converge on the same numbers.

Concurrent writers of one attendance row (a finalization, late-scan consumers on several containers)
cannot leave a stale row behind:
- every row carries the number of scans it was computed from, and single-row writes are conditional on
  not going backwards (an attendee's scans are only ever added, and read consistently);
- the finalizer's batch writes are unconditional, so it holds a lease on the session while it runs; a
  late-scan consumer that finds the lease held leaves a DIRTY marker, then looks again: if the lease is
  gone it writes the row itself, otherwise the finalizer recomputes the marked attendees after releasing
  its lease (it reads the markers only after the release, so none is missed);
- candidates come from an eventually consistent index, so a consumer also writes rows for sessions that
  end within `ENDING_GRACE` seconds: a scan too fresh for the index is then covered by its own consumer
  (rows of sessions not yet finalized are not shown to anyone).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from cme import clock
from cme.adapters import store
from cme.concurrency import map_io
from cme.domain.credit import session_attendance
from cme.domain.models import Activity, DoorScan, SessionAttendance
from cme.domain.presence import may_be_present, walk_presence
from cme.observability import logger

ENDING_GRACE = 60
LEASE_SECONDS = 900  # a finalization runs in one Lambda invocation, which never outlives 15 minutes


def _no_presence(session_id: str, credit_seconds: int) -> SessionAttendance:
    return SessionAttendance(
        session_id=session_id,
        seconds=0,
        credit_seconds=credit_seconds,
        credits={},
        explanation="No presence in this session after the latest scans.",
    )


def _recompute(activity: Activity, session_id: str, badge_id: str) -> tuple[SessionAttendance, int]:
    scans = store.scans_of(activity.activity_id, badge_id)
    session = activity.session(session_id)
    attendance = session_attendance(activity, badge_id, scans, only={session_id}).get(session_id)
    return attendance or _no_presence(session_id, session.credit_seconds if session else 0), len(scans)


def finalize_session(activity_id: str, session_id: str) -> dict[str, Any]:
    """Compute and store every attendee's attendance for one session (idempotent)."""
    activity = store.get_activity(activity_id)
    session = activity.session(session_id) if activity else None
    if activity is None or session is None:
        logger.warning(
            "session end for an unknown session", extra={"activity_id": activity_id, "session_id": session_id}
        )
        return {"finalized": False, "attendees": 0}
    run_id = uuid.uuid4().hex
    store.begin_finalization(activity_id, session_id, run_id=run_id, at=clock.iso(clock.now()))
    # Only those whose scans in the room can overlap the session have their scans read (a plenary hall's
    # later sessions would otherwise read everyone who entered it earlier in the meeting).
    candidates = {
        badge_id
        for badge_id, scans in store.room_scans(activity_id, session.room).items()
        if may_be_present(activity, session, scans)
    } | set(session.faculty)
    badges = sorted(candidates)
    scan_sets = map_io(lambda badge: store.scans_of(activity_id, badge), badges)
    rows: list[tuple[str, SessionAttendance, int]] = []
    for badge_id, scans in zip(badges, scan_sets, strict=True):
        attendance = session_attendance(activity, badge_id, scans, only={session_id}).get(session_id)
        if attendance is not None:
            rows.append((badge_id, attendance, len(scans)))
    written = store.put_attendances(activity_id, rows)
    late = 0
    if store.end_finalization(activity_id, session_id, run_id=run_id):
        marked = store.dirty_badges(activity_id, session_id)
        for badge_id, (attendance, count) in zip(
            marked, map_io(lambda badge: _recompute(activity, session_id, badge), marked), strict=True
        ):
            store.put_attendance_if_newer(activity_id, badge_id, attendance, count)
        store.clear_dirty(activity_id, session_id, marked)
        late = len(marked)
    logger.info(
        "session finalized",
        extra={
            "activity_id": activity_id,
            "session_id": session_id,
            "candidates": len(candidates),
            "records": written,
            "late_during_run": late,
        },
    )
    return {"finalized": True, "attendees": written}


def _lease_held(state: dict[str, Any] | None, now: datetime) -> bool:
    if not state or not state.get("running"):
        return False
    since = datetime.fromisoformat(str(state["running_since"]))
    return (now - since).total_seconds() < LEASE_SECONDS


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
    """New scans for one attendee: refresh the live cache, and rewrite every finalized (or just ending)
    session whose attendance the new scans change. Credit is a pure function of the scan set, so comparing
    the full set with the set less the new scans finds exactly those sessions; no stored record is read.
    The agenda and states are read before the scans (the lease protocol above relies on that order).
    The live record is written unless a newer one, computed from more scans, is already stored: a
    concurrent invocation that read fewer scans never overwrites it."""
    activity, states = agenda(activity_id)
    if activity is None:
        return {"updated": 0}
    scans = store.scans_of(activity_id, badge_id)
    moment = clock.now()
    now = int(moment.timestamp())
    fresh = session_attendance(activity, badge_id, scans)
    store.put_live_if_newer(activity_id, badge_id, live_presence(activity, scans, now, fresh), len(scans))
    targets = {
        s.session_id
        for s in activity.sessions
        if states.get(s.session_id, {}).get("finalized") or s.end <= now + ENDING_GRACE
    }
    if not targets:
        return {"updated": 0}
    changed = _changed_sessions(activity, badge_id, scans, new_scan_ids, fresh, targets)
    held = {sid for sid in changed if _lease_held(states.get(sid), moment)}
    released: set[str] = set()
    if held:
        store.mark_dirty(activity_id, badge_id, held, at=clock.iso(moment))
        current = store.session_states(activity_id)
        released = {sid for sid in held if not _lease_held(current.get(sid), moment)}
        held -= released
    written = [
        sid
        for sid, attendance in changed.items()
        if sid not in held and store.put_attendance_if_newer(activity_id, badge_id, attendance, len(scans))
    ]
    for sid in released:
        store.clear_dirty(activity_id, sid, [badge_id])
    if changed:
        logger.info(
            "attendance recomputed after a late scan",
            extra={"activity_id": activity_id, "sessions": written, "left_to_running_finalization": sorted(held)},
        )
    return {"updated": len(written), "deferred": len(held)}


def _changed_sessions(
    activity: Activity,
    badge_id: str,
    scans: list[DoorScan],
    new_scan_ids: set[str],
    fresh: dict[str, SessionAttendance],
    targets: set[str],
) -> dict[str, SessionAttendance]:
    earlier = [s for s in scans if s.scan_id not in new_scan_ids]
    before = session_attendance(activity, badge_id, earlier, only=targets)
    changed: dict[str, SessionAttendance] = {}
    for sid in sorted(targets & (fresh.keys() | before.keys())):
        if fresh.get(sid) == before.get(sid):
            continue
        old = before.get(sid)
        changed[sid] = fresh.get(sid) or _no_presence(sid, old.credit_seconds if old else 0)
    return changed
