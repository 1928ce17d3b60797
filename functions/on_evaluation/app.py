"""EvaluationSubmitted → record the learner's claim as the next version (which requests a certificate)."""

from cme.consumers import sqs_event_consumer
from cme.service.claims import record_claim

handler = sqs_event_consumer(
    "EvaluationSubmitted",
    lambda d: record_claim(d["activity_id"], d["badge_id"], d["evaluation_id"], d["submitted_at"]),
)
