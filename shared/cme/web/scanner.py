"""The door scanner (`/scanner`): an installable web app for staff phones and handheld badge scanners. The
shell carries no data; the script reads the device's set-up with the device token it keeps, decides each scan
on the device and queues it offline. A service worker keeps the shell, so the page reloads without a network.
These routes need no authorizer and never touch the store."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

from cme.web.pages import env

STATIC = Path(__file__).resolve().parent / "static"

#: route name under /scanner/ → (file under static/, content type)
ASSETS = {
    "app.js": ("scanner.js", "text/javascript; charset=utf-8"),
    "app.css": ("scanner.css", "text/css; charset=utf-8"),
    # jsQR (Apache-2.0), copied from npm by `npm run vendor` (package.json): the camera's decoder where the
    # browser has no BarcodeDetector.
    "jsqr.js": ("jsQR.js", "text/javascript; charset=utf-8"),
    "manifest.webmanifest": ("scanner.webmanifest", "application/manifest+json"),
    "icon.svg": ("scanner.icon.svg", "image/svg+xml"),
}
#: The service worker lives at the root (`/scanner-sw.js`): a worker's scope can be no wider than its own
#: directory, and the page it serves is `/scanner` itself.
WORKER = "scanner.sw.js"
#: What the worker keeps for offline reloads: the shell and everything it loads.
SHELL_PATHS = ("/scanner", *(f"/scanner/{name}" for name in ASSETS))
VERSION_MARK = "__SHELL_VERSION__"
PATHS_MARK = "/*__SHELL_PATHS__*/"

PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    # The camera only for this origin, and only after a button press (the script asks then).
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
    # Nothing inline, nothing from elsewhere: the API, the worker and the manifest are same-origin; the camera
    # preview is a MediaStream and decoded frames stay in a canvas.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
        "media-src 'self' blob: mediastream:; connect-src 'self'; worker-src 'self'; manifest-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


@cache
def shell() -> str:
    """The page: the same document for every device (the token lives in the device, never in the page)."""
    return env().get_template("scanner.html").render()


@cache
def _file(filename: str) -> bytes:
    return (STATIC / filename).read_bytes()


@cache
def shell_version() -> str:
    """Changes with any byte of the shell, so a deploy that changes it installs a new worker, whose new cache
    replaces the old one whole (never a new page with an old script)."""
    digest = hashlib.sha256(shell().encode("utf-8"))
    for filename, _ in ASSETS.values():
        digest.update(_file(filename))
    return digest.hexdigest()[:16]


@cache
def _served(name: str) -> tuple[bytes, str, str]:
    if name == "sw.js":
        paths = ", ".join(json.dumps(path) for path in SHELL_PATHS)
        data = (
            _file(WORKER)
            .replace(VERSION_MARK.encode(), shell_version().encode())
            .replace(PATHS_MARK.encode(), paths.encode())
        )
        kind = "text/javascript; charset=utf-8"
    else:
        filename, kind = ASSETS[name]
        data = _file(filename)
    return data, kind, '"' + hashlib.sha256(data).hexdigest()[:20] + '"'


def asset(name: str, if_none_match: str | None) -> tuple[int, str, dict[str, str]]:
    """(status, body, headers) of a static file (`sw.js` for the worker): revalidated on every load (ETag).
    The worker's own policy lets it reach this origin only."""
    data, kind, etag = _served(name)
    headers = {"Content-Type": kind, "Cache-Control": "no-cache", "ETag": etag, "X-Content-Type-Options": "nosniff"}
    if name == "sw.js":
        headers["Content-Security-Policy"] = "default-src 'none'; connect-src 'self'"
    if if_none_match and etag in [tag.strip() for tag in if_none_match.split(",")]:
        return 304, "", headers
    return 200, data.decode("utf-8"), headers
