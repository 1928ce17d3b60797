"""The organizer's live dashboard page (/organizer/...) in a real Chromium, at a laptop's (1280×800) and a
tablet's (768×1024) size, on the local stack: opened with a `#token=` link, it follows scans posted by a
scanner device without a reload, ends a session through its confirm step, downloads reports, tells an
organizer of another activity that they do not manage this one, and passes axe-core. Screenshots of each
step go to out/test-artifacts/browser/."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from builders import answers, at, roster_rows, scan, worked_example_activity
from stack_support import Api, http, new_activity_id

pytestmark = pytest.mark.browser

SCREENS: dict[str, dict[str, Any]] = {
    "laptop": {"viewport": {"width": 1280, "height": 800}, "locale": "en-US"},
    "tablet": {"viewport": {"width": 768, "height": 1024}, "has_touch": True, "locale": "en-US"},
}
UPDATED = re.compile(r"^updated \d\d:\d\d:\d\d$")


@dataclass
class Screen:
    name: str
    page: Any


@pytest.fixture(params=list(SCREENS))
def screen(request: pytest.FixtureRequest, browser: Any, artifacts_dir: Any) -> Iterator[Screen]:
    """A fresh page at the laptop's or the tablet's size; uncaught script errors fail the test."""
    context = browser.new_context(**SCREENS[request.param], accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield Screen(request.param, page)
    if errors:
        page.screenshot(path=str(artifacts_dir / f"FAILED-organizer-{request.param}.png"), full_page=True)
    context.close()
    assert not errors, f"uncaught JavaScript errors: {errors}"


def _page_url(stack: Any, activity_id: str, token: str) -> str:
    return f"{stack.api_url}/organizer/activities/{activity_id}#token={token}"


def _tile(page: Any, key: str) -> Any:
    return page.locator(f'#totals li[data-key="{key}"] .value')


def _row(page: Any, session_id: str) -> Any:
    return page.locator(f'#sessions tr[data-session="{session_id}"]')


def _device_token(stack: Any, activity_id: str) -> str:
    reply = http(
        "POST",
        f"{stack.api_url}/activities/{activity_id}/devices",
        body={"label": "door Hall-A"},
        token=stack.organizer_token,
    )
    assert reply.status == 201, reply.body
    return str(reply.json["token"])


def _no_sideways_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth"))


def test_live_counts_follow_scans_end_a_session_and_download_a_report(stack, screen, expect, shot, axe_check):  # type: ignore[no-untyped-def]
    page, name = screen.page, f"organizer-{screen.name}"
    api = Api(stack)
    activity_id = new_activity_id()
    stack.set_clock(datetime.fromisoformat(at("07:00")))
    assert api.put_activity(activity_id, worked_example_activity()).status == 201
    assert api.post_roster(activity_id, roster_rows()).status == 200
    device = _device_token(stack, activity_id)
    stack.settle()  # the live counts follow the table's stream

    # 1. Opened with the token in the fragment: the token moves to the tab and leaves the address bar.
    page.goto(_page_url(stack, activity_id, stack.organizer_token))
    expect(page.locator("#updated-text")).to_have_text(UPDATED)
    assert stack.organizer_token not in page.url and page.url.endswith(f"/organizer/activities/{activity_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Annual Scientific Assembly 2027")
    expect(_tile(page, "registered")).to_have_text("5")
    expect(_tile(page, "checked_in")).to_have_text("0")
    expect(_row(page, "S1")).to_contain_text("Sepsis update")
    expect(_row(page, "S1")).to_contain_text("Hall-A")
    expect(_row(page, "S1")).to_contain_text("08:00–09:30")  # in the activity's time zone
    expect(page.locator("#checkins .empty")).to_be_visible()  # no check-ins yet (or no series from this server)
    assert _no_sideways_scroll(page)
    shot(page, f"{name}-1-opened")

    # 2. Scans from a scanner device: the numbers change on the page, without a reload.
    page.evaluate("window.__same_document = true")
    stack.set_clock(datetime.fromisoformat(at("08:10")))
    scans = [scan("d-1", "B-1001", "Hall-A", "08:05"), scan("d-2", "B-1002", "Hall-A", "08:07")]
    reply = http("POST", f"{stack.api_url}/scans", body={"scans": scans}, token=device)
    assert [r["status"] for r in reply.json["results"]] == ["accepted", "accepted"], reply.body
    stack.settle()
    expect(_tile(page, "checked_in")).to_have_text("2")
    expect(_tile(page, "inside_now")).to_have_text("2")
    cells = _row(page, "S1").locator("td")
    expect(cells.nth(0)).to_have_text("2")  # inside now
    expect(cells.nth(1)).to_have_text("2")  # checked in
    expect(cells.nth(2)).to_have_text("No")  # finalized
    assert page.evaluate("window.__same_document") is True  # updated in place, never reloaded
    if api.dashboard(activity_id).get("checkins_over_time"):
        expect(page.locator("#checkins svg")).to_have_attribute("aria-label", re.compile(r"^Check-ins over time: 2 "))
    expect(page.locator("#funnel svg")).to_have_attribute("aria-label", re.compile(r"^Claim funnel: Checked in 2,"))
    shot(page, f"{name}-2-after-scans")

    # 3. End S1: a confirm step, then the API's 202, then the row turns finalized once the pipeline ran.
    row = _row(page, "S1")
    row.get_by_role("button", name=re.compile("^End session")).click()
    expect(row.get_by_role("button", name="Yes, end it")).to_be_focused()
    shot(page, f"{name}-3-confirm-end")
    row.get_by_role("button", name="Yes, end it").click()
    expect(page.locator("#action-status")).to_contain_text("accepted (202)")
    stack.settle()
    expect(cells.nth(2)).to_have_text("Yes")
    expect(cells.nth(5)).to_have_text("Ended")
    expect(cells.nth(3)).to_contain_text("AMA PRA 1")  # claimable credit, now that attendance is final
    expect(_row(page, "S2").locator("td").nth(2)).to_have_text("No")
    shot(page, f"{name}-4-session-ended")

    # 4. A report: fetched with the token and saved from a Blob; it parses, with S1's attendance in it.
    with page.expect_download() as info:
        page.get_by_role("button", name="Download attendance.csv").click()
    download = info.value
    assert download.suggested_filename == f"{activity_id}-attendance.csv"
    text = download.path().read_bytes().decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    header, body = table[0], table[1:]
    attended = {(r[header.index("badge_id")], r[header.index("session_id")]) for r in body}
    assert {("B-1001", "S1"), ("B-1002", "S1")} <= attended, table
    expect(page.locator("#report-status")).to_have_text("attendance.csv downloaded.")

    # A report the activity cannot have (no ACPE credit offered) is refused: the page shows the server's message.
    missing = http("GET", f"{stack.api_url}/activities/{activity_id}/reports/cpe-monitor.csv", token=api.organizer)
    assert missing.status == 409, missing.body
    page.get_by_role("button", name="Download cpe-monitor.csv").click()
    expect(page.locator("#report-status")).to_have_text(f"cpe-monitor.csv: {missing.json['error']['message']}")
    shot(page, f"{name}-5-reports")
    assert _no_sideways_scroll(page)
    axe_check(page, f"{name}-dashboard")


def test_a_report_prepared_as_a_job_is_followed_to_the_file(stack, browser, expect):  # type: ignore[no-untyped-def]
    """contract.md: a large report may answer 202 {job_id, status_url}; the page asks the status URL
    (with its token) until the file is there. The job routes are simulated here."""
    api = Api(stack)
    activity_id = new_activity_id()
    assert api.put_activity(activity_id, worked_example_activity()).status == 201
    context = browser.new_context(**SCREENS["laptop"], accept_downloads=True)
    page = context.new_page()
    asked: list[str | None] = []

    def report(route: Any) -> None:
        route.fulfill(
            status=202,
            content_type="application/json",
            body=json.dumps({"job_id": "job-1", "status_url": f"/activities/{activity_id}/jobs/job-1"}),
        )

    def status(route: Any) -> None:
        asked.append(route.request.headers.get("authorization"))
        if len(asked) == 1:
            route.fulfill(status=200, content_type="application/json", body='{"status": "running"}')
        else:
            route.fulfill(status=200, content_type="application/zip", body=b"PK\x05\x06" + bytes(18))

    page.route(f"**/activities/{activity_id}/reports/post-event.zip", report)
    page.route(f"**/activities/{activity_id}/jobs/job-1", status)
    try:
        page.goto(_page_url(stack, activity_id, stack.organizer_token))
        expect(page.locator("#updated-text")).to_have_text(UPDATED)
        with page.expect_download(timeout=20_000) as info:
            page.get_by_role("button", name="Download post-event.zip").click()
        assert info.value.path().read_bytes() == b"PK\x05\x06" + bytes(18)
        assert asked == [f"Bearer {stack.organizer_token}"] * 2
        expect(page.locator("#report-status")).to_have_text("post-event.zip downloaded.")
    finally:
        context.close()


def test_an_organizer_of_another_activity_sees_that_they_do_not_manage_it(stack, screen, expect, shot, axe_check):  # type: ignore[no-untyped-def]
    page, name = screen.page, f"organizer-{screen.name}"
    api = Api(stack)
    activity_id = new_activity_id()
    assert api.put_activity(activity_id, worked_example_activity()).status == 201
    elsewhere = stack.authorizer.issue("organizer-elsewhere", activities="another-meeting")

    page.goto(_page_url(stack, activity_id, elsewhere))
    expect(page.locator("#notice")).to_contain_text("You do not manage this activity")
    expect(page.locator("#updated-text")).to_have_text("No access")
    expect(page.locator("#board")).to_be_hidden()
    expect(page.get_by_role("link", name="Open another activity")).to_be_visible()
    shot(page, f"{name}-6-not-yours")
    axe_check(page, f"{name}-not-yours")

    # The organizer page lists the activities that token manages.
    page.get_by_role("link", name="Open another activity").click()
    expect(page.get_by_role("link", name="another-meeting")).to_have_attribute(
        "href", "/organizer/activities/another-meeting"
    )


def test_a_lost_connection_shows_stale_numbers_then_recovers(stack, laptop, expect, shot):  # type: ignore[no-untyped-def]
    api = Api(stack)
    activity_id = new_activity_id()
    assert api.put_activity(activity_id, worked_example_activity()).status == 201
    stack.settle()
    laptop.goto(_page_url(stack, activity_id, stack.organizer_token))
    expect(laptop.locator("#updated-text")).to_have_text(UPDATED)

    laptop.route("**/dashboard", lambda route: route.abort())
    expect(laptop.locator("#updated-text")).to_have_text(re.compile(r"^updated \d\d:\d\d:\d\d \(stale\)$"))
    expect(laptop.locator("#notice")).to_contain_text("Connection lost: these numbers are from")
    expect(laptop.locator("#board")).to_have_class("stale")
    shot(laptop, "organizer-laptop-9-stale")

    laptop.unroute("**/dashboard")
    expect(laptop.locator("#updated-text")).to_have_text(UPDATED)
    expect(laptop.locator("#notice")).to_have_text("")


def test_a_token_the_api_refuses_asks_to_sign_in_again(stack, laptop, expect, shot, axe_check):  # type: ignore[no-untyped-def]
    laptop.goto(_page_url(stack, "any-meeting", "not.a.token"))
    expect(laptop.locator("#notice")).to_contain_text("Please sign in again")
    expect(laptop.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(laptop.locator("#account-text")).to_have_text("Not signed in")
    assert laptop.evaluate("sessionStorage.length") == 0  # the refused token is forgotten
    shot(laptop, "organizer-laptop-7-sign-in-again")
    axe_check(laptop, "organizer-laptop-sign-in-again")


def test_hosted_ui_sign_in_with_pkce_returns_to_the_dashboard(stack, laptop, expect, monkeypatch):  # type: ignore[no-untyped-def]
    """Cognito's hosted UI (simulated at its own origin): the page sends a S256 code challenge, the callback
    exchanges the code with the matching verifier, keeps the ID token and goes back to the dashboard."""
    from cme.web import organizer

    cognito = "https://organizers.auth.us-east-1.amazoncognito.com"
    monkeypatch.setenv("ORGANIZER_SIGN_IN_URL", cognito)
    monkeypatch.setenv("ORGANIZER_CLIENT_ID", "organizer-client")
    monkeypatch.setenv("ORGANIZER_CALLBACK_URL", f"{stack.api_url}/organizer/callback")
    organizer.sign_in.cache_clear()
    api = Api(stack)
    activity_id = new_activity_id()
    assert api.put_activity(activity_id, worked_example_activity()).status == 201
    seen: dict[str, Any] = {}

    def authorize(route: Any) -> None:
        query = dict(parse_qsl(urlsplit(route.request.url).query))
        seen["authorize"] = query
        back = f"{query['redirect_uri']}?code=the-code&state={query['state']}"
        route.fulfill(status=302, headers={"Location": back})

    def token(route: Any) -> None:
        form = dict(parse_qsl(route.request.post_data or ""))
        seen["token"] = form
        digest = hashlib.sha256(form["code_verifier"].encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        ok = challenge == seen["authorize"]["code_challenge"] and form["code"] == "the-code"
        route.fulfill(
            status=200 if ok else 400,
            headers={"Access-Control-Allow-Origin": stack.api_url},
            content_type="application/json",
            body=json.dumps({"id_token": stack.organizer_token, "token_type": "Bearer"} if ok else {"error": "bad"}),
        )

    laptop.context.route(f"{cognito}/oauth2/authorize*", authorize)
    laptop.context.route(f"{cognito}/oauth2/token", token)
    try:
        laptop.goto(f"{stack.api_url}/organizer/activities/{activity_id}")
        expect(laptop.locator("#updated-text")).to_have_text("Not signed in")
        laptop.get_by_role("button", name="Sign in", exact=True).click()
        expect(laptop.locator("#updated-text")).to_have_text(UPDATED)
        assert laptop.url == f"{stack.api_url}/organizer/activities/{activity_id}"  # no code left in the address
        authorize_query = seen["authorize"]
        assert authorize_query["client_id"] == "organizer-client" and authorize_query["response_type"] == "code"
        assert authorize_query["code_challenge_method"] == "S256"
        assert authorize_query["redirect_uri"] == f"{stack.api_url}/organizer/callback"
        assert seen["token"]["grant_type"] == "authorization_code"
        assert seen["token"]["redirect_uri"] == authorize_query["redirect_uri"]
        expect(laptop.locator("#account-text")).to_have_text(re.compile(r"^Signed in"))
    finally:
        organizer.sign_in.cache_clear()


def test_the_organizer_page_picks_an_activity_and_the_old_local_link_still_works(
    stack, laptop, expect, shot, axe_check
):  # type: ignore[no-untyped-def]
    api = Api(stack)
    activity_id = new_activity_id()
    assert api.put_activity(activity_id, worked_example_activity()).status == 201

    # The stack's token lasts a week: its expiry shows with its date; a token for today shows the time only.
    laptop.goto(f"{stack.api_url}/organizer/#token={stack.organizer_token}")
    expect(laptop.locator("#account-text")).to_have_text(re.compile(r"^Signed in until \d{1,2} \w{3} \d\d:\d\d$"))
    laptop.goto("about:blank")  # (a new fragment alone would not load the page again)
    laptop.goto(f"{stack.api_url}/organizer/#token={stack.authorizer.issue('local-organizer', ttl=60)}")
    soon = datetime.now() + timedelta(seconds=60)  # the browser runs in this machine's time zone
    today = soon.date() == datetime.now().date()
    shown = r"^Signed in until \d\d:\d\d$" if today else r"^Signed in until \d{1,2} \w{3} \d\d:\d\d$"
    expect(laptop.locator("#account-text")).to_have_text(re.compile(shown))
    expect(laptop.get_by_text("You may open any activity.")).to_be_visible()
    shot(laptop, "organizer-laptop-0-home")
    axe_check(laptop, "organizer-laptop-home")
    laptop.get_by_label("Activity id").fill(activity_id)
    laptop.get_by_role("button", name="Open dashboard").click()
    expect(laptop.locator("#updated-text")).to_have_text(UPDATED)
    assert laptop.url == f"{stack.api_url}/organizer/activities/{activity_id}"

    # The local stack's former dashboard link lands on this page with its activity and token.
    fresh = laptop.context.browser.new_context(**SCREENS["laptop"])
    try:
        other = fresh.new_page()
        other.goto(f"{stack.api_url}/_local/dashboard#activity={activity_id}&token={stack.organizer_token}")
        expect(other.locator("#updated-text")).to_have_text(UPDATED)
        assert other.url == f"{stack.api_url}/organizer/activities/{activity_id}"
    finally:
        fresh.close()

    # Signing out forgets the token.
    laptop.get_by_role("button", name="Sign out").click()
    expect(laptop.get_by_role("heading", name="Sign in")).to_be_visible()
    assert laptop.evaluate("sessionStorage.length") == 0


@dataclass(frozen=True)
class Certified:
    """B-1001 attended, evaluated and got a certificate; B-1002 only checked in; every session ended."""

    activity_id: str
    totals: dict[str, Any]
    sessions: list[dict[str, Any]]


@pytest.fixture(scope="module")
def certified(stack) -> Certified:  # type: ignore[no-untyped-def]
    api = Api(stack)
    activity_id = new_activity_id()
    stack.set_clock(datetime.fromisoformat(at("07:00")))
    assert api.put_activity(activity_id, worked_example_activity()).status == 201
    assert api.post_roster(activity_id, roster_rows()).status == 200
    stack.set_clock(datetime.fromisoformat(at("12:10")))
    scans = [
        scan("v-1", "B-1001", "Hall-A", "07:50"),
        scan("v-2", "B-1001", "Room-201", "09:50"),
        scan("v-3", "B-1001", "Room-201", "12:05", direction="exit"),
        scan("v-4", "B-1002", "Hall-A", "08:10"),
    ]
    assert api.post_scans(activity_id, scans).status == 200
    stack.set_clock(datetime.fromisoformat(at("12:30")))  # past every session's end
    stack.settle()
    token = api.learner_token(activity_id, "B-1001")
    assert api.evaluate(token, {"answers": answers(), "attest": True}).status == 202
    stack.settle()
    board = api.dashboard(activity_id)
    assert board["totals"]["certificates_issued"] == 1, board
    return Certified(activity_id, board["totals"], board["sessions"])


def test_totals_funnel_and_sessions_match_the_api_after_a_certificate(
    stack, certified, screen, expect, shot, axe_check
):  # type: ignore[no-untyped-def]
    page, name, totals = screen.page, f"organizer-{screen.name}", certified.totals
    page.goto(_page_url(stack, certified.activity_id, stack.organizer_token))
    expect(page.locator("#updated-text")).to_have_text(UPDATED)
    expected = {
        "registered": "5",
        "checked_in": "2",
        "inside_now": str(totals["inside_now"]),
        "evaluations_submitted": "1",
        "learners_claimed": "1",
        "credits:AMA_PRA_1": f"{totals['credits_claimed']['AMA_PRA_1']:g}",
        "certificates_issued": "1",
        "emails_sent": str(totals["emails_sent"]),
        "emails_bounced": "0",
        "emails_to_resend": str(totals["emails_to_resend"]),
    }
    for key, value in expected.items():
        expect(_tile(page, key)).to_have_text(value)
    labels = page.locator("#totals .label").all_inner_texts()
    assert "AMA PRA Category 1 Credits™ claimed" in labels and "Mails to resend" in labels
    for session in certified.sessions:
        cells = _row(page, session["session_id"]).locator("td")
        expect(cells.nth(0)).to_have_text(str(session["inside_now"]))
        expect(cells.nth(1)).to_have_text(str(session["checked_in"]))
        expect(cells.nth(2)).to_have_text("Yes" if session["finalized"] else "No")
        expect(cells.nth(4)).to_have_text(str(session["evaluations_submitted"]))
    funnel = (
        "Claim funnel: Checked in 2, Evaluated 1 (50%), Claimed 1 (50%), Certificate 1 (50%), "
        f"Delivered {totals['emails_delivered']}"
    )
    expect(page.locator("#funnel svg")).to_have_attribute("aria-label", re.compile("^" + re.escape(funnel)))
    assert _no_sideways_scroll(page)
    shot(page, f"{name}-8-certified")
    axe_check(page, f"{name}-certified")


def test_door_scanners_are_added_with_a_link_and_code_and_revoked_from_the_page(stack, screen, expect, shot, axe_check):  # type: ignore[no-untyped-def]
    api = Api(stack)
    activity_id = new_activity_id()
    assert api.put_activity(activity_id, worked_example_activity()).status == 201
    page = screen.page
    page.goto(_page_url(stack, activity_id, stack.organizer_token))
    expect(page.locator("#updated-text")).to_have_text(UPDATED)

    page.get_by_label("Door", exact=True).fill("Hall A, main door")
    page.get_by_role("button", name="Add a door scanner").click()
    expect(page.locator("#device-status")).to_have_text("Scanner added for Hall A, main door.")
    expect(page.locator("#device-qr svg")).to_be_visible()
    link = page.locator("#device-link").get_attribute("href") or ""
    assert link.startswith(f"{stack.api_url}/scanner#device=dev_")
    token = link.split("#device=", 1)[1]
    # The code on the screen is that link: a phone camera at the door reads it.
    import PIL.Image
    import zxingcpp

    (decoded,) = zxingcpp.read_barcodes(PIL.Image.open(io.BytesIO(page.locator("#device-qr").screenshot())))
    assert decoded.text == link
    row = page.locator("#devices tr", has_text="Hall A, main door")
    expect(row).to_contain_text("Active")
    shot(page, f"organizer-{screen.name}-10-scanner-added")
    axe_check(page, f"organizer-{screen.name}-devices")
    # The link's token is a working scanner token for this activity...
    scans = {"activity_id": activity_id, "scans": [scan("d1", "B-1001", "Hall-A", "07:55")]}
    assert http("POST", f"{stack.api_url}/scans", body=scans, token=token).status == 200

    # ...until the organizer revokes it (after a confirm step).
    row.get_by_role("button", name="Revoke Hall A, main door").click()
    page.get_by_role("button", name="Revoke now").click()
    expect(page.locator("#device-status")).to_have_text(
        "Hall A, main door is revoked: its scans from now on are refused."
    )
    expect(page.locator("#devices tr", has_text="Hall A, main door")).to_contain_text("Revoked")
    shot(page, f"organizer-{screen.name}-11-scanner-revoked")
    from cme.service import scans as scan_service

    scan_service._device.cache_clear()  # a warm container re-reads the token within its cache time
    refused = http("POST", f"{stack.api_url}/scans", body=scans, token=token)
    assert refused.status == 403 and refused.json["error"]["code"] == "device_revoked"
