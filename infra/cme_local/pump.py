"""What Lambda's event source mappings and EventBridge Scheduler do, done locally against moto:
poll SQS queues and the table stream into the functions the template wires them to (batch size,
partial batch failures, retries, DLQ), and fire session-end schedules when the clock reaches them."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from cme import clock
from cme_local.functions import FunctionHost
from cme_local.patterns import any_matches
from cme_local.provision import ACCOUNT, REGION, QueueMapping, StreamMapping, Wiring

log = logging.getLogger("cme_local.pump")


def full_eventbridge_shape(body: str) -> str:
    """moto delivers rule targets without some envelope fields; give handlers the real AWS shape."""
    try:
        event = json.loads(body)
    except json.JSONDecodeError:
        return body
    if not isinstance(event, dict) or "detail-type" not in event:
        return body
    event.setdefault("version", "0")
    event.setdefault("id", str(uuid.uuid4()))
    event.setdefault("account", ACCOUNT)
    event.setdefault("region", REGION)
    event.setdefault("resources", [])
    event.setdefault("time", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    if isinstance(event.get("detail"), str):
        # Not ours to judge a detail that is not JSON: the consumer refuses it and the redrive does the rest.
        with contextlib.suppress(json.JSONDecodeError):
            event["detail"] = json.loads(event["detail"])
    return json.dumps(event)


def _log_failure(error: Exception, message: str, *args: Any) -> None:
    """A planned failure of a chaos run is one line; anything else keeps its traceback."""
    if type(error).__name__ in ("InjectedCrash", "InjectedOutage"):
        log.warning(message + ": %s", *args, error)
    else:
        log.exception(message, *args)


class QueuePoller:
    def __init__(self, mapping: QueueMapping, host: FunctionHost, clients: Any):
        self.mapping = mapping
        self.host = host
        self.sqs = clients("sqs")
        self.delivered = 0
        self.failed = 0
        self._counts = threading.Lock()  # the queue's pollers run side by side

    def _receive(self) -> list[dict[str, Any]]:
        """Up to the mapping's batch size, ten messages per receive (as Lambda's poller gathers them)."""
        messages: list[dict[str, Any]] = []
        while len(messages) < self.mapping.batch_size:
            received = self.sqs.receive_message(
                QueueUrl=self.mapping.queue_url,
                MaxNumberOfMessages=min(self.mapping.batch_size - len(messages), 10),
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            messages.extend(received)
            if len(received) < 10:
                break
        return messages

    def poll_once(self) -> int:
        messages = self._receive()
        if not messages:
            return 0
        records = [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": full_eventbridge_shape(m["Body"]),
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": self.mapping.queue_arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
        failed_ids: set[str] = set()
        for _ in range(2 if self.host.duplicate_deliveries else 1):  # SQS delivers at least once
            try:
                result = self.host.invoke(self.mapping.function, {"Records": records})
                failed_ids |= {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
            except Exception as error:
                _log_failure(error, "%s failed a whole batch", self.mapping.function)
                failed_ids = {r["messageId"] for r in records}
        if failed_ids and not self.mapping.partial_failures:
            failed_ids = {r["messageId"] for r in records}
        done = [r for r in records if r["messageId"] not in failed_ids]
        for start in range(0, len(done), 10):
            self.sqs.delete_message_batch(
                QueueUrl=self.mapping.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(done[start : start + 10])
                ],
            )
        for record in records:
            if record["messageId"] in failed_ids:
                # Retry soon rather than after the visibility timeout; maxReceiveCount still applies.
                self.sqs.change_message_visibility(
                    QueueUrl=self.mapping.queue_url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0
                )
        with self._counts:
            self.delivered += len(done)
            self.failed += len(failed_ids)
        return len(records)


def _stream_record(raw: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    change = dict(raw["dynamodb"])
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        change["ApproximateCreationDateTime"] = float(int(created.timestamp()))
    return {
        "eventID": raw.get("eventID", uuid.uuid4().hex),
        "eventName": raw["eventName"],
        "eventVersion": raw.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": change,
        "eventSourceARN": stream_arn,
    }


class StreamPoller:
    """One shard reader per stream mapping, resuming after the last record it delivered."""

    def __init__(self, mapping: StreamMapping, host: FunctionHost, clients: Any):
        self.mapping = mapping
        self.host = host
        self.streams = clients("dynamodbstreams")
        self.sqs = clients("sqs")
        self.positions: dict[str, str] = {}  # shard id -> last delivered sequence number
        # shard id -> the iterator the last read handed on, while it still points after `positions`
        # (as Lambda's poller keeps reading from one iterator rather than asking for a new one each time)
        self.iterators: dict[str, str] = {}
        self._shards: tuple[float, list[str]] = (0.0, [])
        self.attempts: dict[str, int] = {}  # sequence number -> failed attempts
        self.delivered = 0
        self.discarded = 0
        self.filtered = 0

    def caught_up(self, head: str | None) -> bool:
        """Whether the one shard's last record (`head`; None when it has none) is behind this poller."""
        if head is None:
            return True
        return len(self.positions) == 1 and next(iter(self.positions.values())) == head

    def _shard_ids(self) -> list[str]:
        """The stream's shards, described again every few seconds (they change only over hours)."""
        described, ids = self._shards
        if not ids or time.monotonic() - described > 5:
            shards = self.streams.describe_stream(StreamArn=self.mapping.stream_arn)["StreamDescription"]["Shards"]
            ids = [shard["ShardId"] for shard in shards]
            self._shards = (time.monotonic(), ids)
        return ids

    def _read(self, shard_id: str) -> dict[str, Any]:
        kept = self.iterators.pop(shard_id, None)
        if kept is not None:
            try:
                return dict(self.streams.get_records(ShardIterator=kept, Limit=self.mapping.batch_size))
            except self.streams.exceptions.ExpiredIteratorException:
                pass
        return dict(self.streams.get_records(ShardIterator=self._iterator(shard_id), Limit=self.mapping.batch_size))

    def _iterator(self, shard_id: str) -> str:
        request: dict[str, Any] = {"StreamArn": self.mapping.stream_arn, "ShardId": shard_id}
        if shard_id in self.positions:
            request.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=self.positions[shard_id])
        else:
            request["ShardIteratorType"] = "TRIM_HORIZON"
        return str(self.streams.get_shard_iterator(**request)["ShardIterator"])

    def _event(self, batch: list[dict[str, Any]], shard_id: str) -> dict[str, Any]:
        """The event Lambda sends: with a tumbling window it also names the shard and the window (the
        window's state is not carried between invocations here: no function of this stack uses it)."""
        event: dict[str, Any] = {"Records": batch}
        if self.mapping.tumbling_window:
            now = int(time.time())
            start = now - now % self.mapping.tumbling_window
            event.update(
                shardId=shard_id,
                eventSourceARN=self.mapping.stream_arn,
                window={
                    "start": datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "end": datetime.fromtimestamp(start + self.mapping.tumbling_window, UTC).strftime(
                        "%Y-%m-%dT%H:%M:%SZ"
                    ),
                },
                state={},
                isFinalInvokeForWindow=False,
                isWindowTerminatedEarly=False,
            )
        return event

    def poll_once(self) -> int:
        total = 0
        for shard_id in self._shard_ids():
            answer = self._read(shard_id)
            records, following = answer["Records"], answer.get("NextShardIterator")
            if not records:
                if following:
                    self.iterators[shard_id] = following
                continue
            total += len(records)
            # Records the mapping's filters reject are consumed without invoking the function.
            batch = [
                r
                for r in (_stream_record(raw, self.mapping.stream_arn) for raw in records)
                if any_matches(self.mapping.filters, r)
            ]
            if not batch:
                self.positions[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]
                self.filtered += len(records)
                if following:
                    self.iterators[shard_id] = following
                continue
            self.filtered += len(records) - len(batch)
            failures: list[str] = []
            for _ in range(2 if self.host.duplicate_deliveries else 1):  # a batch retried after it succeeded
                try:
                    result = self.host.invoke(self.mapping.function, self._event(batch, shard_id))
                    failures += [f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])]
                except Exception as error:
                    _log_failure(error, "%s failed a stream batch", self.mapping.function)
                    failures = [batch[0]["dynamodb"]["SequenceNumber"]]
            sequence = [r["dynamodb"]["SequenceNumber"] for r in batch]
            if not failures:
                self.positions[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]
                self.delivered += len(batch)
                if following:
                    self.iterators[shard_id] = following
                continue
            first_failed = min(failures, key=sequence.index) if all(f in sequence for f in failures) else sequence[0]
            index = sequence.index(first_failed)
            if index:
                self.positions[shard_id] = sequence[index - 1]
                self.delivered += index
            self.attempts[first_failed] = self.attempts.get(first_failed, 0) + 1
            if 0 <= self.mapping.max_retries < self.attempts[first_failed]:
                self._discard(batch[index], shard_id)
        return total

    def _discard(self, record: dict[str, Any], shard_id: str) -> None:
        """Out of retries: send the record's description to the on-failure destination and move on."""
        sequence = record["dynamodb"]["SequenceNumber"]
        if self.mapping.on_failure_queue_url:
            self.sqs.send_message(
                QueueUrl=self.mapping.on_failure_queue_url,
                MessageBody=json.dumps(
                    {
                        "requestContext": {"condition": "RetryAttemptsExhausted", "functionArn": self.mapping.function},
                        "DDBStreamBatchInfo": {
                            "shardId": shard_id,
                            "startSequenceNumber": sequence,
                            "endSequenceNumber": sequence,
                            "streamArn": self.mapping.stream_arn,
                            "batchSize": 1,
                        },
                    }
                ),
            )
        self.positions[shard_id] = sequence
        self.discarded += 1


