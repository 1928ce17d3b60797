"""The door scanner (/scanner) in a real Chromium on the local stack, at a phone's size (390×844) and a tablet's:
set up by the device link (the token leaves the address bar and stays on the device), the door kept across a
reload, a keyboard-wedge scanner's code + Enter answered on the device (welcome with the name, duplicate, not
on this device's list, wrong day, not a badge code), undo before and after the upload, the queue held offline
(the waiting count, a reload without a network served by the service worker, the queue intact), the backlog
posted once in batches of at most 500 on reconnect and the dashboard following, the QR decoder on a generated
badge code, the camera through Chromium's fake capture device, installability, and axe-core at each screen.

The stack's clock is fixed (`stack.set_clock`) while Chromium's is real: each page gets a clock inside the
activity (`page.clock`), which also lets a test skip the 5-second undo hold (`fast_forward`)."""

from __future__ import annotations

import base64
import io
import re
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from browser_support import LAUNCH_ARGS, PHONE
from builders import at, roster_rows, worked_example_activity
from stack_support import Api, http, new_activity_id

pytestmark = pytest.mark.browser

DOORS_OPEN = datetime.fromisoformat(at("08:03"))
TABLET = {"viewport": {"width": 768, "height": 1024}, "has_touch": True, "locale": "en-US"}
FAKE_CAMERA_ARGS = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


@pytest.fixture
def meeting(stack: Any) -> Iterator[dict[str, str]]:
    """An activity with the worked example's agenda and roster, and a scanner device of its own."""
    api = Api(stack)
    activity_id = new_activity_id()
    stack.set_clock(datetime.fromisoformat(at("07:00")))
    assert api.put_activity(activity_id, worked_example_activity()).status == 201
    assert api.post_roster(activity_id, roster_rows()).status == 200
    reply = http(
        "POST", f"{stack.api_url}/activities/{activity_id}/devices", body={"label": "Hall-A"}, token=api.organizer
    )
    assert reply.status == 201, reply.body
    # Scans are dated by the device's clock (08:03 on the page); the server accepts them from then on.
    stack.set_clock(datetime.fromisoformat(at("08:10")))
    yield {"activity_id": activity_id, **reply.json}


def _link(stack: Any, token: str, activity_id: str = "") -> str:
    return f"{stack.api_url}/scanner#device={token}" + (f"&activity={activity_id}" if activity_id else "")


def _open(page: Any, url: str, moment: datetime = DOORS_OPEN) -> None:
    page.clock.install(time=moment)
    page.goto(url)


def _choose_door(page: Any, expect: Any, room: str, direction: str = "Entry") -> None:
    expect(page.get_by_role("heading", name="Choose this door")).to_be_visible()
    page.get_by_role("radio", name=room, exact=True).check()
    page.get_by_role("radio", name=direction, exact=True).check()
    page.get_by_role("button", name="Start scanning").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{room} · {direction}")


def _wedge(page: Any, code: str) -> None:
    """What a USB or Bluetooth badge scanner does: type the code into whatever has focus, then Enter."""
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def _feedback(page: Any) -> Any:
    return page.locator("#feedback")


def _waiting(page: Any) -> Any:
    return page.locator("#waiting")


def _stored(activity_id: str, badge_id: str) -> list[Any]:
    from cme.adapters import store

    return store.scans_of(activity_id, badge_id)


def _no_sideways_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth"))


def _qr_png(text: str, scale: int = 8) -> bytes:
    import segno

    out = io.BytesIO()
    segno.make_qr(text, error="m").save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


# ---- at the door, online -------------------------------------------------------------------------------------


