"""The asynchronous pipeline against moto: schedules → SessionEnded → finalization; late scans;
evaluation → claim → certificate → mail, each consumer idempotent under redelivery."""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
from decimal import Decimal

import pytest
from botocore.exceptions import ReadTimeoutError

from builders import answers, eventbridge_event, roster_rows, scan, sqs_event, worked_example_activity

EXAMPLE_1 = [
    scan("e1", "B-1001", "Hall-A", "07:50"),
    scan("e2", "B-1001", "Room-201", "09:50"),
    scan("e3", "B-1001", "Room-201", "12:05", direction="exit"),
]


@pytest.fixture
def finalized(handlers, stack, activity_id, clock):
    """Example 1 for a physician (B-1001) and a nurse (B-1002), every session over and finalized."""
    handlers.put_activity(activity_id, worked_example_activity())
    handlers.post_roster(activity_id, roster_rows())
    clock("2027-10-14T12:30:00-05:00")
    nurse = [dict(s, scan_id=f"n{s['scan_id']}", badge_id="B-1002") for s in EXAMPLE_1]
    status, body, _ = handlers.scans(
        {"activity_id": activity_id, "scans": EXAMPLE_1 + nurse}, token=stack.scanner_token
    )
    assert status == 200 and all(r["status"] == "accepted" for r in body["results"])
    stack.set_clock(stack_clock("2027-10-14T12:31:00-05:00"))
    stack.settle()
    return activity_id


def stack_clock(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text)


def _learner_token(activity_id: str, badge_id: str) -> str:
    from datetime import UTC, datetime, timedelta

    from cme.auth import issue_learner_token

    return issue_learner_token(activity_id, badge_id, datetime.now(UTC) + timedelta(days=400))


def test_scheduled_session_ends_finalize_worked_example_1(finalized):
    from cme.adapters import store

    attendance = store.attendance_of(finalized, "B-1001")
    assert set(attendance) == {"S1", "S2"}
    assert attendance["S1"].seconds == 90 * 60 and attendance["S1"].credits["AMA_PRA_1"] == Decimal("1.5")
    assert attendance["S2"].seconds == 115 * 60 and attendance["S2"].credits["AMA_PRA_1"] == Decimal("2")
    assert "break 10:45–11:00 not counted" in attendance["S2"].explanation
    nurse = store.attendance_of(finalized, "B-1002")
    assert nurse["S2"].credits["ANCC"] == Decimal("1.75")  # example 9: ANCC rounds down
    assert store.finalized_sessions(finalized) == {"S1", "S2", "S4"}


def test_finalization_reads_the_scans_only_of_attendees_who_can_overlap_the_session(finalized, handlers, stack):
    """S4 (Hall-A, 09:45) after example 1's morning: the 07:50 entries covered S1 only, so neither
    learner's scans are read for it; B-1003 stayed until an exit at 10:45 (example 5) and is."""
    from cme.adapters import store
    from cme.domain.credit import session_attendance
    from cme.service import attendance

    stay = [scan("x1", "B-1003", "Hall-A", "08:00"), scan("x2", "B-1003", "Hall-A", "10:45", direction="exit")]
    status, body, _ = handlers.scans({"activity_id": finalized, "scans": stay}, token=stack.scanner_token)
    assert status == 200 and [r["status"] for r in body["results"]] == ["accepted", "accepted"]
    stack.settle()
    read = []
    scans_of = store.scans_of

    def counted(activity_id, badge_id):
        read.append(badge_id)
        return scans_of(activity_id, badge_id)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store, "scans_of", counted)
        assert attendance.finalize_session(finalized, "S4") == {"finalized": True, "attendees": 2}
    activity = store.get_activity(finalized)
    assert sorted(read) == ["B-1003", "F1"]  # the stayer and the session's faculty
    for badge in ("B-1001", "B-1002", "B-1003"):
        expected = session_attendance(activity, badge, store.scans_of(finalized, badge), only={"S4"})
        assert {k: v for k, v in store.attendance_of(finalized, badge).items() if k == "S4"} == expected
    assert store.attendance_of(finalized, "B-1003")["S4"].seconds == 60 * 60


