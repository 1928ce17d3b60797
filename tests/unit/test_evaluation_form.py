"""The evaluation form (shared/cme/service/evaluation_form.py): the default questions, faculty
questions for the sessions in scope, and the validation of a learner's answers."""

from __future__ import annotations

from typing import Any

import pytest

from builders import answers, roster_rows, worked_example_activity
from cme.domain.models import Activity, Attendee, EvaluationQuestion
from cme.service.evaluation_form import default_questions, validate_answers

pytestmark = pytest.mark.unit

CORE = ["objectives_met", "practice_change", "commitment_to_change", "free_of_commercial_bias", "overall_quality"]


def _activity(**overrides: Any) -> Activity:
    return Activity.model_validate({**worked_example_activity(**overrides), "activity_id": "asa-2027"})


def _roster() -> dict[str, Attendee]:
    return {row["badge_id"]: Attendee.model_validate(row) for row in roster_rows()}


def _questions(session_ids: list[str] | None = None) -> list[EvaluationQuestion]:
    return default_questions(_activity(), session_ids if session_ids is not None else ["S1", "S2"], _roster())


def _validate(given: dict[str, Any], session_ids: list[str] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    clean, errors = validate_answers(_questions(session_ids), given)
    return clean, {e["field"]: e["message"] for e in errors}


# ---- default questions -----------------------------------------------------------------------------


def test_the_default_form_has_the_five_core_questions_in_order() -> None:
    questions = _questions()
    assert [q.id for q in questions] == CORE
    by_id = {q.id: q for q in questions}
    assert {q.id: q.type for q in questions} == {
        "objectives_met": "scale",
        "practice_change": "text",
        "commitment_to_change": "scale",
        "free_of_commercial_bias": "yes_no",
        "overall_quality": "scale",
    }
    assert {q.id for q in questions if not q.required} == {"practice_change"}
    for scale in ("objectives_met", "commitment_to_change", "overall_quality"):
        assert (by_id[scale].min, by_id[scale].max) == (1, 5)
    bias = by_id["free_of_commercial_bias"]
    assert bias.options == ["yes", "no"] and bias.comment_required_when == "no"
    assert all(q.text for q in questions)


def test_the_default_form_is_the_contracts_question_shape() -> None:
    for question in _questions(["S4"]):
        data = question.model_dump()
        assert {"id", "text", "type", "required", "options", "min", "max", "comment_required_when"} <= set(data)
        assert data["type"] in ("scale", "yes_no", "choice", "text")


def test_faculty_of_a_session_in_scope_get_an_optional_scale_question() -> None:
    questions = _questions(["S1", "S2", "S4"])
    assert [q.id for q in questions] == [*CORE, "faculty_F1"]
    faculty = questions[-1]
    assert faculty.type == "scale" and (faculty.min, faculty.max) == (1, 5)
    assert faculty.required is False
    assert "Grace Okafor" in faculty.text and "Antibiotic stewardship" in faculty.text


def test_no_faculty_question_for_sessions_out_of_scope() -> None:
    assert [q.id for q in _questions(["S1", "S2"])] == CORE
    assert [q.id for q in _questions([])] == CORE


def test_no_faculty_question_for_faculty_missing_from_the_roster() -> None:
    roster = _roster()
    del roster["F1"]
    assert [q.id for q in default_questions(_activity(), ["S4"], roster)] == CORE


def test_a_faculty_member_teaching_several_sessions_in_scope_is_asked_about_once() -> None:
    body = worked_example_activity()
    body["sessions"][0]["faculty"] = ["F1", "B-1004"]
    activity = Activity.model_validate({**body, "activity_id": "asa-2027"})
    ids = [q.id for q in default_questions(activity, ["S1", "S4"], _roster())]
    assert ids == [*CORE, "faculty_F1", "faculty_B-1004"]


def test_session_scope_only_asks_about_that_sessions_faculty() -> None:
    body = worked_example_activity()
    body["sessions"][0]["faculty"] = ["B-1004"]
    activity = Activity.model_validate({**body, "activity_id": "asa-2027"})
    assert [q.id for q in default_questions(activity, ["S4"], _roster())] == [*CORE, "faculty_F1"]
    assert [q.id for q in default_questions(activity, ["S1"], _roster())] == [*CORE, "faculty_B-1004"]


# ---- validate_answers ------------------------------------------------------------------------------


def test_a_complete_answer_set_is_valid_and_kept() -> None:
    clean, errors = _validate(answers())
    assert errors == {}
    assert clean == {
        "objectives_met": 5,
        "practice_change": "Earlier lactate measurement in suspected sepsis.",
        "commitment_to_change": 4,
        "free_of_commercial_bias": "yes",
        "overall_quality": 5,
    }


@pytest.mark.parametrize("value", [1, 5])
def test_scale_bounds_are_inclusive(value: int) -> None:
    clean, errors = _validate(answers(overall_quality=value))
    assert errors == {} and clean["overall_quality"] == value


@pytest.mark.parametrize(
    "value",
    [0, 6, -1, 4.5, True, "five", "4.5", "", [4], {"v": 4}, "²", "4 4"],
    ids=[
        "zero",
        "six",
        "negative",
        "fraction",
        "bool",
        "word",
        "decimal-string",
        "empty",
        "list",
        "dict",
        "superscript",
        "two-numbers",
    ],
)
def test_a_scale_answer_outside_one_to_five_names_the_question(value: Any) -> None:
    clean, errors = _validate(answers(overall_quality=value))
    assert "answers.overall_quality" in errors
    assert "overall_quality" not in clean


def test_a_scale_error_says_the_range() -> None:
    _, errors = _validate(answers(objectives_met=9))
    assert errors["answers.objectives_met"] == "choose a number from 1 to 5"


@pytest.mark.parametrize(("value", "number"), [("4", 4), (" 3 ", 3), ("1", 1), ("5", 5)])
def test_numeric_strings_count_as_scale_numbers(value: str, number: int) -> None:
    """Form-encoded posts carry every answer as text."""
    clean, errors = _validate(answers(commitment_to_change=value))
    assert errors == {}
    assert clean["commitment_to_change"] == number


def test_a_numeric_string_out_of_range_is_refused() -> None:
    _, errors = _validate(answers(commitment_to_change="7"))
    assert "answers.commitment_to_change" in errors


@pytest.mark.parametrize("value", ["maybe", "Yes", "NO", True, 1])
def test_a_yes_no_answer_must_be_yes_or_no(value: Any) -> None:
    clean, errors = _validate(answers(free_of_commercial_bias=value))
    assert errors == {"answers.free_of_commercial_bias": "choose one of yes, no"}
    assert "free_of_commercial_bias" not in clean


def test_no_bias_needs_a_comment() -> None:
    clean, errors = _validate(answers(free_of_commercial_bias="no"))
    assert list(errors) == ["answers.free_of_commercial_bias_comment"]
    assert clean["free_of_commercial_bias"] == "no"


@pytest.mark.parametrize("comment", ["", "   ", None, 5])
def test_a_blank_or_non_text_bias_comment_does_not_count(comment: Any) -> None:
    _, errors = _validate(answers(free_of_commercial_bias="no", free_of_commercial_bias_comment=comment))
    assert "answers.free_of_commercial_bias_comment" in errors


def test_a_bias_comment_is_kept_trimmed_when_given() -> None:
    clean, errors = _validate(
        answers(free_of_commercial_bias="no", free_of_commercial_bias_comment="  Slides showed one brand.  ")
    )
    assert errors == {}
    assert clean["free_of_commercial_bias"] == "no"
    assert clean["free_of_commercial_bias_comment"] == "Slides showed one brand."


def test_a_long_bias_comment_is_kept_up_to_4000_characters() -> None:
    clean, errors = _validate(answers(free_of_commercial_bias="no", free_of_commercial_bias_comment="x" * 5000))
    assert errors == {}
    assert clean["free_of_commercial_bias_comment"] == "x" * 4000


def test_a_bias_comment_is_accepted_but_not_required_when_the_answer_is_yes() -> None:
    _, errors = _validate(answers(free_of_commercial_bias_comment="all fine"))
    assert errors == {}


def test_text_answers_are_trimmed() -> None:
    clean, errors = _validate(answers(practice_change="\n  Check lactate earlier.  \t"))
    assert errors == {}
    assert clean["practice_change"] == "Check lactate earlier."


def test_a_text_answer_may_be_4000_characters_but_not_more() -> None:
    clean, errors = _validate(answers(practice_change="p" * 4000))
    assert errors == {} and len(clean["practice_change"]) == 4000
    clean, errors = _validate(answers(practice_change="p" * 4001))
    assert errors == {"answers.practice_change": "a text of at most 4000 characters"}
    assert "practice_change" not in clean


@pytest.mark.parametrize("value", [42, ["a"], {"a": 1}, True])
def test_a_text_answer_must_be_text(value: Any) -> None:
    _, errors = _validate(answers(practice_change=value))
    assert "answers.practice_change" in errors


def test_unknown_answer_keys_are_refused_by_name() -> None:
    _, errors = _validate(answers(surprise=1, objectives_met_comment="x"))
    assert errors == {
        "answers.surprise": "not a question of this evaluation",
        "answers.objectives_met_comment": "not a question of this evaluation",
    }


def test_a_faculty_answer_is_unknown_when_that_faculty_is_out_of_scope() -> None:
    _, errors = _validate(answers(faculty_F1=5), ["S1", "S2"])
    assert "answers.faculty_F1" in errors
    clean, errors = _validate(answers(faculty_F1=5), ["S4"])
    assert errors == {} and clean["faculty_F1"] == 5


def test_optional_questions_may_be_left_out() -> None:
    given = answers()
    del given["practice_change"]
    clean, errors = _validate(given, ["S4"])
    assert errors == {}
    assert "practice_change" not in clean and "faculty_F1" not in clean


def test_an_optional_question_answered_empty_is_left_out() -> None:
    clean, errors = _validate(answers(practice_change="", faculty_F1=None), ["S4"])
    assert errors == {}
    assert "practice_change" not in clean and "faculty_F1" not in clean


def test_an_optional_scale_still_checks_its_bounds() -> None:
    _, errors = _validate(answers(faculty_F1=6), ["S4"])
    assert "answers.faculty_F1" in errors


@pytest.mark.parametrize(
    "missing", ["objectives_met", "commitment_to_change", "free_of_commercial_bias", "overall_quality"]
)
@pytest.mark.parametrize("how", ["absent", "null", "empty"])
def test_every_required_question_needs_an_answer(missing: str, how: str) -> None:
    given = answers()
    if how == "absent":
        del given[missing]
    else:
        given[missing] = None if how == "null" else ""
    clean, errors = _validate(given)
    assert errors == {f"answers.{missing}": "an answer is required"}
    assert missing not in clean


def test_an_empty_answer_set_lists_every_required_question() -> None:
    _, errors = _validate({})
    assert set(errors) == {
        "answers.objectives_met",
        "answers.commitment_to_change",
        "answers.free_of_commercial_bias",
        "answers.overall_quality",
    }


def test_every_error_names_an_answers_field() -> None:
    _, errors = validate_answers(_questions(), {"objectives_met": 0, "free_of_commercial_bias": "no", "x": 1})
    assert errors
    assert all(e["field"].startswith("answers.") and e["message"] for e in errors)