def test_a_phone_at_the_door_welcomes_warns_and_undoes(stack, meeting, phone, expect, shot, axe_check):  # type: ignore[no-untyped-def]
    page, activity_id = phone, meeting["activity_id"]

    # 1. The device link: the token moves to the device and leaves the address bar.
    _open(page, _link(stack, meeting["token"]))
    expect(page.get_by_role("heading", name="Choose this door")).to_be_visible()
    assert page.url == f"{stack.api_url}/scanner" and meeting["token"] not in page.url
    assert page.evaluate("localStorage.getItem('cme-scanner-device')") == meeting["token"]
    expect(page.locator("#door-activity")).to_have_text("Annual Scientific Assembly 2027 · Oct 14–16")
    expect(page.get_by_role("radio", name="Hall-A", exact=True)).to_have_accessible_description(
        "08:00 Sepsis update · 09:45 Antibiotic stewardship"
    )
    shot(page, "scanner-phone-1-choose-door")
    axe_check(page, "scanner-phone-choose-door")

    # 2. The door is chosen once and kept on the device, across a reload.
    _choose_door(page, expect, "Hall-A")
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Hall-A · Entry")
    expect(page.locator("#code")).to_be_focused()
    expect(page.locator("#setup-text")).to_contain_text("5 badges on this device")
    shot(page, "scanner-phone-2-ready")

    # 3. A keyboard-wedge scan: decided on the device, with the name from its list.
    _wedge(page, "B-1001")
    expect(_feedback(page)).to_have_class(re.compile(r"\bwelcome\b"))
    expect(page.locator("#feedback-title")).to_have_text("Welcome, Ana Pérez")
    expect(page.locator("#feedback-detail")).to_have_text("Entry · Hall-A · 08:03")
    assert int(_feedback(page).get_attribute("data-decided-in-ms") or "999") < 500
    expect(_waiting(page)).to_have_text("1")
    expect(page.locator("#code")).to_be_focused()  # ready for the next badge
    shot(page, "scanner-phone-3-welcome")
    axe_check(page, "scanner-phone-welcome")

    # 4. The same badge at this door and direction within 2 minutes: said so, not queued again.
    _wedge(page, "B-1001")
    expect(_feedback(page)).to_have_class(re.compile(r"\bduplicate\b"))
    expect(page.locator("#feedback-title")).to_have_text("Already scanned")
    expect(page.locator("#feedback-detail")).to_contain_text("Ana Pérez: entry recorded")
    expect(_waiting(page)).to_have_text("1")
    shot(page, "scanner-phone-4-duplicate")

    # 5. A badge not on the device's list: queued all the same, the server decides.
    _wedge(page, "B-9999")
    expect(_feedback(page)).to_have_class(re.compile(r"\bunknown\b"))
    expect(page.locator("#feedback-title")).to_have_text("Not on this device's list")
    expect(_waiting(page)).to_have_text("2")
    shot(page, "scanner-phone-5-unknown")
    axe_check(page, "scanner-phone-unknown")

    # 6. Not a badge code (a web address from some other QR code): refused here, nothing queued.
    _wedge(page, "https://example.org/?q=1")
    expect(_feedback(page)).to_have_class(re.compile(r"\binvalid\b"))
    expect(page.locator("#feedback-title")).to_have_text("Not a badge code")
    expect(_waiting(page)).to_have_text("2")

    # 7. Surrounding whitespace is the scanner's, not the code's; then undo within the hold.
    _wedge(page, "  B-1002\t")
    expect(page.locator("#feedback-title")).to_have_text("Welcome, Łukasz Żółć")
    expect(_waiting(page)).to_have_text("3")
    expect(page.get_by_role("button", name="Undo: Łukasz Żółć")).to_be_enabled()
    page.get_by_role("button", name="Undo: Łukasz Żółć").click()
    expect(_feedback(page)).to_have_class(re.compile(r"\bundone\b"))
    expect(page.locator("#feedback-detail")).to_have_text("Łukasz Żółć: the entry at 08:03 was removed.")
    expect(_waiting(page)).to_have_text("2")
    expect(page.get_by_role("button", name="Undo last scan")).to_be_disabled()
    expect(page.locator("#code")).to_be_focused()
    shot(page, "scanner-phone-6-undone")

    # 8. The hold passes: the queue goes up; the server's different word on B-9999 is listed.
    page.clock.fast_forward("00:06")
    expect(_waiting(page)).to_have_text("0")
    expect(page.locator("#upload-text")).to_have_text("Last upload at 08:03.")
    differences = page.locator("#differences li")
    expect(differences).to_have_count(1)
    expect(differences.first).to_contain_text("Refused: not on the activity's roster")
    expect(differences.first).to_contain_text("Badge B-9999")

    # 9. Undo after the upload: already sent, nothing removed.
    _wedge(page, "B-1003")
    expect(page.locator("#feedback-title")).to_have_text("Welcome, Σοφία Παπαδοπούλου")
    page.clock.fast_forward("00:06")
    expect(_waiting(page)).to_have_text("0")
    page.get_by_role("button", name="Undo: Σοφία Παπαδοπούλου").click()
    expect(page.locator("#feedback-title")).to_have_text("Already sent")
    expect(page.get_by_role("button", name="Undo last scan")).to_be_disabled()
    shot(page, "scanner-phone-7-already-sent")

    # 10. Two minutes on, the same badge at the same door is a new scan again.
    page.clock.fast_forward("02:00")
    _wedge(page, "B-1001")
    expect(page.locator("#feedback-title")).to_have_text("Welcome, Ana Pérez")
    page.clock.fast_forward("00:06")
    expect(_waiting(page)).to_have_text("0")

    stack.settle()
    assert [(s.room, s.direction) for s in _stored(activity_id, "B-1001")] == [("Hall-A", "entry")] * 2
    assert _stored(activity_id, "B-1002") == []  # undone before it left the device
    assert len(_stored(activity_id, "B-1003")) == 1
    axe_check(page, "scanner-phone-after-uploads")


