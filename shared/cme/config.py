"""Deployment settings, parsed once from the environment the template sets for every function."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel


class Settings(BaseModel):
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
    fields = Settings.model_fields
    values = {name: os.environ[name.upper()] for name in fields if name.upper() in os.environ}
    return Settings.model_validate(values)
