"""Every worked example of credit-rules.md, then one test per rule of the presence and credit engine."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from builders import worked_example_activity
from cme.domain.credit import (
    ClaimError,
    activity_totals,
    attendance_from_walk,
    claimable,
    claimable_totals,
    eligible_types,
    explain_anomalies,
    resolve_claims,
    session_attendance,
)
from cme.domain.models import (
    Activity,
    Break,
    CreditOffer,
    DoorScan,
    Policy,
    Provider,
    Session,
    SessionAttendance,
    epoch,
)
from cme.domain.presence import walk_presence

pytestmark = pytest.mark.unit

DAY = "2027-10-14"
OFFSET = "-05:00"
D = Decimal


def at(clock: str) -> datetime:
    """A local time of the examples' day ("07:50" or "08:52:30")."""
    return datetime.fromisoformat(f"{DAY}T{clock}{OFFSET}")


def ts(clock: str) -> int:
    return epoch(at(clock))


def session(
    session_id: str,
    room: str,
    starts: str,
    ends: str,
    credits: dict[str, str],
    breaks: tuple[tuple[str, str], ...] = (),
    faculty: tuple[str, ...] = (),
    min_attendance_percent: int | None = None,
) -> Session:
    return Session(
        session_id=session_id,
        title=f"Session {session_id}",
        room=room,
        starts_at=at(starts),
        ends_at=at(ends),
        credits={t: D(v) for t, v in credits.items()},
        breaks=[Break(starts_at=at(s), ends_at=at(e)) for s, e in breaks],
        faculty=list(faculty),
        min_attendance_percent=min_attendance_percent,
    )


def example_sessions() -> list[Session]:
    """The worked examples' agenda (S1, S2 with its break, S4 taught by F1), the same one the
    handler tests post as JSON (`builders.worked_example_activity`)."""
    return [Session.model_validate(body) for body in worked_example_activity()["sessions"]]


def make_activity(
    sessions: list[Session] | None = None,
    offers: dict[str, str] | None = None,
    **policy: object,
) -> Activity:
    offers = offers or {"AMA_PRA_1": "20", "ANCC": "20"}
    return Activity(
        activity_id="ACT-2027",
        title="Cardiology Update 2027",
        provider=Provider(name="Example Medical Society"),
        location="Chicago, IL",
        timezone="America/Chicago",
        starts_on=date(2027, 10, 14),
        ends_on=date(2027, 10, 14),
        credit_types={t: CreditOffer(max=D(m)) for t, m in offers.items()},
        policy=Policy(**policy),
        sessions=example_sessions() if sessions is None else sessions,
    )


def scans(*specs: tuple[str, str, str]) -> list[DoorScan]:
    """(direction, room, clock) triples; scan ids s1, s2, … in the order given."""
    return [
        DoorScan(scan_id=f"s{index}", room=room, at=ts(clock), direction=direction)  # type: ignore[arg-type]
        for index, (direction, room, clock) in enumerate(specs, start=1)
    ]


def credit(attendance: dict[str, SessionAttendance], session_id: str, credit_type: str = "AMA_PRA_1") -> Decimal:
    """A session's credit in a type; 0 for a session the attendee does not appear in."""
    found = attendance.get(session_id)
    return found.credits.get(credit_type, D(0)) if found else D(0)


EXAMPLE_1 = (("entry", "Hall-A", "07:50"), ("entry", "Room-201", "09:50"), ("exit", "Room-201", "12:05"))


# ---------------------------------------------------------------------------------------------
# The worked examples, one test each


def test_example_1_entry_hall_a_then_room_201() -> None:
    activity = make_activity()
    attendance = session_attendance(activity, "B100", scans(*EXAMPLE_1))

    assert attendance["S1"].seconds == 90 * 60
    assert credit(attendance, "S1") == D("1.5")
    # The 07:50 entry covers S1 only: S4 starts more than 30 min later.
    assert "S4" not in attendance
    assert credit(attendance, "S4") == 0
    assert attendance["S2"].seconds == 115 * 60
    assert credit(attendance, "S2") == D("2.0")
    assert activity_totals(activity, attendance, ["AMA_PRA_1"]) == {"AMA_PRA_1": D("3.5")}


def test_example_2_double_scan_exit_and_reentry_in_hall_a() -> None:
    activity = make_activity()
    stream = scans(
        ("entry", "Hall-A", "08:10"),
        ("entry", "Hall-A", "08:11"),
        ("exit", "Hall-A", "09:00"),
        ("entry", "Hall-A", "09:05"),
    )
    walk = walk_presence(activity, stream)
    attendance = attendance_from_walk(activity, "B100", walk)

    assert attendance["S1"].seconds == (50 + 25) * 60
    assert credit(attendance, "S1") == D("1.25")
    assert [s.scan_id for s in walk.double_scans] == ["s2"]
    assert walk.double_scans[0].at == ts("08:11")
    assert "entry scan 08:11 ignored (double scan)" in attendance["S1"].explanation


