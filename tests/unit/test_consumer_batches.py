"""A consumer invocation is one batch: the records of a batch share the reads marked `per_batch`
(an activity's agenda is read once for ten claims), and the next invocation reads again."""

from __future__ import annotations

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