def test_a_scan_outside_the_activity_dates_is_the_wrong_day(stack, meeting, phone, expect, shot):  # type: ignore[no-untyped-def]
    """The day is the activity's, in its time zone: 22:00 in Chicago on Oct 13 is already Oct 14 in UTC."""
    page = phone
    _open(page, _link(stack, meeting["token"]), datetime.fromisoformat("2027-10-13T22:00:00-05:00"))
    _choose_door(page, expect, "Room-201", "Exit")
    _wedge(page, "B-1004")
    expect(_feedback(page)).to_have_class(re.compile(r"\bwrong_day\b"))
    expect(page.locator("#feedback-title")).to_have_text("Wrong day")
    expect(page.locator("#feedback-detail")).to_have_text(
        "Today (Oct 13) is outside this activity's dates, Oct 14–16. Nothing was recorded; check this device's date."
    )
    expect(_waiting(page)).to_have_text("0")
    expect(page.get_by_role("button", name="Undo last scan")).to_be_disabled()
    shot(page, "scanner-phone-wrong-day")


def test_a_tablet_at_the_door(stack, meeting, browser, expect, shot, axe_check):  # type: ignore[no-untyped-def]
    context = browser.new_context(**TABLET)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        _open(page, _link(stack, meeting["token"]))
        _choose_door(page, expect, "Room-201", "Exit")
        _wedge(page, "B-1004")
        expect(page.locator("#feedback-title")).to_have_text("Goodbye, Dmitri Ivanov")
        expect(page.locator("#feedback-detail")).to_have_text("Exit · Room-201 · 08:03")
        assert _no_sideways_scroll(page)
        shot(page, "scanner-tablet-goodbye")
        axe_check(page, "scanner-tablet-goodbye")
    finally:
        context.close()
    assert not errors, errors


def test_a_revoked_or_unknown_device_is_told_what_to_do(stack, meeting, phone, expect, shot):  # type: ignore[no-untyped-def]
    page = phone
    _open(page, _link(stack, "dev_not-a-real-token"))
    expect(page.locator("#notice")).to_have_text(
        "This device link is not known to the server. Ask the organizer for a new device link."
    )
    expect(page.get_by_role("heading", name="Set up this device")).to_be_visible()
    expect(page.locator("#net-text")).to_have_text("Device refused")
    shot(page, "scanner-phone-unknown-device")

    # A pasted link replaces it; then the organizer revokes that device.
    page.get_by_label("Device link or token").fill(_link(stack, meeting["token"]))
    page.get_by_role("button", name="Use this device link").click()
    _choose_door(page, expect, "Hall-A")
    expect(page.locator("#notice")).to_be_empty()
    revoked = http(
        "DELETE",
        f"{stack.api_url}/activities/{meeting['activity_id']}/devices/{meeting['device_id']}",
        token=stack.organizer_token,
    )
    assert revoked.status == 200
    from cme.service import scans as scan_service

    scan_service._device.cache_clear()  # a warm container re-reads the token within CACHE_SECONDS
    _wedge(page, "B-1001")  # still decided at the door; it waits on the device
    expect(page.locator("#feedback-title")).to_have_text("Welcome, Ana Pérez")
    page.clock.fast_forward("00:06")
    expect(page.locator("#notice")).to_contain_text("The organizer revoked this device")
    # A revoked device (lost, perhaps) keeps no names; the scan itself waits for a new device link.
    expect(page.get_by_role("heading", name="Set up this device")).to_be_visible()
    expect(page.locator("#scan-view")).to_be_hidden()
    expect(page.locator("#link-queue")).to_have_text(
        "1 scan is waiting on this device; it goes up once a new device link is opened."
    )
    assert [scan["name"] for scan in page.evaluate("window.cmeScanner.queue()")] == [""]
    assert page.evaluate("localStorage.getItem('cme-scanner-door')") is not None
    shot(page, "scanner-phone-revoked")
    assert _stored(meeting["activity_id"], "B-1001") == []

    replacement = http(
        "POST", f"{stack.api_url}/activities/{meeting['activity_id']}/devices", body={}, token=stack.organizer_token
    ).json
    page.get_by_label("Device link or token").fill(replacement["token"])
    page.get_by_role("button", name="Use this device link").click()
    _choose_door(page, expect, "Hall-A")
    expect(page.locator("#notice")).to_be_empty()
    expect(_waiting(page)).to_have_text("0")
    [stored] = _stored(meeting["activity_id"], "B-1001")
    assert stored.room == "Hall-A"