def test_example_3_missing_exit_no_credit() -> None:
    activity = make_activity(missing_exit="no_credit")
    attendance = session_attendance(activity, "B100", scans(*EXAMPLE_1))

    assert credit(attendance, "S1") == 0
    assert credit(attendance, "S2") == D("2.0")
    assert "no exit scan: no credit under this activity's policy" in attendance["S1"].explanation
    assert activity_totals(activity, attendance, ["AMA_PRA_1"]) == {"AMA_PRA_1": D("2.0")}


@pytest.mark.parametrize(("rounding", "expected"), [("nearest_quarter", "1.0"), ("down_quarter", "0.75")])
def test_example_4_exit_at_08_52_30_defaults_and_down_quarter(rounding: str, expected: str) -> None:
    activity = make_activity(rounding=rounding)
    attendance = session_attendance(
        activity, "B100", scans(("entry", "Hall-A", "08:00"), ("exit", "Hall-A", "08:52:30"))
    )

    assert attendance["S1"].seconds == 3150
    assert credit(attendance, "S1") == D(expected)


def test_example_5_exit_spans_both_hall_a_sessions_and_faculty_earns_nothing() -> None:
    activity = make_activity()
    stream = scans(("entry", "Hall-A", "08:00"), ("exit", "Hall-A", "10:45"))

    learner = session_attendance(activity, "B100", stream)
    assert credit(learner, "S1") == D("1.5")
    assert credit(learner, "S4") == D("1.0")

    faculty = session_attendance(activity, "F1", stream)
    assert credit(faculty, "S1") == D("1.5")
    assert faculty["S4"].faculty is True
    assert faculty["S4"].seconds == 60 * 60
    assert credit(faculty, "S4") == 0
    assert all(v == 0 for v in faculty["S4"].credits.values())
    assert "you were faculty of this session: no learner credit" in faculty["S4"].explanation


def test_example_6_min_attendance_100_percent() -> None:
    activity = make_activity(min_attendance_percent=100)
    attendance = session_attendance(activity, "B100", scans(*EXAMPLE_1))

    assert credit(attendance, "S1") == D("1.5")
    assert attendance["S2"].seconds == 115 * 60
    assert attendance["S2"].credit_seconds == 120 * 60
    assert credit(attendance, "S2") == 0
    assert credit(attendance, "S2", "ANCC") == 0
    assert "minimum attendance not met" in attendance["S2"].explanation


def test_example_7_reentry_after_cover_end_opens_a_new_presence() -> None:
    activity = make_activity()
    stream = scans(("entry", "Hall-A", "07:55"), ("entry", "Hall-A", "09:50"))
    walk = walk_presence(activity, stream)
    attendance = attendance_from_walk(activity, "B100", walk)

    assert walk.double_scans == ()
    assert walk.presences[0].end == ts("09:30")
    assert walk.presences[0].ended_by == "cover_end"
    assert credit(attendance, "S1") == D("1.5")
    assert attendance["S4"].seconds == 55 * 60
    assert credit(attendance, "S4") == D("1.0")


def test_example_8_entry_covers_session_in_progress_and_the_next_within_lookahead() -> None:
    activity = make_activity()
    walk = walk_presence(activity, scans(("entry", "Hall-A", "09:20")))
    attendance = attendance_from_walk(activity, "B100", walk)

    assert walk.presences[0].covered == ("S1", "S4")
    assert walk.presences[0].end == ts("10:45")
    assert attendance["S1"].seconds == 10 * 60
    assert credit(attendance, "S1") == D("0.25")
    assert attendance["S4"].seconds == 60 * 60
    assert credit(attendance, "S4") == D("1.0")


def test_example_9_nurse_gets_ancc_rounded_down_and_participation() -> None:
    activity = make_activity()
    attendance = session_attendance(activity, "N200", scans(*EXAMPLE_1))
    types = eligible_types(activity, "nurse")

    assert types == ["ANCC", "PARTICIPATION"]
    assert credit(attendance, "S2", "ANCC") == D("1.75")
    assert credit(attendance, "S1", "PARTICIPATION") == D("1.5")
    assert credit(attendance, "S2", "PARTICIPATION") == D("2.0")
    assert "ANCC" not in attendance["S1"].credits  # S1 designates no ANCC
    assert activity_totals(activity, attendance, types) == {"ANCC": D("1.75"), "PARTICIPATION": D("3.5")}


# ---------------------------------------------------------------------------------------------
# §1 presence


