"""Live counts (service/counters.py): each record's contribution, the change a stream record makes, and
exactly-once application under Lambda's retries (whole batch again, split in two, or grown), replays
and crashes between the item writes, against an in-memory table with DynamoDB's conditional updates."""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cme.service import counters

pytestmark = pytest.mark.unit

NOW = 1_800_000_000
A = "act-1"


def keys(badge: str, sk: str) -> dict[str, str]:
    return {"PK": f"ACT#{A}#B#{badge}", "SK": sk}


def everyone(activity_id: str, badge_id: str) -> list[str]:
    return ["AMA_PRA_1", "ANCC"]


def live(sessions: list[str], since: int | None, until: int | None, session: str | None = "S1") -> dict[str, Any]:
    return {
        "activity_id": A,
        "badge_id": "B-1",
        "sessions": sessions,
        "since": since,
        "until": until,
        "session_id": session,
        "first_scan_at": since,
    }


class FakeCounts:
    """The count items with DynamoDB's semantics for the two conditions add_counts uses."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.fail_after: int | None = None  # raise after this many successful writes (a crash)
        self.writes = 0

    def add_counts(self, activity_id, key, deltas, *, first, last, expect=None):  # type: ignore[no-untyped-def]
        item = self.items.setdefault((activity_id, key), {})
        mark = item.get("seq")
        if expect is None and not (mark is None or mark < first):
            return False
        if expect is not None and mark != expect:
            return False
        if self.fail_after is not None and self.writes >= self.fail_after:
            raise RuntimeError("crash")
        for attr, amount in deltas.items():
            item[attr] = item.get(attr, 0) + amount
        item["seq"] = last
        self.writes += 1
        return True

    def count_mark(self, activity_id, key):  # type: ignore[no-untyped-def]
        return self.items.get((activity_id, key), {}).get("seq")

    def count_items(self, activity_id):  # type: ignore[no-untyped-def]
        return [{"PK": f"COUNT#{a}", "SK": k, **v} for (a, k), v in self.items.items() if a == activity_id]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeCounts:
    table = FakeCounts()
    for name in ("add_counts", "count_mark", "count_items"):
        monkeypatch.setattr(counters.store, name, getattr(table, name))
    return table


# ------------------------------------------------------------------------------------ contributions


def test_each_kind_of_record_contributes_its_counts() -> None:
    claim = {
        "activity_id": A,
        "badge_id": "B-1",
        "totals": json.dumps({"AMA_PRA_1": "3.5", "ANCC": "0"}),
        "claimed": json.dumps({"AMA_PRA_1": {"S1": "1.5", "S2": "2"}, "ANCC": {"S1": "0"}}),
    }
    assert counters.contributions(keys("B-1", "CLAIM"), claim, NOW, everyone) == {
        ("T", "evaluated"): 1,
        ("T", "learners_claimed"): 1,
        ("T", "credits.AMA_PRA_1"): Decimal("3.5"),
        ("S#S1", "claim_evaluations"): 1,
        ("S#S2", "claim_evaluations"): 1,
    }
    assert counters.contributions(keys("B-1", "PROFILE"), {"activity_id": A}, NOW, everyone) == {("T", "registered"): 1}
    attendance = {
        "activity_id": A,
        "badge_id": "B-1",
        "session_id": "S2",
        "credits": {"AMA_PRA_1": Decimal("1.25"), "PARTICIPATION": Decimal("1.5")},
    }
    # Only the learner's own credit types count as claimable.
    assert counters.contributions(keys("B-1", "ATT#S2"), attendance, NOW, everyone) == {
        ("S#S2", "claimable.AMA_PRA_1"): Decimal("1.25")
    }
    assert counters.contributions(keys("B-1", "EVAL#S2"), {"scope": "S2"}, NOW, everyone) == {
        ("S#S2", "evaluations"): 1
    }
    assert counters.contributions(keys("B-1", "EVAL#ACTIVITY"), {"scope": "ACTIVITY"}, NOW, everyone) == {}
    version = {"activity_id": A, "mail_state": "sent", "delivery": "bounced"}
    cert = {"PK": "CERT#c1", "SK": "V#000001"}
    assert counters.contributions(cert, version, NOW, everyone) == {
        ("T", "mails_sent"): 1,
        ("T", "mails_bounced"): 1,
        ("T", "mails_to_resend"): 1,
    }
    assert counters.contributions(cert, {**version, "superseded_by": 2}, NOW, everyone) == {}
    assert counters.contributions({"PK": "CERT#c1", "SK": "CURRENT"}, {"activity_id": A}, NOW, everyone) == {
        ("T", "certificates"): 1
    }
    assert counters.contributions({"PK": f"ACT#{A}", "SK": "SESSION#S1"}, {"activity_id": A}, NOW, everyone) == {}


def test_a_presence_counts_inside_between_its_edges_whenever_it_is_read(fake: FakeCounts) -> None:
    """Edges already past go to the running count; edges ahead count once the clock passes them."""
    record = (Decimal(1), keys("B-1", "LIVE"), live(["S1"], NOW - 60, NOW + 600), None)
    counters.apply_batch("shard-1", [record], NOW, everyone)
    totals = counters.read(A)
    # (Counts are read after they are written: the clock at a read is never before the write's.)
    assert [totals.inside("S#S1", t) for t in (NOW, NOW + 599, NOW + 600, NOW + 9999)] == [1, 1, 0, 0]
    # The exit is scanned: the presence now ends in the past, and the edge ahead is cancelled.
    closed = (Decimal(2), keys("B-1", "LIVE"), live(["S1"], NOW - 60, NOW + 30), live(["S1"], NOW - 60, NOW + 600))
    counters.apply_batch("shard-1", [closed], NOW + 30, everyone)
    totals = counters.read(A)
    assert [totals.inside("S#S1", t) for t in (NOW + 30, NOW + 599, NOW + 700)] == [0, 0, 0]
    # A presence that begins ahead of the clock (a device clock a little fast) counts once it begins.
    ahead = (Decimal(3), keys("B-2", "LIVE"), {**live([], NOW + 90, NOW + 200), "badge_id": "B-2"}, None)
    counters.apply_batch("shard-1", [ahead], NOW + 30, everyone)
    totals = counters.read(A)
    assert [totals.inside("S#S1", t) for t in (NOW + 30, NOW + 90, NOW + 199, NOW + 200)] == [0, 1, 1, 0]
    assert totals.get("T", "checked_in") == 2 and totals.get("S#S1", "checked_in") == 1


# ------------------------------------------------------------------------------- exactly once


def _stream(changes: list[tuple[str, dict[str, Any] | None]]) -> list[tuple[Decimal, Any, Any, Any]]:
    """A stream for one attendee's records: each change gives a record's new image (None: deleted)."""
    current: dict[str, dict[str, Any] | None] = {}
    records = []
    for index, (sk, new) in enumerate(changes):
        records.append(
            (Decimal(100 + index * 7), keys("B-1" if sk != "PROFILE" else f"B-{index}", sk), new, current.get(sk))
        )
        current[sk] = new
    return records


images = st.one_of(
    st.tuples(
        st.just("LIVE"),
        st.builds(
            lambda sessions, since, length: live(sessions, NOW + since, NOW + since + length),
            st.lists(st.sampled_from(["S1", "S2"]), unique=True),
            st.integers(-900, 900),
            st.integers(1, 900),
        ),
    ),
    st.tuples(
        st.just("CLAIM"),
        st.builds(
            lambda ama, sessions: {
                "activity_id": A,
                "totals": json.dumps({"AMA_PRA_1": str(ama)}),
                "claimed": json.dumps({"AMA_PRA_1": {s: "0.25" for s in sessions}}),
            },
            st.sampled_from([Decimal(0), Decimal("0.25"), Decimal("3.5")]),
            st.lists(st.sampled_from(["S1", "S2"]), unique=True),
        ),
    ),
    st.tuples(st.just("PROFILE"), st.just({"activity_id": A})),
    st.tuples(
        st.just("ATT#S1"),
        st.builds(
            lambda amount: {"activity_id": A, "badge_id": "B-1", "session_id": "S1", "credits": {"AMA_PRA_1": amount}},
            st.sampled_from([Decimal(0), Decimal("0.75"), Decimal(2)]),
        ),
    ),
)


def _expected(records: list[tuple[Decimal, Any, Any, Any]]) -> dict[tuple[str, str], Any]:
    """Every change applied once, summed per (scope, attribute) over the shard's items."""
    summed: dict[tuple[str, str], Any] = defaultdict(int)
    for _, record_keys, new, old in records:
        for key, amount in counters.change(record_keys, new, old, NOW, everyone).items():
            summed[key] += amount
    return {k: v for k, v in summed.items() if v}