def test_session_ended_delivered_twice_and_late_changes_nothing(finalized, stack):
    from cme.adapters import store

    before = store.attendance_of(finalized, "B-1001")
    event = eventbridge_event(
        "SessionEnded",
        {"activity_id": finalized, "session_id": "S1", "ended_at": "2027-10-14T09:30:00-05:00", "reason": "manual"},
    )
    for _ in range(2):
        result = stack.host.invoke("OnSessionEndFunction", sqs_event(event, event))
        assert result == {"batchItemFailures": []}
    assert store.attendance_of(finalized, "B-1001") == before


def test_a_poison_message_fails_alone(finalized, stack):
    good = eventbridge_event(
        "SessionEnded",
        {"activity_id": finalized, "session_id": "S2", "ended_at": "2027-10-14T12:00:00-05:00", "reason": "manual"},
    )
    wrong_type = eventbridge_event("CheckInScanned", {"activity_id": finalized})
    event = sqs_event(good, "not json", wrong_type)
    result = stack.host.invoke("OnSessionEndFunction", event)
    failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
    assert failed == {event["Records"][1]["messageId"], event["Records"][2]["messageId"]}


def test_a_late_backlog_after_finalization_recomputes_the_attendee(finalized, handlers, stack):
    from cme.adapters import store

    # B-1003 (a PA) was at the Hall-A door all along, but that scanner uploads hours late.
    late = [scan("p1", "B-1003", "Hall-A", "08:10"), scan("p2", "B-1003", "Hall-A", "09:00", direction="exit")]
    status, body, _ = handlers.scans({"activity_id": finalized, "scans": late}, token=stack.scanner_token)
    assert status == 200 and [r["status"] for r in body["results"]] == ["accepted", "accepted"]
    stack.settle()
    attendance = store.attendance_of(finalized, "B-1003")
    assert attendance["S1"].seconds == 50 * 60
    assert attendance["S1"].credits["AAPA_1"] == Decimal("0.75")  # 50 min rounds to the nearest quarter
    assert attendance["S1"].credits["PARTICIPATION"] == Decimal("0.75")


def _evaluate(handlers, token, body):
    return handlers.learner("POST", "/evaluations", token, body=body)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"answers": answers(), "attest": False}, "attest"),
        ({"answers": answers(overall_quality=None), "attest": True}, "answers.overall_quality"),
        ({"answers": answers(overall_quality=9), "attest": True}, "answers.overall_quality"),
        ({"answers": answers(free_of_commercial_bias="no"), "attest": True}, "answers.free_of_commercial_bias_comment"),
        ({"answers": answers(surprise=1), "attest": True}, "answers.surprise"),
        ({"answers": answers(), "attest": True, "claims": {"AMA_PRA_1": {"S1": 1.75}}}, "claims.AMA_PRA_1.S1"),
        ({"answers": answers(), "attest": True, "claims": {"AMA_PRA_1": {"S1": 1.1}}}, "claims.AMA_PRA_1.S1"),
        ({"answers": answers(), "attest": True, "claims": {"AMA_PRA_1": {"S4": 1.0}}}, "claims.AMA_PRA_1.S4"),
        ({"answers": answers(), "attest": True, "claims": {"ANCC": {"S2": 1.0}}}, "claims.ANCC"),
        ({"answers": answers(), "attest": True, "session_id": "S1"}, "session_id"),
    ],
    ids=[
        "no-attestation",
        "missing-answer",
        "out-of-scale",
        "bias-without-comment",
        "unknown-question",
        "above-claimable",
        "off-grid",
        "not-attended",
        "type-not-eligible",
        "session-under-activity-scope",
    ],
)
def test_evaluation_errors_are_422_naming_the_field(finalized, handlers, body, field):
    status, reply, _ = _evaluate(handlers, _learner_token(finalized, "B-1001"), body)
    assert status == 422, reply
    assert field in [d["field"] for d in reply["error"]["details"]]


