"""Deployment settings, parsed once from the environment the template sets for every function."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from functools import lru_cache


@dataclass
class Settings:
    """A dataclass, not a pydantic model: the functions that never validate a request or read an agenda
    (the outbox, mail events) do not import pydantic for their settings."""

    table_name: str = "cme"
    idempotency_table: str = "cme-idempotency"
    event_bus_name: str = "cme"
    event_bus_arn: str = ""
    certificate_bucket: str = "cme-certificates"
    signing_secret_arn: str = ""
    schedule_group: str = "cme-session-ends"
    scheduler_role_arn: str = ""
    mail_from: str = "certificates@example.org"
    mail_reply_to: str = ""
    ses_configuration_set: str = ""
    public_base_url: str = ""
    stage: str = "prod"
    #: Seconds a scan may be dated ahead of the server clock (device clock skew).
    scan_clock_skew_seconds: int = 300
    #: How long a learner's magic link stays valid; a link mailed at registration lasts this long
    #: after the activity ends.
    learner_link_days: int = 30
    #: How long a link asked for on the sign-in page stays valid.
    login_link_hours: int = 24
    #: How long the learner's session cookie lasts after a link was opened.
    learner_session_days: int = 30
    #: Sign-in link requests allowed per address per hour, and per client address per hour.
    login_per_email_per_hour: int = 5
    login_per_ip_per_hour: int = 30
    #: Presigned certificate download URLs live this long (contract: at most 15 minutes).
    download_url_seconds: int = 600


@lru_cache(maxsize=1)
def settings() -> Settings:
    values: dict[str, object] = {}
    for field in fields(Settings):
        raw = os.environ.get(field.name.upper())
        if raw is not None:
            values[field.name] = int(raw) if isinstance(field.default, int) else raw  # the counts and durations
    return Settings(**values)  # type: ignore[arg-type]