def test_scan_order_and_repeated_scan_ids_do_not_matter() -> None:
    activity = make_activity()
    stream = scans(*EXAMPLE_1)
    shuffled = [stream[2], stream[0], stream[1], stream[0].model_copy()]
    assert session_attendance(activity, "B", shuffled) == session_attendance(activity, "B", stream)


def test_repeated_scan_id_first_by_time_wins() -> None:
    activity = make_activity()
    late_copy = DoorScan(scan_id="s1", room="Hall-A", at=ts("09:00"))
    walk = walk_presence(activity, [late_copy, *scans(("entry", "Hall-A", "08:00"))])
    assert [(p.start, p.entry_scan_id) for p in walk.presences] == [(ts("08:00"), "s1")]


LOOKAHEAD_AGENDA = [
    session("P", "Hall-A", "08:00", "09:30", {"AMA_PRA_1": "1.5"}),
    session("Q", "Hall-A", "09:45", "10:45", {"AMA_PRA_1": "1.0"}),
]


def test_lookahead_covers_a_session_starting_exactly_30_minutes_later() -> None:
    activity = make_activity(LOOKAHEAD_AGENDA, offers={"AMA_PRA_1": "20"})
    walk = walk_presence(activity, scans(("entry", "Hall-A", "09:15")))
    attendance = attendance_from_walk(activity, "B", walk)
    assert walk.presences[0].covered == ("P", "Q")
    assert credit(attendance, "P") == D("0.25")
    assert credit(attendance, "Q") == D("1.0")


def test_lookahead_does_not_cover_a_session_starting_30_minutes_and_1_second_later() -> None:
    activity = make_activity(LOOKAHEAD_AGENDA, offers={"AMA_PRA_1": "20"})
    walk = walk_presence(activity, scans(("entry", "Hall-A", "09:14:59")))
    attendance = attendance_from_walk(activity, "B", walk)
    assert walk.presences[0].covered == ("P",)
    assert walk.presences[0].end == ts("09:30")
    assert attendance["P"].seconds == 15 * 60 + 1
    assert "Q" not in attendance


def test_lookahead_minutes_is_the_policy_value() -> None:
    activity = make_activity(LOOKAHEAD_AGENDA, offers={"AMA_PRA_1": "20"}, lookahead_minutes=45)
    walk = walk_presence(activity, scans(("entry", "Hall-A", "09:00")))
    assert walk.presences[0].covered == ("P", "Q")


def test_without_session_in_progress_or_within_lookahead_the_next_session_is_covered() -> None:
    activity = make_activity()
    walk = walk_presence(activity, scans(("entry", "Room-201", "07:00")))
    assert walk.presences[0].covered == ("S2",)
    assert walk.presences[0].end == ts("12:00")
    attendance = attendance_from_walk(activity, "B", walk)
    assert attendance["S2"].seconds == 120 * 60


def test_entry_when_no_session_is_left_in_the_room_earns_nothing() -> None:
    activity = make_activity()
    walk = walk_presence(activity, scans(("entry", "Room-201", "12:30"), ("exit", "Room-201", "13:00")))
    assert walk.presences[0].covered == ()
    assert walk.presences[0].earns is False
    assert session_attendance(activity, "B", scans(("entry", "Room-201", "12:30"))) == {}


def test_in_progress_tie_breaks_on_earliest_start_then_lowest_session_id() -> None:
    agenda = [
        session("B", "Hall-A", "08:00", "09:00", {"AMA_PRA_1": "1.0"}),
        session("A", "Hall-A", "08:00", "08:30", {"AMA_PRA_1": "0.5"}),
        session("C", "Hall-A", "07:30", "08:15", {"AMA_PRA_1": "0.75"}),
    ]
    activity = make_activity(agenda, offers={"AMA_PRA_1": "20"}, lookahead_minutes=0)
    assert walk_presence(activity, scans(("entry", "Hall-A", "08:10"))).presences[0].covered == ("C",)
    assert walk_presence(activity, scans(("entry", "Hall-A", "08:20"))).presences[0].covered == ("A",)


def test_next_entry_elsewhere_ends_the_presence_before_its_cover_end() -> None:
    activity = make_activity()
    walk = walk_presence(activity, scans(("entry", "Hall-A", "08:00"), ("entry", "Room-201", "09:00")))
    first = walk.presences[0]
    assert (first.end, first.ended_by, first.next_room) == (ts("09:00"), "next_entry", "Room-201")
    attendance = attendance_from_walk(activity, "B", walk)
    assert credit(attendance, "S1") == D("1.0")
    assert credit(attendance, "S2") == D("2.0")  # 09:00 entry covers S2 (first to start after)
    assert "left for Room-201 at 09:00" in attendance["S1"].explanation