def _observed() -> dict[tuple[str, str], Any]:
    totals = counters.read(A)
    return {(s, a): v for s, values in totals.by_scope.items() for a, v in values.items() if v}


@settings(max_examples=150, deadline=None)
@given(
    changes=st.lists(images, min_size=1, max_size=25),
    plan=st.lists(
        st.tuples(st.integers(1, 8), st.integers(0, 6), st.sampled_from(["same", "split", "grow"])),
        min_size=1,
        max_size=40,
    ),
    replay=st.booleans(),
)
def test_retries_splits_crashes_and_replays_count_each_record_once(
    changes: list[tuple[str, dict[str, Any]]], plan: list[tuple[int, int, str]], replay: bool
) -> None:
    """Lambda delivers a shard in order; a failed batch comes back whole, split in two, or with more
    records after it, until it succeeds. Crashes hit after some of a batch's item writes."""
    table = FakeCounts()
    with pytest.MonkeyPatch.context() as patch:
        for name in ("add_counts", "count_mark", "count_items"):
            patch.setattr(counters.store, name, getattr(table, name))
        _deliver(table, _stream(changes), plan, replay)


def _deliver(table: FakeCounts, records: list[Any], plan: list[tuple[int, int, str]], replay: bool) -> None:
    position, steps = 0, iter(plan)
    while position < len(records):
        size, crash_after, retry = next(steps, (8, 99, "same"))
        batch = records[position : position + size]
        table.fail_after, table.writes = crash_after, 0
        try:
            counters.apply_batch("shard-1", batch, NOW, everyone)
        except RuntimeError:
            table.fail_after = None
            if retry == "split" and len(batch) > 1:
                half = len(batch) // 2
                counters.apply_batch("shard-1", batch[:half], NOW, everyone)
                counters.apply_batch("shard-1", batch[half:], NOW, everyone)
            elif retry == "grow":
                batch = records[position : position + size + 3]
                counters.apply_batch("shard-1", batch, NOW, everyone)
            else:
                counters.apply_batch("shard-1", batch, NOW, everyone)
        table.fail_after = None
        position += len(batch)
    if replay:  # the whole stream delivered again (a replay from TRIM_HORIZON)
        counters.apply_batch("shard-1", records, NOW, everyone)
    assert _observed() == _expected(records)


