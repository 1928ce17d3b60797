"""Bad input at the edge, through the real Lambda handlers with API Gateway v2 events: every parser route fed
anything (Hypothesis) answers below 500 with the contract's error body naming the problem; oversized bodies
are 413, wrong content types 415, broken UTF-8 400; nothing is half-written; and a name written as a
spreadsheet formula is stored as given but neutralised in every CSV report."""

from __future__ import annotations

import base64
import copy
import csv
import io
import json
import os
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import answers, at, http_event, organizer_claims, roster_rows, scan, worked_example_activity
from stack_support import http, new_activity_id

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))

from test_parsers_fuzz import FORMULA, NASTY_STRINGS, json_values, mutated

pytestmark = pytest.mark.integration

#: Examples per route; `CME_FUZZ_EXAMPLES=500` is a longer run of its own.
HANDLER_FUZZ = settings(
    max_examples=int(os.environ.get("CME_FUZZ_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUNCTIONS = {"organizer": "OrganizerApiFunction", "scans": "IngestScansFunction", "learner": "LearnerApiFunction"}
BIG = 5 * 1024 * 1024 + 1


class Edge:
    """Requests as API Gateway hands them to a function: a body that is not UTF-8 arrives base64-encoded."""

    def __init__(self, stack: Any, activity_id: str, learner: str) -> None:
        self.stack = stack
        self.activity_id = activity_id
        self.learner = learner

    def call(
        self,
        function: str,
        method: str,
        path: str,
        route: str,
        body: bytes | None,
        content_type: str = "application/json",
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        cookie: str | None = None,
        query: dict[str, str] | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        event = http_event(
            method,
            path,
            route=route,
            headers={"content-type": content_type, **(headers or {})},
            path_parameters=params,
            query=query,
            claims=organizer_claims() if function == "organizer" else None,
        )
        if body is not None:
            try:
                event["body"], event["isBase64Encoded"] = body.decode("utf-8"), False
            except UnicodeDecodeError:
                event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
        if cookie:
            event["cookies"] = [f"cme_session={cookie}"]
        result = self.stack.host.invoke(FUNCTIONS[function], event)
        text = result.get("body") or ""
        try:
            parsed = json.loads(text) if text else None
        except json.JSONDecodeError:
            parsed = text
        return int(result["statusCode"]), parsed, {k.lower(): v for k, v in (result.get("headers") or {}).items()}

    # the parser routes ---------------------------------------------------------------------------------

    def put_activity(self, activity_id: str, body: bytes, content_type: str = "application/json") -> Any:
        path = f"/activities/{activity_id}"
        return self.call(
            "organizer", "PUT", path, "/activities/{activity_id}", body, content_type, {"activity_id": activity_id}
        )

    def roster(self, body: bytes, content_type: str = "application/json", activity_id: str | None = None) -> Any:
        activity = activity_id or self.activity_id
        return self.call(
            "organizer",
            "POST",
            f"/activities/{activity}/attendees",
            "/activities/{activity_id}/attendees",
            body,
            content_type,
            {"activity_id": activity},
            query={"send_links": "false"},
        )

    def scans(self, body: bytes, content_type: str = "application/json") -> Any:
        auth = {"authorization": f"Bearer {self.stack.scanner_token}"}
        return self.call("scans", "POST", "/scans", "/scans", body, content_type, headers=auth)

    def evaluation(self, body: bytes, content_type: str = "application/json") -> Any:
        auth = {"authorization": f"Bearer {self.learner}"}
        return self.call("learner", "POST", "/evaluations", "/evaluations", body, content_type, headers=auth)

    def form(self, body: bytes, content_type: str = "application/x-www-form-urlencoded") -> Any:
        return self.call("learner", "POST", "/l/evaluation", "/l/evaluation", body, content_type, cookie=self.learner)


def _bytes(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8", "surrogatepass")


def assert_refusal_names_the_problem(status: int, body: Any, headers: dict[str, str]) -> None:
    """Below 500; a refusal is the contract's error body (JSON) with a message, and a 422 names its fields."""
    assert status < 500, (status, body)
    if status < 400 or headers.get("content-type", "").startswith("text/html"):
        return
    assert headers["content-type"].startswith("application/json"), headers
    error = body["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    if status == 422:
        assert error["details"] and all(d["field"] and d["message"] for d in error["details"]), error


@pytest.fixture(scope="module")
def edge(stack: Any) -> Edge:
    """A meeting the requests aim at: the worked example, its roster, B-1001's morning scanned."""
    from cme.auth import issue_learner_token

    activity_id = new_activity_id()
    stack.set_clock(datetime.fromisoformat(at("07:00")))
    assert (
        http(
            "PUT",
            f"{stack.api_url}/activities/{activity_id}",
            body=worked_example_activity(),
            token=stack.organizer_token,
        ).status
        == 201
    )
    reply = http(
        "POST",
        f"{stack.api_url}/activities/{activity_id}/attendees?send_links=false",
        body=roster_rows(),
        token=stack.organizer_token,
    )
    assert reply.status == 200, reply.body
    stack.set_clock(datetime.fromisoformat(at("12:30")))
    scans = [scan("e1", "B-1001", "Hall-A", "07:50"), scan("e2", "B-1001", "Room-201", "09:50")]
    body = {"activity_id": activity_id, "scans": scans}
    assert http("POST", f"{stack.api_url}/scans", body=body, token=stack.scanner_token).status == 200
    stack.settle()
    learner = issue_learner_token(activity_id, "B-1001", datetime.now(UTC) + timedelta(days=400))
    return Edge(stack, activity_id, learner)


# ---- every parser route fed anything ------------------------------------------------------------------------


@HANDLER_FUZZ
@given(data=st.data())
def test_put_activity_never_answers_5xx(edge: Edge, data: st.DataObject) -> None:
    agenda = data.draw(mutated(worked_example_activity(), changes=4) | json_values)
    body = data.draw(st.just(_bytes(agenda)) | st.binary(max_size=64))
    status, reply, headers = edge.put_activity("fuzz-agenda", body)
    assert_refusal_names_the_problem(status, reply, headers)


@HANDLER_FUZZ
@given(data=st.data())
def test_roster_upsert_never_answers_5xx(edge: Edge, data: st.DataObject) -> None:
    rows = data.draw(st.lists(mutated(roster_rows()[0], changes=2) | json_values, max_size=3) | json_values)
    kind = data.draw(st.sampled_from(["application/json", "text/csv"]))
    if kind == "text/csv":
        header = ["badge_id", "given_name", "family_name", "email", "profession", "board_ids", "moc_consent"]
        cells = st.sampled_from(NASTY_STRINGS) | st.text(max_size=8)
        lines = [header, *data.draw(st.lists(st.lists(cells, min_size=1, max_size=8), max_size=3))]
        out = io.StringIO()
        csv.writer(out).writerows(lines)
        body = out.getvalue().encode("utf-8", "surrogatepass")
    else:
        body = _bytes(rows)
    status, reply, headers = edge.roster(body, kind, activity_id=edge.activity_id)
    assert_refusal_names_the_problem(status, reply, headers)
    if status == 200:
        for rejected in reply["rejected"]:
            assert rejected["row"] >= 1 and ":" in rejected["error"]  # "field: problem"


@HANDLER_FUZZ
@given(data=st.data())
def test_scan_upload_never_answers_5xx(edge: Edge, data: st.DataObject) -> None:
    one = scan("f1", "B-1001", "Hall-A", "08:10", device_id="door-1")
    batch = data.draw(
        st.lists(mutated(one, changes=2) | json_values, min_size=1, max_size=4).map(
            lambda scans: {"activity_id": edge.activity_id, "scans": scans}
        )
        | mutated({"activity_id": edge.activity_id, "scans": [one]}, changes=3)
        | json_values
    )
    status, reply, headers = edge.scans(_bytes(batch))
    assert_refusal_names_the_problem(status, reply, headers)
    if status == 200:
        assert len(reply["results"]) == len(batch["scans"])
        for result in reply["results"]:
            assert result["status"] != "rejected" or result["message"]


@HANDLER_FUZZ
@given(data=st.data())
def test_evaluation_submission_never_answers_5xx(edge: Edge, data: st.DataObject) -> None:
    submission = {"session_id": None, "answers": answers(), "claims": {"AMA_PRA_1": {"S1": 1.5}}, "attest": True}
    body = data.draw(mutated(submission, changes=3) | json_values)
    status, reply, headers = edge.evaluation(_bytes(body))
    assert_refusal_names_the_problem(status, reply, headers)


@HANDLER_FUZZ
@given(data=st.data())
def test_evaluation_form_post_never_answers_5xx(edge: Edge, data: st.DataObject) -> None:
    from cme.auth import csrf_token

    names = [
        "answers.objectives_met",
        "answers.practice_change",
        "answers.free_of_commercial_bias",
        "answers.free_of_commercial_bias_comment",
        "claims.AMA_PRA_1.S1",
        "claims.AMA_PRA_1.S2",
        "attest",
        "unknown",
    ]
    values = st.sampled_from([*NASTY_STRINGS, "5", "no", "1.25", "1,5", "on", "²", "9" * 5000]) | st.text(max_size=8)
    fields = data.draw(st.dictionaries(st.sampled_from(names), values, max_size=8))
    body = urlencode({"csrf": csrf_token(edge.learner), **fields}, errors="surrogatepass").encode()
    status, reply, headers = edge.form(body)
    assert_refusal_names_the_problem(status, reply, headers)


# ---- what each finding was, pinned -----------------------------------------------------------------------


def test_numbers_and_times_no_check_can_compute_with_are_422_naming_the_field(edge: Edge) -> None:
    agenda = worked_example_activity()
    agenda["credit_types"]["AMA_PRA_1"]["max"] = "9E+999999"
    status, body, _ = edge.put_activity("fuzz-agenda", _bytes(agenda))
    assert status == 422 and body["error"]["details"] == [
        {"field": "credit_types.AMA_PRA_1.max", "message": "out of range"}
    ]
    agenda = worked_example_activity()
    agenda["sessions"][0]["starts_at"] = "0001-01-01T00:00:00+14:00"
    status, body, _ = edge.put_activity("fuzz-agenda", _bytes(agenda))
    assert status == 422 and body["error"]["details"][0]["field"] == "sessions.0.starts_at"
    claim = {"answers": answers(), "claims": {"AMA_PRA_1": {"S1": "9E+999999"}}, "attest": True}
    status, body, _ = edge.evaluation(_bytes(claim))
    assert (
        status == 422 and {"field": "claims.AMA_PRA_1.S1", "message": "not a credit amount"} in body["error"]["details"]
    )


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_scan_dated_at_the_calendars_ends_is_refused_as_outside_the_activity(edge: Edge, moment: str) -> None:
    batch = {"activity_id": edge.activity_id, "scans": [scan("end1", "B-1002", "Hall-A", "08:00", scanned_at=moment)]}
    status, body, _ = edge.scans(_bytes(batch))
    assert status == 200
    [result] = body["results"]
    assert (result["status"], result["reason"]) == ("rejected", "outside_activity")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"activity_id": "x", "scans": [' + b"1" * 5000 + b"]}", "too many digits"),
        (b"[" * 3000 + b"]" * 3000, "nested too deeply"),
        (b'{"scans": [{"scan_id": NaN}]}', "NaN is not a JSON number"),
        (b'{"activity_id": "\\ud800", "scans": []}', "not valid Unicode"),
    ],
    ids=["huge-number", "deep", "nan", "lone-surrogate"],
)
@pytest.mark.parametrize("route", ["scans", "put_activity", "roster", "evaluation"])
def test_json_that_python_reads_loosely_is_a_400_on_every_json_route(
    edge: Edge, route: str, body: bytes, words: str
) -> None:
    status, reply, _ = _send(edge, route, body)
    assert status == 400, reply
    assert words in reply["error"]["message"]


def _send(edge: Edge, route: str, body: bytes, content_type: str = "application/json") -> Any:
    if route == "put_activity":
        return edge.put_activity("fuzz-agenda", body, content_type)
    return getattr(edge, route)(body, content_type)


def test_a_device_label_that_is_not_valid_unicode_is_a_400_naming_it(edge: Edge) -> None:
    path = f"/activities/{edge.activity_id}/devices"
    params = {"activity_id": edge.activity_id}
    status, body, _ = edge.call(
        "organizer", "POST", path, "/activities/{activity_id}/devices", b'{"label": "\\udc80x"}', params=params
    )
    assert status == 400 and body["error"]["details"] == [{"field": "label", "message": "not valid Unicode"}]


def test_ids_no_record_can_have_are_404_before_any_lookup(edge: Edge) -> None:
    long = "a" * 3000
    route = "/activities/{activity_id}/attendees/{badge_id}"
    status, body, _ = edge.call(
        "organizer", "GET", f"/activities/{edge.activity_id}/attendees/{long}", route, None,
        params={"activity_id": edge.activity_id, "badge_id": long},
    )  # fmt: skip
    assert status == 404 and body["error"]["message"] == "no attendee has that id"
    status, body, _ = edge.call(
        "organizer", "GET", f"/activities/{long}", "/activities/{activity_id}", None, params={"activity_id": long}
    )
    assert status == 404 and body["error"]["message"] == "no activity has that id"
    batch = {"activity_id": long, "scans": [scan("l1", "B-1001", "Hall-A", "08:00")]}
    status, body, _ = edge.scans(_bytes(batch))
    assert status == 422 and body["error"]["details"] == [{"field": "activity_id", "message": "not an id"}]


def test_a_version_of_digits_python_cannot_read_is_a_400(stack: Any) -> None:
    for version in ("²", "9" * 5000, "١"):
        reply = http("GET", f"{stack.api_url}/verify/cabc?version={urlencode({'v': version})[2:]}")
        assert reply.status == 400, (version, reply.status)
        assert reply.json["error"]["message"] == "version must be a whole number"


def test_a_form_rating_of_digits_python_cannot_read_is_a_422_page_naming_the_field(edge: Edge) -> None:
    from cme.auth import csrf_token

    for rating in ("²", "9" * 5000):
        body = urlencode({"csrf": csrf_token(edge.learner), "answers.objectives_met": rating, "attest": "yes"})
        status, page, headers = edge.form(body.encode())
        assert status == 422 and headers["content-type"].startswith("text/html")
        assert "answers.objectives_met" in page


def test_an_agenda_too_large_to_store_is_a_413_and_nothing_is_written(edge: Edge) -> None:
    from cme.adapters import store

    agenda = worked_example_activity()
    agenda["sessions"][0]["faculty"] = [f"F-{n:06d}" for n in range(40_000)]
    status, body, _ = edge.put_activity("too-large-agenda", _bytes(agenda))
    assert status == 413 and body["error"]["details"][0]["field"] == "sessions"
    assert store.get_activity("too-large-agenda") is None


def test_a_roster_row_too_large_to_store_is_rejected_and_the_others_kept(edge: Edge) -> None:
    rows = copy.deepcopy(roster_rows()[:2])
    rows[0]["board_ids"] = {f"B{n}": "1" for n in range(50_000)}
    status, body, _ = edge.roster(_bytes(rows))
    assert status == 200
    assert body["rejected"] == [{"row": 1, "error": "board_ids: at most 20 boards"}]
    assert body["created"] + body["updated"] == 1


def test_a_csv_cell_over_128_kb_is_a_400_saying_where(edge: Edge) -> None:
    body = b"badge_id,given_name,family_name,email,profession\nB-9,Ann," + b"x" * 200_000 + b",a@example.org,nurse\n"
    status, reply, _ = edge.roster(body, "text/csv")
    assert status == 400 and "line" in reply["error"]["message"]


# ---- limits, content types, encodings ----------------------------------------------------------------------

ROUTES = ["put_activity", "roster", "scans", "evaluation"]


@pytest.mark.parametrize("route", [*ROUTES, "form"])
def test_a_body_over_five_megabytes_is_a_413_saying_the_limit(edge: Edge, route: str) -> None:
    kind = "application/x-www-form-urlencoded" if route == "form" else "application/json"
    status, body, _ = (
        _send(edge, route, b'"' + b"x" * BIG + b'"', kind) if route != "form" else edge.form(b"a=" + b"x" * BIG)
    )
    assert status == 413, body
    assert body["error"]["code"] == "payload_too_large" and "5242880 bytes" in body["error"]["message"]


def test_more_than_five_thousand_roster_rows_is_a_413_asking_for_several_requests(edge: Edge) -> None:
    rows = [{"badge_id": f"R-{n}"} for n in range(5001)]
    for body, kind in ((_bytes(rows), "application/json"), (("badge_id\n" + "R-1\n" * 5001).encode(), "text/csv")):
        status, reply, _ = edge.roster(body, kind)
        assert status == 413 and "several requests" in reply["error"]["message"]


def test_more_than_five_hundred_scans_is_refused_naming_scans_and_nothing_is_stored(edge: Edge) -> None:
    from cme.adapters import store

    before = len(store.scans_of(edge.activity_id, "B-1003"))
    many = [scan(f"many{n}", "B-1003", "Hall-A", "08:05") for n in range(501)]
    status, body, _ = edge.scans(_bytes({"activity_id": edge.activity_id, "scans": many}))
    assert status == 422 and body["error"]["details"] == [{"field": "scans", "message": "501 scans"}]
    assert "1 to 500" in body["error"]["message"]
    assert len(store.scans_of(edge.activity_id, "B-1003")) == before


@pytest.mark.parametrize(
    ("route", "content_type"),
    [
        ("put_activity", "text/plain"),
        ("put_activity", "application/x-www-form-urlencoded"),
        ("scans", "text/csv"),
        ("scans", "multipart/form-data; boundary=x"),
        ("roster", "application/xml"),
        ("roster", "text/plain"),
        ("evaluation", "application/x-www-form-urlencoded"),
        ("form", "application/json"),
    ],
)
def test_a_wrong_content_type_is_a_415_naming_it(edge: Edge, route: str, content_type: str) -> None:
    status, body, _ = _send(edge, route, b"{}", content_type) if route != "form" else edge.form(b"{}", content_type)
    assert status == 415, body
    assert body["error"]["code"] == "unsupported_media_type"
    if route != "form":
        assert content_type.split(";")[0] in body["error"]["message"]


def test_a_branding_image_of_the_wrong_type_is_a_415_naming_it(edge: Edge) -> None:
    path = f"/activities/{edge.activity_id}/branding/logo"
    params = {"activity_id": edge.activity_id, "kind": "logo"}
    status, body, _ = edge.call(
        "organizer", "PUT", path, "/activities/{activity_id}/branding/{kind}", b"GIF89a", "image/gif", params
    )
    assert status == 415 and "image/gif" in body["error"]["message"]


@pytest.mark.parametrize("route", ROUTES)
def test_broken_utf8_is_a_400_saying_so(edge: Edge, route: str) -> None:
    status, body, _ = _send(edge, route, '{"name": "José"}'.encode("latin-1"))
    assert status == 400 and "UTF-8" in body["error"]["message"]


def test_a_csv_roster_in_latin_1_is_a_400_saying_so(edge: Edge) -> None:
    body = "badge_id,given_name\nB-1,José\n".encode("latin-1")
    status, reply, _ = edge.roster(body, "text/csv")
    assert status == 400 and "UTF-8" in reply["error"]["message"]


# ---- formulas in names: stored as given, neutralised in every CSV report -----------------------------------

UAN = "0204-0000-27-001-L01-P"
TITLE = "=1+2 Sepsis update"


@pytest.fixture(scope="module")
def formula_meeting(stack: Any) -> str:
    """A physician (MOC, PARS) and a pharmacist (ACPE) whose names are formulas, a session titled like one,
    and evaluation answers written as formulas."""
    from cme.auth import issue_learner_token

    activity_id = new_activity_id()
    agenda = worked_example_activity(
        credit_types={"AMA_PRA_1": {"max": 21.5}, "ACPE": {"max": 21.5}},
        moc={"boards": ["ABIM"]},
        pars_activity_id="202714207",
        acpe_uan=UAN,
    )
    agenda["sessions"] = [
        {**agenda["sessions"][0], "title": TITLE, "credits": {"AMA_PRA_1": 1.5, "ACPE": 1.5}},
    ]
    people = [
        {"badge_id": "X-1", "given_name": "@SUM(A1:A9)", "family_name": FORMULA, "email": "x1@example.org",
         "profession": "physician", "degree": "=MD", "moc_consent": True, "board_ids": {"ABIM": "123456"},
         "birth_mmdd": "0314"},
        {"badge_id": "X-2", "given_name": "+Dmitri", "family_name": "-Ivanov", "email": "x2@example.org",
         "profession": "pharmacist", "degree": "PharmD", "nabp_eprofile_id": "1234567", "birth_mmdd": "1102"},
    ]  # fmt: skip
    url, organizer = stack.api_url, stack.organizer_token
    stack.set_clock(datetime.fromisoformat(at("07:00")))
    assert http("PUT", f"{url}/activities/{activity_id}", body=agenda, token=organizer).status == 201
    reply = http("POST", f"{url}/activities/{activity_id}/attendees?send_links=false", body=people, token=organizer)
    assert reply.status == 200 and reply.json["created"] == 2, reply.body
    stack.set_clock(datetime.fromisoformat(at("12:30")))
    scans = [
        s
        for b in ("X-1", "X-2")
        for s in (scan(f"{b}a", b, "Hall-A", "07:55"), scan(f"{b}b", b, "Hall-A", "09:35", "exit"))
    ]
    assert (
        http(
            "POST", f"{url}/scans", body={"activity_id": activity_id, "scans": scans}, token=stack.scanner_token
        ).status
        == 200
    )
    stack.settle()
    formulas = answers(
        practice_change='=HYPERLINK("http://evil.example","x")',
        free_of_commercial_bias="no",
        free_of_commercial_bias_comment="@cmd|' /C calc'!A0",
    )
    for badge in ("X-1", "X-2"):
        token = issue_learner_token(activity_id, badge, datetime.now(UTC) + timedelta(days=400))
        reply = http("POST", f"{url}/evaluations", body={"answers": formulas, "attest": True}, token=token)
        assert reply.status == 202, reply.body
    stack.settle()
    return activity_id


REPORT_FILES = [
    "attendance.csv",
    "claims.csv",
    "evaluations.csv",
    "pars-learners.txt",
    "cpe-monitor.csv",
    "post-event.zip",
]


def _tables(stack: Any, activity_id: str) -> dict[str, list[list[str]]]:
    """Every CSV-like file an organizer can download for the activity, the package's members included."""
    files: dict[str, bytes] = {}
    for name in REPORT_FILES:
        reply = http("GET", f"{stack.api_url}/activities/{activity_id}/reports/{name}", token=stack.organizer_token)
        assert reply.status == 200, (name, reply.body)
        if name.endswith(".zip"):
            archive = zipfile.ZipFile(io.BytesIO(reply.body))
            files |= {member: archive.read(member) for member in archive.namelist() if member.endswith(".csv")}
        else:
            files[name] = reply.body
    return {
        name: list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter="\t" if name.endswith(".txt") else ","))
        for name, data in files.items()
    }


def test_formula_names_are_stored_as_given(stack: Any, formula_meeting: str) -> None:
    reply = http("GET", f"{stack.api_url}/activities/{formula_meeting}/attendees/X-1", token=stack.organizer_token)
    assert reply.status == 200
    attendee = reply.json["attendee"]
    assert (attendee["family_name"], attendee["given_name"], attendee["degree"]) == (FORMULA, "@SUM(A1:A9)", "=MD")


def test_no_cell_of_any_csv_report_reads_as_a_formula(stack: Any, formula_meeting: str) -> None:
    tables = _tables(stack, formula_meeting)
    assert len(tables) >= 10  # five files, and the package's six tables
    for name, rows in tables.items():
        for row in rows:
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (name, cell)
    cells = {name: {cell for row in rows for cell in row} for name, rows in tables.items()}
    expected = {
        "attendance.csv": {"'" + FORMULA, "'@SUM(A1:A9)", "'=MD", "'+Dmitri", "'-Ivanov", "'" + TITLE},
        "claims.csv": {"'" + FORMULA, "'@SUM(A1:A9)", "'=MD", "'-Ivanov"},
        "evaluations.csv": {'\'=HYPERLINK("http://evil.example","x")', "'@cmd|' /C calc'!A0"},
        "pars-learners.txt": {"'" + FORMULA, "'@SUM(A1:A9)"},
        "cpe-monitor.csv": {"'+Dmitri", "'-Ivanov"},
    }
    for name, values in expected.items():
        assert values <= cells[name], (name, values - cells[name])
    participants = next(rows for member, rows in tables.items() if member.endswith("/participants.csv"))
    assert "'" + FORMULA in {cell for row in participants for cell in row}
