"""Recording a claim after an evaluation (on_evaluation): the claim is a pure function of the learner's
current evaluations and attendance, written as the next version exactly once per evaluation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cme import clock
from cme.adapters import store
from cme.domain.credit import claimable, claimable_totals, resolve_claims
from cme.observability import logger
from cme.service.learners import LearnerRecord, load_learner


def _requested(
    evaluations: dict[str | None, dict[str, Any]], unlocked: dict[str, dict[str, Decimal]]
) -> dict[str, dict[str, Decimal]]:
    """Per type and session, what the evaluations ask for, clamped to what is claimable now."""
    requested: dict[str, dict[str, Decimal]] = {}
    for credit_type, available in unlocked.items():
        for session_id, amount in available.items():
            scope_doc = evaluations.get(session_id) or evaluations.get(None) or {}
            asked = ((scope_doc.get("claims") or {}).get(credit_type) or {}).get(session_id)
            wanted = amount if asked is None else min(Decimal(str(asked)), amount)
            requested.setdefault(credit_type, {})[session_id] = wanted
    return requested


def _put_next_claim(
    record: LearnerRecord, *, evaluation_id: str, submitted_at: str
) -> tuple[int, bool, dict[str, Decimal]]:
    """Record the next claim version from the learner's current evaluations, each claim clamped to
    what is claimable now: (version, written, totals)."""
    unlocked = claimable(record.activity, record.attendances, record.evaluated, record.types)
    claimed, totals = resolve_claims(
        record.activity, record.attendances, unlocked, _requested(record.evaluations, unlocked)
    )
    version = int(record.claim["version"]) + 1 if record.claim else 1
    written = store.put_claim(
        record.activity.activity_id,
        record.attendee.badge_id,
        version=version,
        evaluation_id=evaluation_id,
        submitted_at=submitted_at,
        claimed=claimed,
        totals=totals,
        claimed_at=clock.iso(clock.now()),
        offered=claimable_totals(record.activity, record.attendances, unlocked),
    )
    return version, written, totals


def record_claim(activity_id: str, badge_id: str, evaluation_id: str, submitted_at: str) -> dict[str, Any]:
    record = load_learner(activity_id, badge_id)
    current = {doc["evaluation_id"] for doc in record.evaluations.values()}
    if evaluation_id not in current:
        logger.info("evaluation replaced by a newer one", extra={"activity_id": activity_id})
        return {"recorded": False, "reason": "superseded"}
    existing = record.claim
    if existing and (existing["evaluation_id"] == evaluation_id or existing["submitted_at"] > submitted_at):
        return {"recorded": False, "reason": "already_recorded", "version": int(existing["version"])}
    version, written, totals = _put_next_claim(record, evaluation_id=evaluation_id, submitted_at=submitted_at)
    if not written:
        # Another delivery recorded a claim meanwhile; SQS redelivers this one and it converges.
        raise RuntimeError("claim version moved concurrently; retry")
    logger.info("claim recorded", extra={"activity_id": activity_id, "version": version})
    return {"recorded": True, "version": version, "totals": totals}


def reissue_claim(activity_id: str, badge_id: str) -> dict[str, Any] | None:
    """A new claim version from the learner's current evaluations, each claim clamped to what is
    claimable now (an organizer's reissue: a corrected name, or credit that late scans lowered).
    The stream turns it into ClaimRecorded, then a new certificate version and its mail."""
    record = load_learner(activity_id, badge_id)
    if record.claim is None:
        return None
    version, written, totals = _put_next_claim(
        record, evaluation_id=str(record.claim["evaluation_id"]), submitted_at=str(record.claim["submitted_at"])
    )
    if not written:
        raise RuntimeError("the claim changed meanwhile; try again")
    logger.info("claim reissued", extra={"activity_id": activity_id, "version": version})
    return {"version": version, "totals": totals}
