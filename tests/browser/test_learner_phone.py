"""The physician's minute on a phone, in a real Chromium at 390×844: open the mailed link, read the
credit and why, fill in the evaluation (first with mistakes, then with one claim lowered), attest,
and see the certificate appear and download. Every page is checked with axe-core and photographed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from builders import at, roster_rows, scan, worked_example_activity
from stack_support import Api, new_activity_id

pytestmark = pytest.mark.browser

SCANS = [
    scan("p-1", "B-1001", "Hall-A", "07:50"),
    scan("p-2", "B-1001", "Room-201", "09:50"),
    scan("p-3", "B-1001", "Room-201", "12:05", direction="exit"),
]


@pytest.fixture
def learner_link(stack) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """(activity_id, the learner's magic link) after worked example 1 was attended and finalized."""
    api = Api(stack)
    activity_id = new_activity_id()
    stack.set_clock(datetime.fromisoformat(at("07:00")))
    assert api.put_activity(activity_id, worked_example_activity()).status == 201
    assert api.post_roster(activity_id, roster_rows()).status == 200
    stack.set_clock(datetime.fromisoformat(at("12:30")))
    assert api.post_scans(activity_id, SCANS).status == 200
    stack.settle()
    token = api.learner_token(activity_id, "B-1001")
    return activity_id, f"{stack.api_url}/l/{token}"


def _no_sideways_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth"))


def test_open_read_evaluate_with_a_lowered_claim_and_get_the_certificate(
    stack, learner_link, phone, shot, axe_check, expect
):  # type: ignore[no-untyped-def]
    _, link = learner_link
    sizes: list[int] = []
    phone.on("response", lambda response: sizes.append(len(response.body())) if response.status == 200 else None)

    # 1. The link signs in and leaves the address bar.
    phone.goto(link)
    assert phone.url == f"{stack.api_url}/l"
    assert sum(sizes) < 100_000  # the whole first view: one HTML document with its CSS inline
    expect(phone.get_by_role("heading", name="Annual Scientific Assembly 2027")).to_be_visible()
    expect(phone.get_by_text("Entered Hall-A 07:50 (counted from the 08:00 start)")).to_be_visible()
    expect(phone.get_by_role("heading", name="Next: the evaluation")).to_be_visible()
    assert _no_sideways_scroll(phone)
    shot(phone, "learner-1-credit")
    axe_check(phone, "learner-1-credit")

    # 2. The evaluation form.
    phone.get_by_role("link", name="Complete the evaluation").click()
    expect(phone.get_by_role("heading", name="Evaluation")).to_be_visible()
    assert phone.url == f"{stack.api_url}/l/evaluation"
    shot(phone, "learner-2-evaluation")
    axe_check(phone, "learner-2-evaluation")

    # 3. Submitted with mistakes: errors name the fields, inline and in a summary.
    phone.get_by_role("group", name="Was the content free of commercial bias?").get_by_role(
        "radio", name="No", exact=True
    ).check()
    phone.get_by_role("button", name="Submit and claim").click()
    alert = phone.get_by_role("alert")
    expect(alert).to_contain_text("Attestation: you must attest to the credit you claim")
    expect(alert).to_contain_text("Comment on")
    expect(
        phone.get_by_role("group", name="Was the content free of commercial bias?").get_by_role(
            "radio", name="No", exact=True
        )
    ).to_be_checked()
    shot(phone, "learner-3-errors")
    axe_check(phone, "learner-3-errors")

    # 4. Answered properly, one claim lowered, attested.
    for name, value in (
        ("answers.objectives_met", "5"),
        ("answers.commitment_to_change", "4"),
        ("answers.free_of_commercial_bias", "yes"),
        ("answers.overall_quality", "5"),
    ):
        phone.locator(f'input[name="{name}"][value="{value}"]').check()
    phone.locator('textarea[name="answers.practice_change"]').fill("Measure lactate earlier in suspected sepsis.")
    phone.get_by_label("Sepsis update").fill("1.25")
    phone.get_by_role("checkbox").check()
    phone.get_by_role("button", name="Submit and claim").click()
    expect(phone.get_by_role("status")).to_contain_text("evaluation and claim were received")
    expect(phone.get_by_role("heading", name="Your certificate is on its way")).to_be_visible()
    shot(phone, "learner-4-submitted")

    # 5. The pipeline issues the certificate; the page shows it (it also refreshes itself, without JS).
    stack.settle()
    phone.goto(f"{stack.api_url}/l")
    expect(phone.get_by_role("heading", name="All done")).to_be_visible()
    certificate = phone.get_by_role("region", name="Your certificate")
    expect(certificate).to_contain_text("3.25 AMA PRA Category 1 Credits™")
    shot(phone, "learner-5-certificate")
    axe_check(phone, "learner-5-certificate")
    download = phone.context.request.get(f"{stack.api_url}/l/certificate")
    assert download.ok and download.body().startswith(b"%PDF")
    verify_href = certificate.get_by_role("link", name="Check that it is genuine").get_attribute("href")
    assert verify_href and "/verify/" in verify_href and "version=1" in verify_href


def test_pages_hold_at_200_percent_zoom_and_without_a_session(stack, learner_link, browser, shot, axe_check, expect):  # type: ignore[no-untyped-def]
    _, link = learner_link
    # 200% zoom on a 390 px phone leaves 195 CSS px of width.
    context = browser.new_context(viewport={"width": 195, "height": 422}, device_scale_factor=4, is_mobile=True)
    page = context.new_page()
    try:
        page.goto(link)
        expect(page.get_by_role("heading", name="Next: the evaluation")).to_be_visible()
        assert _no_sideways_scroll(page)
        shot(page, "learner-zoom-credit")
        page.goto(f"{stack.api_url}/l/evaluation")
        assert _no_sideways_scroll(page)
        shot(page, "learner-zoom-evaluation")
    finally:
        context.close()

    stranger = browser.new_context(viewport={"width": 390, "height": 844})
    page = stranger.new_page()
    try:
        response = page.goto(f"{stack.api_url}/l")
        assert response is not None and response.status == 401
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        axe_check(page, "learner-sign-in")
        page.get_by_label("Your email address").fill("ana.perez@example.org")
        page.get_by_label("Meeting code").fill(learner_link[0])
        page.get_by_role("button", name="Send me a sign-in link").click()
        expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
        axe_check(page, "learner-link-sent")
        shot(page, "learner-link-sent")
    finally:
        stranger.close()


def test_session_scope_faculty_rating_and_message_pages_are_accessible(stack, browser, shot, axe_check, expect):  # type: ignore[no-untyped-def]
    from datetime import UTC, timedelta

    from cme.auth import issue_learner_token

    api = Api(stack)
    activity_id = new_activity_id()
    stack.set_clock(datetime.fromisoformat(at("07:00")))
    body = worked_example_activity(policy={"evaluation_scope": "session"})
    assert api.put_activity(activity_id, body).status == 201
    assert api.post_roster(activity_id, roster_rows()).status == 200
    stack.set_clock(datetime.fromisoformat(at("12:30")))
    # Worked example 5: one exit spans S1 and S4, where F1 taught.
    plan = [scan("f-1", "B-1001", "Hall-A", "08:00"), scan("f-2", "B-1001", "Hall-A", "10:45", direction="exit")]
    assert api.post_scans(activity_id, plan).status == 200
    stack.settle()
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    try:
        page.goto(f"{stack.api_url}/l/{api.learner_token(activity_id, 'B-1001')}")
        expect(page.get_by_role("heading", name="Next: evaluate your sessions")).to_be_visible()
        page.get_by_role("link", name="Evaluate this session").nth(1).click()
        expect(page.get_by_text("Annual Scientific Assembly 2027 · Antibiotic stewardship")).to_be_visible()
        expect(page.get_by_role("group", name="Effectiveness of Grace Okafor (Antibiotic stewardship)")).to_be_visible()
        shot(page, "learner-session-evaluation")
        axe_check(page, "learner-session-evaluation")

        response = page.goto(f"{stack.api_url}/l/certificate")
        assert response is not None and response.status == 404
        expect(page.get_by_role("heading", name="No certificate yet")).to_be_visible()
        axe_check(page, "learner-no-certificate")

        expired = issue_learner_token(activity_id, "B-1001", datetime.now(UTC) - timedelta(minutes=1))
        response = page.goto(f"{stack.api_url}/l/{expired}")
        assert response is not None and response.status == 401
        expect(page.get_by_text("Your sign-in has expired.")).to_be_visible()
        axe_check(page, "learner-expired-link")
        shot(page, "learner-expired-link")
    finally:
        context.close()