def test_exit_from_another_room_is_an_anomaly_and_is_ignored() -> None:
    activity = make_activity()
    walk = walk_presence(activity, scans(("entry", "Hall-A", "08:00"), ("exit", "Room-201", "10:00")))
    assert [(a.kind, a.room, a.inside_room, a.session_id) for a in walk.anomalies] == [
        ("exit_from_other_room", "Room-201", "Hall-A", "S2")
    ]
    assert walk.presences[0].end == ts("09:30")
    attendance = attendance_from_walk(activity, "B", walk)
    assert credit(attendance, "S1") == D("1.5")
    # S2 is not among the learner's sessions, so the anomaly is explained on its own.
    assert explain_anomalies(walk, attendance) == ["Exit scan at Room-201 10:00 while you were in Hall-A: ignored."]


def test_exit_while_outside_is_an_anomaly() -> None:
    activity = make_activity()
    stream = scans(
        ("exit", "Hall-A", "07:40"),
        ("entry", "Room-201", "09:50"),
        ("exit", "Room-201", "11:00"),
        ("exit", "Room-201", "11:30"),
    )
    walk = walk_presence(activity, stream)
    assert [(a.scan_id, a.kind) for a in walk.anomalies] == [
        ("s1", "exit_without_entry"),
        ("s4", "exit_without_entry"),
    ]
    attendance = attendance_from_walk(activity, "B", walk)
    assert attendance["S2"].seconds == (55 + 0) * 60  # 09:50–10:45, break from 10:45 to the 11:00 exit
    # The 11:30 stray exit falls inside S2, which the learner attended: its explanation says so.
    assert "exit scan at Room-201 11:30 without an entry: ignored" in attendance["S2"].explanation
    assert explain_anomalies(walk, attendance) == ["Exit scan at Hall-A 07:40 without an entry: ignored."]


def test_exit_closes_a_presence_long_after_its_cover_end() -> None:
    activity = make_activity()
    walk = walk_presence(activity, scans(("entry", "Hall-A", "07:55"), ("exit", "Hall-A", "11:00")))
    presence = walk.presences[0]
    assert (presence.closed_by_exit, presence.end, presence.cover_end) == (True, ts("11:00"), ts("09:30"))


def test_entry_in_same_room_exactly_at_cover_end_is_not_a_double_scan() -> None:
    activity = make_activity()
    walk = walk_presence(activity, scans(("entry", "Hall-A", "08:00"), ("entry", "Hall-A", "09:30")))
    assert walk.double_scans == ()
    assert [p.start for p in walk.presences] == [ts("08:00"), ts("09:30")]


def test_missing_exit_no_credit_still_credits_presences_closed_by_exit() -> None:
    activity = make_activity(missing_exit="no_credit")
    stream = scans(("entry", "Hall-A", "08:00"), ("exit", "Hall-A", "10:45"))
    attendance = session_attendance(activity, "B", stream)
    assert (credit(attendance, "S1"), credit(attendance, "S4")) == (D("1.5"), D("1.0"))


# ---------------------------------------------------------------------------------------------
# §2–§3 session attendance and credit


def test_overlapping_sessions_in_one_room_count_a_second_once() -> None:
    agenda = [
        session("A", "Hall-A", "08:00", "09:00", {"AMA_PRA_1": "1.0"}),
        session("B", "Hall-A", "08:30", "09:30", {"AMA_PRA_1": "1.0"}),
    ]
    activity = make_activity(agenda, offers={"AMA_PRA_1": "20"})
    attendance = session_attendance(activity, "X", scans(("entry", "Hall-A", "08:00"), ("exit", "Hall-A", "09:30")))
    assert (attendance["A"].seconds, attendance["B"].seconds) == (3600, 1800)
    assert (credit(attendance, "A"), credit(attendance, "B")) == (D("1.0"), D("0.5"))
    assert "30 min counted for another session in Hall-A" in attendance["B"].explanation


def test_identical_overlapping_sessions_go_to_the_lower_session_id() -> None:
    agenda = [
        session("B", "Hall-A", "08:00", "09:00", {"AMA_PRA_1": "1.0"}),
        session("A", "Hall-A", "08:00", "09:00", {"AMA_PRA_1": "1.0"}),
    ]
    activity = make_activity(agenda, offers={"AMA_PRA_1": "20"})
    attendance = session_attendance(activity, "X", scans(("entry", "Hall-A", "08:00"), ("exit", "Hall-A", "09:00")))
    assert list(attendance) == ["A"]