def test_learner_routes_refuse_missing_tampered_and_expired_tokens(finalized, handlers):
    from datetime import UTC, datetime

    from cme.auth import issue_learner_token

    good = _learner_token(finalized, "B-1001")
    tampered = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    expired = issue_learner_token(finalized, "B-1001", datetime(2020, 1, 1, tzinfo=UTC))
    for token, code in ((None, "unauthorized"), (tampered, "invalid_token"), (expired, "expired_token")):
        status, body, _ = handlers.learner("GET", "/me", token)
        assert status == 401 and body["error"]["code"] == code


def test_claim_certificate_and_mail_happen_once(finalized, handlers, stack):
    from cme.adapters import blobs, store
    from cme.auth import certificate_id

    token = _learner_token(finalized, "B-1001")
    status, me, _ = handlers.learner("GET", "/me", token)
    assert me["credits_total"] == {"AMA_PRA_1": 3.5} and me["claimable_total"] == {"AMA_PRA_1": 0}
    assert [s["evaluation"] for s in me["sessions"]] == ["pending", "pending"]

    status, reply, _ = _evaluate(
        handlers, token, {"answers": answers(), "attest": True, "claims": {"AMA_PRA_1": {"S2": 1.75}}}
    )
    assert status == 202 and reply["evaluation_id"].startswith("ev-")
    stack.settle()

    claim = store.get_claim(finalized, "B-1001")
    assert claim["version"] == 1
    assert claim["claimed"] == {"AMA_PRA_1": {"S1": "1.5", "S2": "1.75"}}
    assert claim["totals"] == {"AMA_PRA_1": "3.25"}
    cid = certificate_id(finalized, "B-1001")
    record = store.get_certificate(cid)
    assert record["version"] == 1 and record["mail_state"] == "sent"
    pdf = blobs.get(record["s3_key"])
    assert pdf.startswith(b"%PDF") and hashlib.sha256(pdf).hexdigest() == record["sha256"]

    mails = [m for m in stack.sent_mail() if cid in m["raw"]]
    assert len(mails) == 1 and mails[0]["to"][0] == "ana.perez@example.org"
    message = email.message_from_string(mails[0]["raw"], policy=email.policy.default)
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf" and attachment.get_content() == pdf

    # Every event delivered again, late: no second version, no second mail.
    claim_event = eventbridge_event(
        "ClaimRecorded",
        {"activity_id": finalized, "badge_id": "B-1001", "version": 1, "evaluation_id": reply["evaluation_id"]},
    )
    issued_event = eventbridge_event(
        "CertificateIssued",
        {
            "activity_id": finalized,
            "badge_id": "B-1001",
            "certificate_id": cid,
            "version": 1,
            "s3_key": record["s3_key"],
            "sha256": record["sha256"],
        },
    )
    evaluation_event = eventbridge_event(
        "EvaluationSubmitted",
        {
            "activity_id": finalized,
            "badge_id": "B-1001",
            "session_id": None,
            "evaluation_id": reply["evaluation_id"],
            "submitted_at": claim["submitted_at"],
        },
    )
    assert stack.host.invoke("OnEvaluationFunction", sqs_event(evaluation_event)) == {"batchItemFailures": []}
    assert stack.host.invoke("IssueCertificateFunction", sqs_event(claim_event, claim_event)) == {
        "batchItemFailures": []
    }
    assert stack.host.invoke("SendCertificateMailFunction", sqs_event(issued_event, issued_event)) == {
        "batchItemFailures": []
    }
    stack.settle()
    assert store.get_claim(finalized, "B-1001")["version"] == 1
    assert store.current_certificate_version(cid) == 1
    assert len([m for m in stack.sent_mail() if cid in m["raw"]]) == 1

    status, me, _ = handlers.learner("GET", "/me", token)
    assert me["claimed_total"] == {"AMA_PRA_1": 3.25}
    assert me["certificate"]["version"] == 1 and me["certificate"]["verify_url"].endswith(f"/verify/{cid}?version=1")
    status, _, headers = handlers.learner(
        "GET", f"/certificates/{cid}", token, route="/certificates/{certificate_id}", params={"certificate_id": cid}
    )
    assert status == 302 and "X-Amz-Expires=600" in headers["Location"]
    other = _learner_token(finalized, "B-1002")
    status, _, _ = handlers.learner(
        "GET", f"/certificates/{cid}", other, route="/certificates/{certificate_id}", params={"certificate_id": cid}
    )
    assert status == 404


