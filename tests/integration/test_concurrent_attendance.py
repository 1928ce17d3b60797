"""Concurrent writers of attendance rows: a finalization's batch, late-scan consumers on other
containers, and an index that has not caught up yet. Each test interleaves the real service code
at the point where a race would leave a stale row, and checks the row equals the credit rules
applied to every scan."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from builders import at, roster_rows, worked_example_activity


@pytest.fixture
def morning(handlers, stack, activity_id):
    """The worked-example agenda and roster, imported before the day starts."""
    stack.set_clock(datetime.fromisoformat(at("07:00")))
    status, _, _ = handlers.put_activity(activity_id, worked_example_activity())
    assert status == 201
    status, _, _ = handlers.post_roster(activity_id, roster_rows())
    assert status == 200
    return activity_id


def _put(activity_id: str, badge: str, scan_id: str, room: str, hhmm: str, direction: str = "entry") -> None:
    from cme.adapters import store
    from cme.domain.models import DoorScan

    moment = int(datetime.fromisoformat(at(hhmm)).timestamp())
    assert store.put_scan(activity_id, badge, DoorScan(scan_id=scan_id, room=room, at=moment, direction=direction))


def _s1(activity_id: str, badge: str):  # type: ignore[no-untyped-def]
    from cme.adapters import store

    return store.attendance_of(activity_id, badge).get("S1")


def test_a_late_scan_during_the_finalizer_batch_is_not_overwritten(morning, stack, monkeypatch):
    """The finalizer read B-1001's scans (entry only: 90 min), then an exit at 08:30 arrived and its
    consumer ran before the finalizer's batch landed. The row must end at 30 min, not 90."""
    from cme.adapters import store
    from cme.service import attendance

    _put(morning, "B-1001", "e1", "Hall-A", "07:50")
    stack.set_clock(datetime.fromisoformat(at("09:31")))
    real_batch = store.put_attendances
    consumer_results = []

    def batch_after_a_late_scan(activity_id, rows):  # type: ignore[no-untyped-def]
        _put(morning, "B-1001", "x1", "Hall-A", "08:30", direction="exit")
        consumer_results.append(attendance.on_scans(morning, "B-1001", {"x1"}))
        return real_batch(activity_id, rows)

    monkeypatch.setattr(store, "put_attendances", batch_after_a_late_scan)
    attendance.finalize_session(morning, "S1")

    assert consumer_results == [{"updated": 0, "deferred": 1}]  # the lease was held: a marker, not a write
    row = _s1(morning, "B-1001")
    assert row.seconds == 30 * 60 and row.credits["AMA_PRA_1"] == Decimal("0.5")
    assert store.dirty_badges(morning, "S1") == []
    assert not store.session_states(morning)["S1"].get("running")


def test_a_lease_released_between_marker_and_second_look_is_written_by_the_consumer(morning, stack, monkeypatch):
    from cme.adapters import store
    from cme.service import attendance

    _put(morning, "B-1001", "e1", "Hall-A", "07:50")
    stack.set_clock(datetime.fromisoformat(at("09:31")))
    store.begin_finalization(morning, "S1", run_id="other-run", at=at("09:31"))
    real_mark = store.mark_dirty

    def mark_then_the_finalizer_finishes(*args, **kwargs):  # type: ignore[no-untyped-def]
        real_mark(*args, **kwargs)
        assert store.end_finalization(morning, "S1", run_id="other-run")

    monkeypatch.setattr(store, "mark_dirty", mark_then_the_finalizer_finishes)
    assert attendance.on_scans(morning, "B-1001", {"e1"}) == {"updated": 1, "deferred": 0}
    assert _s1(morning, "B-1001").seconds == 90 * 60
    assert store.dirty_badges(morning, "S1") == []


def test_a_lease_left_by_a_crashed_finalizer_expires(morning, stack):
    from cme.adapters import store
    from cme.service import attendance

    _put(morning, "B-1001", "e1", "Hall-A", "07:50")
    crashed_at = datetime.fromisoformat(at("09:31"))
    store.begin_finalization(morning, "S1", run_id="crashed", at=crashed_at.isoformat())
    stack.set_clock(crashed_at + timedelta(seconds=attendance.LEASE_SECONDS - 1))
    assert attendance.on_scans(morning, "B-1001", {"e1"})["deferred"] == 1
    stack.set_clock(crashed_at + timedelta(seconds=attendance.LEASE_SECONDS + 1))
    assert attendance.on_scans(morning, "B-1001", {"e1"}) == {"updated": 1, "deferred": 0}
    assert _s1(morning, "B-1001").credits["AMA_PRA_1"] == Decimal("1.5")
    # The retried finalization takes the lease over and clears the marker the first attempt left.
    attendance.finalize_session(morning, "S1")
    assert store.dirty_badges(morning, "S1") == []
    assert _s1(morning, "B-1001").credits["AMA_PRA_1"] == Decimal("1.5")


def test_a_scan_the_index_has_not_caught_up_with_is_covered_by_its_own_consumer(morning, stack, monkeypatch):
    """A scan consumed half a minute before the session ends, whose index entry the finalizer's
    candidate query then misses: the consumer already wrote the row, and finalizing shows it."""
    from cme.adapters import store
    from cme.service import attendance, learners

    stack.set_clock(datetime.fromisoformat(at("09:29:30")))
    _put(morning, "B-1002", "n1", "Hall-A", "08:00")
    assert attendance.on_scans(morning, "B-1002", {"n1"})["updated"] == 1
    # Not finalized yet: the learner sees nothing for S1.
    assert [s["session_id"] for s in learners.learner_view(morning, "B-1002", "https://x")["sessions"]] == []

    stack.set_clock(datetime.fromisoformat(at("09:31")))
    monkeypatch.setattr(store, "room_scans", lambda *args, **kwargs: {})
    attendance.finalize_session(morning, "S1")
    view = learners.learner_view(morning, "B-1002", "https://x")
    assert [(s["session_id"], s["minutes"]) for s in view["sessions"]] == [("S1", 90)]


def test_scans_far_from_a_session_end_leave_it_to_the_finalizer(morning, stack):
    from cme.adapters import store
    from cme.service import attendance

    stack.set_clock(datetime.fromisoformat(at("08:05")))
    _put(morning, "B-1002", "n1", "Hall-A", "08:00")
    assert attendance.on_scans(morning, "B-1002", {"n1"}) == {"updated": 0}
    assert store.attendance_of(morning, "B-1002") == {}


def test_a_row_computed_from_fewer_scans_never_replaces_a_newer_one(morning):
    from cme.adapters import store
    from cme.domain.models import SessionAttendance

    newer = SessionAttendance(session_id="S1", seconds=1800, credit_seconds=5400, credits={"AMA_PRA_1": "0.5"})
    older = SessionAttendance(session_id="S1", seconds=5400, credit_seconds=5400, credits={"AMA_PRA_1": "1.5"})
    assert store.put_attendance_if_newer(morning, "B-1001", newer, 2)
    assert not store.put_attendance_if_newer(morning, "B-1001", older, 1)
    assert _s1(morning, "B-1001") == newer
    # The same scan count is the same scan set: rewriting it is allowed (and yields the same row).
    assert store.put_attendance_if_newer(morning, "B-1001", newer, 2)
