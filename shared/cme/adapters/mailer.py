"""SES v2: raw MIME (keeps the PDF attachment intact)."""

from __future__ import annotations

from cme.adapters.aws import client
from cme.config import settings


def send_raw(raw: bytes, to: str) -> str:
    config = settings()
    request = {
        "FromEmailAddress": config.mail_from,
        "Destination": {"ToAddresses": [to]},
        "Content": {"Raw": {"Data": raw}},
    }
    if config.ses_configuration_set:
        request["ConfigurationSetName"] = config.ses_configuration_set
    return str(client("sesv2").send_email(**request)["MessageId"])
