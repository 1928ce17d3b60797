"""The door scanner over HTTP on the local stack: the device-authenticated set-up (`GET /scanner/setup`: rooms,
sessions and badge names, nothing else personal; 401/403/404 like `POST /scans`; the local stack's token of
every activity with and without `?activity_id=`), and the installable page: shell headers (no inline script,
not cached, no Referer), the web app manifest, the service worker (type, scope, versioned shell list) and the
static files, the vendored QR decoder with its licence."""

from __future__ import annotations

import gzip
import json
import re
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from builders import at, roster_rows, worked_example_activity
from stack_support import csp_directives, http

ASSETS = {
    "/scanner/app.js": "text/javascript; charset=utf-8",
    "/scanner/app.css": "text/css; charset=utf-8",
    "/scanner/jsqr.js": "text/javascript; charset=utf-8",
    "/scanner/manifest.webmanifest": "application/manifest+json",
    "/scanner/icon.svg": "image/svg+xml",
    "/scanner-sw.js": "text/javascript; charset=utf-8",
}
PERSONAL_FIELDS = ("email", "birth_mmdd", "board_ids", "npi", "nabp_eprofile_id", "profession", "degree")


def _device(stack, activity_id: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    reply = http(
        "POST", f"{stack.api_url}/activities/{activity_id}/devices", body={"label": "door"}, token=stack.organizer_token
    )
    assert reply.status == 201, reply.body
    return dict(reply.json)


def _setup(stack, token: str | None, query: str = "", headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return http("GET", f"{stack.api_url}/scanner/setup{query}", token=token, headers=headers)


# ---- the set-up ------------------------------------------------------------------------------------------


def test_setup_gives_the_door_its_rooms_sessions_and_badge_names(stack, imported):  # type: ignore[no-untyped-def]
    device = _device(stack, imported)
    reply = _setup(stack, device["token"])
    assert reply.status == 200, reply.body
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.headers["Cache-Control"] == "no-store"
    body = reply.json
    assert set(body) == {"device_id", "activity", "rooms", "badges", "as_of"}
    assert body["device_id"] == device["device_id"]
    assert body["activity"] == {
        "activity_id": imported,
        "title": "Annual Scientific Assembly 2027",
        "timezone": "America/Chicago",
        "starts_on": "2027-10-14",
        "ends_on": "2027-10-16",
    }
    # Rooms in the order their first session starts; each room's sessions in time order.
    assert body["rooms"] == [
        {
            "room": "Hall-A",
            "sessions": [
                {"session_id": "S1", "title": "Sepsis update", "starts_at": at("08:00"), "ends_at": at("09:30")},
                {
                    "session_id": "S4",
                    "title": "Antibiotic stewardship",
                    "starts_at": at("09:45"),
                    "ends_at": at("10:45"),
                },
            ],
        },
        {
            "room": "Room-201",
            "sessions": [
                {
                    "session_id": "S2",
                    "title": "Heart failure in primary care",
                    "starts_at": at("09:45"),
                    "ends_at": at("12:00"),
                }
            ],
        },
    ]
    assert body["badges"] == [
        {"badge_id": "B-1001", "name": "Ana Pérez"},
        {"badge_id": "B-1002", "name": "Łukasz Żółć"},
        {"badge_id": "B-1003", "name": "Σοφία Παπαδοπούλου"},
        {"badge_id": "B-1004", "name": "Dmitri Ivanov"},
        {"badge_id": "F1", "name": "Grace Okafor"},
    ]
    assert datetime.fromisoformat(body["as_of"]) == datetime.fromisoformat(at("07:00"))


def test_setup_carries_nothing_personal_beyond_the_name(stack, imported):  # type: ignore[no-untyped-def]
    text = _setup(stack, _device(stack, imported)["token"]).body.decode()
    for field in PERSONAL_FIELDS:
        assert f'"{field}"' not in text, field
        for row in roster_rows():
            value = row.get(field)
            for part in value.values() if isinstance(value, dict) else [value]:
                if part and field not in ("profession", "degree"):  # words that may appear in a title
                    assert str(part) not in text, field
    assert "Dr." not in text and ", MD" not in text  # the name as the badge prints it, no title or degree


def test_setup_is_gzipped_for_a_device_that_accepts_it(stack, imported):  # type: ignore[no-untyped-def]
    token = _device(stack, imported)["token"]
    plain = _setup(stack, token).json
    zipped = _setup(stack, token, headers={"Accept-Encoding": "gzip"})
    assert zipped.status == 200 and zipped.headers.get("Content-Encoding") == "gzip"
    assert json.loads(gzip.decompress(zipped.body)) == plain


def test_a_token_bound_to_one_activity_takes_only_that_activity(stack, imported):  # type: ignore[no-untyped-def]
    token = _device(stack, imported)["token"]
    assert _setup(stack, token, f"?activity_id={imported}").status == 200
    other = _setup(stack, token, "?activity_id=another-meeting")
    assert other.status == 403 and other.json["error"]["code"] == "forbidden"


def test_the_local_token_of_every_activity_names_its_activity(stack, imported):  # type: ignore[no-untyped-def]
    without = _setup(stack, stack.scanner_token)
    assert without.status == 400 and "activity_id" in without.json["error"]["message"]
    reply = _setup(stack, stack.scanner_token, f"?activity_id={imported}")
    assert reply.status == 200, reply.body
    assert reply.json["device_id"] == "local-scanner" and reply.json["activity"]["activity_id"] == imported
    missing = _setup(stack, stack.scanner_token, "?activity_id=no-such-meeting")
    assert missing.status == 404 and missing.json["error"]["code"] == "not_found"
    for bad in ("?activity_id=a%20b", "?activity_id=" + "x" * 200, "?activity_id=%3Cscript%3E"):
        malformed = _setup(stack, stack.scanner_token, bad)
        assert malformed.status == 400 and malformed.json["error"]["code"] == "bad_request", bad


def test_unknown_and_revoked_devices_are_refused_like_scans(stack, imported):  # type: ignore[no-untyped-def]
    from cme.service import scans as scan_service

    assert _setup(stack, None).status == 401
    forged = _setup(stack, "dev_forged-token")
    assert forged.status == 401 and forged.json["error"]["code"] == "unauthorized"
    device = _device(stack, imported)
    revoke = http(
        "DELETE",
        f"{stack.api_url}/activities/{imported}/devices/{device['device_id']}",
        token=stack.organizer_token,
    )
    assert revoke.status == 200, revoke.body
    scan_service._device.cache_clear()  # a warm container re-reads the token within CACHE_SECONDS
    revoked = _setup(stack, device["token"])
    assert revoked.status == 403 and revoked.json["error"]["code"] == "device_revoked"


def test_an_activity_without_a_roster_or_agenda_still_sets_up(stack, api, activity_id):  # type: ignore[no-untyped-def]
    stack.set_clock(datetime.fromisoformat(at("07:00")))
    assert api.put_activity(activity_id, worked_example_activity(sessions=[])).status == 201
    reply = _setup(stack, stack.scanner_token, f"?activity_id={activity_id}")
    assert reply.status == 200 and reply.json["rooms"] == [] and reply.json["badges"] == []


# ---- the installable page ----------------------------------------------------------------------------------


def test_the_shell_is_html_with_strict_headers_and_no_inline_script(stack):  # type: ignore[no-untyped-def]
    reply = http("GET", f"{stack.api_url}/scanner")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
    assert reply.headers["Cache-Control"] == "no-store"
    assert reply.headers["Referrer-Policy"] == "no-referrer"
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert "camera=(self)" in reply.headers["Permissions-Policy"]
    csp = csp_directives(reply)
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
    assert csp["connect-src"] == ["'self'"] and csp["worker-src"] == ["'self'"] and csp["manifest-src"] == ["'self'"]
    assert set(csp["img-src"]) == {"'self'", "blob:", "data:"}
    assert csp["frame-ancestors"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    page = reply.body.decode()
    assert re.findall(r"<script\b[^>]*>", page) == ['<script src="/scanner/app.js" defer>']
    assert re.search(r"<script[^>]*>[^<]+</script>", page) is None
    assert re.search(r"\son[a-z]+\s*=", page) is None and "javascript:" not in page and "<style" not in page
    assert '<link rel="manifest" href="/scanner/manifest.webmanifest">' in page
    assert '<link rel="stylesheet" href="/scanner/app.css">' in page
    assert 'aria-live="assertive"' in page  # the door's verdict is announced


@pytest.mark.parametrize(("path", "kind"), list(ASSETS.items()))
def test_static_files_are_same_origin_typed_and_revalidated(stack, path, kind):  # type: ignore[no-untyped-def]
    reply = http("GET", stack.api_url + path)
    assert reply.status == 200, reply.body
    assert reply.headers["Content-Type"] == kind
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["Cache-Control"] == "no-cache"
    again = http("GET", stack.api_url + path, headers={"If-None-Match": reply.headers["ETag"]})
    assert again.status == 304 and again.body == b""


def test_the_manifest_makes_the_scanner_installable(stack):  # type: ignore[no-untyped-def]
    manifest = json.loads(http("GET", f"{stack.api_url}/scanner/manifest.webmanifest").body)
    assert manifest["name"] and manifest["short_name"]
    assert manifest["start_url"] == "/scanner" and manifest["scope"] == "/scanner" and manifest["id"] == "/scanner"
    assert manifest["display"] == "standalone"
    assert manifest["icons"]
    for icon in manifest["icons"]:
        reply = http("GET", stack.api_url + icon["src"])
        assert reply.status == 200 and reply.headers["Content-Type"] == icon["type"]
        assert icon["sizes"] == "any" and icon["type"] == "image/svg+xml"
        assert b'viewBox="0 0 512 512"' in reply.body  # square


def test_the_worker_is_served_at_the_root_with_the_versioned_shell(stack):  # type: ignore[no-untyped-def]
    """A worker's scope can be no wider than its directory: at /scanner-sw.js it may take /scanner itself."""
    reply = http("GET", f"{stack.api_url}/scanner-sw.js")
    assert reply.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert csp_directives(reply) == {"default-src": ["'none'"], "connect-src": ["'self'"]}
    script = reply.body.decode()
    assert "__SHELL_" not in script
    assert re.search(r'var VERSION = "[0-9a-f]{16}";', script)
    shell = json.loads("[" + re.search(r"var SHELL = \[(.*?)\];", script).group(1) + "]")
    assert shell[0] == "/scanner"
    assert set(shell) == {"/scanner", *(p for p in ASSETS if p.startswith("/scanner/"))}
    for path in shell:
        assert http("GET", stack.api_url + path).status == 200, path
    page_script = http("GET", f"{stack.api_url}/scanner/app.js").body.decode()
    assert 'register("/scanner-sw.js", { scope: "/scanner"' in page_script


def test_a_changed_shell_file_changes_the_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A deploy that changes any shell file is a new worker script, so its new cache replaces the old one."""
    from cme.web import scanner

    before = scanner.shell_version()
    static = tmp_path / "static"
    shutil.copytree(scanner.STATIC, static)
    (static / "scanner.css").write_text((static / "scanner.css").read_text() + "\n/* changed */\n")
    monkeypatch.setattr(scanner, "STATIC", static)
    for cached in (scanner._file, scanner.shell_version, scanner._served):
        cached.cache_clear()
    try:
        assert scanner.shell_version() != before
        assert scanner.shell_version().encode() in scanner._served("sw.js")[0]
    finally:
        monkeypatch.undo()
        for cached in (scanner._file, scanner.shell_version, scanner._served):
            cached.cache_clear()
    assert scanner.shell_version() == before


def test_the_vendored_qr_decoder_keeps_its_licence_and_is_gzipped(stack):  # type: ignore[no-untyped-def]
    reply = http("GET", f"{stack.api_url}/scanner/jsqr.js", headers={"Accept-Encoding": "gzip"})
    assert reply.headers.get("Content-Encoding") == "gzip"
    script = gzip.decompress(reply.body).decode()
    assert script.startswith("/*! jsQR 1.4.0 |") and "Apache License 2.0" in script.splitlines()[0]
    from cme.web import scanner

    licence = (scanner.STATIC / "jsQR.LICENSE.txt").read_text()
    assert "Apache License" in licence and "Version 2.0" in licence
    package = json.loads((Path(__file__).resolve().parents[2] / "package.json").read_text())
    assert package["dependencies"]["jsqr"] == "1.4.0"  # pinned: the committed copy is this version


def test_the_script_keeps_the_device_token_on_the_device(stack):  # type: ignore[no-untyped-def]
    script = http("GET", f"{stack.api_url}/scanner/app.js").body.decode()
    assert "localStorage" in script and "history.replaceState" in script  # the #device= fragment leaves the bar
    assert "document.cookie" not in script and "sessionStorage" not in script
    assert '"Bearer " + state.token' in script  # sent as a header, never in a URL
