"""The organizer's live dashboard page: HTML shells that carry no data, and the script and stylesheet they
load from the same origin. The script signs in (Cognito's hosted UI, or a `#token=` fragment), then reads
the organizer API with the token, so these routes need no authorizer and never touch the store."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from cme.web.pages import env

STATIC = Path(__file__).resolve().parent / "static"

#: route name → (file under static/, content type)
ASSETS = {
    "app.js": ("organizer.js", "text/javascript; charset=utf-8"),
    "app.css": ("organizer.css", "text/css; charset=utf-8"),
}

View = Literal["home", "activity", "callback"]


@dataclass
class SignIn:
    """Cognito's hosted UI for organizers; the template sets these only when it has one (HasHostedUi).
    A dataclass: the public function, which serves this page, never imports pydantic."""

    #: https://<prefix>.auth.<region>.amazoncognito.com
    url: str = ""
    client_id: str = ""
    #: The callback URL registered on the user pool client (under PublicBaseUrl).
    callback_url: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.url and self.client_id and self.callback_url)

    @property
    def origin(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}" if parts.scheme == "https" and parts.netloc else ""


@cache
def sign_in() -> SignIn:
    """Read once per container, like `cme.config.settings`."""
    return SignIn(
        url=os.environ.get("ORGANIZER_SIGN_IN_URL", "").rstrip("/"),
        client_id=os.environ.get("ORGANIZER_CLIENT_ID", ""),
        callback_url=os.environ.get("ORGANIZER_CALLBACK_URL", ""),
    )


def page_headers(config: SignIn) -> dict[str, str]:
    """Scripts and styles from this origin only, nothing inline; the API and (when configured) Cognito's
    token endpoint are the only places the script may call. No Referer: the callback's URL holds a code."""
    connect = "'self'" + (f" {config.origin}" if config.enabled and config.origin else "")
    return {
        "Content-Type": "text/html; charset=utf-8",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": (
            f"default-src 'none'; script-src 'self'; style-src 'self'; connect-src {connect}; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        ),
    }


def shell(view: View, activity_id: str = "") -> str:
    """One of the page's three shells: the same document, told by `data-view` what the script should do."""
    config = sign_in()
    template = env().get_template("organizer.html")
    return template.render(
        view=view,
        activity_id=activity_id,
        sign_in=config if config.enabled else None,
    )


@cache
def _asset(name: str) -> tuple[bytes, str, str]:
    filename, kind = ASSETS[name]
    data = (STATIC / filename).read_bytes()
    return data, kind, '"' + hashlib.sha256(data).hexdigest()[:20] + '"'


def asset(name: str, if_none_match: str | None) -> tuple[int, str, dict[str, str]]:
    """(status, body, headers) of a static file: revalidated on every load (ETag), so a deploy never
    pairs a new shell with an old script."""
    data, kind, etag = _asset(name)
    headers = {"Content-Type": kind, "Cache-Control": "no-cache", "ETag": etag, "X-Content-Type-Options": "nosniff"}
    if if_none_match and etag in [tag.strip() for tag in if_none_match.split(",")]:
        return 304, "", headers
    return 200, data.decode("utf-8"), headers
