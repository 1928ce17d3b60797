"""SES v2: raw MIME (keeps the PDF attachment intact)."""

from __future__ import annotations

from typing import Any

from cme.adapters.aws import client
from cme.config import settings


def send_raw(raw: bytes, to: str, tags: dict[str, str] | None = None) -> str:
    """Send one raw MIME message; `tags` come back on SES's delivery, bounce and complaint events."""
    config = settings()
    request: dict[str, Any] = {
        "FromEmailAddress": config.mail_from,
        "Destination": {"ToAddresses": [to]},
        "Content": {"Raw": {"Data": raw}},
    }
    if tags:
        request["EmailTags"] = [{"Name": name, "Value": value} for name, value in sorted(tags.items())]
    if config.ses_configuration_set:
        request["ConfigurationSetName"] = config.ses_configuration_set
    return str(client("sesv2").send_email(**request)["MessageId"])
