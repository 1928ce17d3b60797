"""Writes events/<function>/*.json: one sample event per function and route, in real AWS envelopes
(for `sam local invoke -e` and as documentation). `python tests/make_sample_events.py` regenerates them;
tests/unit/test_sample_events.py checks they are current."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from builders import (
    answers,
    eventbridge_event,
    http_event,
    organizer_claims,
    roster_rows,
    scan,
    sqs_event,
    stream_event,
    worked_example_activity,
)

ROOT = Path(__file__).resolve().parents[1]
A = "asa-2027"


def _stable(event: dict[str, Any]) -> dict[str, Any]:
    """Fixed ids so regenerating gives the same files."""
    text = json.dumps(event)
    context = event.get("requestContext")
    if context:
        context["requestId"] = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    for index, record in enumerate(event.get("Records", []), start=1):
        if "messageId" in record:
            record["messageId"] = f"059f36b4-87a3-44ab-83d2-66197583{index:04d}"
            record["receiptHandle"] = f"AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a{index}"
            body = json.loads(record["body"])
            body["id"] = f"6a7e8feb-b491-4cf7-a9f1-bf37034677{index:02d}"
            record["body"] = json.dumps(body)
        if "eventID" in record:
            record["eventID"] = f"{index:032d}"
    del text
    return event


def samples() -> dict[str, dict[str, Any]]:
    org = organizer_claims(A)
    learner = {"authorization": "Bearer l1.<learner-token>"}
    device = {"authorization": "Bearer dev_<device-token>"}
    detail_scan = {
        **scan("7f0c2b1e", "B-1001", "Hall-A", "07:58"),
        "session_id": "S1",
        "device_id": "door-hall-a-1",
        "received_at": "2027-10-14T08:03:00-05:00",
    }
    return {
        "organizer_api/put-activity.json": http_event(
            "PUT",
            f"/activities/{A}",
            route="/activities/{activity_id}",
            body=worked_example_activity(),
            path_parameters={"activity_id": A},
            claims=org,
        ),
        "organizer_api/post-attendees.json": http_event(
            "POST",
            f"/activities/{A}/attendees",
            route="/activities/{activity_id}/attendees",
            body=roster_rows(),
            path_parameters={"activity_id": A},
            claims=org,
        ),
        "organizer_api/end-session.json": http_event(
            "POST",
            f"/activities/{A}/sessions/S1/end",
            route="/activities/{activity_id}/sessions/{session_id}/end",
            path_parameters={"activity_id": A, "session_id": "S1"},
            claims=org,
        ),
        "organizer_api/get-dashboard.json": http_event(
            "GET",
            f"/activities/{A}/dashboard",
            route="/activities/{activity_id}/dashboard",
            path_parameters={"activity_id": A},
            claims=org,
        ),
        "ingest_scans/post-scans.json": http_event(
            "POST",
            "/scans",
            headers=device,
            body={
                "activity_id": A,
                "scans": [scan("7f0c2b1e", "B-1001", "Hall-A", "07:58", device_id="door-hall-a-1")],
            },
        ),
        "learner_api/get-me.json": http_event("GET", "/me", headers=learner),
        "learner_api/post-evaluation.json": http_event(
            "POST",
            "/evaluations",
            headers=learner,
            body={"session_id": None, "answers": answers(), "claims": {"AMA_PRA_1": {"S2": 1.75}}, "attest": True},
        ),
        "public_api/get-verify.json": http_event(
            "GET",
            "/verify/cexample0000000000000",
            route="/verify/{certificate_id}",
            path_parameters={"certificate_id": "cexample0000000000000"},
            headers={"accept": "application/json"},
        ),
        "stream_outbox/scan-inserted.json": stream_event(
            (
                "INSERT",
                {
                    "PK": f"ACT#{A}#B#B-1001",
                    "SK": "SCAN#7f0c2b1e",
                    "activity_id": A,
                    "badge_id": "B-1001",
                    "scan_id": "7f0c2b1e",
                    "room": "Hall-A",
                    "at": 1823518680,
                    "direction": "entry",
                    "scanned_at": "2027-10-14T07:58:00-05:00",
                    "received_at": "2027-10-14T08:03:00-05:00",
                    "device_id": "door-hall-a-1",
                    "session_id": "S1",
                },
                None,
            )
        ),
        "on_check_in/check-in-scanned.json": sqs_event(
            eventbridge_event("CheckInScanned", {"activity_id": A, "scan": detail_scan}), queue="cme-CheckInQueue"
        ),
        "on_session_end/session-ended.json": sqs_event(
            eventbridge_event(
                "SessionEnded",
                {"activity_id": A, "session_id": "S1", "ended_at": "2027-10-14T09:30:00-05:00", "reason": "scheduled"},
            ),
            queue="cme-SessionEndQueue",
        ),
        "on_evaluation/evaluation-submitted.json": sqs_event(
            eventbridge_event(
                "EvaluationSubmitted",
                {
                    "activity_id": A,
                    "badge_id": "B-1001",
                    "session_id": None,
                    "evaluation_id": "ev-0001",
                    "submitted_at": "2027-10-16T18:00:00.000000-05:00",
                },
            ),
            queue="cme-EvaluationQueue",
        ),
        "issue_certificate/claim-recorded.json": sqs_event(
            eventbridge_event(
                "ClaimRecorded", {"activity_id": A, "badge_id": "B-1001", "version": 1, "evaluation_id": "ev-0001"}
            ),
            queue="cme-CertificateQueue",
        ),
        "send_certificate_mail/certificate-issued.json": sqs_event(
            eventbridge_event(
                "CertificateIssued",
                {
                    "activity_id": A,
                    "badge_id": "B-1001",
                    "certificate_id": "cexample0000000000000",
                    "version": 1,
                    "s3_key": f"certificates/{A}/cexample0000000000000/v0001.pdf",
                    "sha256": "0" * 64,
                },
            ),
            queue="cme-MailQueue",
        ),
    }


def render() -> dict[str, str]:
    return {name: json.dumps(_stable(event), indent=2, ensure_ascii=False) + "\n" for name, event in samples().items()}


def main() -> None:
    for name, text in render().items():
        path = ROOT / "events" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