def test_a_break_of_the_earlier_session_is_left_to_an_overlapping_session() -> None:
    # Decision (report): a second goes to the earliest session that counts it; its own break does not.
    agenda = [
        session("A", "Hall-A", "08:00", "09:00", {"AMA_PRA_1": "0.75"}, breaks=(("08:30", "08:45"),)),
        session("B", "Hall-A", "08:30", "08:45", {"AMA_PRA_1": "0.25"}),
    ]
    activity = make_activity(agenda, offers={"AMA_PRA_1": "20"})
    attendance = session_attendance(activity, "X", scans(("entry", "Hall-A", "08:00"), ("exit", "Hall-A", "09:00")))
    assert (attendance["A"].seconds, attendance["B"].seconds) == (45 * 60, 15 * 60)


def test_breaks_are_not_counted_and_the_explanation_says_so() -> None:
    activity = make_activity()
    attendance = session_attendance(activity, "B", scans(("entry", "Room-201", "09:45"), ("exit", "Room-201", "12:00")))
    assert attendance["S2"].seconds == 120 * 60
    assert attendance["S2"].explanation == (
        "Entered Room-201 09:45; exited 12:00; break 10:45–11:00 not counted: 120 min → 2.0 credits (ANCC 2.0)"
    )


def test_explanation_of_example_1_reads_as_the_learner_sees_it() -> None:
    activity = make_activity()
    attendance = session_attendance(activity, "B", scans(*EXAMPLE_1))
    assert attendance["S1"].explanation == (
        "Entered Hall-A 07:50 (counted from the 08:00 start); left for Room-201 at 09:50; "
        "session ended 09:30: 90 min → 1.5 credits"
    )
    assert attendance["S2"].explanation == (
        "Entered Room-201 09:50; exited 12:05; session ended 12:00; break 10:45–11:00 not counted: "
        "115 min → 2.0 credits (ANCC 1.75)"
    )


def test_explanation_shows_seconds_when_the_device_clock_has_them() -> None:
    activity = make_activity()
    attendance = session_attendance(activity, "B", scans(("entry", "Hall-A", "08:00"), ("exit", "Hall-A", "08:52:30")))
    assert attendance["S1"].explanation == "Entered Hall-A 08:00; exited 08:52:30: 52 min 30 s → 1.0 credits"


def test_explanation_says_when_the_designation_capped_the_credit() -> None:
    agenda = [session("A", "Hall-A", "08:00", "09:00", {"AMA_PRA_1": "0.5"})]
    activity = make_activity(agenda, offers={"AMA_PRA_1": "20"})
    attendance = session_attendance(activity, "B", scans(("entry", "Hall-A", "08:00")))
    assert credit(attendance, "A") == D("0.5")
    assert attendance["A"].explanation.endswith("60 min → 0.5 credits, the session's maximum")


def test_credit_never_exceeds_the_session_designation() -> None:
    agenda = [session("A", "Hall-A", "08:00", "10:00", {"AMA_PRA_1": "1.0", "ANCC": "0.5"})]
    activity = make_activity(agenda)
    attendance = session_attendance(activity, "B", scans(("entry", "Hall-A", "08:00")))
    assert attendance["A"].credits == {
        "AMA_PRA_1": D("1.0"),
        "ANCC": D("0.5"),
        "AAPA_1": D("1.0"),
        "PARTICIPATION": D("1.0"),
    }


ACPE_AGENDA = [session("RX", "Room-301", "08:00", "09:40", {"ACPE": "1.5", "AMA_PRA_1": "1.5"})]


@pytest.mark.parametrize(("exit_at", "expected"), [("09:29", "0"), ("09:29:59", "0"), ("09:30", "1.5")])
def test_acpe_is_all_or_nothing_at_90_percent(exit_at: str, expected: str) -> None:
    activity = make_activity(ACPE_AGENDA, offers={"ACPE": "10", "AMA_PRA_1": "10"})
    attendance = session_attendance(activity, "P", scans(("entry", "Room-301", "08:00"), ("exit", "Room-301", exit_at)))
    assert credit(attendance, "RX", "ACPE") == D(expected)
    if expected == "0":
        assert "ACPE needs 90% of the 100 min credit time: not earned" in attendance["RX"].explanation


def test_acpe_full_credit_percent_is_the_policy_value() -> None:
    activity = make_activity(ACPE_AGENDA, offers={"ACPE": "10", "AMA_PRA_1": "10"}, full_credit_percent=50)
    attendance = session_attendance(activity, "P", scans(("entry", "Room-301", "08:00"), ("exit", "Room-301", "08:50")))
    assert credit(attendance, "RX", "ACPE") == D("1.5")