# ---- offline ----------------------------------------------------------------------------------------------------


def test_offline_scans_wait_survive_a_reload_and_go_up_once(stack, meeting, phone, expect, shot, axe_check):  # type: ignore[no-untyped-def]
    """The local stack's token serves every activity: its link names the activity."""
    page, activity_id = phone, meeting["activity_id"]
    posts: list[dict[str, Any]] = []
    page.on(
        "request",
        lambda request: (
            posts.append(request.post_data_json)
            if request.method == "POST" and request.url.endswith("/scans")
            else None
        ),
    )
    _open(page, _link(stack, stack.scanner_token, activity_id))
    _choose_door(page, expect, "Hall-A")
    # The service worker has the shell and controls the page before the network goes.
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")

    page.context.set_offline(True)
    expect(page.locator("#net-text")).to_have_text("Offline")
    _wedge(page, "B-1001")
    expect(page.locator("#feedback-title")).to_have_text("Welcome, Ana Pérez")
    _wedge(page, "B-1002")
    _wedge(page, "B-9999")
    expect(_waiting(page)).to_have_text("3")
    # A long outage: 500 more badges (not on this device's list), so the backlog needs two uploads.
    page.evaluate(
        """() => {
             const box = document.getElementById("code"), form = document.getElementById("code-form");
             for (let i = 1; i <= 500; i++) { box.value = "X-" + String(i).padStart(4, "0"); form.requestSubmit(); }
           }"""
    )
    expect(_waiting(page)).to_have_text("503")
    page.clock.fast_forward("00:06")  # past the hold: still nothing can go
    expect(page.locator("#upload-text")).to_contain_text("Scans are kept on this device")
    assert posts == []
    shot(page, "scanner-phone-offline-queue")
    axe_check(page, "scanner-phone-offline")

    # A reload without any network: the service worker serves the page; the queue and the names are on the device.
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Hall-A · Entry")
    expect(_waiting(page)).to_have_text("503")
    expect(page.locator("#net-text")).to_have_text("Offline")
    _wedge(page, "B-1003")
    expect(page.locator("#feedback-title")).to_have_text("Welcome, Σοφία Παπαδοπούλου")
    _wedge(page, "B-1001")  # scanned before the reload, within 2 minutes: still a duplicate
    expect(page.locator("#feedback-title")).to_have_text("Already scanned")
    expect(_waiting(page)).to_have_text("504")
    shot(page, "scanner-phone-offline-reloaded")
    queued = {scan["scan_id"]: scan for scan in page.evaluate("window.cmeScanner.queue()")}
    assert len(queued) == 504
    for scan in queued.values():
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", scan["scan_id"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", scan["scanned_at"])
        assert (scan["room"], scan["direction"], scan["device_id"]) == ("Hall-A", "entry", "local-scanner")

    # Back online: the backlog goes up in batches of at most 500, each scan exactly once.
    page.clock.fast_forward("00:06")
    page.context.set_offline(False)
    expect(page.locator("#net-text")).to_have_text("Online")
    expect(_waiting(page)).to_have_text("0")
    assert sorted(len(body["scans"]) for body in posts) == [4, 500]
    sent = [scan["scan_id"] for body in posts for scan in body["scans"]]
    assert len(sent) == len(set(sent)) == 504 and set(sent) == set(queued)
    assert all(body["activity_id"] == activity_id for body in posts)
    expect(page.locator("#differences li")).to_have_count(5)  # a small list: the newest of 501 refusals
    expect(page.locator("#differences-count")).to_have_text("The newest 5 of 501.")
    expect(page.locator("#differences li").first).to_contain_text("Badge X-0500")
    expect(page.locator("#differences li").first).to_contain_text("Refused: not on the activity's roster")
    shot(page, "scanner-phone-back-online")

    stack.settle()
    for badge in ("B-1001", "B-1002", "B-1003"):
        stored = _stored(activity_id, badge)
        assert len(stored) == 1 and stored[0].scan_id in queued, badge  # stored once, under the device's scan_id
    assert _stored(activity_id, "B-9999") == []
    dashboard = Api(stack).dashboard(activity_id)
    assert dashboard["totals"]["checked_in"] == 3
    assert next(s for s in dashboard["sessions"] if s["session_id"] == "S1")["checked_in"] == 3


# ---- the camera ---------------------------------------------------------------------------------------------------


