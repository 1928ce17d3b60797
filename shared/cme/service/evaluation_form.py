"""The evaluation questions (an ACCME-style default) and the validation of a learner's answers."""

from __future__ import annotations

from typing import Any

from cme.domain.models import Activity, Attendee, EvaluationQuestion


def default_questions(
    activity: Activity, session_ids: list[str], faculty: dict[str, Attendee]
) -> list[EvaluationQuestion]:
    """The activity's own questions (or the ACCME-style default set), then one rating per faculty
    member of the sessions evaluated."""
    questions = (
        list(activity.evaluation_questions)
        if activity.evaluation_questions
        else [
            EvaluationQuestion(
                id="objectives_met", text="The stated learning objectives were met.", type="scale", min=1, max=5
            ),
            EvaluationQuestion(
                id="practice_change",
                text="What will you change in your practice as a result of this activity?",
                type="text",
                required=False,
            ),
            EvaluationQuestion(
                id="commitment_to_change",
                text="How committed are you to making these changes?",
                type="scale",
                min=1,
                max=5,
            ),
            EvaluationQuestion(
                id="free_of_commercial_bias",
                text="Was the content free of commercial bias?",
                type="yes_no",
                options=["yes", "no"],
                comment_required_when="no",
            ),
            EvaluationQuestion(
                id="overall_quality", text="Overall quality of the activity.", type="scale", min=1, max=5
            ),
        ]
    )
    seen: set[str] = set()
    for session in activity.sessions:
        if session.session_id not in session_ids:
            continue
        for badge in session.faculty:
            if badge in seen or badge not in faculty:
                continue
            seen.add(badge)
            person = faculty[badge]
            questions.append(
                EvaluationQuestion(
                    id=f"faculty_{badge}",
                    text=f"Effectiveness of {person.given_name} {person.family_name} ({session.title}).",
                    type="scale",
                    min=1,
                    max=5,
                    required=False,
                )
            )
    return questions


def validate_answers(
    questions: list[EvaluationQuestion], answers: dict[str, Any]
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The cleaned answers and the field errors (empty when valid)."""
    errors: list[dict[str, str]] = []
    known = {q.id for q in questions} | {f"{q.id}_comment" for q in questions if q.comment_required_when}
    for key in answers:
        if key not in known:
            errors.append({"field": f"answers.{key}", "message": "not a question of this evaluation"})
    clean: dict[str, Any] = {}
    for q in questions:
        field = f"answers.{q.id}"
        value = answers.get(q.id)
        if value is None or value == "":
            if q.required:
                errors.append({"field": field, "message": "an answer is required"})
            continue
        if q.type == "scale":
            # At most a few digits: int() refuses thousands of them (a ValueError, not an answer).
            if isinstance(value, str) and value.strip().isdecimal() and len(value.strip()) <= 4:
                value = int(value.strip())
            if isinstance(value, bool) or not isinstance(value, int) or not (q.min or 1) <= value <= (q.max or 5):
                errors.append({"field": field, "message": f"choose a number from {q.min} to {q.max}"})
                continue
        elif q.type in ("yes_no", "choice"):
            options = q.options or ["yes", "no"]
            if value not in options:
                errors.append({"field": field, "message": f"choose one of {', '.join(options)}"})
                continue
        elif q.type == "text":
            if not isinstance(value, str) or len(value) > 4000:
                errors.append({"field": field, "message": "a text of at most 4000 characters"})
                continue
            value = value.strip()
        clean[q.id] = value
        if q.comment_required_when is not None and value == q.comment_required_when:
            comment = answers.get(f"{q.id}_comment")
            if not isinstance(comment, str) or not comment.strip():
                errors.append({"field": f"answers.{q.id}_comment", "message": "please say what was biased"})
            else:
                clean[f"{q.id}_comment"] = comment.strip()[:4000]
    return clean, errors
