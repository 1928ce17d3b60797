"""The organizer's live counts (contract.md dashboard).

`dashboard` reads the counts the stream keeps (service/counters.py): a handful of items however
large the meeting. `recount` computes the same numbers from the records themselves, reading every
attendee's; the recount route and `cme recount` compare the two.

Definitions both follow:
- registered: roster rows; checked in: attendees with an accepted scan (per session: with time in
  it); inside now: presences open at this moment (a presence without an exit closes by rule at its
  cover end), per session by the session running in the room when the presence began.
- evaluations submitted: learners whose evaluation has been recorded as a claim; per session, the
  session's evaluations (session-scope evaluations) or the claims covering the session (one
  evaluation for the whole activity).
- learners claimed: claims with any credit above zero; credits claimed: the claims' totals.
- claimable per session: the finalized attendance of the session in each learner's own credit types
  (nothing until the session is finalized: earlier rows are provisional).
- certificates issued: learners with a certificate; mail counts: the current versions' mail states.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from cme import clock
from cme.adapters import store
from cme.domain.credit import eligible_types
from cme.domain.models import CREDIT_TYPES, Activity
from cme.errors import NotFound
from cme.service import counters

TOTAL_FIELDS = (
    "registered",
    "checked_in",
    "inside_now",
    "evaluations_submitted",
    "learners_claimed",
    "credits_claimed",
    "certificates_issued",
    "emails_sent",
    "emails_bounced",
    "emails_delivered",
    "emails_to_resend",
)


def _activity(activity_id: str) -> Activity:
    activity = store.get_activity(activity_id)
    if activity is None:
        raise NotFound(f"no activity {activity_id!r}")
    return activity


def _credits(activity: Activity, amounts: dict[str, Any]) -> dict[str, Decimal]:
    """Every type the activity offers (zero when none), then any other type with an amount."""
    offered = [t for t in CREDIT_TYPES if t in activity.offered_types()]
    shown = {t: Decimal(str(amounts.get(t, 0))) for t in offered}
    shown.update({t: Decimal(str(v)) for t, v in amounts.items() if t not in shown and Decimal(str(v)) != 0})
    return shown


def _number(value: Any) -> int | float:
    """JSON numbers: counts as integers, credit as decimals (quarter hours are exact in binary)."""
    number = Decimal(str(value))
    return int(number) if number == number.to_integral_value() else float(number)


def _body(
    activity: Activity,
    states: dict[str, dict[str, Any]],
    totals: dict[str, Any],
    sessions: dict[str, dict[str, Any]],
    checkins: list[tuple[int, int]],
    now: datetime,
) -> dict[str, Any]:
    finalized = store.finalized_ids(states)
    return {
        "activity_id": activity.activity_id,
        "as_of": clock.iso(now),
        "totals": {
            **{k: int(totals.get(k, 0)) for k in TOTAL_FIELDS if k != "credits_claimed"},
            "credits_claimed": {
                t: _number(v) for t, v in _credits(activity, totals.get("credits_claimed", {})).items()
            },
        },
        "sessions": [
            {
                "session_id": s.session_id,
                "title": s.title,
                "room": s.room,
                "starts_at": s.starts_at.isoformat(),
                "ends_at": s.ends_at.isoformat(),
                "checked_in": int(sessions.get(s.session_id, {}).get("checked_in", 0)),
                "inside_now": int(sessions.get(s.session_id, {}).get("inside_now", 0)),
                "finalized": s.session_id in finalized,
                "credits_claimable": (
                    {
                        t: _number(v)
                        for t, v in _credits(activity, sessions.get(s.session_id, {}).get("claimable", {})).items()
                    }
                    if s.session_id in finalized
                    else {}
                ),
                "evaluations_submitted": int(sessions.get(s.session_id, {}).get("evaluations", 0)),
            }
            for s in activity.sessions
        ],
        "checkins_over_time": [
            {"at": datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "checked_in": n}
            for at, n in checkins
        ],
    }


def dashboard(activity_id: str) -> dict[str, Any]:
    """The live counts, from the count items."""
    activity = _activity(activity_id)
    now = clock.now()
    epoch = int(now.timestamp())
    counts = counters.read(activity_id)
    t = counters.TOTAL
    totals: dict[str, Any] = {
        "registered": counts.get(t, "registered"),
        "checked_in": counts.get(t, "checked_in"),
        "inside_now": sum(counts.inside(scope, epoch) for scope in counts.session_scopes()),
        "evaluations_submitted": counts.get(t, "evaluated"),
        "learners_claimed": counts.get(t, "learners_claimed"),
        "credits_claimed": counts.with_prefix(t, "credits."),
        "certificates_issued": counts.get(t, "certificates"),
        "emails_sent": counts.get(t, "mails_sent"),
        "emails_bounced": counts.get(t, "mails_bounced"),
        "emails_delivered": counts.get(t, "mails_delivered"),
        "emails_to_resend": counts.get(t, "mails_to_resend"),
    }
    per_session_evaluations = "evaluations" if activity.policy.evaluation_scope == "session" else "claim_evaluations"
    sessions = {
        s.session_id: {
            "checked_in": counts.get(f"S#{s.session_id}", "checked_in"),
            "inside_now": counts.inside(f"S#{s.session_id}", epoch),
            "claimable": counts.with_prefix(f"S#{s.session_id}", "claimable."),
            "evaluations": counts.get(f"S#{s.session_id}", per_session_evaluations),
        }
        for s in activity.sessions
    }
    return _body(activity, store.session_states(activity_id), totals, sessions, counts.checkins_over_time(), now)


def recount(activity_id: str) -> dict[str, Any]:
    """The same counts recomputed from the records (every attendee's: an administrative read)."""
    activity = _activity(activity_id)
    now = clock.now()
    epoch = int(now.timestamp())
    states = store.session_states(activity_id)
    sessions: dict[str, dict[str, Any]] = defaultdict(lambda: {"claimable": Counter()})
    attendees = store.roster(activity_id)
    live = store.live_items(activity_id, (a.badge_id for a in attendees))  # a scan needs a roster badge
    checkins: Counter[int] = Counter()
    inside_now = 0
    for item in live:
        for sid in item.get("sessions") or []:
            sessions[sid]["checked_in"] = sessions[sid].get("checked_in", 0) + 1
        since, until = item.get("since"), item.get("until")
        if since is not None and until is not None and int(since) <= epoch < int(until):
            inside_now += 1
            if item.get("session_id"):
                sid = str(item["session_id"])
                sessions[sid]["inside_now"] = sessions[sid].get("inside_now", 0) + 1
        if item.get("first_scan_at") is not None:
            first = int(item["first_scan_at"])
            checkins[first - first % counters.BUCKET_SECONDS] += 1
    profession = {a.badge_id: a.profession for a in attendees}
    for badge_id, attendance in store.finalized_attendance(activity_id, states):
        for credit_type in eligible_types(activity, profession.get(badge_id, "other")):
            if credit_type in attendance.credits:
                sessions[attendance.session_id]["claimable"][credit_type] += Decimal(
                    str(attendance.credits[credit_type])
                )
    claims = store.all_claims(activity_id)
    credits_claimed: Counter[str] = Counter()
    for claim in claims:
        for credit_type, amount in claim["totals"].items():
            credits_claimed[credit_type] += Decimal(str(amount))  # type: ignore[assignment]
    if activity.policy.evaluation_scope == "session":
        for evaluation in store.all_evaluations(activity_id):
            if evaluation["scope"] != "ACTIVITY":
                sid = str(evaluation["scope"])
                sessions[sid]["evaluations"] = sessions[sid].get("evaluations", 0) + 1
    else:
        for claim in claims:
            covered = {sid for per_session in json.loads(claim["claimed"]).values() for sid in per_session}
            for sid in covered:
                sessions[sid]["evaluations"] = sessions[sid].get("evaluations", 0) + 1
    certificates = store.current_certificates(activity_id)
    totals = {
        "registered": len(profession),
        "checked_in": len(live),
        "inside_now": inside_now,
        "evaluations_submitted": len(claims),
        "learners_claimed": sum(1 for c in claims if any(Decimal(str(v)) > 0 for v in c["totals"].values())),
        "credits_claimed": dict(credits_claimed),
        "certificates_issued": len(certificates),
        "emails_sent": sum(1 for c in certificates if c.get("mail_state") == "sent"),
        "emails_bounced": sum(1 for c in certificates if c.get("delivery") == "bounced"),
        "emails_delivered": sum(1 for c in certificates if c.get("delivery") in ("delivered", "complained")),
        "emails_to_resend": sum(
            1 for c in certificates if c.get("mail_state") in ("unknown", "failed") or c.get("delivery") == "bounced"
        ),
    }
    return _body(activity, states, totals, sessions, sorted((at, n) for at, n in checkins.items() if n), now)


def differences(live: dict[str, Any], recounted: dict[str, Any]) -> list[dict[str, Any]]:
    """Where the live counts and a recount disagree: [{"field", "live", "recount"}]."""
    found: list[dict[str, Any]] = []

    def walk(path: str, a: Any, b: Any) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                if key != "as_of":
                    walk(f"{path}.{key}" if path else key, a.get(key), b.get(key))
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for index, (x, y) in enumerate(zip(a, b, strict=True)):
                label = x.get("session_id", x.get("at", index)) if isinstance(x, dict) else index
                walk(f"{path}[{label}]", x, y)
        elif a != b:
            found.append({"field": path, "live": a, "recount": b})

    walk("", live, recounted)
    return found
