"""Table stream → the organizer's live counts (service/counters.py says how they stay exact)."""

from functools import cache
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from cme import clock
from cme.adapters import store
from cme.observability import logger
from cme.service.counters import apply_batch

_deserializer = TypeDeserializer()


def _image(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    return {k: _deserializer.deserialize(v) for k, v in raw.items()} if raw else None


def _eligibility(records: list[dict[str, Any]]) -> Any:
    """Credit types each learner of the batch is shown, read once per batch (attendance rows only)."""
    wanted: dict[str, set[str]] = {}
    for record in records:
        keys = record["dynamodb"]["Keys"]
        if keys["SK"]["S"].startswith("ATT#"):
            image = record["dynamodb"].get("NewImage") or record["dynamodb"].get("OldImage") or {}
            wanted.setdefault(image["activity_id"]["S"], set()).add(image["badge_id"]["S"])
    professions = {a: store.get_attendees(a, badges) for a, badges in wanted.items()}

    @cache
    def activity(activity_id: str) -> Any:
        return store.get_activity(activity_id)

    def eligible(activity_id: str, badge_id: str) -> list[str]:
        # The credit rules (and the models) only for attendance rows: a batch of door scans' presence
        # records, the usual one, never imports them.
        from cme.domain.credit import eligible_types

        found, attendee = activity(activity_id), professions.get(activity_id, {}).get(badge_id)
        return eligible_types(found, attendee.profession if attendee else "other") if found else []

    return eligible


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    shard_id = event.get("shardId")
    if not shard_id:
        # The mapping's tumbling window is what names the shard; without it counts could not be exact.
        raise ValueError("the stream event carries no shardId: the mapping needs TumblingWindowInSeconds")
    records = event.get("Records", [])
    batch = [
        (
            int(r["dynamodb"]["SequenceNumber"]),
            _image(r["dynamodb"]["Keys"]),
            _image(r["dynamodb"].get("NewImage")),
            _image(r["dynamodb"].get("OldImage")),
        )
        for r in records
    ]
    written = apply_batch(str(shard_id), batch, int(clock.now().timestamp()), _eligibility(records)) if batch else 0
    logger.debug("counts updated", extra={"records": len(batch), "items": written})
    # The window's state is not used: every batch is applied as it comes (the response must carry it).
    return {"state": {}, "batchItemFailures": []}
