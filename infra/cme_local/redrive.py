"""`cme redrive`: send the messages waiting in dead-letter queues back to where they came from.

- A consumer's DLQ (a queue whose `RedrivePolicy` names it) goes back to that queue: the consumers are
  idempotent, so a message that already half-happened converges.
- The rules' delivery DLQ holds the events themselves: they are put on the bus again.
- The stream consumers' failure destinations hold only the position of records that failed (shard,
  sequence numbers): there is nothing to resend. They are counted and left in place; the live counts
  are repaired with `cme recount --repair`, and the outbox's records with the bus archive's replay.

Works against AWS (the default credentials and region) or the local stack (`--endpoint-url`, or the
running stack's `.cme/local.json`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RedriveReport:
    moved: dict[str, int] = field(default_factory=dict)  # DLQ name -> messages sent back
    events_put_again: int = 0
    stream_failures: dict[str, int] = field(default_factory=dict)  # DLQ name -> records left for a recount
    skipped: dict[str, str] = field(default_factory=dict)  # DLQ name -> why

    def as_dict(self) -> dict[str, Any]:
        return {
            "moved": self.moved,
            "events_put_again": self.events_put_again,
            "stream_failures": self.stream_failures,
            "skipped": self.skipped,
        }


def _name(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def _drain(sqs: Any, url: str, handle: Any) -> int:
    """Receive every message of `url`, hand each to `handle`, delete it once handled."""
    moved = 0
    while True:
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=60,
            MessageAttributeNames=["All"],
        ).get("Messages", [])  # fmt: skip
        if not messages:
            return moved
        for message in messages:
            handle(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1


def redrive(clients: Any, *, prefix: str = "", bus_name: str | None = None, dry_run: bool = False) -> RedriveReport:
    """Move the DLQs' messages of the queues whose names start with `prefix`."""
    sqs = clients("sqs")
    urls = (
        sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])
        if prefix
        else sqs.list_queues().get("QueueUrls", [])
    )
    arn_of: dict[str, str] = {}
    sources: dict[str, list[str]] = {}  # DLQ arn -> source queue urls
    for url in urls:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn", "RedrivePolicy"])["Attributes"]
        arn_of[url] = attributes["QueueArn"]
        if "RedrivePolicy" in attributes:
            sources.setdefault(json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"], []).append(url)
    report = RedriveReport()
    consumers = {arn for urls_ in sources.values() for arn in [arn_of[u] for u in urls_]}
    for url in urls:
        name, arn = _name(url), arn_of[url]
        waiting = int(
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
                "ApproximateNumberOfMessages"
            ]
        )
        if arn in sources:
            (target, *more) = sources[arn]
            if more:
                report.skipped[name] = "more than one queue sends its failures here"
                continue
            if waiting and not dry_run:

                def send_back(message: dict[str, Any], target: str = target) -> None:
                    request: dict[str, Any] = {"QueueUrl": target, "MessageBody": message["Body"]}
                    if message.get("MessageAttributes"):
                        request["MessageAttributes"] = message["MessageAttributes"]
                    sqs.send_message(**request)

                report.moved[name] = _drain(sqs, url, send_back)
            elif waiting:
                report.moved[name] = waiting
        elif arn in consumers or not waiting:
            continue
        elif "eventdelivery" in name.lower():
            if bus_name is None:
                report.skipped[name] = "no event bus given"
                continue
            events = clients("events")

            def put_again(message: dict[str, Any], events: Any = events) -> None:
                event = json.loads(message["Body"])
                events.put_events(
                    Entries=[
                        {
                            "Source": event["source"],
                            "DetailType": event["detail-type"],
                            "Detail": json.dumps(event["detail"]),
                            "EventBusName": bus_name,
                        }
                    ]
                )

            report.events_put_again += waiting if dry_run else _drain(sqs, url, put_again)
        elif "dlq" in name.lower():
            report.stream_failures[name] = waiting
    return report
