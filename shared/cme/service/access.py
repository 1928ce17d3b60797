"""How learners get in: magic links (mailed at registration and on request, handed out at the help
desk), the session cookie a link turns into, and the sign-in request, rate-limited and answered the
same whether or not the address is known."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from typing import Any

from aws_lambda_powertools.shared.cookies import Cookie, SameSite
from botocore.exceptions import ClientError

from cme import clock
from cme.adapters import store
from cme.adapters.aws import client, table
from cme.auth import email_key, issue_learner_token
from cme.config import settings
from cme.domain.models import Activity
from cme.errors import TooManyRequests, Unprocessable
from cme.observability import logger
from cme.service.outbox import entry

SESSION_COOKIE = "cme_session"


def link_url(base_url: str, token: str) -> str:
    return f"{base_url}/l/{token}"


def registration_expiry(activity: Activity, now: datetime) -> datetime:
    """A link mailed at registration lasts until `learner_link_days` after the activity's last day."""
    days = timedelta(days=settings().learner_link_days)
    last_day_end = datetime.combine(activity.ends_on, time(23, 59, 59), activity.zone)
    return max(now + days, last_day_end + days)


def session_token(activity_id: str, badge_id: str) -> tuple[str, int]:
    """A fresh token for the session cookie and its lifetime in seconds."""
    seconds = settings().learner_session_days * 86400
    return issue_learner_token(activity_id, badge_id, clock.now() + timedelta(seconds=seconds)), seconds


def session_cookie(token: str, max_age: int) -> Cookie:
    return Cookie(
        SESSION_COOKIE, token, path="/", secure=True, http_only=True, max_age=max_age, same_site=SameSite.LAX_MODE
    )


def cleared_cookie() -> Cookie:
    return Cookie(SESSION_COOKIE, "", path="/", secure=True, http_only=True, max_age=0, same_site=SameSite.LAX_MODE)


def cookie_token(cookies: list[str] | None) -> str | None:
    """The session token from API Gateway v2's `cookies` list."""
    for piece in cookies or []:
        name, _, value = piece.strip().partition("=")
        if name == SESSION_COOKIE and value:
            return value
    return None


# ---- sign-in requests ---------------------------------------------------------------------------


def _count(kind: str, key: str, limit: int) -> bool:
    """One more request in this hour's window for `key`; False when the window is already full."""
    now = clock.now()
    window = now.strftime("%Y%m%d%H")
    expires = int((now + timedelta(hours=2)).timestamp())
    try:
        table(settings().idempotency_table).update_item(
            Key={"id": f"rate#{kind}#{key}#{window}"},
            UpdateExpression="ADD hits :one SET expiration = :exp",
            ConditionExpression="attribute_not_exists(hits) OR hits < :max",
            ExpressionAttributeValues={":one": 1, ":exp": expires, ":max": limit},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def request_login(activity_id: Any, email: Any, client_ip: str) -> None:
    """Validate, rate-limit (per address and per client), then publish LoginLinkRequested. The
    address itself never leaves this function: the event carries its keyed digest."""
    errors = []
    if not isinstance(activity_id, str) or not activity_id.strip() or len(activity_id) > 128:
        errors.append({"field": "activity_id", "message": "required"})
    if not isinstance(email, str) or "@" not in email or len(email) > 254 or any(c.isspace() for c in email.strip()):
        errors.append({"field": "email", "message": "an email address is required"})
    if errors:
        raise Unprocessable("the sign-in request has invalid fields", errors)
    assert isinstance(activity_id, str) and isinstance(email, str)
    key = email_key(email)
    config = settings()
    now = clock.now()
    retry = 3600 - now.minute * 60 - now.second  # until the hour's window closes
    if not _count("ip", client_ip or "unknown", config.login_per_ip_per_hour):
        raise TooManyRequests("too many sign-in requests from this network; try again later", retry)
    if not _count("email", f"{activity_id}#{key}", config.login_per_email_per_hour):
        raise TooManyRequests("too many sign-in links were asked for this address; try again later", retry)
    detail = {
        "activity_id": activity_id.strip(),
        "email_key": key,
        "request_id": uuid.uuid4().hex,
        "requested_at": clock.iso(clock.now()),
    }
    response = client("events").put_events(Entries=[entry(config.event_bus_name, "LoginLinkRequested", detail)])
    if response.get("FailedEntryCount"):
        raise RuntimeError("the sign-in request could not be queued")
    logger.info("sign-in link requested", extra={"activity_id": detail["activity_id"]})


# ---- the link mail ------------------------------------------------------------------------------


def _recipients(detail_type: str, detail: dict[str, Any]) -> list[str]:
    if detail_type == "LearnerRegistered":
        return [str(detail["badge_id"])]
    return store.badges_for_email(str(detail["activity_id"]), str(detail["email_key"]))


def send_learner_links(detail_type: str, detail: dict[str, Any], base_url: str) -> int:
    """Mail a sign-in link to each attendee the event names whose current address still matches."""
    from cme.adapters import mailer
    from cme.mail.compose import compose_link_mail

    activity_id = str(detail["activity_id"])
    activity = store.get_activity(activity_id)
    if activity is None:
        logger.warning("sign-in link for an unknown activity", extra={"activity_id": activity_id})
        return 0
    badges = _recipients(detail_type, detail)
    attendees = store.get_attendees(activity_id, badges) if badges else {}
    now = clock.now()
    requested = detail_type == "LoginLinkRequested"
    config = settings()
    sent = 0
    for attendee in attendees.values():
        if not attendee.email or (requested and email_key(attendee.email) != detail["email_key"]):
            continue  # the roster row changed its address since the index entry was written
        expires = now + timedelta(hours=config.login_link_hours) if requested else registration_expiry(activity, now)
        token = issue_learner_token(activity_id, attendee.badge_id, expires)
        raw = compose_link_mail(
            sender=config.mail_from,
            reply_to=config.mail_reply_to or None,
            to=attendee.email,
            learner_name=attendee.greeting_name,
            activity_title=activity.title,
            link=link_url(base_url, token),
            expires_on=expires.astimezone(activity.zone).strftime("%B %-d, %Y, %H:%M %Z"),
            requested=requested,
            configuration_set=config.ses_configuration_set or None,
            tags={"kind": "signin_link"},
        )
        mailer.send_raw(raw, attendee.email, {"kind": "signin_link"})
        sent += 1
    logger.info("sign-in links mailed", extra={"activity_id": activity_id, "kind": detail_type, "sent": sent})
    return sent
