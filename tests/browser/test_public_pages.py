"""The public certificate verification page on a phone, in a real Chromium, driven by a real pipeline run
on the local stack and checked with axe-core (no serious or critical violation). The organizer's dashboard
page has its own tests (test_organizer_dashboard.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from builders import answers, roster_rows, scan, worked_example_activity
from stack_support import Api, http, new_activity_id

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Certified:
    """An activity where B-1001 attended, evaluated and got a certificate; B-1002 only checked in."""

    activity_id: str
    badge_id: str
    certificate: dict[str, Any]
    verification: dict[str, Any]


@pytest.fixture(scope="module")
def certified(stack) -> Certified:  # type: ignore[no-untyped-def]
    api = Api(stack)
    activity_id = new_activity_id()
    badge = "B-1001"
    stack.set_clock(datetime.fromisoformat("2027-10-14T07:00:00-05:00"))
    assert api.put_activity(activity_id, worked_example_activity()).status == 201
    assert api.post_roster(activity_id, roster_rows()).status == 200
    stack.set_clock(datetime.fromisoformat("2027-10-14T12:10:00-05:00"))
    scans = [
        scan("v-1", badge, "Hall-A", "07:50"),
        scan("v-2", badge, "Room-201", "09:50"),
        scan("v-3", badge, "Room-201", "12:05", direction="exit"),
        scan("v-4", "B-1002", "Hall-A", "08:10"),
    ]
    reply = api.post_scans(activity_id, scans)
    assert reply.status == 200 and [r["status"] for r in reply.json["results"]] == ["accepted"] * 4, reply.body
    stack.set_clock(datetime.fromisoformat("2027-10-14T12:30:00-05:00"))  # past every session's end
    stack.settle()

    token = api.learner_token(activity_id, badge)
    assert api.evaluate(token, {"answers": answers(), "attest": True}).status == 202
    stack.settle()
    certificate = api.me(token)["certificate"]
    assert certificate and certificate["version"] == 1, certificate

    verify = http(
        "GET", f"{stack.api_url}/verify/{certificate['certificate_id']}", headers={"Accept": "application/json"}
    )
    assert verify.status == 200 and verify.json["status"] == "valid", verify.body
    return Certified(activity_id, badge, certificate, verify.json)


def test_verify_page_on_a_phone(stack, certified, phone, expect, shot, axe_check):  # type: ignore[no-untyped-def]
    learner = next(r for r in roster_rows() if r["badge_id"] == certified.badge_id)
    name = certified.verification["learner_name"]
    assert learner["given_name"] in name and learner["family_name"] in name

    response = phone.goto(f"{stack.api_url}/verify/{certified.certificate['certificate_id']}")
    assert response is not None and response.status == 200
    assert response.headers["content-type"].startswith("text/html")

    expect(phone).to_have_title(re.compile("valid", re.IGNORECASE))
    expect(phone.get_by_role("heading", level=1)).to_have_text("Certificate verification")
    expect(phone.get_by_text(name, exact=True)).to_be_visible()
    expect(phone.get_by_text(re.compile(r"^Valid\b"))).to_be_visible()
    expect(phone.get_by_text("Annual Scientific Assembly 2027", exact=True)).to_be_visible()
    expect(phone.get_by_text(certified.verification["sha256"], exact=True)).to_be_visible()
    # At 390 CSS px nothing may need sideways scrolling (the 64-character hash must wrap).
    overflow = phone.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the phone's viewport"

    shot(phone, "verify-phone")
    axe_check(phone, "verify-phone")
