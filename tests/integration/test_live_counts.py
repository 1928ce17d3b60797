"""The live counts against a recount after a messy meeting: scans posted twice and late, consumers'
messages redelivered, an evaluation resubmitted (a second certificate version), a bounce, and the
whole table stream replayed into the counting function in batches of every size."""

from __future__ import annotations

import random
from typing import Any

import pytest

from builders import answers, roster_rows, scan, sqs_event, worked_example_activity

pytestmark = pytest.mark.integration

RECOUNT_ROUTE = "/activities/{activity_id}/dashboard/recount"


def _recount(handlers: Any, activity_id: str) -> dict[str, Any]:
    status, body, _ = handlers.organizer(
        "GET", f"/activities/{activity_id}/dashboard/recount", RECOUNT_ROUTE, {"activity_id": activity_id}
    )
    assert status == 200, body
    return dict(body)


def _evaluate(handlers: Any, activity_id: str, badge_id: str, **claims: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from cme.auth import issue_learner_token

    token = issue_learner_token(activity_id, badge_id, datetime.now(UTC) + timedelta(days=400))
    status, reply, _ = handlers.learner(
        "POST", "/evaluations", token, body={"answers": answers(), "attest": True, **claims}
    )
    assert status == 202, reply


def _stream_events(stack: Any) -> list[dict[str, Any]]:
    """Every record of the table's stream so far, as the counting function's mapping delivers them."""
    from cme_local.pump import _stream_record
    from stack_support import stream_records

    (mapping,) = (m for m in stack.wiring.streams if m.function == "CountChangesFunction")
    return [
        dict(_stream_record(r, mapping.stream_arn), shardId=r["shardId"]) for r in stream_records(mapping.stream_arn)
    ]


@pytest.fixture
def messy(handlers: Any, stack: Any, activity_id: str, clock: Any) -> str:
    handlers.put_activity(activity_id, worked_example_activity())
    rows = roster_rows()
    rows[2]["email"] = "bounce@simulator.amazonses.com"  # B-1003's certificate mail bounces
    handlers.post_roster(activity_id, rows)
    clock("2027-10-14T10:00:00-05:00")
    morning = [
        scan("a1", "B-1001", "Hall-A", "07:50"),
        scan("a2", "B-1001", "Room-201", "09:50"),
        scan("b1", "B-1002", "Hall-A", "07:55"),
        scan("c1", "B-1003", "Room-201", "09:45"),
    ]
    for _ in range(2):  # a device that uploaded its batch twice
        status, body, _ = handlers.scans({"activity_id": activity_id, "scans": morning}, token=stack.scanner_token)
        assert status == 200, body
    stack.settle()
    # Mid-session, nothing finalized yet: the live counts already equal a recount (inside now too).
    mid = _recount(handlers, activity_id)
    assert mid["consistent"], mid["differences"]
    # B-1002's presence in Hall-A closed by rule when its session ended (09:30): two are inside.
    assert mid["live"]["totals"]["inside_now"] == 2 and mid["live"]["totals"]["checked_in"] == 3
    clock("2027-10-14T12:30:00-05:00")
    exits = [scan("a3", "B-1001", "Room-201", "12:05", direction="exit")]
    handlers.scans({"activity_id": activity_id, "scans": exits}, token=stack.scanner_token)
    stack.settle()
    _evaluate(handlers, activity_id, "B-1001")
    _evaluate(handlers, activity_id, "B-1003")
    stack.settle()
    # A handheld that was offline all morning uploads late: B-1002 was in Room-201 too.
    late = [scan("b2", "B-1002", "Room-201", "09:58"), scan("b3", "B-1002", "Room-201", "11:40", direction="exit")]
    handlers.scans({"activity_id": activity_id, "scans": late}, token=stack.scanner_token)
    stack.settle()
    _evaluate(handlers, activity_id, "B-1002")
    _evaluate(handlers, activity_id, "B-1001", claims={"AMA_PRA_1": {"S1": 1.0, "S2": 2.0}})  # v2 of the certificate
    stack.settle()
    return activity_id


def test_live_counts_equal_a_recount_after_a_messy_meeting(messy: str, handlers: Any) -> None:
    result = _recount(handlers, messy)
    assert result["consistent"], result["differences"]
    totals = result["live"]["totals"]
    assert totals["registered"] == 5 and totals["checked_in"] == 3 and totals["inside_now"] == 0
    assert totals["evaluations_submitted"] == 3 and totals["certificates_issued"] == 3
    assert totals["emails_sent"] == 3 and totals["emails_bounced"] == 1 and totals["emails_to_resend"] == 1
    assert totals["credits_claimed"]["AMA_PRA_1"] == 3.0  # B-1001's second claim: 1.0 + 2.0
    sessions = {s["session_id"]: s for s in result["live"]["sessions"]}
    assert sessions["S2"]["checked_in"] == 3 and sessions["S2"]["finalized"]
    assert sum(b["checked_in"] for b in result["live"]["checkins_over_time"]) == 3


def test_redelivered_messages_and_a_replayed_stream_change_no_count(messy: str, handlers: Any, stack: Any) -> None:
    from cme.service.dashboard import dashboard

    before = dashboard(messy)
    # Every check-in consumer message again (SQS redelivery): the presence records are rewritten as they are.
    from builders import eventbridge_event
    from cme.adapters import store
    from cme.adapters.aws import table
    from cme.service.outbox import event_for_change

    item = table(stack.environment["TABLE_NAME"]).get_item(
        Key={"PK": store.attendee_pk(messy, "B-1002"), "SK": "SCAN#b2"}
    )["Item"]
    found = event_for_change("INSERT", item, None)
    assert found is not None
    event = eventbridge_event(*found)
    assert stack.host.invoke("OnCheckInFunction", sqs_event(event, event)) == {"batchItemFailures": []}
    stack.settle()
    # The whole stream from its start, in batches of random sizes, some delivered twice.
    records = _stream_events(stack)
    assert any(r["dynamodb"]["Keys"]["SK"]["S"] == "LIVE" for r in records)
    rng = random.Random(7)
    position = 0
    while position < len(records):
        size = rng.choice([1, 2, 7, 50, 400])
        batch = records[position : position + size]
        for _ in range(rng.choice([1, 2])):
            event = {"Records": batch, "shardId": batch[0]["shardId"], "state": {}, "window": {}}
            assert stack.host.invoke("CountChangesFunction", event) == {"state": {}, "batchItemFailures": []}
        position += size
    after = dashboard(messy)
    assert {k: v for k, v in after.items() if k != "as_of"} == {k: v for k, v in before.items() if k != "as_of"}
    result = _recount(handlers, messy)
    assert result["consistent"], result["differences"]


def test_the_recount_names_each_count_that_drifted(messy: str, handlers: Any, stack: Any) -> None:
    """A count item changed behind the stream's back (as if a record had been lost) is found."""
    from cme.adapters import store

    store.add_counts(messy, "S#S2@drift", {"checked_in": 2}, first=0, last=0)
    result = _recount(handlers, messy)
    assert not result["consistent"]
    assert result["differences"] == [{"field": "sessions[S2].checked_in", "live": 5, "recount": 3}]
    # The organizer sets the counts to the records; the next recount agrees, and so do later changes.
    status, repaired, _ = handlers.organizer(
        "POST", f"/activities/{messy}/dashboard/recount", RECOUNT_ROUTE, {"activity_id": messy}
    )
    assert status == 200 and repaired["corrected"] == 1 and repaired["consistent"], repaired
    _evaluate(handlers, messy, "B-1002", claims={"ANCC": {"S2": 1.0}})
    stack.settle()
    assert _recount(handlers, messy)["consistent"]


def test_a_repair_rebuilds_counts_lost_entirely(handlers: Any, stack: Any, activity_id: str, clock: Any) -> None:
    """Counts kept from before the counting function existed, or records a failed batch left out:
    every count item deleted, including presences' ends still ahead, is rebuilt from the records."""
    from cme.adapters import store
    from cme.adapters.aws import table

    handlers.put_activity(activity_id, worked_example_activity())
    handlers.post_roster(activity_id, roster_rows())
    clock("2027-10-14T10:00:00-05:00")
    morning = [scan("a1", "B-1001", "Room-201", "09:50"), scan("c1", "B-1003", "Room-201", "09:55")]
    handlers.scans({"activity_id": activity_id, "scans": morning}, token=stack.scanner_token)
    stack.settle()
    before = _recount(handlers, activity_id)
    assert before["consistent"] and before["live"]["totals"]["inside_now"] == 2, before["differences"]
    for item in store.count_items(activity_id):
        table(stack.environment["TABLE_NAME"]).delete_item(Key={"PK": item["PK"], "SK": item["SK"]})
    assert not _recount(handlers, activity_id)["consistent"]
    status, repaired, _ = handlers.organizer(
        "POST", f"/activities/{activity_id}/dashboard/recount", RECOUNT_ROUTE, {"activity_id": activity_id}
    )
    assert status == 200 and repaired["consistent"], repaired["differences"]
    assert repaired["live"] == {**before["live"], "as_of": repaired["live"]["as_of"]}
    clock("2027-10-14T12:30:00-05:00")  # S2 ends at 12:00: the rebuilt ends ahead have passed
    later = _recount(handlers, activity_id)
    assert later["consistent"] and later["live"]["totals"]["inside_now"] == 0, later["differences"]
    assert later["live"]["sessions"][1]["checked_in"] == 2


def test_a_stream_event_without_its_shard_is_refused(stack: Any) -> None:
    """Without the tumbling window's shard id the marks could not be kept: the batch fails loudly."""
    with pytest.raises(ValueError, match="shardId"):
        stack.host.invoke("CountChangesFunction", {"Records": []})
