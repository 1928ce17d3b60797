"""ClaimRecorded → render the certificate version (fpdf2), store it once in S3, record it."""

from cme.consumers import sqs_event_consumer
from cme.service.certificates import issue_certificate

handler = sqs_event_consumer(
    "ClaimRecorded", lambda d: issue_certificate(d["activity_id"], d["badge_id"], int(d["version"]))
)