class Scheduler:
    """Fires one-time `at()` schedules of the session-end group when the local clock reaches them."""

    def __init__(self, clients: Any, group: str, holds: Callable[[], Any] | None = None):
        """`holds`, if given, answers what the group holds now (its schedules' names and last changes,
        from the local AWS): the group is listed again only when that answer moved, instead of at every
        clock move."""
        self.scheduler = clients("scheduler")
        self.events = clients("events")
        self.group = group
        self.holds = holds
        self._listed: tuple[Any, list[dict[str, Any]]] | None = None
        self.fired = 0
        self._details: dict[str, tuple[str, datetime, dict[str, Any]]] = {}
        self._last_now: datetime | None = None
        self._last_look = 0.0
        self._lock = threading.Lock()

    def fire_due(self, force: bool = False) -> int:
        """Fire the schedules due by the local clock. Safe to call beside a running pump pass: a clock
        move fires its schedules at once instead of waiting for the pass (the functions it invokes may
        take seconds) to end."""
        with self._lock:
            return self._fire_due(force)

    def _fire_due(self, force: bool) -> int:
        now = clock.now()
        # Between clock moves only look once a second (a real scheduler's granularity is a minute).
        if not force and now == self._last_now and time.monotonic() - self._last_look < 1.0:
            return 0
        self._last_now, self._last_look = now, time.monotonic()
        fired = 0
        for summary in self._list():
            name = summary["Name"]
            version = str(summary.get("LastModificationDate"))
            cached = self._details.get(name)
            if cached is None or cached[0] != version:
                try:
                    schedule = self.scheduler.get_schedule(Name=name, GroupName=self.group)
                except ClientError:
                    continue
                expression = schedule["ScheduleExpression"]
                if not expression.startswith("at("):
                    continue
                due = datetime.fromisoformat(expression[3:-1]).replace(tzinfo=UTC)
                cached = self._details[name] = (version, due, schedule)
            _, due, schedule = cached
            if due > now:
                continue
            target = schedule["Target"]
            parameters = target.get("EventBridgeParameters", {})
            self.events.put_events(
                Entries=[
                    {
                        "Source": parameters.get("Source", "cme"),
                        "DetailType": parameters.get("DetailType", "Scheduled Event"),
                        "Detail": target.get("Input", "{}"),
                        "EventBusName": target["Arn"],
                    }
                ]
            )
            if schedule.get("ActionAfterCompletion") == "DELETE":
                self.scheduler.delete_schedule(Name=name, GroupName=self.group)
            self._details.pop(name, None)
            fired += 1
        self.fired += fired
        return fired

    def _list(self) -> list[dict[str, Any]]:
        mark = self._holds()
        if mark is not None and self._listed is not None and self._listed[0] == mark:
            return self._listed[1]
        found = self._list_group()
        # The mark was read before the list: a change between the two lists the group once more.
        self._listed = (mark, found) if mark is not None else None
        return found

    def _holds(self) -> Any:
        if self.holds is None:
            return None
        try:
            return self.holds()
        except (OSError, ValueError, KeyError) as error:
            _log_failure(error, "could not look at the schedule group; listing it")
            return None

    def _list_group(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        request: dict[str, Any] = {"GroupName": self.group}
        while True:
            page = self.scheduler.list_schedules(**request)
            found.extend(page.get("Schedules", []))
            if not page.get("NextToken"):
                return found
            request["NextToken"] = page["NextToken"]


#: SES's mailbox simulator addresses and the event each produces (others are delivered).
SIMULATOR_OUTCOMES = {
    "bounce@simulator.amazonses.com": "Bounce",
    "suppressionlist@simulator.amazonses.com": "Bounce",
    "complaint@simulator.amazonses.com": "Complaint",
}


#: SNS PublishBatch's limit of entries a request.
SNS_BATCH = 10


class MailEventPublisher:
    """What SES event publishing does for a configuration set with an SNS destination: for each mail
    sent with that set, a Delivery (or, for the mailbox simulator's addresses, a Bounce or Complaint)
    event on the topic, carrying the mail's tags (read back from the tags header of the raw mail)."""

    def __init__(self, destinations: list[tuple[str, str, list[str]]], clients: Any, sent_mail: Any):
        self.destinations = destinations
        self.sns = clients("sns")
        self.sent_mail = sent_mail
        self.seen = 0
        self.published = 0

    def poll_once(self) -> int:
        if not self.destinations:
            return 0
        fresh = self.sent_mail(self.seen)
        self.seen += len(fresh)
        by_topic: dict[str, list[str]] = {}
        for message in fresh:
            for topic, event in self._events(message):
                by_topic.setdefault(topic, []).append(event)
        published = 0
        for topic, events in by_topic.items():
            # As SES publishes them: one SNS message per event (here ten a request).
            for start in range(0, len(events), SNS_BATCH):
                chunk = events[start : start + SNS_BATCH]
                entries = [{"Id": str(n), "Message": event} for n, event in enumerate(chunk)]
                answer = self.sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)
                if answer.get("Failed"):
                    raise RuntimeError(f"SNS refused {len(answer['Failed'])} mail events: {answer['Failed'][:1]}")
                published += len(chunk)
        self.published += published
        return published

    def _events(self, message: dict[str, Any]) -> list[tuple[str, str]]:
        """(topic, SNS message) for each destination the mail's configuration set publishes to."""
        import email.parser
        import email.policy

        from cme.mail.compose import TAGS_HEADER, parse_tags_header

        # The headers are all it reads: the body (a certificate's PDF) is left unparsed.
        parser = email.parser.Parser(policy=email.policy.default)
        parsed = parser.parsestr(message.get("raw", ""), headersonly=True)
        configuration_set = str(parsed.get("X-SES-CONFIGURATION-SET") or "")
        tags = {name: [value] for name, value in parse_tags_header(str(parsed.get(TAGS_HEADER) or "")).items()}
        recipients = [str(r) for r in message.get("to", [])]
        outcome = next((SIMULATOR_OUTCOMES[r] for r in recipients if r in SIMULATOR_OUTCOMES), "Delivery")
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        mail = {
            "timestamp": now,
            "messageId": message.get("message_id"),
            "destination": recipients,
            "tags": {**tags, "ses:configuration-set": [configuration_set]},
        }
        sections = {
            "Delivery": {"delivery": {"timestamp": now, "recipients": recipients}},
            "Bounce": {"bounce": {"bounceType": "Permanent", "bounceSubType": "General", "timestamp": now}},
            "Complaint": {"complaint": {"complaintFeedbackType": "abuse", "timestamp": now}},
        }
        return [
            (topic, json.dumps({"eventType": outcome, "mail": mail, **sections[outcome]}))
            for name, topic, types in self.destinations
            if name == configuration_set and outcome.lower() in types
        ]


