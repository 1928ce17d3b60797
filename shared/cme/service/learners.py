"""What a learner sees and does: the credit view (`GET /me`), the evaluation form, and submitting an
evaluation with the claim and the attestation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from cme import clock
from cme.adapters import store
from cme.auth import certificate_id
from cme.concurrency import both
from cme.domain.credit import (
    ClaimError,
    activity_totals,
    claimable,
    claimable_totals,
    eligible_types,
    explain_anomalies,
    explanation_for,
    resolve_claims,
)
from cme.domain.models import Activity, Attendee, EvaluationQuestion, EvaluationSubmission, SessionAttendance
from cme.domain.presence import walk_presence
from cme.errors import NotFound, Unprocessable
from cme.service.evaluation_form import default_questions, validate_answers

#: A claim of ten thousand or more (an exponent above 3) is no credit amount: no activity designates that much.
MAX_CLAIM_DIGITS = 3


@dataclass
class LearnerRecord:
    activity: Activity
    attendee: Attendee
    attendances: dict[str, SessionAttendance]
    evaluations: dict[str | None, dict[str, Any]]
    types: list[str]
    claim: dict[str, Any] | None = None
    scan_items: list[dict[str, Any]] | None = None

    @property
    def evaluated(self) -> set[str | None]:
        return set(self.evaluations)


def load_learner(activity_id: str, badge_id: str, *, with_scans: bool = False) -> LearnerRecord:
    (activity, states), items = both(
        lambda: store.activity_and_states(activity_id),
        lambda: store.attendee_items(activity_id, badge_id, with_scans=with_scans),
    )
    if activity is None or not items.get("PROFILE"):
        raise NotFound("no such learner")
    attendee = store.attendee_from_item(items["PROFILE"][0])
    agenda = {s.session_id for s in activity.sessions}
    finalized = store.finalized_ids(states)
    attendances = {
        a.session_id: a
        for a in map(store.attendance_from_item, items.get("ATT", []))
        if a.session_id in agenda and a.session_id in finalized
    }
    claims = items.get("CLAIM", [])
    return LearnerRecord(
        activity=activity,
        attendee=attendee,
        attendances=attendances,
        evaluations=store.evaluations_from_items(items.get("EVAL", [])),
        types=eligible_types(activity, attendee.profession),
        claim=store.claim_from_item(claims[0]) if claims else None,
        scan_items=items.get("SCAN", []) if with_scans else None,
    )


def _only(types: list[str], amounts: dict[str, Decimal]) -> dict[str, Decimal]:
    return {t: amounts[t] for t in types if t in amounts}


def _evaluation_state(record: LearnerRecord, session_id: str, earns: bool) -> str:
    if not earns:
        return "not_required"
    scope = None if record.activity.policy.evaluation_scope == "activity" else session_id
    return "submitted" if scope in record.evaluations else "pending"


def learner_view(activity_id: str, badge_id: str, base_url: str, *, for_organizer: bool = False) -> dict[str, Any]:
    """`GET /me`; the organizer's attendee view adds the attendee's scans for the help desk."""
    record = load_learner(activity_id, badge_id, with_scans=True)
    activity, attendee = record.activity, record.attendee
    unlocked = claimable(activity, record.attendances, record.evaluated, record.types)
    titles = {s.session_id: s for s in activity.sessions}
    sessions = []
    for session in activity.sessions:
        attendance = record.attendances.get(session.session_id)
        if attendance is None:
            continue
        credits = _only(record.types, attendance.credits)
        sessions.append(
            {
                "session_id": session.session_id,
                "title": titles[session.session_id].title,
                "starts_at": session.starts_at.isoformat(),
                "room": session.room,
                "minutes": attendance.minutes,
                "credits": credits,
                "claimable": {
                    t: unlocked[t][session.session_id] for t in unlocked if session.session_id in unlocked[t]
                },
                "evaluation": _evaluation_state(record, session.session_id, any(v > 0 for v in credits.values())),
                "faculty": attendance.faculty,
                "explanation": explanation_for(attendance, record.types),
            }
        )
    claim = record.claim
    cid = certificate_id(activity_id, badge_id)
    current = store.get_certificate(cid)
    certificate = None
    if current is not None:
        version = int(current["version"])
        certificate = {
            "certificate_id": cid,
            "version": version,
            "issued_at": current["issued_at"],
            "credits": {k: Decimal(str(v)) for k, v in current["credits"].items()},
            "download_url": f"{base_url}/certificates/{cid}",
            "verify_url": f"{base_url}/verify/{cid}?version={version}",
            "mail": current.get("mail_state", "pending"),
            "delivery": current.get("delivery"),
            "status": "revoked" if current.get("status") == "revoked" else "valid",
        }
    scans = [store.scan_from_item(item) for item in record.scan_items or []]
    notes = explain_anomalies(
        walk_presence(activity, scans), record.attendances.keys() & {str(s["session_id"]) for s in sessions}
    )
    view: dict[str, Any] = {
        "attendee": {
            "badge_id": attendee.badge_id,
            "name": attendee.display_name,
            "given_name": attendee.given_name,
            "family_name": attendee.family_name,
            "degree": attendee.degree,
            "profession": attendee.profession,
            "credit_types": record.types,
        },
        "activity_id": activity_id,
        "activity": {
            "title": activity.title,
            "starts_on": activity.starts_on.isoformat(),
            "ends_on": activity.ends_on.isoformat(),
            "timezone": activity.timezone,
            "evaluation_scope": activity.policy.evaluation_scope,
        },
        "sessions": sessions,
        "credits_total": activity_totals(activity, record.attendances, record.types),
        "claimable_total": claimable_totals(activity, record.attendances, unlocked),
        "claimed_total": {k: Decimal(str(v)) for k, v in (claim["totals"] if claim else {}).items()},
        "claim_offered_total": {k: Decimal(str(v)) for k, v in (claim["offered"] if claim else {}).items()},
        "claim_version": int(claim["version"]) if claim else None,
        "certificate": certificate,
        "notes": notes,
    }
    if for_organizer:
        view["scans"] = _scan_log(activity, record.scan_items or [])
    return view


def _scan_log(activity: Activity, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every accepted scan in time order, as the door devices sent it, in the activity's time zone."""
    zone = activity.zone
    return [
        {
            "scan_id": item["scan_id"],
            "room": item["room"],
            "direction": item["direction"],
            "at": datetime.fromtimestamp(int(item["at"]), zone).isoformat(),
            "session_id": item.get("session_id"),
            "device_id": item.get("device_id"),
            "received_at": item.get("received_at"),
        }
        for item in sorted(items, key=lambda i: (int(i["at"]), str(i["scan_id"])))
    ]


