"""Importing an activity and its agenda: the 409 rule once certificates exist, session-end schedules,
and immediate finalization of sessions whose end is already past."""

from __future__ import annotations

import json
from typing import Any

from cme import clock
from cme.adapters import schedules, store
from cme.domain.models import Activity, Session
from cme.errors import Conflict, PayloadTooLarge
from cme.observability import logger

#: The agenda is stored as one DynamoDB item (at most 400 KB, the item's other attributes included).
MAX_AGENDA_BYTES = 350_000


def _credit_shape(session: Session) -> tuple[Any, ...]:
    """What a certificate depends on: times, room, designations, breaks, faculty."""
    return (
        session.starts_at,
        session.ends_at,
        session.room,
        tuple(sorted((k, str(v)) for k, v in session.credits.items())),
        tuple((b.starts_at, b.ends_at) for b in session.breaks),
        tuple(sorted(session.faculty)),
        session.min_attendance_percent,
    )


def credit_relevant_changes(old: Activity, new: Activity) -> list[str]:
    before = {s.session_id: _credit_shape(s) for s in old.sessions}
    after = {s.session_id: _credit_shape(s) for s in new.sessions}
    changed = sorted(sid for sid in before.keys() | after.keys() if before.get(sid) != after.get(sid))
    if old.policy != new.policy or old.credit_types != new.credit_types:
        changed.append("policy/credit_types")
    return changed


def check_storable(activity: Activity) -> None:
    """An agenda that one item cannot hold (tens of thousands of faculty, a megabyte of text) is refused
    before anything is written, naming its largest parts."""
    size = len(activity.model_dump_json().encode())
    if size <= MAX_AGENDA_BYTES:
        return
    sizes = {
        name: len(json.dumps(value, separators=(",", ":")).encode())
        for name, value in activity.model_dump(mode="json").items()
    }
    largest = sorted(sizes, key=sizes.__getitem__, reverse=True)[:3]
    raise PayloadTooLarge(
        f"the agenda is {size // 1000} KB; at most {MAX_AGENDA_BYTES // 1000} KB can be stored",
        [{"field": name, "message": f"{sizes[name] // 1000} KB"} for name in largest if sizes[name] >= 1000],
    )


def import_activity(activity: Activity) -> dict[str, Any]:
    check_storable(activity)
    now = clock.now()
    existing = store.get_activity(activity.activity_id)
    changed = credit_relevant_changes(existing, activity) if existing else []
    if changed and store.activity_has_certificates(activity.activity_id):
        raise Conflict(
            "certificates exist for this activity: session times, rooms, designations, breaks and faculty "
            "can no longer change",
            [{"field": f"sessions.{sid}", "message": "changed"} for sid in changed],
        )
    store.put_activity(activity, updated_at=clock.iso(now))
    finalized = store.finalized_sessions(activity.activity_id) if existing else set()
    ended_now = []
    for session in activity.sessions:
        schedules.put_session_end_schedule(activity.activity_id, session.session_id, session.ends_at)
        already_over = session.ends_at <= now
        recompute = session.session_id in finalized and (changed and session.session_id in changed)
        if already_over or recompute:
            store.request_session_end(
                activity.activity_id,
                session.session_id,
                reason="scheduled",
                ended_at=session.ends_at.isoformat(),
                requested_at=clock.iso(now),
            )
            ended_now.append(session.session_id)
    logger.info(
        "activity imported",
        extra={"activity_id": activity.activity_id, "sessions": len(activity.sessions), "ended_now": ended_now},
    )
    return {
        "activity_id": activity.activity_id,
        "created": existing is None,
        "sessions": len(activity.sessions),
        "sessions_ended_on_import": ended_now,
    }