def test_session_min_attendance_overrides_the_activity_value() -> None:
    agenda = [
        session("LENIENT", "Hall-A", "08:00", "09:00", {"AMA_PRA_1": "1.0"}, min_attendance_percent=0),
        session("DEFAULT", "Room-201", "08:00", "09:00", {"AMA_PRA_1": "1.0"}),
        session("STRICT", "Room-301", "08:00", "09:00", {"AMA_PRA_1": "1.0"}, min_attendance_percent=100),
    ]
    stream = scans(
        ("entry", "Hall-A", "08:00"),
        ("exit", "Hall-A", "08:20"),
        ("entry", "Room-201", "08:20"),
        ("exit", "Room-201", "08:40"),
        ("entry", "Room-301", "08:40"),
        ("exit", "Room-301", "09:00"),
    )
    strict_activity = make_activity(agenda, offers={"AMA_PRA_1": "20"}, min_attendance_percent=50)
    attendance = session_attendance(strict_activity, "B", stream)
    assert [credit(attendance, s) for s in ("LENIENT", "DEFAULT", "STRICT")] == [D("0.25"), 0, 0]

    lenient_activity = make_activity(agenda, offers={"AMA_PRA_1": "20"}, min_attendance_percent=0)
    attendance = session_attendance(lenient_activity, "B", stream)
    assert [credit(attendance, s) for s in ("LENIENT", "DEFAULT", "STRICT")] == [D("0.25"), D("0.25"), 0]


def test_min_attendance_boundary_is_inclusive() -> None:
    activity = make_activity(min_attendance_percent=50)
    attendance = session_attendance(activity, "B", scans(("entry", "Hall-A", "08:00"), ("exit", "Hall-A", "08:45")))
    assert credit(attendance, "S1") == D("0.75")
    attendance = session_attendance(activity, "B", scans(("entry", "Hall-A", "08:00"), ("exit", "Hall-A", "08:44:59")))
    assert credit(attendance, "S1") == 0


def test_faculty_of_a_session_not_attended_is_listed_with_zero() -> None:
    activity = make_activity()
    attendance = session_attendance(activity, "F1", [])
    assert list(attendance) == ["S4"]
    assert attendance["S4"].faculty is True
    assert attendance["S4"].seconds == 0
    assert set(attendance["S4"].credits.values()) == {D(0)}


def test_derived_types_follow_ama_rounding_unless_named() -> None:
    stream = scans(("entry", "Hall-A", "08:00"), ("exit", "Hall-A", "08:52:30"))
    activity = make_activity(rounding="down_quarter")
    attendance = session_attendance(activity, "B", stream)
    assert [credit(attendance, "S1", t) for t in ("AMA_PRA_1", "AAPA_1", "PARTICIPATION")] == [D("0.75")] * 3

    activity = make_activity(rounding_by_type={"ANCC": "down_quarter", "PARTICIPATION": "down_quarter"})
    attendance = session_attendance(activity, "B", stream)
    assert [credit(attendance, "S1", t) for t in ("AMA_PRA_1", "AAPA_1", "PARTICIPATION")] == [
        D("1.0"),
        D("1.0"),
        D("0.75"),
    ]


def test_ipce_is_time_based_with_the_activity_rounding() -> None:
    agenda = [session("A", "Hall-A", "08:00", "09:00", {"IPCE": "1.0"})]
    activity = make_activity(agenda, offers={"IPCE": "5"})
    attendance = session_attendance(activity, "B", scans(("entry", "Hall-A", "08:00"), ("exit", "Hall-A", "08:38")))
    assert attendance["A"].credits == {"IPCE": D("0.75")}


# ---------------------------------------------------------------------------------------------
# §4 totals, eligibility, claims


TEN_MINUTE_AGENDA = [
    session(f"T{i}", "Hall-A", start, end, {"AMA_PRA_1": "0.25", "ANCC": "0.25"})
    for i, (start, end) in enumerate(
        [("08:00", "08:10"), ("08:20", "08:30"), ("08:40", "08:50"), ("09:00", "09:10")], start=1
    )
]
TEN_MINUTE_SCANS = (("entry", "Hall-A", "07:55"), ("exit", "Hall-A", "09:15"))


def test_total_is_capped_by_the_time_actually_attended() -> None:
    activity = make_activity(TEN_MINUTE_AGENDA)
    attendance = session_attendance(activity, "B", scans(*TEN_MINUTE_SCANS))
    assert [credit(attendance, f"T{i}") for i in range(1, 5)] == [D("0.25")] * 4
    # Σ session credit 1.0, but 40 minutes round to 0.75.
    assert activity_totals(activity, attendance, ["AMA_PRA_1", "PARTICIPATION"]) == {
        "AMA_PRA_1": D("0.75"),
        "PARTICIPATION": D("0.75"),
    }


def test_total_time_cap_uses_the_types_rounding() -> None:
    activity = make_activity(TEN_MINUTE_AGENDA)
    attendance = session_attendance(activity, "B", scans(*TEN_MINUTE_SCANS))
    # ANCC rounds down: each 10-minute session earns 0, so nothing is summed at all.
    assert activity_totals(activity, attendance, ["ANCC"]) == {"ANCC": D(0)}


