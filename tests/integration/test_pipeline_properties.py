"""The pipeline's answer never depends on how scans travel: random agendas and scan streams posted
through `POST /scans` in random order and chunks, with repeats, while the sessions' end events are
being processed (by the local pump's parallel pollers, so finalizations and late-scan consumers
really overlap), and some ends delivered again. The stored attendance must equal the credit rules
applied once to every accepted scan, and `GET /me` must print those numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import at
from strategies import FACULTY_BADGE, activities, scan_streams

BADGES = ("B-1", FACULTY_BADGE)


def _roster() -> list[dict[str, Any]]:
    return [
        {
            "badge_id": badge,
            "given_name": "Ana" if badge == "B-1" else "Grace",
            "family_name": "Example",
            "email": f"{badge.lower()}@example.org",
            "profession": "physician",
            "degree": "MD",
        }
        for badge in BADGES
    ]


def _posted(badge: str, scan: Any) -> dict[str, Any]:
    return {
        "scan_id": f"{badge}.{scan.scan_id}",
        "badge_id": badge,
        "room": scan.room,
        "scanned_at": datetime.fromtimestamp(scan.at, UTC).isoformat(),
        "direction": scan.direction,
    }


@st.composite
def travels(draw: st.DrawFn) -> dict[str, Any]:
    activity = draw(activities())
    uploads = [_posted(badge, scan) for badge in BADGES for scan in draw(scan_streams(activity))]
    shuffled = draw(st.permutations(uploads))
    repeats = draw(st.lists(st.sampled_from(uploads), max_size=3))
    stream = shuffled + repeats
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(stream) - 1)), max_size=3)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True) if stream[a:b]]
    again = draw(st.lists(st.sampled_from([s.session_id for s in activity.sessions]), max_size=2))
    return {"activity": activity, "chunks": chunks, "ended_again": again}


def _stored(activity_id: str, badge: str) -> dict[str, Any]:
    from cme.adapters import store

    return store.attendance_of(activity_id, badge)


@given(case=travels())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_order_duplicates_and_arrival_delay_never_change_the_stored_credit(handlers, stack, case):
    from cme.auth import issue_learner_token
    from cme.domain.credit import activity_totals, eligible_types, session_attendance
    from cme.domain.models import DoorScan, epoch
    from stack_support import new_activity_id

    activity = case["activity"]
    activity_id = new_activity_id()
    stack.set_clock(datetime.fromisoformat(at("06:00")))
    body = activity.model_dump(mode="json", exclude={"activity_id"})
    status, response, _ = handlers.put_activity(activity_id, body)
    assert status == 201, response
    handlers.post_roster(activity_id, _roster())
    # The day is over: every session-end schedule fires now, and is processed alongside the first chunk.
    stack.set_clock(datetime.fromisoformat(at("23:30")))
    accepted: dict[str, list[DoorScan]] = {badge: [] for badge in BADGES}
    for index, chunk in enumerate(case["chunks"]):
        status, response, _ = handlers.scans({"activity_id": activity_id, "scans": chunk}, token=stack.scanner_token)
        assert status == 200, response
        for posted, result in zip(chunk, response["results"], strict=True):
            assert result["status"] in ("accepted", "duplicate", "rejected"), result
            assert result["reason"] in (None, "unknown_room"), result  # only "Lobby" has no sessions
            if result["status"] == "accepted":
                accepted[posted["badge_id"]].append(
                    DoorScan(
                        scan_id=posted["scan_id"],
                        room=posted["room"],
                        at=epoch(datetime.fromisoformat(posted["scanned_at"])),
                        direction=posted["direction"],
                    )
                )
        if index == 0:
            for session_id in case["ended_again"]:
                handlers.organizer(
                    "POST",
                    f"/activities/{activity_id}/sessions/{session_id}/end",
                    "/activities/{activity_id}/sessions/{session_id}/end",
                    {"activity_id": activity_id, "session_id": session_id},
                )
        stack.settle()

    stored_activity = activity.model_copy(update={"activity_id": activity_id})
    for badge in BADGES:
        expected = session_attendance(stored_activity, badge, accepted[badge])
        stored = _stored(activity_id, badge)
        for session_id, attendance in expected.items():
            assert stored.get(session_id) == attendance, (badge, session_id)
        for session_id in stored.keys() - expected.keys():
            # A row whose presence later scans took away again: nothing left in it.
            assert stored[session_id].seconds == 0 and not any(stored[session_id].credits.values())

    token = issue_learner_token(activity_id, "B-1", datetime.now(UTC) + timedelta(days=400))
    status, me, _ = handlers.learner("GET", "/me", token)
    assert status == 200
    types = eligible_types(stored_activity, "physician")
    expected_totals = activity_totals(
        stored_activity, session_attendance(stored_activity, "B-1", accepted["B-1"]), types
    )
    assert {t: Decimal(str(v)) for t, v in me["credits_total"].items()} == expected_totals
    # The live counts the stream kept equal a recount from the records.
    from cme.service.dashboard import dashboard, differences, recount

    assert differences(dashboard(activity_id), recount(activity_id)) == []