def test_resubmission_issues_a_new_version_and_supersedes_the_old(finalized, handlers, stack):
    from cme.auth import certificate_id

    token = _learner_token(finalized, "B-1001")
    _evaluate(handlers, token, {"answers": answers(), "attest": True, "claims": {"AMA_PRA_1": {"S1": 1.0}}})
    stack.settle()
    _evaluate(handlers, token, {"answers": answers(), "attest": True})
    stack.settle()
    cid = certificate_id(finalized, "B-1001")

    def verify(version=None):
        from builders import http_event

        query = {"version": str(version)} if version else None
        event = http_event(
            "GET",
            f"/verify/{cid}",
            route="/verify/{certificate_id}",
            path_parameters={"certificate_id": cid},
            query=query,
            headers={"accept": "application/json"},
        )
        result = stack.host.invoke("PublicApiFunction", event)
        return result["statusCode"], json.loads(result["body"])

    assert verify(1)[1]["status"] == "superseded" and verify(1)[1]["credits"] == {"AMA_PRA_1": 3}
    status, current = verify()
    assert status == 200 and current["status"] == "valid" and current["version"] == 2
    assert current["credits"] == {"AMA_PRA_1": 3.5} and current["learner_name"] == "Ana Pérez, MD"
    assert "email" not in json.dumps(current) and "123456" not in json.dumps(current)
    mails = [m for m in stack.sent_mail() if cid in m["raw"]]
    assert len(mails) == 2  # one per version


def test_verify_html_and_unknown_ids(finalized, stack):
    from builders import http_event

    event = http_event(
        "GET", "/verify/cnope", route="/verify/{certificate_id}", path_parameters={"certificate_id": "cnope"}
    )
    assert stack.host.invoke("PublicApiFunction", event)["statusCode"] == 404
    event = http_event(
        "GET",
        "/verify/cnope",
        route="/verify/{certificate_id}",
        path_parameters={"certificate_id": "cnope"},
        query={"version": "x"},
    )
    assert stack.host.invoke("PublicApiFunction", event)["statusCode"] == 400


def test_a_mail_whose_outcome_is_unknown_is_flagged_and_never_resent(finalized, handlers, stack, monkeypatch):
    from cme.adapters import mailer, store
    from cme.auth import certificate_id

    calls = []

    def timeout(raw, to, tags=None):
        calls.append(to)
        raise ReadTimeoutError(endpoint_url="https://email.us-east-1.amazonaws.com")

    monkeypatch.setattr(mailer, "send_raw", timeout)
    token = _learner_token(finalized, "B-1002")
    status, _, _ = _evaluate(handlers, token, {"answers": answers(), "attest": True})
    assert status == 202
    stack.settle()
    cid = certificate_id(finalized, "B-1002")
    record = store.get_certificate(cid)
    assert record["mail_state"] == "unknown" and record["kind"] == "nursing"
    issued = eventbridge_event(
        "CertificateIssued",
        {
            "activity_id": finalized,
            "badge_id": "B-1002",
            "certificate_id": cid,
            "version": 1,
            "s3_key": record["s3_key"],
            "sha256": record["sha256"],
        },
    )
    stack.host.invoke("SendCertificateMailFunction", sqs_event(issued))
    assert len(calls) == 1
    dashboard = store_dashboard(finalized)
    assert dashboard["totals"]["emails_to_resend"] == 1


def store_dashboard(activity_id):
    from cme.service.dashboard import dashboard

    return dashboard(activity_id)


