"""ClaimRecorded → render the certificate version (fpdf2), store it once in S3, record it."""

from cme.certificates import render
from cme.consumers import sqs_event_consumer
from cme.service.certificates import issue_certificate

# Import fpdf2 and parse the primary fonts during Lambda's init phase, not in the first claim's time.
render.warm_up()

handler = sqs_event_consumer(
    "ClaimRecorded", lambda d: issue_certificate(d["activity_id"], d["badge_id"], int(d["version"]))
)
