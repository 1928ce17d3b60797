"""Table stream → EventBridge: the outbox that publishes the contract's events after each write."""

from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from cme.adapters.aws import client
from cme.concurrency import map_io
from cme.config import settings
from cme.observability import logger
from cme.service.outbox import entry, event_for_change

_deserializer = TypeDeserializer()


def _image(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    return {k: _deserializer.deserialize(v) for k, v in raw.items()} if raw else None


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    pending: list[tuple[str, dict[str, Any]]] = []  # (sequence number, entry)
    for record in event.get("Records", []):
        change = record["dynamodb"]
        found = event_for_change(record["eventName"], _image(change.get("NewImage")), _image(change.get("OldImage")))
        if found:
            pending.append((change["SequenceNumber"], entry(settings().event_bus_name, *found)))
    events = client("events")

    def publish(chunk: list[tuple[str, dict[str, Any]]]) -> list[str]:
        """The sequence numbers of the records whose events were not published."""
        try:
            response = events.put_events(Entries=[e for _, e in chunk])
        except Exception:
            logger.exception("publishing events failed")
            return [seq for seq, _ in chunk]
        return [seq for (seq, _), result in zip(chunk, response["Entries"], strict=True) if result.get("ErrorCode")]

    # PutEvents takes ten entries at a time; the calls overlap (consumers never rely on order).
    chunks = [pending[start : start + 10] for start in range(0, len(pending), 10)]
    failed = sorted((seq for missed in map_io(publish, chunks) for seq in missed), key=int)
    if failed:
        logger.warning("some events were not published", extra={"failed": len(failed)})
    # Lambda retries the batch from the first failed record: report the earliest.
    return {"batchItemFailures": [{"itemIdentifier": seq} for seq in failed[:1]]}