def test_dashboard_counts_follow_the_pipeline(finalized, handlers, stack):
    token = _learner_token(finalized, "B-1001")
    _evaluate(handlers, token, {"answers": answers(), "attest": True})
    stack.settle()
    board = store_dashboard(finalized)
    totals = board["totals"]
    assert totals["registered"] == 5 and totals["checked_in"] == 2
    assert totals["evaluations_submitted"] == 1 and totals["learners_claimed"] == 1
    # Every type the activity offers is listed, zero when nobody claimed it.
    assert totals["credits_claimed"] == {"AMA_PRA_1": 3.5, "ANCC": 0, "AAPA_1": 0, "PARTICIPATION": 0}
    assert totals["certificates_issued"] == 1 and totals["emails_sent"] == 1
    sessions = {s["session_id"]: s for s in board["sessions"]}
    assert sessions["S1"]["finalized"] and sessions["S1"]["checked_in"] == 2
    assert sessions["S2"]["credits_claimable"]["ANCC"] == 1.75
    assert sessions["S2"]["evaluations_submitted"] == 1
    from cme.service.dashboard import differences, recount

    assert differences(board, recount(finalized)) == []


def test_a_retry_after_a_crash_between_the_certificate_writes_moves_current_forward(finalized, handlers, stack):
    from cme.adapters import store
    from cme.adapters.aws import table
    from cme.auth import certificate_id

    token = _learner_token(finalized, "B-1001")
    status, reply, _ = _evaluate(handlers, token, {"answers": answers(), "attest": True})
    assert status == 202
    stack.settle()
    cid = certificate_id(finalized, "B-1001")
    assert store.current_certificate_version(cid) == 1
    # As if the issuer died after writing the version record but before moving CURRENT.
    table(stack.environment["TABLE_NAME"]).delete_item(Key={"PK": f"CERT#{cid}", "SK": "CURRENT"})
    assert store.current_certificate_version(cid) is None
    event = eventbridge_event(
        "ClaimRecorded",
        {"activity_id": finalized, "badge_id": "B-1001", "version": 1, "evaluation_id": reply["evaluation_id"]},
    )
    assert stack.host.invoke("IssueCertificateFunction", sqs_event(event)) == {"batchItemFailures": []}
    assert store.current_certificate_version(cid) == 1
    stack.settle()
    assert len([m for m in stack.sent_mail() if cid in m["raw"]]) == 1


def test_late_scans_that_lower_credit_put_the_learner_on_the_review_list(finalized, handlers, stack):
    from cme.adapters import store
    from cme.auth import certificate_id

    review_route = "/activities/{activity_id}/review"
    token = _learner_token(finalized, "B-1001")
    _evaluate(handlers, token, {"answers": answers(), "attest": True})
    stack.settle()
    status, review, _ = handlers.organizer(
        "GET", f"/activities/{finalized}/review", review_route, {"activity_id": finalized}
    )
    assert status == 200 and review["learners"] == []

    # A Hall-A exit scan uploaded late: she left S1 at 08:30, so S1 is worth 0.5, not 1.5.
    late = scan("e9", "B-1001", "Hall-A", "08:30", direction="exit")
    status, body, _ = handlers.scans({"activity_id": finalized, "scans": [late]}, token=stack.scanner_token)
    assert body["results"][0]["status"] == "accepted"
    stack.settle()
    assert store.attendance_of(finalized, "B-1001")["S1"].credits["AMA_PRA_1"] == Decimal("0.5")

    status, review, _ = handlers.organizer(
        "GET", f"/activities/{finalized}/review", review_route, {"activity_id": finalized}
    )
    [entry] = review["learners"]
    assert entry["badge_id"] == "B-1001" and entry["certificate_id"] == certificate_id(finalized, "B-1001")
    assert entry["certificate_credits"] == {"AMA_PRA_1": 3.5} and entry["credits_now"] == {"AMA_PRA_1": 2.5}
    assert entry["excess"] == {"AMA_PRA_1": 1}
    # The certificate stays as issued; the learner sees the lower credit.
    cid = certificate_id(finalized, "B-1001")
    assert store.current_certificate_version(cid) == 1
    status, me, _ = handlers.learner("GET", "/me", token)
    assert me["credits_total"] == {"AMA_PRA_1": 2.5} and me["certificate"]["credits"] == {"AMA_PRA_1": 3.5}


