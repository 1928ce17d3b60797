"""The organizer's review list: learners whose current certificate shows more credit than their
scans now support (late scans lowered it). The certificate stays as issued; nothing changes silently."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from cme.adapters import store
from cme.domain.credit import activity_totals, eligible_types
from cme.domain.models import SessionAttendance
from cme.errors import NotFound
from cme.service.certificates import NOT_ON_CERTIFICATE


def review_list(activity_id: str) -> dict[str, Any]:
    activity, states = store.activity_and_states(activity_id)
    if activity is None:
        raise NotFound(f"no activity {activity_id!r}")
    attendance: dict[str, dict[str, SessionAttendance]] = defaultdict(dict)
    for badge_id, row in store.finalized_attendance(activity_id, states):
        attendance[badge_id][row.session_id] = row
    professions = {a.badge_id: a.profession for a in store.roster(activity_id)}
    learners = []
    for certificate in store.current_certificates(activity_id):
        badge_id = str(certificate["badge_id"])
        types = eligible_types(activity, professions.get(badge_id, "other"))
        supported = activity_totals(activity, attendance.get(badge_id, {}), types)
        shown = {t: Decimal(str(v)) for t, v in certificate["credits"].items() if t not in NOT_ON_CERTIFICATE}
        excess = {t: shown[t] - supported.get(t, Decimal(0)) for t in shown if shown[t] > supported.get(t, Decimal(0))}
        if excess:
            learners.append(
                {
                    "badge_id": badge_id,
                    "certificate_id": certificate["certificate_id"],
                    "version": int(certificate["version"]),
                    "certificate_credits": shown,
                    "credits_now": {t: supported.get(t, Decimal(0)) for t in shown},
                    "excess": excess,
                }
            )
    return {"activity_id": activity_id, "learners": sorted(learners, key=lambda x: x["badge_id"])}
