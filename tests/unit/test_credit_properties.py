"""Properties of the presence and credit engine over random agendas, policies and scan streams."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cme.domain.credit import (
    activity_totals,
    attendance_from_walk,
    claimable,
    claimable_totals,
    resolve_claims,
    session_attendance,
)
from cme.domain.models import (
    ALL_OR_NOTHING_TYPES,
    DERIVED_TYPES,
    Activity,
    CreditOffer,
    DoorScan,
    Policy,
    Provider,
    Session,
    SessionAttendance,
    from_quarters,
    to_quarters,
)
from cme.domain.presence import may_be_present, walk_presence
from strategies import (
    BADGES,
    DAY_START,
    GRID,
    PROPERTY_SETTINGS,
    ROOMS,
    TIME_BASED,
    activities,
    local,
    policies,
    scan_streams,
)

pytestmark = pytest.mark.unit


@st.composite
def agendas_with_scans(draw: st.DrawFn) -> tuple[Activity, list[DoorScan]]:
    activity = draw(activities())
    return activity, draw(scan_streams(activity))


@st.composite
def short_sessions_with_scans(draw: st.DrawFn) -> tuple[Activity, list[DoorScan]]:
    """Back-to-back 10- and 15-minute sessions in one room, attended through one entry and exit:
    each session's credit rounds up, so the total's time cap is what keeps it honest."""
    start = DAY_START
    agenda = []
    for index in range(draw(st.integers(2, 8))):
        start += draw(st.sampled_from([0, 0, GRID, 2 * GRID]))
        length = draw(st.sampled_from([2 * GRID, 3 * GRID]))
        agenda.append(
            Session(
                session_id=f"Q{index}",
                title=f"Short {index}",
                room="Hall-A",
                starts_at=local(start),
                ends_at=local(start + length),
                credits={"AMA_PRA_1": Decimal("0.25"), "ANCC": Decimal("0.25"), "IPCE": Decimal("0.25")},
            )
        )
        start += length
    activity = Activity(
        activity_id="ACT-Q",
        title="Short sessions",
        provider=Provider(name="Example Medical Society"),
        location="Chicago, IL",
        timezone="America/Chicago",
        starts_on=date(2027, 10, 14),
        ends_on=date(2027, 10, 14),
        credit_types={t: CreditOffer(max=Decimal(10)) for t in ("AMA_PRA_1", "ANCC", "IPCE")},
        policy=draw(policies),
        sessions=agenda,
    )
    entered = DAY_START + draw(st.integers(-600, 600))
    left = draw(st.integers(entered + 1, start + 600))
    stream = [
        DoorScan(scan_id="in", room="Hall-A", at=entered, direction="entry"),
        DoorScan(scan_id="out", room="Hall-A", at=left, direction="exit"),
    ]
    return activity, stream + draw(st.lists(st.sampled_from(draw(scan_streams(activity))), max_size=3))


def quarters_by_rule(seconds: int, policy: Policy, credit_type: str) -> int:
    """The rules' rounding, written out independently of the engine."""
    rounding = policy.rounding_by_type.get(credit_type)
    if rounding is None and credit_type in DERIVED_TYPES:
        rounding = policy.rounding_by_type.get("AMA_PRA_1")
    rounding = rounding or policy.rounding
    return (seconds * 4 + (1800 if rounding == "nearest_quarter" else 0)) // 3600


def credit_of(attendance: dict[str, SessionAttendance], session_id: str, credit_type: str) -> Decimal:
    found = attendance.get(session_id)
    return found.credits.get(credit_type, Decimal(0)) if found else Decimal(0)


@PROPERTY_SETTINGS
@given(agenda=agendas_with_scans(), badge=BADGES, data=st.data())
def test_scan_order_and_repeated_deliveries_never_change_the_result(
    agenda: tuple[Activity, list[DoorScan]], badge: str, data: st.DataObject
) -> None:
    activity, stream = agenda
    repeated = data.draw(st.lists(st.sampled_from(stream), max_size=6)) if stream else []
    delivered = data.draw(st.permutations([*stream, *(s.model_copy() for s in repeated)]))

    assert walk_presence(activity, delivered) == walk_presence(activity, stream)
    assert session_attendance(activity, badge, delivered) == session_attendance(activity, badge, stream)