def test_the_decoder_reads_a_badge_code_drawn_on_a_canvas(stack, meeting, phone, expect):  # type: ignore[no-untyped-def]
    page = phone
    _open(page, _link(stack, meeting["token"]))
    _choose_door(page, expect, "Hall-A")
    badge = "data:image/png;base64," + base64.b64encode(_qr_png("B-1001")).decode()
    blank = "data:image/png;base64," + base64.b64encode(_blank_png()).decode()
    decoded = page.evaluate(
        """async ([badge, blank]) => {
             const load = (src) => new Promise((ok, fail) => {
               const img = new Image(); img.onload = () => ok(img); img.onerror = fail; img.src = src; });
             const canvas = document.createElement("canvas");
             const img = await load(badge);
             canvas.width = img.width + 80; canvas.height = img.height + 40;
             const g = canvas.getContext("2d");
             g.fillStyle = "#fff"; g.fillRect(0, 0, canvas.width, canvas.height);
             g.drawImage(img, 50, 20);
             return [await window.cmeScanner.decode(canvas, {decoder: "jsqr"}),
                     await window.cmeScanner.decode(await load(blank), {decoder: "jsqr"}),
                     await window.cmeScanner.decode(canvas)];
           }""",
        [badge, blank],
    )
    assert decoded == ["B-1001", None, "B-1001"]


def _blank_png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (200, 200), "white").save(out, format="PNG")
    return out.getvalue()


def _y4m_of_badge(path: Path, code: str) -> Path:
    """A one-frame Y4M video (Chromium's fake camera loops it) of a badge's QR code on a grey background."""
    from PIL import Image

    width, height = 640, 480
    frame = Image.new("RGB", (width, height), (200, 200, 200))
    qr = Image.open(io.BytesIO(_qr_png(code, scale=9))).convert("RGB")
    frame.paste(qr, ((width - qr.width) // 2, (height - qr.height) // 2))
    y, cb, cr = frame.convert("YCbCr").split()
    half = (width // 2, height // 2)
    data = b"".join([y.tobytes(), cb.resize(half).tobytes(), cr.resize(half).tobytes()])
    path.write_bytes(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode() + b"FRAME\n" + data)
    return path


def test_the_camera_reads_a_badge_held_up_to_it(stack, meeting, playwright, chromium_path, expect, shot):  # type: ignore[no-untyped-def]
    """Chromium's fake camera plays a video of a badge's QR code; the page decodes it like a real camera's."""
    with tempfile.TemporaryDirectory() as folder:
        video = _y4m_of_badge(Path(folder) / "badge.y4m", "B-1002")
        args = [*LAUNCH_ARGS, *FAKE_CAMERA_ARGS, f"--use-file-for-fake-video-capture={video}"]
        camera_browser = playwright.chromium.launch(executable_path=chromium_path, args=args, headless=True)
        try:
            context = camera_browser.new_context(**PHONE)
            context.grant_permissions(["camera"], origin=stack.api_url)
            context.set_default_timeout(15_000)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            _open(page, _link(stack, meeting["token"]))
            _choose_door(page, expect, "Hall-A")
            assert page.evaluate("document.getElementById('camera-box').hidden") is True  # only on a button press
            page.get_by_role("button", name="Scan with camera").click()
            expect(page.locator("#camera-box")).to_be_visible()
            expect(page.locator("#feedback-title")).to_have_text("Welcome, Łukasz Żółć")
            page.wait_for_timeout(1000)  # the badge stays in front of the camera: one scan, not one per frame
            expect(_waiting(page)).to_have_text("1")
            shot(page, "scanner-phone-camera")
            page.get_by_role("button", name="Stop camera").click()
            expect(page.locator("#camera-box")).to_be_hidden()
            assert page.evaluate("document.getElementById('preview').srcObject") is None
            assert not errors, errors
        finally:
            camera_browser.close()


# ---- installable --------------------------------------------------------------------------------------------------


def test_chromium_finds_the_scanner_installable(stack, playwright, chromium_path):  # type: ignore[no-untyped-def]
    """Chromium's own check (manifest, icon, service worker). A fresh context is off the record, which is never
    installable, so this one has a profile of its own."""
    with tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=chromium_path, args=LAUNCH_ARGS, headless=True
        )
        try:
            page = context.new_page()
            page.goto(f"{stack.api_url}/scanner")
            page.wait_for_function("() => navigator.serviceWorker.controller !== null")
            cdp = context.new_cdp_session(page)
            assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
            manifest = cdp.send("Page.getAppManifest")
            assert manifest["errors"] == [] and manifest["url"].endswith("/scanner/manifest.webmanifest")
        finally:
            context.close()
