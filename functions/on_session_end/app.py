"""SessionEnded → finalize attendance and credit for every attendee of the session (idempotent)."""

from cme.consumers import sqs_event_consumer
from cme.service.attendance import finalize_session

handler = sqs_event_consumer(
    "SessionEnded", lambda detail: finalize_session(detail["activity_id"], detail["session_id"])
)