def evaluation_form(activity_id: str, badge_id: str, session_id: str | None) -> dict[str, Any]:
    record = load_learner(activity_id, badge_id)
    scope_sessions = _scope_sessions(record, session_id)
    questions = _questions(activity_id, record, scope_sessions)
    return {
        "activity_id": activity_id,
        "session_id": session_id,
        "scope": record.activity.policy.evaluation_scope,
        "questions": [q.model_dump(exclude_none=True) for q in questions],
        "attestation": attestation_text(record.activity),
    }


def _questions(activity_id: str, record: LearnerRecord, scope_sessions: list[str]) -> list[EvaluationQuestion]:
    """The evaluation questions for these sessions, with a rating question per faculty member."""
    faculty_badges = {b for s in record.activity.sessions if s.session_id in scope_sessions for b in s.faculty}
    faculty = store.get_attendees(activity_id, faculty_badges) if faculty_badges else {}
    return default_questions(record.activity, scope_sessions, faculty)


def attestation_text(activity: Activity) -> str:
    return (
        f"I attest that I participated in {activity.title} and claim only the credit commensurate "
        "with the extent of my participation."
    )


def _scope_sessions(record: LearnerRecord, session_id: str | None) -> list[str]:
    scope = record.activity.policy.evaluation_scope
    if scope == "activity":
        if session_id is not None:
            raise Unprocessable(
                "this activity has one evaluation for the whole activity",
                [{"field": "session_id", "message": "must be null: the evaluation covers the whole activity"}],
            )
        return list(record.attendances)
    if session_id is None:
        raise Unprocessable("this activity is evaluated per session", [{"field": "session_id", "message": "required"}])
    if session_id not in record.attendances or record.attendances[session_id].seconds <= 0:
        raise Unprocessable(
            "you have no attendance in that session",
            [{"field": "session_id", "message": f"{session_id}: not attended"}],
        )
    return [session_id]


