"""CheckInScanned → refresh each attendee's live presence once per batch; recompute finalized sessions
that the new scans change (late uploads)."""

from functools import cache
from typing import Any

from cme.adapters import store
from cme.consumers import grouped_sqs_event_consumer
from cme.service.attendance import on_scans


def _handle(key: tuple[str, str], details: list[dict[str, Any]]) -> Any:
    activity_id, badge_id = key
    return on_scans(activity_id, badge_id, {d["scan"]["scan_id"] for d in details}, agenda=_agenda)


_agenda = cache(store.activity_and_states)
_consume = grouped_sqs_event_consumer(
    "CheckInScanned", key=lambda detail: (detail["activity_id"], detail["scan"]["badge_id"]), handle_group=_handle
)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _agenda.cache_clear()  # one read of the agenda per batch, never older than the batch
    return _consume(event, context)
