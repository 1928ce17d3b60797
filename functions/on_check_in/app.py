"""CheckInScanned → refresh the attendee's live presence; recompute finalized sessions after late scans."""

from cme.consumers import sqs_event_consumer
from cme.service.attendance import on_scan

handler = sqs_event_consumer(
    "CheckInScanned", lambda detail: on_scan(detail["activity_id"], detail["scan"]["badge_id"])
)