def submit_evaluation(activity_id: str, badge_id: str, submission: EvaluationSubmission) -> dict[str, Any]:
    """Validate everything the learner can get wrong now (422), then store; the claim follows from the stream."""
    record = load_learner(activity_id, badge_id)
    scope_sessions = _scope_sessions(record, submission.session_id)
    answers, errors = validate_answers(_questions(activity_id, record, scope_sessions), submission.answers)
    if not submission.attest:
        errors.append({"field": "attest", "message": "you must attest to the credit you claim"})
    if not scope_sessions or not any(v > 0 for sid in scope_sessions for v in record.attendances[sid].credits.values()):
        errors.append({"field": "session_id", "message": "there is no credit to claim yet"})
    evaluated = record.evaluated | {submission.session_id}
    unlocked = claimable(record.activity, record.attendances, evaluated, record.types)
    requested: dict[str, dict[str, Decimal]] | None = (
        {str(t): dict(c) for t, c in submission.claims.items()} if submission.claims else None
    )
    for credit_type, by_session in (requested or {}).items():
        for sid, amount in by_session.items():
            if not amount.is_finite() or amount.adjusted() > MAX_CLAIM_DIGITS:
                # Checked before any arithmetic: 9E+999999 overflows Decimal's context.
                errors.append({"field": f"claims.{credit_type}.{sid}", "message": "not a credit amount"})
    if requested is not None and submission.session_id is not None:
        for credit_type, by_session in requested.items():
            for sid in by_session:
                if sid != submission.session_id:
                    errors.append(
                        {"field": f"claims.{credit_type}.{sid}", "message": "this evaluation is for another session"}
                    )
    if not errors:
        try:
            resolve_claims(record.activity, record.attendances, unlocked, requested)
        except ClaimError as exc:
            errors.append({"field": exc.field, "message": exc.message})
    if errors:
        raise Unprocessable("the evaluation has invalid fields", errors)
    evaluation_id = f"ev-{uuid.uuid4().hex}"
    store.put_evaluation(
        activity_id,
        badge_id,
        {
            "evaluation_id": evaluation_id,
            "session_id": submission.session_id,
            "answers": answers,
            "claims": {t: {s: str(v) for s, v in c.items()} for t, c in requested.items()} if requested else None,
            "attest": True,
            "submitted_at": clock.now().isoformat(timespec="microseconds"),
        },
    )
    return {"evaluation_id": evaluation_id}


def evaluation_page_data(activity_id: str, badge_id: str, session_id: str | None) -> dict[str, Any]:
    """What the evaluation page shows: the questions, and per credit type and session the most the
    learner can claim once this evaluation is in (the gate it unlocks applied)."""
    record = load_learner(activity_id, badge_id)
    scope_sessions = _scope_sessions(record, session_id)
    questions = _questions(activity_id, record, scope_sessions)
    unlocked = claimable(record.activity, record.attendances, record.evaluated | {session_id}, record.types)
    options = {
        credit_type: {sid: amount for sid, amount in by_session.items() if sid in scope_sessions}
        for credit_type, by_session in unlocked.items()
    }
    titles = {s.session_id: s.title for s in record.activity.sessions}
    return {
        "activity": record.activity,
        "form": {
            "questions": [q.model_dump(exclude_none=True) for q in questions],
            "attestation": attestation_text(record.activity),
        },
        "options": options,
        "titles": titles,
        "session_title": titles.get(session_id) if session_id else None,
    }
