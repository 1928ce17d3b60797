"""Who is calling: organizers (JWT claims from the HTTP API authorizer), scanner devices (hashed
tokens), learners (signed, expiring magic-link tokens). Also the keyed ids derived from the secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from cme import clock
from cme.config import settings
from cme.errors import Forbidden, Unauthorized

_LEARNER_PREFIX = "l1"


@cache
def signing_key() -> bytes:
    """The deployment's HMAC key, read once per container from Secrets Manager."""
    from cme.adapters.aws import client

    secret = client("secretsmanager").get_secret_value(SecretId=settings().signing_secret_arn)
    return str(secret["SecretString"]).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(*parts: str) -> bytes:
    return hmac.new(signing_key(), "\x1f".join(parts).encode(), hashlib.sha256).digest()


# ---- learners -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Learner:
    activity_id: str
    badge_id: str
    expires_at: int


def issue_learner_token(activity_id: str, badge_id: str, expires_at: datetime) -> str:
    payload = _b64("\x1f".join((activity_id, badge_id, str(int(expires_at.timestamp())))).encode())
    signature = _b64(_mac(_LEARNER_PREFIX, payload)[:24])
    return f"{_LEARNER_PREFIX}.{payload}.{signature}"


def read_learner_token(token: str, *, allow_expired: bool = False) -> Learner:
    """A valid, unexpired token's learner; anything else is 401 with one message (no oracle).
    `allow_expired`: an authentic but expired token still names its activity (for the "send me a new
    link" page); never use it to show a learner anything."""
    try:
        prefix, payload, signature = token.split(".")
        if prefix != _LEARNER_PREFIX:
            raise ValueError
        if not hmac.compare_digest(_unb64(signature), _mac(_LEARNER_PREFIX, payload)[:24]):
            raise ValueError
        activity_id, badge_id, expires = _unb64(payload).decode().split("\x1f")
        learner = Learner(activity_id, badge_id, int(expires))
    except (ValueError, UnicodeDecodeError) as exc:
        raise Unauthorized("the sign-in link is not valid", code="invalid_token") from exc
    if learner.expires_at <= clock.now().timestamp() and not allow_expired:
        raise Unauthorized("the sign-in link has expired; ask for a new one", code="expired_token")
    return learner


def csrf_token(session_token: str) -> str:
    """The form token bound to one learner session (double submit, keyed: it cannot be forged)."""
    return _b64(_mac("csrf", session_token)[:18])


def csrf_ok(session_token: str, submitted: str | None) -> bool:
    # Bytes: compare_digest refuses str with non-ASCII characters, and a client may send anything.
    return bool(submitted) and hmac.compare_digest(csrf_token(session_token).encode(), str(submitted).encode())


def email_key(email: str) -> str:
    """A keyed digest of an address (case and surrounding spaces ignored): the roster's email index
    and the login events carry this, never the address."""
    return _mac("email", email.strip().casefold()).hex()[:40]


# ---- scanner devices ------------------------------------------------------------------------------


def new_device_token() -> str:
    return "dev_" + secrets.token_urlsafe(32)


def device_token_hash(token: str) -> str:
    """Tokens are stored only as this hash (a leaked table reveals no usable token)."""
    return hashlib.sha256(token.encode()).hexdigest()


# ---- organizers -----------------------------------------------------------------------------------

ADMIN_GROUP = "cme-admins"


@dataclass(frozen=True)
class Organizer:
    subject: str
    activities: frozenset[str]
    groups: frozenset[str]

    def may_manage(self, activity_id: str) -> bool:
        return (
            "*" in self.activities
            or activity_id in self.activities
            or ADMIN_GROUP in self.groups
            or f"activity:{activity_id}" in self.groups
        )


def _claim_list(value: Any) -> frozenset[str]:
    if isinstance(value, list):
        return frozenset(str(v) for v in value)
    text = str(value or "").strip("[]")
    return frozenset(part.strip() for part in text.replace(",", " ").split() if part.strip())


def organizer_from_event(event: dict[str, Any]) -> Organizer:
    """Claims the HTTP API JWT authorizer verified (locally: the local stack's authorizer)."""
    claims = (((event.get("requestContext") or {}).get("authorizer") or {}).get("jwt") or {}).get("claims")
    if not claims or not claims.get("sub"):
        raise Unauthorized("an organizer token is required")
    return Organizer(
        subject=str(claims["sub"]),
        activities=_claim_list(claims.get("custom:activities")),
        groups=_claim_list(claims.get("cognito:groups")),
    )


def require_organizer(event: dict[str, Any], activity_id: str) -> Organizer:
    organizer = organizer_from_event(event)
    if not organizer.may_manage(activity_id):
        raise Forbidden("this organizer does not manage the activity")
    return organizer


# ---- keyed ids ------------------------------------------------------------------------------------


def certificate_id(activity_id: str, badge_id: str) -> str:
    """Stable per learner and activity, unguessable without the key (verify URLs are public)."""
    digest = base64.b32encode(_mac("certificate", activity_id, badge_id)).decode().lower()
    return f"c{digest[:19]}"