def test_total_is_capped_by_the_activity_maximum() -> None:
    activity = make_activity(offers={"AMA_PRA_1": "3.0", "ANCC": "1.5"})
    attendance = session_attendance(activity, "B", scans(*EXAMPLE_1))
    assert activity_totals(activity, attendance, activity.offered_types()) == {
        "AMA_PRA_1": D("3.0"),
        "ANCC": D("1.5"),
        "AAPA_1": D("3.0"),
        "PARTICIPATION": D("3.0"),
    }


def test_all_or_nothing_total_is_the_sum_capped_by_the_maximum() -> None:
    agenda = [
        session("R1", "Room-301", "08:00", "09:00", {"ACPE": "1.0"}),
        session("R2", "Room-301", "09:00", "10:00", {"ACPE": "1.0"}),
    ]
    stream = scans(("entry", "Room-301", "08:00"), ("exit", "Room-301", "10:00"))
    activity = make_activity(agenda, offers={"ACPE": "5"})
    attendance = session_attendance(activity, "P", stream)
    assert activity_totals(activity, attendance, ["ACPE"]) == {"ACPE": D("2.0")}
    capped = make_activity(agenda, offers={"ACPE": "1.5"})
    assert activity_totals(capped, session_attendance(capped, "P", stream), ["ACPE"]) == {"ACPE": D("1.5")}


def test_totals_skip_types_the_activity_does_not_offer() -> None:
    activity = make_activity()
    attendance = session_attendance(activity, "B", scans(*EXAMPLE_1))
    assert activity_totals(activity, attendance, ["ACPE", "IPCE"]) == {}


@pytest.mark.parametrize(
    ("profession", "expected"),
    [
        ("physician", ["AMA_PRA_1", "IPCE"]),
        ("nurse", ["ANCC", "IPCE", "PARTICIPATION"]),
        ("pharmacist", ["ACPE", "IPCE", "PARTICIPATION"]),
        ("physician_assistant", ["AAPA_1", "IPCE", "PARTICIPATION"]),
        ("other", ["IPCE", "PARTICIPATION"]),
    ],
)
def test_eligibility_per_profession_when_everything_is_offered(profession: str, expected: list[str]) -> None:
    activity = make_activity([], offers={"AMA_PRA_1": "5", "ANCC": "5", "ACPE": "5", "IPCE": "5"})
    assert eligible_types(activity, profession) == expected


def test_eligibility_is_limited_to_what_the_activity_offers() -> None:
    ancc_only = make_activity([], offers={"ANCC": "5"})
    assert eligible_types(ancc_only, "physician") == []
    assert eligible_types(ancc_only, "physician_assistant") == []  # no AMA_PRA_1: no derived types
    assert eligible_types(ancc_only, "nurse") == ["ANCC"]
    ama_only = make_activity([], offers={"AMA_PRA_1": "5"})
    assert eligible_types(ama_only, "physician_assistant") == ["AAPA_1", "PARTICIPATION"]
    assert eligible_types(ama_only, "pharmacist") == ["PARTICIPATION"]


def test_claimable_with_activity_evaluation_scope() -> None:
    activity = make_activity()
    attendance = session_attendance(activity, "B", scans(*EXAMPLE_1))
    assert claimable(activity, attendance, set(), ["AMA_PRA_1"]) == {"AMA_PRA_1": {}}
    assert claimable(activity, attendance, {"S1"}, ["AMA_PRA_1"]) == {"AMA_PRA_1": {}}
    unlocked = claimable(activity, attendance, {None}, ["AMA_PRA_1"])
    assert unlocked == {"AMA_PRA_1": {"S1": D("1.5"), "S2": D("2.0")}}
    assert claimable_totals(activity, attendance, unlocked) == {"AMA_PRA_1": D("3.5")}


def test_claimable_with_session_evaluation_scope() -> None:
    activity = make_activity(evaluation_scope="session")
    attendance = session_attendance(activity, "B", scans(*EXAMPLE_1))
    assert claimable(activity, attendance, {None}, ["AMA_PRA_1"]) == {"AMA_PRA_1": {}}
    only_s2 = claimable(activity, attendance, {"S2"}, ["AMA_PRA_1", "ANCC"])
    assert only_s2 == {"AMA_PRA_1": {"S2": D("2.0")}, "ANCC": {"S2": D("1.75")}}
    assert claimable_totals(activity, attendance, only_s2) == {"AMA_PRA_1": D("2.0"), "ANCC": D("1.75")}


