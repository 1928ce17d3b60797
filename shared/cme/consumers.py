"""One way to consume the bus: EventBridge rule → SQS → Lambda with partial batch failures.

Each SQS message body is an EventBridge event; the consumer gets its parsed detail. A failing record is
reported back (ReportBatchItemFailures) so only it is retried, and after maxReceiveCount it goes to
the queue's DLQ. Each invocation is a batch scope (cache.py): reads such as the activity's agenda
are made once per batch, not once per record."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from cme.cache import batch_scope
from cme.concurrency import map_io
from cme.observability import logger

DetailHandler = Callable[[dict[str, Any]], Any]


class PoisonMessage(ValueError):
    """A message that can never succeed (not an event of the expected type)."""


def eventbridge_detail(record: SQSRecord, detail_type: str | tuple[str, ...]) -> dict[str, Any]:
    return typed_detail(record, detail_type)[1]


def typed_detail(record: SQSRecord, detail_type: str | tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    """(detail-type, detail) of a cme event of one of the expected types."""
    expected = (detail_type,) if isinstance(detail_type, str) else detail_type
    event = json.loads(record.body)
    if not isinstance(event, dict) or event.get("detail-type") not in expected or event.get("source") != "cme":
        raise PoisonMessage(f"expected a cme {' or '.join(expected)} event")
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise PoisonMessage("the event has no detail object")
    return str(event["detail-type"]), detail


def sqs_event_consumer(detail_type: str, handle: DetailHandler) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    processor = BatchProcessor(event_type=EventType.SQS)

    def record_handler(record: SQSRecord) -> Any:
        return handle(eventbridge_detail(record, detail_type))

    @logger.inject_lambda_context(clear_state=True)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        with batch_scope():
            return dict(
                process_partial_response(
                    event=event, record_handler=record_handler, processor=processor, context=context
                )
            )

    return handler


def typed_sqs_event_consumer(
    detail_types: tuple[str, ...], handle: Callable[[str, dict[str, Any]], Any]
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """As `sqs_event_consumer`, for a queue fed by several event types: `handle(detail_type, detail)`."""
    processor = BatchProcessor(event_type=EventType.SQS)

    def record_handler(record: SQSRecord) -> Any:
        return handle(*typed_detail(record, detail_types))

    @logger.inject_lambda_context(clear_state=True)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        with batch_scope():
            return dict(
                process_partial_response(
                    event=event, record_handler=record_handler, processor=processor, context=context
                )
            )

    return handler


GroupHandler = Callable[[Any, list[dict[str, Any]]], Any]


def grouped_sqs_event_consumer(
    detail_type: str, key: Callable[[dict[str, Any]], Any], handle_group: GroupHandler
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """Like `sqs_event_consumer`, but the batch's details are handled in groups sharing `key` (one
    attendee's scans are recomputed once per batch, not once per scan). A failing group fails only its
    own messages."""

    @logger.inject_lambda_context(clear_state=True)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        failures: list[str] = []
        groups: dict[Any, list[tuple[str, dict[str, Any]]]] = {}
        for raw in event.get("Records", []):
            record = SQSRecord(raw)
            try:
                detail = eventbridge_detail(record, detail_type)
                group_key = key(detail)
            except (ValueError, KeyError, TypeError):
                logger.warning("message is not a usable event", extra={"message_id": record.message_id})
                failures.append(record.message_id)
                continue
            groups.setdefault(group_key, []).append((record.message_id, detail))

        def run(item: tuple[Any, list[tuple[str, dict[str, Any]]]]) -> list[str]:
            group_key, members = item
            try:
                handle_group(group_key, [detail for _, detail in members])
            except Exception:
                logger.exception("handling a group of messages failed")
                return [message_id for message_id, _ in members]
            return []

        # Groups are independent (one attendee each): their round trips overlap.
        with batch_scope():
            for failed in map_io(run, list(groups.items())):
                failures.extend(failed)
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failures]}

    return handler
