"""Hypothesis strategies for random agendas, policies and scan streams, shared by the engine's
properties and the pipeline's."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from hypothesis import settings
from hypothesis import strategies as st

from cme.domain.models import Activity, Break, CreditOffer, DoorScan, Policy, Provider, Session, epoch, from_quarters

ZONE = ZoneInfo("America/Chicago")
DAY_START = epoch(datetime(2027, 10, 14, 7, 0, tzinfo=ZONE))
GRID = 5 * 60
ROOMS = ("Hall-A", "Room-201", "Room-301")
OFFERED = ("AMA_PRA_1", "ANCC", "ACPE", "IPCE")
TIME_BASED = ("AMA_PRA_1", "ANCC", "IPCE", "AAPA_1", "PARTICIPATION")
FACULTY_BADGE = "FAC-1"
BADGES = st.sampled_from(["B-1", FACULTY_BADGE])
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)


def local(moment: int) -> datetime:
    return datetime.fromtimestamp(moment, ZONE)


@st.composite
def sessions(draw: st.DrawFn, session_id: str) -> Session:
    """A session on the 5-minute grid between 07:00 and 20:00, with random breaks and designations."""
    # Often crowded into the first two hours, so that one presence spans several sessions.
    start = DAY_START + draw(st.integers(0, 24) | st.integers(0, 120)) * GRID
    # Short sessions are frequent: rounding each one up is what the total's time cap is for.
    slots = draw(st.integers(1, 3) | st.integers(1, 36))
    # Distinct, sorted slot boundaries paired up give breaks that neither overlap nor leave the session.
    points = sorted(draw(st.sets(st.integers(0, slots), max_size=4)))
    points = points[: len(points) // 2 * 2]
    breaks = [
        Break(starts_at=local(start + a * GRID), ends_at=local(start + b * GRID))
        for a, b in zip(points[::2], points[1::2], strict=True)
    ]
    credit_seconds = slots * GRID - sum((b - a) * GRID for a, b in zip(points[::2], points[1::2], strict=True))
    allowed = (credit_seconds * 4 + 1800) // 3600
    designated = draw(st.sets(st.sampled_from(OFFERED), min_size=1))
    # Mostly generous designations, so that credit is often earned and the cap often matters.
    quarters = st.integers(allowed // 2, allowed) | st.integers(0, allowed)
    credits = {t: from_quarters(draw(quarters)) for t in sorted(designated)}
    return Session(
        session_id=session_id,
        title=f"Session {session_id}",
        room=draw(st.sampled_from(ROOMS)),
        starts_at=local(start),
        ends_at=local(start + slots * GRID),
        credits=credits,
        breaks=breaks,
        faculty=[FACULTY_BADGE] if draw(st.booleans()) else [],
        min_attendance_percent=draw(st.none() | st.none() | st.sampled_from([0, 50, 90, 100])),
    )


policies = st.builds(
    Policy,
    rounding=st.sampled_from(["nearest_quarter", "down_quarter"]),
    rounding_by_type=st.dictionaries(
        st.sampled_from(["AMA_PRA_1", "ANCC", "IPCE", "AAPA_1", "PARTICIPATION"]),
        st.sampled_from(["nearest_quarter", "down_quarter"]),
    ),
    missing_exit=st.sampled_from(["session_end", "session_end", "no_credit"]),
    lookahead_minutes=st.integers(0, 60),
    min_attendance_percent=st.sampled_from([0, 0, 0, 25, 50, 90, 100]) | st.integers(0, 100),
    full_credit_percent=st.integers(1, 100),
    evaluation_scope=st.sampled_from(["activity", "session"]),
)


@st.composite
def activities(draw: st.DrawFn) -> Activity:
    count = draw(st.integers(1, 6))
    agenda = [draw(sessions(f"S{i}")) for i in range(1, count + 1)]
    return Activity(
        activity_id="ACT-P",
        title="Property agenda",
        provider=Provider(name="Example Medical Society"),
        location="Chicago, IL",
        timezone="America/Chicago",
        starts_on=date(2027, 10, 14),
        ends_on=date(2027, 10, 14),
        credit_types={t: CreditOffer(max=from_quarters(draw(st.integers(0, 40)))) for t in OFFERED},
        policy=draw(policies),
        sessions=agenda,
    )


@st.composite
def scan_streams(draw: st.DrawFn, activity: Activity) -> list[DoorScan]:
    """Entries and exits, mostly near the agenda's session starts and ends and in their rooms, plus
    scans at any second of the day and in a room without sessions."""
    anchors = [moment for s in activity.sessions for moment in (s.start, s.end, (s.start + s.end) // 2)]
    near_a_session = st.tuples(st.sampled_from(anchors), st.integers(-1200, 1200)).map(sum)
    anywhere = st.integers(DAY_START - 1800, DAY_START + 14 * 3600)
    rooms = st.sampled_from(sorted(activity.rooms)) | st.sampled_from([*ROOMS, "Lobby"])
    specs = draw(
        st.lists(
            st.tuples(rooms, near_a_session | anywhere, st.sampled_from(["entry", "entry", "exit"])),
            min_size=1,
            max_size=12,
        )
    )
    return [
        DoorScan(scan_id=f"s{i}", room=room, at=moment, direction=direction)
        for i, (room, moment, direction) in enumerate(specs)
    ]
