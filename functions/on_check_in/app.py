"""CheckInScanned → refresh each attendee's live presence once per batch; recompute finalized sessions
that the new scans change (late uploads). The agenda and session states are read once per batch
(`store.activity_and_states` is shared by the batch's groups), never older than the batch."""

from typing import Any

from cme.consumers import grouped_sqs_event_consumer
from cme.service.attendance import on_scans


def _handle(key: tuple[str, str], details: list[dict[str, Any]]) -> Any:
    activity_id, badge_id = key
    return on_scans(activity_id, badge_id, {d["scan"]["scan_id"] for d in details})


handler = grouped_sqs_event_consumer(
    "CheckInScanned", key=lambda detail: (detail["activity_id"], detail["scan"]["badge_id"]), handle_group=_handle
)