def test_late_scans_that_raise_credit_let_the_learner_claim_again(finalized, handlers, stack):
    from cme.adapters import store
    from cme.auth import certificate_id

    first = [scan("pa1", "B-1003", "Hall-A", "08:10"), scan("pa2", "B-1003", "Hall-A", "08:40", direction="exit")]
    handlers.scans({"activity_id": finalized, "scans": first}, token=stack.scanner_token)
    stack.settle()
    token = _learner_token(finalized, "B-1003")
    _evaluate(handlers, token, {"answers": answers(), "attest": True})
    stack.settle()
    cid = certificate_id(finalized, "B-1003")
    assert store.get_certificate(cid)["credits"] == {"AAPA_1": Decimal("0.5"), "PARTICIPATION": Decimal("0.5")}

    # Another Hall-A door's backlog arrives: she came back at 08:45 and stayed to the end of S1.
    late = [scan("pa3", "B-1003", "Hall-A", "08:45")]
    handlers.scans({"activity_id": finalized, "scans": late}, token=stack.scanner_token)
    stack.settle()
    status, me, _ = handlers.learner("GET", "/me", token)
    assert status == 200
    assert me["claimable_total"] == {"AAPA_1": 1.25, "PARTICIPATION": 1.25}
    assert me["claimed_total"] == {"AAPA_1": 0.5, "PARTICIPATION": 0.5}
    assert me["certificate"]["version"] == 1  # nothing changed on its own
    assert me["sessions"][0]["explanation"] == (
        "Entered Hall-A 08:10; exited 08:40; entered Hall-A 08:45; no exit scan; session ended 09:30: "
        "75 min → 1.25 AAPA Category 1 CME credits, 1.25 hours of participation"
    )

    _evaluate(handlers, token, {"answers": answers(), "attest": True})
    stack.settle()
    assert store.current_certificate_version(cid) == 2
    assert store.get_certificate(cid)["credits"] == {"AAPA_1": Decimal("1.25"), "PARTICIPATION": Decimal("1.25")}


def test_the_issuer_and_the_mailer_read_their_records_in_one_request(finalized, handlers, stack):
    """The issuer reads the claim and the certificate version together, the mailer the version and the
    current pointer together: one BatchGetItem each, no GetItem (each was two GetItems)."""
    from cme.adapters import store
    from cme.adapters.aws import document_client
    from cme.auth import certificate_id

    status, _, _ = _evaluate(handlers, _learner_token(finalized, "B-1001"), {"answers": answers(), "attest": True})
    assert status == 202
    stack.settle()
    cid = certificate_id(finalized, "B-1001")
    record = store.get_certificate(cid)
    assert record["version"] == 1 and record["mail_state"] == "sent"
    detail = {"activity_id": finalized, "badge_id": "B-1001", "version": 1}
    issued = {**detail, "certificate_id": cid, "s3_key": record["s3_key"], "sha256": record["sha256"]}
    calls: list[tuple[str, dict]] = []

    def count(event_name, params, **_):
        calls.append((event_name.rsplit(".", 1)[-1], json.loads(params["body"])))

    events_of = document_client().meta.events
    events_of.register("before-call.dynamodb", count)
    try:
        claim_recorded = sqs_event(eventbridge_event("ClaimRecorded", detail))
        assert stack.host.invoke("IssueCertificateFunction", claim_recorded) == {"batchItemFailures": []}
        issuer = list(calls)
        calls.clear()
        certificate_issued = sqs_event(eventbridge_event("CertificateIssued", issued))
        assert stack.host.invoke("SendCertificateMailFunction", certificate_issued) == {"batchItemFailures": []}
        mailer = list(calls)
    finally:
        events_of.unregister("before-call.dynamodb", count)
    # Both found the work done (a repeated delivery): the issuer re-asserts CURRENT, the mailer sends nothing.
    assert [op for op, _ in issuer].count("BatchGetItem") == 1 and "GetItem" not in [op for op, _ in issuer]
    [read] = [body for op, body in mailer if op == "BatchGetItem"]
    assert [op for op, _ in mailer].count("GetItem") == 0
    [request] = read["RequestItems"].values()
    assert request["ConsistentRead"] is True
    assert sorted(k["SK"]["S"] for k in request["Keys"]) == ["CURRENT", "V#000001"]
    assert len([m for m in stack.sent_mail() if cid in m["raw"]]) == 1


