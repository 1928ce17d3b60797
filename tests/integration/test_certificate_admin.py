"""After the certificate is issued: SES delivery, bounce and complaint events recorded on it, the
organizer's download, revoke (with a reason), reissue and resend, and claims made close together
settling into one version and one mail."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from builders import answers, at, eventbridge_event, roster_rows, scan, sqs_event, worked_example_activity
from stack_support import http

EXAMPLE_1 = [
    scan("e1", "B-1001", "Hall-A", "07:50"),
    scan("e2", "B-1001", "Room-201", "09:50"),
    scan("e3", "B-1001", "Room-201", "12:05", direction="exit"),
]


def _token(activity_id: str, badge_id: str) -> str:
    from cme.auth import issue_learner_token

    return issue_learner_token(activity_id, badge_id, datetime.now(UTC) + timedelta(days=400))


def _meeting(api, stack, activity_id: str, address: str | None = None) -> str:  # type: ignore[no-untyped-def]
    """B-1001 attends example 1; returns the certificate id once the certificate is mailed."""
    from cme.auth import certificate_id

    stack.set_clock(datetime.fromisoformat(at("07:00")))
    assert api.put_activity(activity_id, worked_example_activity()).status == 201
    rows = [dict(r, email=address) if address and r["badge_id"] == "B-1001" else r for r in roster_rows()]
    assert api.post_roster(activity_id, rows).status == 200
    stack.set_clock(datetime.fromisoformat(at("12:30")))
    assert api.post_scans(activity_id, EXAMPLE_1).status == 200
    stack.settle()
    assert api.evaluate(_token(activity_id, "B-1001"), {"answers": answers(), "attest": True}).status == 202
    stack.settle()
    return certificate_id(activity_id, "B-1001")


def _organizer(api, method: str, path: str, body=None):  # type: ignore[no-untyped-def]
    return http(method, f"{api.url}{path}", body=body, token=api.organizer)


def _mails_of(stack, cid: str) -> list[email.message.EmailMessage]:  # type: ignore[no-untyped-def]
    found = []
    for mail in stack.sent_mail():
        if cid in mail["raw"]:
            found.append(email.message_from_string(mail["raw"], policy=email.policy.default))
    return found


def test_a_delivered_mail_is_recorded_and_counted(api, stack, activity_id):
    from cme.adapters import store

    cid = _meeting(api, stack, activity_id)
    record = store.get_certificate(cid)
    assert record["mail_state"] == "sent" and record["delivery"] == "delivered"
    [mail] = _mails_of(stack, cid)
    assert mail["X-CME-Tags"] == f"certificate_id={cid}; version=1"
    totals = api.dashboard(activity_id)["totals"]
    assert totals["emails_sent"] == 1 and totals["emails_delivered"] == 1 and totals["emails_bounced"] == 0


def test_a_bounce_is_recorded_and_the_organizer_resends_after_fixing_the_address(api, stack, activity_id):
    from cme.adapters import store

    cid = _meeting(api, stack, activity_id, address="bounce@simulator.amazonses.com")
    assert store.get_certificate(cid)["delivery"] == "bounced"
    totals = api.dashboard(activity_id)["totals"]
    assert totals["emails_bounced"] == 1 and totals["emails_to_resend"] == 1
    cookie = http("GET", f"{api.url}/l/{_token(activity_id, 'B-1001')}").headers["Set-Cookie"].split(";")[0]
    page = http("GET", f"{api.url}/l", headers={"Cookie": cookie}).body.decode()
    assert "The email bounced" in page

    # The registration desk corrects the address and resends.
    fixed = [dict(r, email="ana.fixed@example.org") for r in roster_rows() if r["badge_id"] == "B-1001"]
    assert api.post_roster(activity_id, fixed).status == 200
    reply = _organizer(api, "POST", f"/activities/{activity_id}/certificates/{cid}/resend")
    assert reply.status == 202, reply.body
    stack.settle()
    record = store.get_certificate(cid)
    assert record["mail_state"] == "sent" and int(record["resend_count"]) == 1
    mails = _mails_of(stack, cid)
    assert [str(m["To"]).split("<")[-1].rstrip(">") for m in mails] == [
        "bounce@simulator.amazonses.com",
        "ana.fixed@example.org",
    ]
    # The resend's own delivery is what the record shows now (the first send's bounce is history).
    assert record["delivery"] == "delivered"
    assert api.dashboard(activity_id)["totals"]["emails_bounced"] == 0


def test_a_repeated_or_late_mail_event_never_undoes_a_worse_one(api, stack, activity_id):
    import json

    from cme.adapters import store

    cid = _meeting(api, stack, activity_id)
    sent = str(store.get_certificate(cid)["message_id"])
    tags = {"certificate_id": [cid], "version": ["1"]}
    complaint = {
        "eventType": "Complaint",
        "complaint": {"complaintFeedbackType": "abuse", "timestamp": "2027-10-14T18:00:00.000Z"},
        "mail": {"messageId": sent, "tags": tags},
    }
    delivery = {
        "eventType": "Delivery",
        "delivery": {"timestamp": "2027-10-14T17:00:00.000Z"},
        "mail": {"messageId": sent, "tags": tags},
    }
    earlier_send = {
        "eventType": "Bounce",
        "bounce": {"bounceType": "Permanent"},
        "mail": {"messageId": "x", "tags": tags},
    }
    link_mail = {"eventType": "Delivery", "delivery": {}, "mail": {"tags": {"kind": ["signin_link"]}}}
    envelope = {"Type": "Notification", "Message": json.dumps(complaint)}
    event = sqs_event(complaint, delivery, link_mail, envelope, earlier_send, "not json")
    result = stack.host.invoke("OnMailEventFunction", event)
    assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == [event["Records"][5]["messageId"]]
    record = store.get_certificate(cid)
    assert record["delivery"] == "complained" and record["delivery_detail"] == "abuse"


def test_the_organizer_downloads_revokes_and_reissues(api, stack, activity_id):
    from cme.adapters import store

    cid = _meeting(api, stack, activity_id)
    base = f"/activities/{activity_id}/certificates/{cid}"
    download = _organizer(api, "GET", base)
    assert download.status == 302 and "X-Amz-Signature" in download.headers["Location"]
    assert _organizer(api, "GET", f"/activities/{activity_id}/certificates/cnotacertificate000").status == 404

    assert _organizer(api, "POST", f"{base}/revoke", body={}).status == 422
    revoked = _organizer(api, "POST", f"{base}/revoke", body={"reason": "Issued to the wrong badge"})
    assert revoked.status == 200 and revoked.json["status"] == "revoked"
    public = http("GET", f"{api.url}/verify/{cid}", headers={"Accept": "application/json"}).json
    assert public["status"] == "revoked" and "reason" not in str(public).lower()
    assert api.me(_token(activity_id, "B-1001"))["certificate"]["status"] == "revoked"
    assert _organizer(api, "POST", f"{base}/resend").status == 409  # a revoked certificate is not mailed

    reissued = _organizer(api, "POST", f"{base}/reissue")
    assert reissued.status == 202 and reissued.json["version"] == 2
    stack.settle()
    assert store.current_certificate_version(cid) == 2
    current = http("GET", f"{api.url}/verify/{cid}", headers={"Accept": "application/json"}).json
    assert current["status"] == "valid" and current["version"] == 2
    old = http("GET", f"{api.url}/verify/{cid}?version=1", headers={"Accept": "application/json"}).json
    assert old["status"] == "revoked"
    assert len(_mails_of(stack, cid)) == 2  # the first version's and the reissue's


def test_a_reissue_follows_credit_that_late_scans_lowered(api, stack, activity_id):
    from cme.adapters import store

    cid = _meeting(api, stack, activity_id)
    late = [scan("e9", "B-1001", "Hall-A", "08:30", direction="exit")]
    assert api.post_scans(activity_id, late).status == 200
    stack.settle()
    review = _organizer(api, "GET", f"/activities/{activity_id}/review").json
    assert [entry["certificate_id"] for entry in review["learners"]] == [cid]
    assert _organizer(api, "POST", f"/activities/{activity_id}/certificates/{cid}/reissue").status == 202
    stack.settle()
    assert store.get_certificate(cid)["credits"] == {"AMA_PRA_1": Decimal("2.5")}
    assert _organizer(api, "GET", f"/activities/{activity_id}/review").json["learners"] == []


def test_claims_close_together_settle_into_one_version_and_one_mail(api, stack, activity_id):
    """In AWS the certificate queue delays each ClaimRecorded (CertificateSettleSeconds); when the
    issuer runs, it issues for the latest claim only. Here both events reach it in one batch."""
    from cme.adapters import store
    from cme.auth import certificate_id
    from cme.service.claims import record_claim

    stack.set_clock(datetime.fromisoformat(at("07:00")))
    api.put_activity(activity_id, worked_example_activity())
    api.post_roster(activity_id, roster_rows())
    stack.set_clock(datetime.fromisoformat(at("12:30")))
    api.post_scans(activity_id, EXAMPLE_1)
    stack.settle()
    for number, s1 in enumerate(("1.0", "1.5"), start=1):
        evaluation = {
            "evaluation_id": f"ev-{number}",
            "session_id": None,
            "answers": answers(),
            "claims": {"AMA_PRA_1": {"S1": s1, "S2": "2"}},
            "attest": True,
            "submitted_at": f"2027-10-14T12:3{number}:00.000000-05:00",
        }
        store.put_evaluation(activity_id, "B-1001", evaluation)
        assert record_claim(activity_id, "B-1001", evaluation["evaluation_id"], evaluation["submitted_at"])["recorded"]
    events = [
        eventbridge_event(
            "ClaimRecorded",
            {"activity_id": activity_id, "badge_id": "B-1001", "version": version, "evaluation_id": f"ev-{version}"},
        )
        for version in (1, 2)
    ]
    assert stack.host.invoke("IssueCertificateFunction", sqs_event(*events)) == {"batchItemFailures": []}
    stack.settle()  # the stream's own copies of these events arrive too, and change nothing
    cid = certificate_id(activity_id, "B-1001")
    assert store.get_certificate(cid, 1) is None
    assert store.get_certificate(cid)["credits"] == {"AMA_PRA_1": Decimal("3.5")}
    assert len(_mails_of(stack, cid)) == 1


@pytest.mark.parametrize("action", ["revoke", "reissue", "resend"])
def test_certificate_actions_need_an_organizer_of_that_activity(api, stack, activity_id, action):
    from builders import http_event, organizer_claims

    cid = _meeting(api, stack, activity_id)
    path = f"/activities/{activity_id}/certificates/{cid}/{action}"
    assert http("POST", f"{api.url}{path}", body={"reason": "x"}).status == 401
    event = http_event(
        "POST",
        path,
        route="/activities/{activity_id}/certificates/{certificate_id}/" + action,
        body={"reason": "x"},
        path_parameters={"activity_id": activity_id, "certificate_id": cid},
        claims=organizer_claims(activities="some-other-activity"),
    )
    assert stack.host.invoke("OrganizerApiFunction", event)["statusCode"] == 403


def _image(kind: str = "PNG", size: tuple[int, int] = (240, 80)) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, (22, 62, 114)).save(buffer, format=kind)
    return buffer.getvalue()


def _upload(api, activity_id: str, kind: str, data: bytes, content_type: str):  # type: ignore[no-untyped-def]
    return http(
        "PUT",
        f"{api.url}/activities/{activity_id}/branding/{kind}",
        raw=data,
        content_type=content_type,
        token=api.organizer,
    )


def test_branding_images_are_checked_stored_listed_and_removed(api, stack, activity_id):
    body = worked_example_activity(
        branding={"accent_color": "#7A1F5C", "signer_name": "Dr. Maria Lopez", "signer_title": "CME Director"}
    )
    assert api.put_activity(activity_id, body).status == 201
    logo = _upload(api, activity_id, "logo", _image(), "image/png")
    assert logo.status == 200 and logo.json["width"] == 240 and logo.json["height"] == 80
    assert _upload(api, activity_id, "signature", _image("JPEG", (300, 100)), "image/jpeg").status == 200
    assert _upload(api, activity_id, "logo", b"GIF89a....", "image/gif").status == 415
    assert _upload(api, activity_id, "logo", _image("JPEG"), "image/png").status == 422  # says PNG, is JPEG
    assert _upload(api, activity_id, "logo", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png").status == 422
    assert _upload(api, activity_id, "logo", b"\x89PNG\r\n\x1a\n" + b"\0" * 600_000, "image/png").status == 413
    assert _upload(api, activity_id, "banner", _image(), "image/png").status == 404
    listing = _organizer(api, "GET", f"/activities/{activity_id}/branding").json
    assert set(listing["images"]) == {"logo", "signature"} and listing["accent_color"] == "#7A1F5C"
    assert listing["signer_name"] == "Dr. Maria Lopez"
    assert _organizer(api, "DELETE", f"/activities/{activity_id}/branding/signature").status == 204
    assert _organizer(api, "DELETE", f"/activities/{activity_id}/branding/signature").status == 404
    assert set(_organizer(api, "GET", f"/activities/{activity_id}/branding").json["images"]) == {"logo"}
    bad = api.put_activity(activity_id, worked_example_activity(branding={"accent_color": "purple"}))
    assert bad.status == 422 and bad.json["error"]["details"][0]["field"] == "branding.accent_color"


def test_a_branded_certificate_carries_the_logo_signature_and_signer(api, stack, activity_id):
    import io

    from pypdf import PdfReader

    from cme.adapters import blobs, store

    body = worked_example_activity(
        branding={"accent_color": "#7A1F5C", "signer_name": "Dr. Maria Lopez", "signer_title": "CME Director"}
    )
    stack.set_clock(datetime.fromisoformat(at("07:00")))
    assert api.put_activity(activity_id, body).status == 201
    assert _upload(api, activity_id, "logo", _image(), "image/png").status == 200
    assert _upload(api, activity_id, "signature", _image("JPEG", (300, 100)), "image/jpeg").status == 200
    assert api.post_roster(activity_id, roster_rows()).status == 200
    stack.set_clock(datetime.fromisoformat(at("12:30")))
    assert api.post_scans(activity_id, EXAMPLE_1).status == 200
    stack.settle()
    assert api.evaluate(_token(activity_id, "B-1001"), {"answers": answers(), "attest": True}).status == 202
    stack.settle()
    from cme.auth import certificate_id

    record = store.get_certificate(certificate_id(activity_id, "B-1001"))
    page = PdfReader(io.BytesIO(blobs.get(record["s3_key"]))).pages[0]
    text = page.extract_text()
    assert "Dr. Maria Lopez" in text and "CME Director" in text
    images = page["/Resources"]["/XObject"]
    assert len(images) >= 3  # logo, signature and the verification QR code
    assert b"0.4784 0.1216 0.3608 RG" in page.get_contents().get_data()  # the accent colour #7A1F5C


def test_an_image_bomb_is_refused_not_decoded(api, activity_id):
    import io
    import struct
    import zlib

    assert api.put_activity(activity_id, worked_example_activity()).status == 201

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    # A 30,000 × 30,000 one-bit PNG (900 megapixels) in a few kilobytes: only its header is read.
    header = struct.pack(">IIBBBBB", 30_000, 30_000, 1, 0, 0, 0, 0)
    rows = zlib.compress(b"\0" * (1 + 30_000 // 8) * 200)
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    assert len(bomb) < 512 * 1024
    reply = _upload(api, activity_id, "logo", bomb, "image/png")
    assert reply.status == 422 and "too large" in reply.json["error"]["message"]
    assert io.BytesIO(bomb)  # the body itself was fine to send
