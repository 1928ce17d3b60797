"""One meeting end to end with its table on DynamoDB Local: agenda, roster, door scans (one batch
uploaded twice, a backlog uploaded after finalization), session ends, evaluations, claims, certificates
and their mail, a bounce and a resend. The table's stream, read from DynamoDB Local, drives every
consumer as Lambda's mappings and the bus would: each record becomes the outbox's event
(`event_for_change`) and each event the consumer's service call. Finally the same records feed the
live counts (`apply_batch`), which must equal the counts the records make (`expected`) and a recount.

The other services (Scheduler, S3, SES) are moto's; certificates are really rendered and mailed."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from builders import answers, roster_rows, scan, worked_example_activity
from stack_support import new_activity_id

pytestmark = pytest.mark.dynamodb_local

MORNING = [
    scan("a1", "B-1001", "Hall-A", "07:50"),
    scan("a2", "B-1001", "Room-201", "09:50"),
    scan("b1", "B-1002", "Room-201", "09:55"),
    scan("f1", "F1", "Hall-A", "09:40"),
]
NOON = [
    scan("a3", "B-1001", "Room-201", "12:05", direction="exit"),
    scan("b2", "B-1002", "Room-201", "12:02", direction="exit"),
]
#: B-1003 (a PA) was at the Hall-A door all morning; that scanner uploads after S1 was finalized.
BACKLOG = [scan("p1", "B-1003", "Hall-A", "08:10"), scan("p2", "B-1003", "Hall-A", "09:00", direction="exit")]


def _set_clock(moment: str) -> None:
    from cme import clock

    clock.set_override(datetime.fromisoformat(moment))


@dataclass
class Pump:
    """The table's stream → the outbox's events → the consumers, one record at a time in stream order
    (until no record is left unread). LearnerRegistered (a sign-in link mail) is not delivered."""

    local: Any
    activity_id: str
    read: set[tuple[str, str]] = field(default_factory=set)
    records: list[dict[str, Any]] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def settle(self) -> None:
        from cme.service.outbox import event_for_change

        while True:
            fresh = [
                r
                for r in self.local.changes_of(self.activity_id)
                if (r["shardId"], r["SequenceNumber"]) not in self.read
            ]
            if not fresh:
                return
            for record in fresh:
                self.read.add((record["shardId"], record["SequenceNumber"]))
                self.records.append(record)
                found = event_for_change(record["eventName"], record["NewImage"], record["OldImage"])
                if found is not None:
                    self.events.append(found)
                    deliver(*found)


def deliver(detail_type: str, detail: dict[str, Any]) -> None:
    """What each consumer function does with its event (functions/*/app.py), minus the envelopes."""
    from cme.service.attendance import finalize_session, on_scans
    from cme.service.certificates import issue_certificate
    from cme.service.claims import record_claim
    from cme.service.mailing import send_certificate_mail

    if detail_type == "CheckInScanned":
        on_scans(detail["activity_id"], detail["scan"]["badge_id"], {detail["scan"]["scan_id"]})
    elif detail_type == "SessionEnded":
        finalize_session(detail["activity_id"], detail["session_id"])
    elif detail_type == "EvaluationSubmitted":
        record_claim(detail["activity_id"], detail["badge_id"], detail["evaluation_id"], detail["submitted_at"])
    elif detail_type == "ClaimRecorded":
        issue_certificate(detail["activity_id"], detail["badge_id"], int(detail["version"]))
    elif detail_type in ("CertificateIssued", "CertificateResendRequested"):
        resend = detail_type == "CertificateResendRequested"
        send_certificate_mail(detail["certificate_id"], int(detail["version"]), resend=resend)


def _fire_schedule(activity_id: str, session_id: str) -> None:
    """The session's end schedule fires (it is on moto's Scheduler): SessionEnded with its input."""
    import json

    from cme.adapters.aws import client
    from cme.adapters.schedules import schedule_name
    from cme.config import settings

    schedule = client("scheduler").get_schedule(
        Name=schedule_name(activity_id, session_id), GroupName=settings().schedule_group
    )
    deliver(schedule["Target"]["EventBridgeParameters"]["DetailType"], json.loads(schedule["Target"]["Input"]))


def _evaluate(activity_id: str, badge_id: str, **claims: Any) -> None:
    from cme.domain.models import EvaluationSubmission
    from cme.service.learners import submit_evaluation

    submit_evaluation(
        activity_id, badge_id, EvaluationSubmission.model_validate({"answers": answers(), "attest": True, **claims})
    )


@pytest.fixture(scope="module")
def meeting(dynamodb_local: Any) -> Iterator[Pump]:
    from cme import clock
    from cme.adapters import store
    from cme.auth import certificate_id, device_token_hash, new_device_token
    from cme.domain.models import Activity
    from cme.service.activities import import_activity
    from cme.service.mail_events import record_mail_event
    from cme.service.roster import upsert_roster
    from cme.service.scans import authenticate_device, ingest_scans

    activity_id = new_activity_id()
    pump = Pump(dynamodb_local, activity_id)
    _set_clock("2027-10-14T07:00:00-05:00")
    import_activity(Activity.model_validate({**worked_example_activity(), "activity_id": activity_id}))
    rows = roster_rows()
    upsert_roster(activity_id, rows)
    rows[3]["degree"] = "RPh"
    upsert_roster(activity_id, rows)  # the roster file again, one row changed
    token = new_device_token()
    store.put_device(
        device_token_hash(token), activity_id=activity_id, device_id="door-1", created_at=clock.iso(clock.now())
    )
    device = authenticate_device(token)
    pump.settle()

    _set_clock("2027-10-14T10:00:00-05:00")
    for _ in range(2):  # a device that uploaded its batch twice
        ingest_scans(device, {"activity_id": activity_id, "scans": MORNING})
    pump.settle()
    _set_clock("2027-10-14T12:30:00-05:00")
    ingest_scans(device, {"activity_id": activity_id, "scans": NOON})
    pump.settle()
    for session_id in ("S1", "S2"):
        _fire_schedule(activity_id, session_id)
    # The organizer ends S4 from the page (the outbox turns the request into SessionEnded).
    store.request_session_end(
        activity_id, "S4", reason="manual", ended_at="2027-10-14T10:45:00-05:00", requested_at=clock.iso(clock.now())
    )
    pump.settle()
    ingest_scans(device, {"activity_id": activity_id, "scans": BACKLOG})
    pump.settle()

    _set_clock("2027-10-14T13:00:00-05:00")
    for badge_id in ("B-1001", "B-1002", "B-1003"):
        _evaluate(activity_id, badge_id)
    pump.settle()
    _set_clock("2027-10-14T13:10:00-05:00")
    _evaluate(activity_id, "B-1001", claims={"AMA_PRA_1": {"S1": 1.0, "S2": 2.0}})  # version 2, less S1 credit
    pump.settle()
    # B-1002's mail bounces; the organizer asks for it again.
    cid = certificate_id(activity_id, "B-1002")
    sent = store.get_certificate(cid)
    assert sent is not None and sent["mail_state"] == "sent"
    record_mail_event(
        {
            "eventType": "Bounce",
            "mail": {"messageId": sent["message_id"], "tags": {"certificate_id": [cid], "version": ["1"]}},
            "bounce": {"bounceType": "Permanent", "timestamp": "2027-10-14T18:11:00Z"},
        }
    )
    store.request_resend(cid, 1, at="2027-10-14T18:20:00Z", by="organizer-1")
    pump.settle()
    _set_clock("2027-10-14T18:30:00-05:00")
    yield pump
    clock.set_override(None)


def test_stored_attendance_is_what_the_credit_rules_give(meeting: Pump) -> None:
    from cme.adapters import store
    from cme.domain.credit import session_attendance

    activity = store.get_activity(meeting.activity_id)
    assert activity is not None
    assert store.finalized_sessions(meeting.activity_id) == {"S1", "S2", "S4"}
    for badge_id in ("B-1001", "B-1002", "B-1003", "F1"):
        stored = store.attendance_of(meeting.activity_id, badge_id)
        assert stored == session_attendance(activity, badge_id, store.scans_of(meeting.activity_id, badge_id))
    # credit-rules.md's worked examples.
    physician = store.attendance_of(meeting.activity_id, "B-1001")
    assert physician["S1"].seconds == 90 * 60 and physician["S1"].credits["AMA_PRA_1"] == Decimal("1.5")
    assert physician["S2"].seconds == 115 * 60 and physician["S2"].credits["AMA_PRA_1"] == Decimal("2")
    nurse = store.attendance_of(meeting.activity_id, "B-1002")
    assert nurse["S2"].credits["ANCC"] == Decimal("1.75")  # example 9: ANCC rounds down
    late = store.attendance_of(meeting.activity_id, "B-1003")  # recomputed by its late scans' consumer
    assert late["S1"].seconds == 50 * 60 and late["S1"].credits["AAPA_1"] == Decimal("0.75")
    assert store.attendance_of(meeting.activity_id, "F1")["S4"].faculty


def test_claims_certificates_and_mail_followed_the_stream(meeting: Pump) -> None:
    from cme.adapters import store
    from cme.auth import certificate_id

    claim = store.get_claim(meeting.activity_id, "B-1001")
    assert claim is not None and int(claim["version"]) == 2 and Decimal(claim["totals"]["AMA_PRA_1"]) == 3
    current = {c["badge_id"]: c for c in store.current_certificates(meeting.activity_id)}
    assert {b: int(c["version"]) for b, c in current.items()} == {"B-1001": 2, "B-1002": 1, "B-1003": 1}
    assert all(c["mail_state"] == "sent" for c in current.values())
    # The bounce was recorded, then the resend cleared it and the mail went again.
    bounced = [r for r in meeting.records if (r["NewImage"] or {}).get("delivery") == "bounced"]
    assert [r["NewImage"]["badge_id"] for r in bounced] == ["B-1002"]
    assert "delivery" not in current["B-1002"] and int(current["B-1002"]["resend_count"]) == 1
    first = store.get_certificate(certificate_id(meeting.activity_id, "B-1001"), 1)
    assert first is not None and int(first["superseded_by"]) == 2


def test_the_stream_is_ordered_as_the_counting_code_assumes(meeting: Pump) -> None:
    """DynamoDB Streams sequence numbers are decimal strings, increasing within a shard; the counts'
    marks compare them as numbers (and keep them as DynamoDB numbers: at most 38 digits)."""
    by_shard: dict[str, list[str]] = {}
    for record in meeting.records:
        by_shard.setdefault(record["shardId"], []).append(record["SequenceNumber"])
    assert by_shard
    for numbers in by_shard.values():
        assert all(n.isdigit() and len(n.lstrip("0")) <= 38 for n in numbers)
        assert [Decimal(n) for n in numbers] == sorted({Decimal(n) for n in numbers})
    for record in meeting.records:
        assert (record["OldImage"] is None) == (record["eventName"] == "INSERT")


def test_the_outbox_made_each_event_once(meeting: Pump) -> None:
    """A duplicate scan or an unchanged roster row writes nothing, so it makes no event (DynamoDB
    writes no stream record for a write that changes nothing, nor for a refused conditional write)."""
    kinds = Counter(kind for kind, _ in meeting.events)
    scans = sorted(d["scan"]["scan_id"] for kind, d in meeting.events if kind == "CheckInScanned")
    assert scans == sorted(s["scan_id"] for s in MORNING + NOON + BACKLOG)
    assert kinds["LearnerRegistered"] == len(roster_rows())
    assert [d["session_id"] for kind, d in meeting.events if kind == "SessionEnded"] == ["S4"]
    assert kinds["EvaluationSubmitted"] == 4 and kinds["ClaimRecorded"] == 4
    assert kinds["CertificateIssued"] == 4 and kinds["CertificateResendRequested"] == 1
    # The stream's record of each written item, not of each write call: B-1004's changed row is a
    # MODIFY, the unchanged rows of the second roster upload are absent.
    profiles = [r for r in meeting.records if r["Keys"]["SK"] == "PROFILE"]
    assert Counter(r["eventName"] for r in profiles) == {"INSERT": 5, "MODIFY": 1}


def test_live_counts_from_the_stream_equal_the_records(meeting: Pump) -> None:
    """Batches of any size, some delivered twice (Lambda's retries), in stream order per shard."""
    from cme import clock
    from cme.adapters import store
    from cme.domain.credit import eligible_types
    from cme.service import counters, dashboard

    activity = store.get_activity(meeting.activity_id)
    professions = {a.badge_id: a.profession for a in store.roster(meeting.activity_id)}

    def eligible(_: str, badge_id: str) -> list[str]:
        return eligible_types(activity, professions.get(badge_id, "other")) if activity else []

    now = int(clock.now().timestamp())
    rng = random.Random(11)
    by_shard: dict[str, list[dict[str, Any]]] = {}
    for record in meeting.records:
        by_shard.setdefault(record["shardId"], []).append(record)
    for shard_id, records in by_shard.items():
        position = 0
        while position < len(records):
            batch = records[position : position + rng.choice([1, 3, 20, 500])]
            changes = [(Decimal(r["SequenceNumber"]), r["Keys"], r["NewImage"], r["OldImage"]) for r in batch]
            for _ in range(rng.choice([1, 2])):
                counters.apply_batch(shard_id, changes, now, eligible)
            position += len(batch)

    kept = counters.read(meeting.activity_id)
    live = {(scope, attr): v for scope, values in kept.by_scope.items() for attr, v in values.items() if v}
    assert live == {k: v for k, v in counters.expected(meeting.activity_id, now).items() if v}
    assert dashboard.differences(dashboard.dashboard(meeting.activity_id), dashboard.recount(meeting.activity_id)) == []
    totals = dashboard.dashboard(meeting.activity_id)["totals"]
    assert totals["registered"] == 5 and totals["checked_in"] == 4 and totals["certificates_issued"] == 3
    assert totals["emails_bounced"] == 0 and totals["emails_to_resend"] == 0  # the resend cleared the bounce
