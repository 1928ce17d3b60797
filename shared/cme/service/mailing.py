"""Mailing a certificate version at most once: the state is recorded before and after the SES call, and
a send whose outcome is unknown is flagged for the organizer's resend, never repeated blindly."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from cme import clock
from cme.adapters import blobs, mailer, store
from cme.concurrency import both
from cme.config import settings
from cme.observability import logger

#: SES errors that mean the message was certainly not sent (safe to offer a resend).
DEFINITE_REJECTIONS = {
    "MessageRejected",
    "MailFromDomainNotVerifiedException",
    "AccountSuspendedException",
    "SendingPausedException",
    "BadRequestException",
    "NotFoundException",
    "ValidationError",
}


#: SES errors that mean "not now" (the account's send rate): certainly not sent, so the message is
#: tried again later by the queue, not flagged for the organizer.
THROTTLED = {"TooManyRequestsException", "Throttling", "ThrottlingException", "LimitExceededException"}


class MailThrottled(RuntimeError):
    """SES refused the send for the send rate; the queue delivers the message again later."""


def credits_text(credits: dict[str, Any]) -> list[str]:
    """The claimed credit lines, worded exactly as the certificate prints them."""
    from cme.certificates.render import credit_label  # cheap: fpdf2 loads only when rendering

    return [credit_label(credit_type, Decimal(str(amount))) for credit_type, amount in credits.items()]


def _download_token(record: dict[str, Any], attendee: Any) -> str:
    from datetime import timedelta

    from cme.auth import issue_learner_token

    expires = clock.now() + timedelta(days=settings().learner_link_days)
    return issue_learner_token(str(record["activity_id"]), attendee.badge_id, expires)


def send_certificate_mail(certificate_id: str, version: int, *, resend: bool = False) -> dict[str, Any]:
    """Mail a certificate version at most once per request: the first time it is issued, and again
    only when an organizer asked (`resend`, from the `resend_requested` state)."""
    record, current = store.certificate_and_current(certificate_id, version)
    if record is None:
        raise RuntimeError("certificate version not visible yet; retry")
    if (current or version) > version and not resend:
        store.set_mail_state(certificate_id, version, "superseded", expect=None)
        return {"sent": False, "reason": "superseded"}
    if record.get("status") == "revoked":
        return {"sent": False, "reason": "revoked"}
    expect = "resend_requested" if resend else None
    sending_at = clock.iso(clock.now())
    # A send refused for the send rate (`throttled`) is certainly not sent: a later delivery may try again.
    if not (
        store.set_mail_state(certificate_id, version, "sending", expect=expect, sending_at=sending_at)
        or store.set_mail_state(certificate_id, version, "sending", expect="throttled", sending_at=sending_at)
    ):
        return {"sent": False, "reason": "already_handled"}
    tags = {"certificate_id": certificate_id, "version": str(version)}
    attendee, pdf = both(
        lambda: store.get_attendee(record["activity_id"], record["badge_id"]), lambda: blobs.get(record["s3_key"])
    )
    if attendee is None or hashlib.sha256(pdf).hexdigest() != record["sha256"]:
        store.set_mail_state(
            certificate_id, version, "failed", expect="sending", failure="certificate or learner missing"
        )
        return {"sent": False, "reason": "inconsistent"}
    from cme.mail.compose import compose_certificate_mail

    base = settings().public_base_url.rstrip("/")
    raw = compose_certificate_mail(
        sender=settings().mail_from,
        reply_to=settings().mail_reply_to or None,
        to=attendee.email,
        learner_name=f"{attendee.given_name} {attendee.family_name}",
        activity_title=record["activity_title"],
        credits_text=credits_text(record["credits"]),
        # A sign-in link that lands on the download: the mail works on a phone with no session yet.
        download_url=f"{base}/l/{_download_token(record, attendee)}?next=certificate",
        verify_url=f"{base}/verify/{certificate_id}?version={version}",
        version=version,
        pdf=pdf,
        pdf_filename=f"certificate-{certificate_id}-v{version}.pdf",
        configuration_set=settings().ses_configuration_set or None,
        tags=tags,
    )
    try:
        message_id = mailer.send_raw(raw, attendee.email, tags)
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code in THROTTLED:
            store.set_mail_state(certificate_id, version, "throttled", expect="sending", failure=code)
            logger.info("certificate mail throttled", extra={"certificate_id": certificate_id, "version": version})
            raise MailThrottled(code) from exc
        state = "failed" if code in DEFINITE_REJECTIONS else "unknown"
        store.set_mail_state(certificate_id, version, state, expect="sending", failure=code)
        logger.warning(
            "certificate mail not sent",
            extra={"certificate_id": certificate_id, "version": version, "state": state, "error": code},
        )
        return {"sent": False, "reason": state}
    except Exception as exc:
        store.set_mail_state(certificate_id, version, "unknown", expect="sending", failure=type(exc).__name__)
        logger.warning("certificate mail outcome unknown", extra={"certificate_id": certificate_id, "version": version})
        return {"sent": False, "reason": "unknown"}
    store.set_mail_state(
        certificate_id, version, "sent", expect="sending", message_id=message_id, sent_at=clock.iso(clock.now())
    )
    logger.info("certificate mailed", extra={"certificate_id": certificate_id, "version": version})
    return {"sent": True, "message_id": message_id}