def test_a_batch_of_evaluations_reads_the_activity_once(finalized, handlers, stack):
    from cme.adapters import store
    from cme.adapters.aws import document_client

    replies = {}
    for badge in ("B-1001", "B-1002"):
        status, replies[badge], _ = _evaluate(
            handlers, _learner_token(finalized, badge), {"answers": answers(), "attest": True}
        )
        assert status == 202
    stack.settle()
    events = [
        eventbridge_event(
            "EvaluationSubmitted",
            {
                "activity_id": finalized,
                "badge_id": badge,
                "session_id": None,
                "evaluation_id": reply["evaluation_id"],
                "submitted_at": store.get_claim(finalized, badge)["submitted_at"],
            },
        )
        for badge, reply in replies.items()
    ]
    agenda_reads = []

    def count(params, **_):
        body = json.loads(params["body"])
        if body.get("KeyConditionExpression") == "#n0 = :v0" and body["ExpressionAttributeValues"][":v0"] == {
            "S": store.activity_pk(finalized)
        }:
            agenda_reads.append(body)

    events_of = document_client().meta.events
    events_of.register("before-call.dynamodb.Query", count)
    try:
        result = stack.host.invoke("OnEvaluationFunction", sqs_event(*events, *events))
    finally:
        events_of.unregister("before-call.dynamodb.Query", count)
    assert result == {"batchItemFailures": []}
    assert len(agenda_reads) == 1  # four records, one read of the agenda and session states
    assert {store.get_claim(finalized, b)["version"] for b in replies} == {1}


def test_a_live_record_computed_from_fewer_scans_never_overwrites_a_newer_one(finalized, monkeypatch):
    """Two invocations handle one attendee's scans at once: the one that read the scans before the last
    was stored must not overwrite the record of the one that read them all (scans only ever grow, and
    are read consistently, so the scan count orders the two)."""
    from cme.adapters import store
    from cme.service import attendance

    badges = ["B-1001", "B-1002", "B-1003"]  # B-1003 has no scans, so no live record
    stored = {item["badge_id"]: item for item in store.live_items(finalized, badges)}
    assert set(stored) == {"B-1001", "B-1002"}
    assert stored["B-1001"]["scan_count"] == 3 and stored["B-1001"]["sessions"] == ["S1", "S2"]
    assert not [item for item in stored.values() if "GSI1PK" in item]  # presences are not indexed

    # A late invocation that read B-1001's scans before the Room-201 scans were stored.
    every = store.scans_of
    monkeypatch.setattr(store, "scans_of", lambda activity_id, badge: every(activity_id, badge)[:1])
    attendance.on_scans(finalized, "B-1001", {"e1"})
    assert store.live_items(finalized, ["B-1001"]) == [stored["B-1001"]]
    monkeypatch.setattr(store, "scans_of", every)

    # Equal or more scans write (a repeated delivery, or an SDK retry of a write whose answer was lost).
    assert store.put_live_if_newer(finalized, "B-1001", {"sessions": ["S1"]}, 3)
    assert store.live_items(finalized, ["B-1001"])[0]["sessions"] == ["S1"]
    assert not store.put_live_if_newer(finalized, "B-1001", {"sessions": []}, 2)
    assert store.live_items(finalized, ["B-1001"])[0]["sessions"] == ["S1"]
