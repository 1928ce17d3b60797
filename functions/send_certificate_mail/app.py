"""CertificateIssued → mail the PDF through SES, at most once per certificate version;
CertificateResendRequested → once more, because an organizer asked."""

from typing import Any

from cme.consumers import typed_sqs_event_consumer
from cme.service.mailing import send_certificate_mail


def _handle(detail_type: str, detail: dict[str, Any]) -> Any:
    resend = detail_type == "CertificateResendRequested"
    return send_certificate_mail(detail["certificate_id"], int(detail["version"]), resend=resend)


handler = typed_sqs_event_consumer(("CertificateIssued", "CertificateResendRequested"), _handle)
