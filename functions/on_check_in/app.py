"""CheckInScanned → refresh each attendee's live presence once per batch; recompute finalized sessions
that the new scans change (late uploads). The agenda and session states are read once per batch
(`store.activity_and_states` is shared by the batch's groups), never older than the batch. The batch's
live records are written together at its end (batch writes of 25, not one put per attendee)."""

from typing import Any

from cme.adapters import store
from cme.consumers import grouped_sqs_event_consumer
from cme.service.attendance import on_scans

Live = dict[str, Any] | None


def _handle(key: tuple[str, str], details: list[dict[str, Any]]) -> Live:
    activity_id, badge_id = key
    live: list[dict[str, Any]] = []
    on_scans(activity_id, badge_id, {d["scan"]["scan_id"] for d in details}, put_live=lambda _a, _b, p: live.append(p))
    return live[0] if live else None  # none for an activity that is gone


def _write_lives(results: dict[tuple[str, str], Live]) -> None:
    store.put_lives(
        (activity_id, badge_id, live) for (activity_id, badge_id), live in results.items() if live is not None
    )


handler = grouped_sqs_event_consumer(
    "CheckInScanned",
    key=lambda detail: (detail["activity_id"], detail["scan"]["badge_id"]),
    handle_group=_handle,
    write_results=_write_lives,
)