@PROPERTY_SETTINGS
@given(agenda=agendas_with_scans(), badge=BADGES)
def test_credit_never_exceeds_a_designation_and_totals_never_exceed_the_maximum(
    agenda: tuple[Activity, list[DoorScan]], badge: str
) -> None:
    activity, stream = agenda
    attendance = session_attendance(activity, badge, stream)
    for session_id, attended in attendance.items():
        session = activity.session(session_id)
        assert session is not None
        assert 0 <= attended.seconds <= session.credit_seconds
        for credit_type, amount in attended.credits.items():
            designated_as = "AMA_PRA_1" if credit_type in DERIVED_TYPES else credit_type
            assert 0 <= amount <= session.credits[designated_as]
            assert amount == from_quarters(to_quarters(amount))  # on the 0.25 grid, at most two places
            if attended.faculty:
                assert amount == 0
            if credit_type in ALL_OR_NOTHING_TYPES:
                assert amount in (0, session.credits[credit_type])

    totals = activity_totals(activity, attendance, activity.offered_types())
    for credit_type, total in totals.items():
        assert 0 <= total <= activity.maximum(credit_type)
        assert total <= sum((a.credits.get(credit_type, Decimal(0)) for a in attendance.values()), Decimal(0))


@PROPERTY_SETTINGS
@given(activity=activities(), badge=BADGES, data=st.data())
def test_staying_longer_before_the_exit_never_gives_less_credit(
    activity: Activity, badge: str, data: st.DataObject
) -> None:
    room = data.draw(st.sampled_from(ROOMS))
    entered = DAY_START + data.draw(st.integers(-1800, 13 * 3600))
    early_exit = entered + data.draw(st.integers(1, 4 * 3600))
    late_exit = early_exit + data.draw(st.integers(0, 4 * 3600))

    def stay_until(exit_at: int) -> dict[str, SessionAttendance]:
        stream = [
            DoorScan(scan_id="in", room=room, at=entered, direction="entry"),
            DoorScan(scan_id="out", room=room, at=exit_at, direction="exit"),
        ]
        return session_attendance(activity, badge, stream)

    shorter, longer = stay_until(early_exit), stay_until(late_exit)
    for session in activity.sessions:
        for credit_type in activity.offered_types():
            assert credit_of(longer, session.session_id, credit_type) >= credit_of(
                shorter, session.session_id, credit_type
            )


@PROPERTY_SETTINGS
@given(agenda=agendas_with_scans() | short_sessions_with_scans(), badge=BADGES)
def test_a_time_based_total_never_exceeds_the_time_attended(
    agenda: tuple[Activity, list[DoorScan]], badge: str
) -> None:
    activity, stream = agenda
    walk = walk_presence(activity, stream)
    attendance = attendance_from_walk(activity, badge, walk)
    attended_seconds = sum(a.seconds for a in attendance.values())
    # Seconds are counted once: never more than the time spent in rooms that earn credit.
    assert attended_seconds <= sum(p.end - p.start for p in walk.presences if p.earns)

    totals = activity_totals(activity, attendance, activity.offered_types())
    for credit_type in TIME_BASED:
        if credit_type in totals:
            ceiling = quarters_by_rule(attended_seconds, activity.policy, credit_type)
            assert to_quarters(totals[credit_type]) <= ceiling


@PROPERTY_SETTINGS
@given(agenda=agendas_with_scans(), badge=BADGES, data=st.data())
def test_claims_never_exceed_what_is_claimable_nor_the_activity_totals(
    agenda: tuple[Activity, list[DoorScan]], badge: str, data: st.DataObject
) -> None:
    activity, stream = agenda
    attendance = session_attendance(activity, badge, stream)
    types = activity.offered_types()
    everything = {None, *(s.session_id for s in activity.sessions)}
    evaluated = data.draw(st.sets(st.sampled_from(sorted(everything, key=str))))

    available = claimable(activity, attendance, evaluated, types)
    ceilings = claimable_totals(activity, attendance, available)
    claimed, totals = resolve_claims(activity, attendance, available, None)
    assert totals == ceilings
    full = activity_totals(activity, attendance, types)
    for credit_type in types:
        assert ceilings[credit_type] <= full[credit_type]
        for session_id, amount in claimed[credit_type].items():
            assert 0 < amount <= available[credit_type][session_id]

    # With every evaluation in, what is claimable is exactly the activity total.
    unlocked = claimable(activity, attendance, everything, types)
    assert claimable_totals(activity, attendance, unlocked) == full


@PROPERTY_SETTINGS
@given(agenda=agendas_with_scans() | short_sessions_with_scans(), badge=BADGES)
def test_finalization_never_leaves_out_an_attendee_who_has_a_row(
    agenda: tuple[Activity, list[DoorScan]], badge: str
) -> None:
    """Finalization reads the scans only of attendees whose scans in the session's room can overlap it
    (and of its faculty): every attendee the rules give a row for that session is among them."""
    activity, stream = agenda
    attended = session_attendance(activity, badge, stream)
    for session in activity.sessions:
        in_room = [(s.at, s.direction) for s in stream if s.room == session.room]
        if session.session_id in attended and badge not in session.faculty:
            assert may_be_present(activity, session, in_room), session.session_id