def test_claimable_totals_apply_the_time_cap() -> None:
    activity = make_activity(TEN_MINUTE_AGENDA)
    attendance = session_attendance(activity, "B", scans(*TEN_MINUTE_SCANS))
    available = claimable(activity, attendance, {None}, ["AMA_PRA_1"])
    assert sum(available["AMA_PRA_1"].values()) == D("1.0")
    assert claimable_totals(activity, attendance, available) == {"AMA_PRA_1": D("0.75")}


def _physician_claims() -> tuple[Activity, dict[str, SessionAttendance], dict[str, dict[str, Decimal]]]:
    activity = make_activity()
    attendance = session_attendance(activity, "B", scans(*EXAMPLE_1))
    return (
        activity,
        attendance,
        claimable(activity, attendance, {None}, eligible_types(activity, "physician")),
    )


def test_resolve_claims_defaults_to_everything_claimable() -> None:
    activity, attendance, available = _physician_claims()
    claimed, totals = resolve_claims(activity, attendance, available, None)
    assert claimed == {"AMA_PRA_1": {"S1": D("1.5"), "S2": D("2.0")}}
    assert totals == {"AMA_PRA_1": D("3.5")}


def test_resolve_claims_takes_partial_claims_and_defaults_the_rest() -> None:
    activity, attendance, available = _physician_claims()
    claimed, totals = resolve_claims(activity, attendance, available, {"AMA_PRA_1": {"S2": D("1.25")}})
    assert claimed == {"AMA_PRA_1": {"S1": D("1.5"), "S2": D("1.25")}}
    assert totals == {"AMA_PRA_1": D("2.75")}
    claimed, totals = resolve_claims(activity, attendance, available, {"AMA_PRA_1": {"S1": D(0), "S2": D("2")}})
    assert claimed == {"AMA_PRA_1": {"S2": D("2")}}
    assert totals == {"AMA_PRA_1": D("2")}


def test_resolve_claims_total_is_capped_by_the_claimable_total() -> None:
    activity = make_activity(TEN_MINUTE_AGENDA)
    attendance = session_attendance(activity, "B", scans(*TEN_MINUTE_SCANS))
    available = claimable(activity, attendance, {None}, ["AMA_PRA_1"])
    claimed, totals = resolve_claims(activity, attendance, available, None)
    assert sum(claimed["AMA_PRA_1"].values()) == D("1.0")
    assert totals == {"AMA_PRA_1": D("0.75")}


@pytest.mark.parametrize(
    ("requested", "field", "words"),
    [
        ({"ANCC": {"S2": D("1")}}, "claims.ANCC", "not a credit type"),
        ({"AMA_PRA_1": {"S4": D("1")}}, "claims.AMA_PRA_1.S4", "no attendance"),
        ({"AMA_PRA_1": {"S9": D("1")}}, "claims.AMA_PRA_1.S9", "no attendance"),
        ({"AMA_PRA_1": {"S2": D("1.1")}}, "claims.AMA_PRA_1.S2", "multiple of 0.25"),
        ({"AMA_PRA_1": {"S2": D("-0.25")}}, "claims.AMA_PRA_1.S2", "negative"),
        ({"AMA_PRA_1": {"S2": D("2.25")}}, "claims.AMA_PRA_1.S2", "above the 2.0"),
        ({"AMA_PRA_1": {"S2": D("NaN")}}, "claims.AMA_PRA_1.S2", "number"),
    ],
)
def test_resolve_claims_errors_name_the_field(requested: dict, field: str, words: str) -> None:
    activity, attendance, available = _physician_claims()
    with pytest.raises(ClaimError) as raised:
        resolve_claims(activity, attendance, available, requested)
    assert raised.value.field == field
    assert words in raised.value.message


def test_resolve_claims_refuses_a_session_whose_evaluation_is_missing() -> None:
    activity = make_activity(evaluation_scope="session")
    attendance = session_attendance(activity, "B", scans(*EXAMPLE_1))
    available = claimable(activity, attendance, {"S2"}, ["AMA_PRA_1"])
    with pytest.raises(ClaimError) as raised:
        resolve_claims(activity, attendance, available, {"AMA_PRA_1": {"S1": D("0.5")}})
    assert raised.value.field == "claims.AMA_PRA_1.S1"


def test_acpe_credit_is_claimed_whole_or_not_at_all() -> None:
    """A live ACPE activity has no partial credit (cme-facts.md): a lower claim is refused, naming the field."""
    activity, attendance, _ = _physician_claims()
    available = {"ACPE": {"S2": D("2")}}
    with pytest.raises(ClaimError) as raised:
        resolve_claims(activity, attendance, available, {"ACPE": {"S2": D("1.25")}})
    assert raised.value.field == "claims.ACPE.S2"
    assert "whole (2.0) or not at all" in raised.value.message
