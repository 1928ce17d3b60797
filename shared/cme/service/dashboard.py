"""The organizer's live counts (contract.md dashboard), read from the store."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from cme import clock
from cme.adapters import store
from cme.domain.credit import eligible_types
from cme.errors import NotFound


def dashboard(activity_id: str) -> dict[str, Any]:
    activity = store.get_activity(activity_id)
    if activity is None:
        raise NotFound(f"no activity {activity_id!r}")
    now = clock.now()
    epoch_now = int(now.timestamp())
    live = store.live_items(activity_id)
    states = store.session_states(activity_id)
    checked_in_by_session: Counter[str] = Counter()
    inside_by_session: Counter[str] = Counter()
    inside_now = 0
    for item in live:
        for sid in item.get("sessions", []):
            checked_in_by_session[sid] += 1
        until = item.get("until")
        if until is not None and int(item.get("since") or 0) <= epoch_now < int(until):
            inside_now += 1
            if item.get("session_id"):
                inside_by_session[str(item["session_id"])] += 1
    profession = {a.badge_id: a.profession for a in store.roster(activity_id)}
    claimable_by_session: dict[str, Counter[str]] = {}
    attendance_rows = store.finalized_attendance(activity_id, states)
    for badge_id, attendance in attendance_rows:
        types = eligible_types(activity, profession.get(badge_id, "other"))
        bucket = claimable_by_session.setdefault(attendance.session_id, Counter())
        for credit_type in types:
            if credit_type in attendance.credits:
                bucket[credit_type] += Decimal(str(attendance.credits[credit_type]))  # type: ignore[assignment]
    evaluations = store.all_evaluations(activity_id)
    evaluations_by_session = Counter(str(e["scope"]) for e in evaluations)
    if activity.policy.evaluation_scope == "activity":
        # One evaluation covers the whole activity: count it toward every session the learner attended.
        evaluated = {str(e["badge_id"]) for e in evaluations}
        evaluations_by_session = Counter(
            a.session_id for badge, a in attendance_rows if badge in evaluated and a.seconds > 0
        )
    claims = store.all_claims(activity_id)
    credits_claimed: Counter[str] = Counter()
    for claim in claims:
        for credit_type, amount in claim["totals"].items():
            credits_claimed[credit_type] += Decimal(str(amount))  # type: ignore[assignment]
    certificates = store.current_certificates(activity_id)
    return {
        "activity_id": activity_id,
        "as_of": clock.iso(now),
        "totals": {
            "registered": len(profession),
            "checked_in": len(live),
            "inside_now": inside_now,
            "evaluations_submitted": len({e["badge_id"] for e in evaluations}),
            "learners_claimed": sum(1 for c in claims if any(Decimal(str(v)) > 0 for v in c["totals"].values())),
            "credits_claimed": dict(credits_claimed),
            "certificates_issued": len(certificates),
            "emails_sent": sum(1 for c in certificates if c.get("mail_state") == "sent"),
            "emails_bounced": sum(1 for c in certificates if c.get("delivery") == "bounced"),
            "emails_delivered": sum(1 for c in certificates if c.get("delivery") in ("delivered", "complained")),
            "emails_to_resend": sum(
                1
                for c in certificates
                if c.get("mail_state") in ("unknown", "failed") or c.get("delivery") == "bounced"
            ),
        },
        "sessions": [
            {
                "session_id": s.session_id,
                "title": s.title,
                "room": s.room,
                "starts_at": s.starts_at.isoformat(),
                "ends_at": s.ends_at.isoformat(),
                "checked_in": checked_in_by_session[s.session_id],
                "inside_now": inside_by_session[s.session_id],
                "finalized": bool(states.get(s.session_id, {}).get("finalized")),
                "credits_claimable": dict(claimable_by_session.get(s.session_id, Counter())),
                "evaluations_submitted": evaluations_by_session[s.session_id],
            }
            for s in activity.sessions
        ],
    }