class Pump:
    def __init__(
        self,
        wiring: Wiring,
        host: FunctionHost,
        clients: Any,
        schedule_group: str,
        sent_mail: Any = None,
        pending: Any = None,
    ):
        """`pending`, if given, tells what there is to poll (`{"queues": {name: visible messages},
        "sent_mail": count}`), so a pass polls only the queues holding messages: the empty receives
        stand for Lambda's long polls, which cost nothing, and here they would cost a request each."""
        self.pending = pending
        self.queues = [QueuePoller(m, host, clients) for m in wiring.queues]
        self.streams = [StreamPoller(m, host, clients) for m in wiring.streams]
        holds = (lambda: self.pending()["schedules"].get(schedule_group)) if pending is not None else None
        self.scheduler = Scheduler(clients, schedule_group, holds)
        self.mail_events = (
            MailEventPublisher(wiring.mail_event_destinations, clients, sent_mail) if sent_mail is not None else None
        )
        # A queue has as many pollers as its function has containers, as Lambda's poller scales out.
        self._drains = [q for q in self.queues for _ in range(host.slots(q.mapping.function))]
        self._workers = ThreadPoolExecutor(max_workers=max(1, len(self._drains)), thread_name_prefix="cme-poller")

    def _look(self) -> dict[str, Any] | None:
        if self.pending is None:
            return None
        try:
            return dict(self.pending())
        except (OSError, ValueError, KeyError) as error:
            _log_failure(error, "could not look at what is pending; polling everything")
            return None

    def pass_once(self) -> int:
        moved = self.scheduler.fire_due()
        look = self._look()
        if self.mail_events is not None and (look is None or int(look.get("sent_mail", 1)) > self.mail_events.seen):
            moved += self.mail_events.poll_once()
        heads = (look or {}).get("streams", {})
        for stream in self.streams:
            if (
                look is not None
                and stream.mapping.stream_arn in heads
                and stream.caught_up(heads[stream.mapping.stream_arn])
            ):
                continue
            moved += stream.poll_once()
        # Each queue is drained by its own pollers at once, as Lambda's pollers run side by side: as
        # many as its visible messages fill batches (a second poller of a one-batch queue would only
        # come back empty).
        look = self._look()
        drains = self._drains
        if look is not None:
            depths = look.get("queues", {})
            wanted: dict[str, int] = {}
            drains = []
            for queue in self._drains:
                name = queue.mapping.queue_arn.rsplit(":", 1)[-1]
                depth = int(depths.get(name, 1))
                batches = -(-depth // max(1, queue.mapping.batch_size))
                if wanted.get(name, 0) < batches:
                    wanted[name] = wanted.get(name, 0) + 1
                    drains.append(queue)
        return moved + sum(self._workers.map(self._drain, drains))

    @staticmethod
    def _drain(queue: QueuePoller) -> int:
        moved = 0
        while True:
            failed_before = queue.failed
            delivered = queue.poll_once()
            moved += delivered
            if delivered < queue.mapping.batch_size or queue.failed > failed_before:
                # Less than a full batch: the queue held no more when it was received (the next pass
                # looks again). A failed message is retried on the next pass, not in a tight loop.
                return moved

    def settle(self, timeout: float = 300.0) -> int:
        """Deliver until a whole pass finds nothing to do (everything downstream has happened)."""
        deadline = time.monotonic() + timeout
        total = 0
        while time.monotonic() < deadline:
            moved = self.pass_once()
            total += moved
            if moved == 0:  # a whole pass found nothing: nothing is in flight
                return total
        raise TimeoutError(f"the local stack did not settle within {timeout:.0f} s")
