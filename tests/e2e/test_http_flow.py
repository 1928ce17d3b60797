"""End to end over HTTP on the local stack: a scan posted on one side, a certificate PDF in S3 and a
mail in SES on the other, with the credits credit-rules.md gives for those scans."""

from __future__ import annotations

import email
import email.policy
import hashlib
import io
import re
import urllib.request
from datetime import datetime
from decimal import Decimal

import pytest
from pypdf import PdfReader

from builders import answers, roster_rows, scan, worked_example_activity
from stack_support import http


def _text(pdf: bytes) -> str:
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))


def _expected(activity_body, activity_id, badge_id, scans, profession):
    """Credit straight from the rules engine, for comparison with what the product printed."""
    from cme.domain.credit import activity_totals, eligible_types, session_attendance
    from cme.domain.models import Activity, DoorScan

    activity = Activity.model_validate({**activity_body, "activity_id": activity_id})
    door = [
        DoorScan(
            scan_id=s["scan_id"],
            room=s["room"],
            at=int(datetime.fromisoformat(s["scanned_at"]).timestamp()),
            direction=s["direction"],
        )
        for s in scans
    ]
    attendance = session_attendance(activity, badge_id, door)
    return activity_totals(activity, attendance, eligible_types(activity, profession))


@pytest.mark.parametrize(
    ("badge", "profession", "credit_type", "statement"),
    [
        ("B-1001", "physician", "AMA_PRA_1", "designates this live activity for a maximum of 21.5"),
        ("B-1002", "nurse", "ANCC", "American Nurses Credentialing Center"),
        ("B-1003", "physician_assistant", "AAPA_1", "This activity was designated for 21.5"),
    ],
)
def test_scan_to_certificate_and_mail_over_http(
    api, activity_id, clock, stack, badge, profession, credit_type, statement
):
    body = worked_example_activity()
    assert api.put_activity(activity_id, body).status == 201
    assert api.post_roster(activity_id, roster_rows()).status == 200
    clock("2027-10-14T12:10:00-05:00")
    scans = [
        scan(f"{badge}-1", badge, "Hall-A", "07:50"),
        scan(f"{badge}-2", badge, "Hall-A", "07:51"),  # a double scan
        scan(f"{badge}-3", badge, "Room-201", "09:50"),
        scan(f"{badge}-4", badge, "Room-201", "12:05", direction="exit"),
    ]
    reply = api.post_scans(activity_id, scans)
    assert reply.status == 200 and [r["status"] for r in reply.json["results"]] == ["accepted"] * 4
    # The session-end schedules fire when the clock passes each end.
    assert http("POST", f"{api.url}/_local/clock", body={"now": "2027-10-14T12:30:00-05:00"}).status == 200
    assert http("POST", f"{api.url}/_local/settle").status == 200

    token = api.learner_token(activity_id, badge)
    me = api.me(token)
    expected = _expected(body, activity_id, badge, scans, profession)
    assert me["credits_total"][credit_type] == float(expected[credit_type])
    assert [s["session_id"] for s in me["sessions"]] == ["S1", "S2"]
    assert "07:50" in me["sessions"][0]["explanation"]

    assert api.evaluate(token, {"answers": answers(), "attest": True}).status == 202
    http("POST", f"{api.url}/_local/settle")
    me = api.me(token)
    assert me["claimed_total"][credit_type] == float(expected[credit_type])
    certificate = me["certificate"]
    assert certificate["version"] == 1

    download = http("GET", certificate["download_url"], token=token)
    assert download.status == 302
    with urllib.request.urlopen(download.headers["Location"], timeout=30) as response:  # the presigned S3 URL
        pdf = response.read()
    text = _text(pdf)
    attendee = next(r for r in roster_rows() if r["badge_id"] == badge)
    assert attendee["family_name"] in text and "Annual Scientific Assembly 2027" in text
    assert statement in text
    assert f"{expected[credit_type].normalize():f}" in text

    verify = http("GET", certificate["verify_url"], headers={"Accept": "application/json"})
    assert verify.status == 200 and verify.json["status"] == "valid"
    assert verify.json["sha256"] == hashlib.sha256(pdf).hexdigest()

    mails = [
        m for m in http("GET", f"{api.url}/_local/mail").json["messages"] if certificate["certificate_id"] in m["raw"]
    ]
    assert len(mails) == 1 and mails[0]["to"][0] == attendee["email"]
    message = email.message_from_string(mails[0]["raw"], policy=email.policy.default)
    assert message["Subject"].startswith("Your CME certificate")
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content() == pdf
    plain = message.get_body(preferencelist=("plain",)).get_content()
    assert certificate["verify_url"] in plain
    from cme.certificates.render import credit_label

    assert credit_label(credit_type, expected[credit_type]) in plain  # the certificate's own wording


def test_dashboard_counts_over_http(api, activity_id, clock):
    clock("2027-10-14T08:30:00-05:00")  # before the agenda's ends: nothing is finalized on import
    api.put_activity(activity_id, worked_example_activity())
    api.post_roster(activity_id, roster_rows())
    api.post_scans(activity_id, [scan("d1", "B-1001", "Hall-A", "07:55"), scan("d2", "B-1002", "Hall-A", "08:20")])
    http("POST", f"{api.url}/_local/settle")
    board = api.dashboard(activity_id)
    assert board["totals"]["registered"] == 5
    assert board["totals"]["checked_in"] == 2 and board["totals"]["inside_now"] == 2
    s1 = next(s for s in board["sessions"] if s["session_id"] == "S1")
    assert (s1["inside_now"], s1["checked_in"], s1["finalized"]) == (2, 2, False)


def test_unknown_routes_and_methods(api):
    assert http("GET", f"{api.url}/nope").status == 404
    assert http("DELETE", f"{api.url}/scans").status == 405
    assert http("GET", f"{api.url}/health").json == {"status": "ok"}
    assert http("GET", f"{api.url}/activities/x/dashboard").status == 401  # the JWT authorizer
    assert http("GET", f"{api.url}/activities/x/dashboard", token="not.a.jwt").status == 401


def test_credit_amounts_are_json_numbers_with_two_decimals_at_most(api, activity_id, clock):
    api.put_activity(activity_id, worked_example_activity())
    api.post_roster(activity_id, roster_rows())
    clock("2027-10-14T12:10:00-05:00")
    api.post_scans(
        activity_id,
        [scan("q1", "B-1001", "Hall-A", "08:00"), scan("q2", "B-1001", "Hall-A", "08:52", direction="exit")],
    )
    http("POST", f"{api.url}/_local/clock", body={"now": "2027-10-14T12:30:00-05:00"})
    http("POST", f"{api.url}/_local/settle")
    me = api.me(api.learner_token(activity_id, "B-1001"))
    amount = me["sessions"][0]["credits"]["AMA_PRA_1"]
    assert isinstance(amount, (int, float)) and Decimal(str(amount)) == Decimal("0.75")