def test_each_shard_keeps_its_own_items(fake: FakeCounts) -> None:
    """Two shards' records are counted separately and summed on read; replaying one shard's batch
    into the other's items would not be a replay, so each shard's mark stands alone."""
    first = (Decimal(5), keys("B-1", "PROFILE"), {"activity_id": A}, None)
    second = (Decimal(3), keys("B-2", "PROFILE"), {"activity_id": A}, None)  # lower number, other shard
    counters.apply_batch("shard-a", [first], NOW, everyone)
    counters.apply_batch("shard-b", [second], NOW, everyone)
    counters.apply_batch("shard-a", [first], NOW, everyone)
    assert counters.read(A).get("T", "registered") == 2
    assert {k for _, k in fake.items} == {"T@shard-a", "T@shard-b"}


def test_one_write_per_count_item_per_batch(fake: FakeCounts) -> None:
    """A door rush of 500 attendees in one batch writes the totals and the session once each."""
    batch = [
        (Decimal(i), keys(f"B-{i}", "LIVE"), {**live(["S1"], NOW - 5, NOW + 600), "badge_id": f"B-{i}"}, None)
        for i in range(1, 501)
    ]
    assert counters.apply_batch("shard-1", batch, NOW, everyone) == len(fake.items) == 3
    totals = counters.read(A)
    assert totals.get("T", "checked_in") == 500 and totals.inside("S#S1", NOW) == 500
    assert sum(n for _, n in totals.checkins_over_time()) == 500
