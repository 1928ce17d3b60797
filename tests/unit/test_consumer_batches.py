"""A consumer invocation is one batch: the records of a batch share the reads marked `per_batch`
(an activity's agenda is read once for ten claims), and the next invocation reads again."""

from __future__ import annotations

import json
from typing import Any

from builders import LambdaContext, eventbridge_event, sqs_event
from cme import cache
from cme.consumers import grouped_sqs_event_consumer, sqs_event_consumer, typed_sqs_event_consumer


def _agenda_reader() -> tuple[list[str], Any]:
    reads: list[str] = []

    @cache.per_batch
    def agenda(activity_id: str) -> dict[str, str]:
        reads.append(activity_id)
        return {"activity_id": activity_id}

    return reads, agenda


def _batch(detail_type: str, *details: dict[str, Any]) -> dict[str, Any]:
    return sqs_event(*(eventbridge_event(detail_type, d) for d in details))


def test_the_records_of_one_invocation_share_a_read_and_the_next_invocation_reads_again():
    reads, agenda = _agenda_reader()
    seen = []
    handler = sqs_event_consumer("ClaimRecorded", lambda d: seen.append(agenda(d["activity_id"])))
    event = _batch("ClaimRecorded", *({"activity_id": "asa-2027", "badge_id": f"B-{n}"} for n in range(10)))
    assert handler(event, LambdaContext()) == {"batchItemFailures": []}
    assert reads == ["asa-2027"] and len(seen) == 10
    handler(event, LambdaContext())
    assert reads == ["asa-2027", "asa-2027"]
    agenda("asa-2027")  # outside an invocation: a plain read
    assert len(reads) == 3


def test_a_consumer_of_several_event_types_shares_reads_per_activity():
    reads, agenda = _agenda_reader()
    handler = typed_sqs_event_consumer(
        ("CertificateIssued", "CertificateResendRequested"), lambda _, d: agenda(d["activity_id"])
    )
    event = sqs_event(
        eventbridge_event("CertificateIssued", {"activity_id": "asa-2027"}),
        eventbridge_event("CertificateResendRequested", {"activity_id": "asa-2027"}),
        eventbridge_event("CertificateIssued", {"activity_id": "acc-2027"}),
    )
    assert handler(event, LambdaContext()) == {"batchItemFailures": []}
    assert sorted(reads) == ["acc-2027", "asa-2027"]


def test_groups_handled_at_once_read_the_agenda_once():
    reads, agenda = _agenda_reader()
    handler = grouped_sqs_event_consumer(
        "CheckInScanned",
        key=lambda d: (d["activity_id"], d["scan"]["badge_id"]),
        handle_group=lambda key, _: agenda(key[0]),
    )
    event = _batch(
        "CheckInScanned",
        *({"activity_id": "asa-2027", "scan": {"badge_id": f"B-{n % 8}", "scan_id": f"s{n}"}} for n in range(24)),
    )
    assert handler(event, LambdaContext()) == {"batchItemFailures": []}
    assert reads == ["asa-2027"]  # eight groups on the I/O pool, one read


def _scans(*badges: str) -> dict[str, Any]:
    details = ({"activity_id": "asa-2027", "scan": {"badge_id": b, "scan_id": f"s{n}"}} for n, b in enumerate(badges))
    return _batch("CheckInScanned", *details)


def _failed(answer: dict[str, Any], event: dict[str, Any]) -> list[str]:
    """The failed messages' badges, in the batch's order."""
    ids = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
    return [
        json.loads(record["body"])["detail"]["scan"]["badge_id"]
        for record in event["Records"]
        if record["messageId"] in ids
    ]


def _fail_bad_badges(key: tuple[str, str], _: list[dict[str, Any]]) -> tuple[str, str]:
    if key[1] == "B-bad":
        raise RuntimeError("this attendee's recomputation failed")
    return key


def test_the_groups_results_are_written_together_and_a_failing_group_is_left_out():
    written: list[dict[Any, Any]] = []

    handler = grouped_sqs_event_consumer(
        "CheckInScanned",
        key=lambda d: (d["activity_id"], d["scan"]["badge_id"]),
        handle_group=lambda key, details: _fail_bad_badges(key, details) and len(details),
        write_results=written.append,
    )
    event = _scans("B-1", "B-bad", "B-2", "B-1")
    assert _failed(handler(event, LambdaContext()), event) == ["B-bad"]
    assert written == [{("asa-2027", "B-1"): 2, ("asa-2027", "B-2"): 1}]  # one call, the bad group left out


def test_a_failed_write_of_the_results_fails_every_message_it_covered_once():
    def refuse(results: dict[Any, Any]) -> None:
        raise RuntimeError("the batch write was refused")

    handler = grouped_sqs_event_consumer(
        "CheckInScanned",
        key=lambda d: (d["activity_id"], d["scan"]["badge_id"]),
        handle_group=_fail_bad_badges,
        write_results=refuse,
    )
    event = _scans("B-1", "B-bad", "B-2", "B-1")
    answer = handler(event, LambdaContext())
    assert sorted(_failed(answer, event)) == ["B-1", "B-1", "B-2", "B-bad"]
    assert len(answer["batchItemFailures"]) == len({f["itemIdentifier"] for f in answer["batchItemFailures"]})
