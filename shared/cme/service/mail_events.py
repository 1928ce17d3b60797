"""SES delivery, bounce and complaint events (configuration set → SNS → SQS) recorded on the
certificate version they concern, found by the tags the mail was sent with."""

from __future__ import annotations

import json
from typing import Any

from cme.adapters import store
from cme.observability import logger

STATES = {"Delivery": "delivered", "Bounce": "bounced", "Complaint": "complained"}


def ses_event(body: str) -> dict[str, Any]:
    """The SES event of an SQS body: raw delivery, or an SNS envelope around it."""
    event = json.loads(body)
    if isinstance(event, dict) and event.get("Type") == "Notification" and isinstance(event.get("Message"), str):
        event = json.loads(event["Message"])
    if not isinstance(event, dict) or not isinstance(event.get("mail"), dict):
        raise ValueError("not an SES event")
    return event


def _tag(event: dict[str, Any], name: str) -> str | None:
    values = (event["mail"].get("tags") or {}).get(name)
    return str(values[0]) if isinstance(values, list) and values else None


def record_mail_event(event: dict[str, Any]) -> dict[str, Any]:
    kind = str(event.get("eventType") or event.get("notificationType") or "")
    state = STATES.get(kind)
    certificate_id, version = _tag(event, "certificate_id"), _tag(event, "version")
    if state is None or certificate_id is None or version is None or not version.isdigit():
        return {"recorded": False, "reason": "not a certificate delivery event"}
    section = event.get(kind[0].lower() + kind[1:], {}) if kind else {}
    at = str(section.get("timestamp") or event["mail"].get("timestamp") or "")
    detail = str(section.get("bounceType") or section.get("complaintFeedbackType") or "")
    message_id = event["mail"].get("messageId")
    recorded = store.record_delivery(
        certificate_id, int(version), state, message_id=str(message_id) if message_id else None, at=at, detail=detail
    )
    logger.info(
        "certificate mail event",
        extra={"certificate_id": certificate_id, "version": int(version), "state": state, "recorded": recorded},
    )
    return {"recorded": recorded, "state": state}
