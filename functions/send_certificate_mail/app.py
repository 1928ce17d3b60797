"""CertificateIssued → mail the PDF through SES, at most once per certificate version."""

from cme.consumers import sqs_event_consumer
from cme.service.mailing import send_certificate_mail

handler = sqs_event_consumer(
    "CertificateIssued", lambda d: send_certificate_mail(d["certificate_id"], int(d["version"]))
)
