"""The store's conditional writes and transactions on DynamoDB Local: each guard holds (or refuses) in
AWS's own engine exactly as the product relies on, through the store's functions themselves."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from cme.adapters import store
from cme.domain.models import DoorScan, SessionAttendance

pytestmark = pytest.mark.dynamodb_local

BADGE = "B-1001"


def _item(pk: str, sk: str) -> dict[str, Any] | None:
    from cme.adapters.aws import table
    from cme.config import settings

    found: dict[str, Any] | None = (
        table(settings().table_name).get_item(Key={"PK": pk, "SK": sk}, ConsistentRead=True).get("Item")
    )
    return found


def _attendance(seconds: int, credit: str) -> SessionAttendance:
    return SessionAttendance(
        session_id="S1", seconds=seconds, credit_seconds=5400, credits={"AMA_PRA_1": Decimal(credit)}, capped=[]
    )


def test_a_scan_is_stored_once_per_scan_id(activity_id: str) -> None:
    first = DoorScan(scan_id="s-1", room="Hall-A", at=1_823_000_000, direction="entry")
    again = DoorScan(scan_id="s-1", room="Room-201", at=1_823_000_900, direction="exit")
    assert store.put_scan(activity_id, BADGE, first, device_id="door-1", session_id=None)
    assert not store.put_scan(activity_id, BADGE, again, device_id="door-2")
    # The same scan id of another attendee is another scan.
    assert store.put_scan(activity_id, "B-1002", first)
    assert store.scans_of(activity_id, BADGE) == [first]
    # The room's index holds every scan made in it, by badge, whatever its attendee's shard.
    assert store.room_scans(activity_id, "Hall-A") == {
        BADGE: [(1_823_000_000, "entry")],
        "B-1002": [(1_823_000_000, "entry")],
    }
    assert store.room_scans(activity_id, "Room-201") == {}


def _claim(activity_id: str, version: int, submitted_at: str, amount: str = "1.5", claimed_at: str = "") -> bool:
    return store.put_claim(
        activity_id,
        BADGE,
        version=version,
        evaluation_id=f"ev-{version}",
        submitted_at=submitted_at,
        claimed={"AMA_PRA_1": {"S1": Decimal(amount)}},
        totals={"AMA_PRA_1": Decimal(amount)},
        claimed_at=claimed_at or submitted_at,
    )


def test_a_claim_version_is_written_only_over_the_version_before(activity_id: str) -> None:
    assert not _claim(activity_id, 2, "2027-10-14T12:00:00-05:00")  # no version 1 yet
    assert _claim(activity_id, 1, "2027-10-14T12:00:00-05:00")
    # The same write again (the SDK's retry of a request whose answer was lost) counts as done, from
    # the item the refused condition returns; another claim of version 1 does not.
    assert _claim(activity_id, 1, "2027-10-14T12:00:00-05:00")
    assert not _claim(activity_id, 1, "2027-10-14T12:00:00-05:00", claimed_at="2027-10-14T12:00:09-05:00")
    assert not _claim(activity_id, 3, "2027-10-14T12:05:00-05:00")  # skips version 2
    assert not _claim(activity_id, 2, "2027-10-14T11:59:00-05:00")  # an older submission
    assert _claim(activity_id, 2, "2027-10-14T12:05:00-05:00", "0.75")
    claim = store.get_claim(activity_id, BADGE)
    assert claim is not None and int(claim["version"]) == 2
    assert claim["totals"] == {"AMA_PRA_1": "0.75"}


def _certificate(activity_id: str, certificate_id: str, version: int) -> dict[str, Any]:
    return {
        "certificate_id": certificate_id,
        "version": version,
        "activity_id": activity_id,
        "badge_id": BADGE,
        "kind": "physician",
        "s3_key": f"certificates/{activity_id}/{certificate_id}/v{version}.pdf",
        "sha256": "0" * 64,
        "size": 1234,
        "issued_at": "2027-10-14T12:00:00-05:00",
        "credits": {"AMA_PRA_1": Decimal("1.5")},
        "status": "valid",
    }


def test_a_certificate_version_is_written_once_and_current_never_moves_back(activity_id: str) -> None:
    cid = f"C-{activity_id}"
    assert store.put_certificate_version(_certificate(activity_id, cid, 1))
    assert not store.put_certificate_version({**_certificate(activity_id, cid, 1), "sha256": "1" * 64})
    assert store.get_certificate(cid, 1)["sha256"] == "0" * 64
    assert store.put_certificate_version(_certificate(activity_id, cid, 2))
    assert store.put_certificate_version(_certificate(activity_id, cid, 3))
    # The issuer's retry of version 2 (as it re-puts a stored version): nothing moves back.
    stored = store.get_certificate(cid, 2)
    assert stored is not None
    assert not store.put_certificate_version({k: v for k, v in stored.items() if k not in ("PK", "SK")})
    assert store.current_certificate_version(cid) == 3
    assert int(store.get_certificate(cid)["version"]) == 3
    assert int(store.get_certificate(cid, 1)["superseded_by"]) == 3
    assert int(store.get_certificate(cid, 2)["superseded_by"]) == 3
    assert "superseded_by" not in store.get_certificate(cid, 3)
    assert [int(c["version"]) for c in store.current_certificates(activity_id)] == [3]
    assert store.activity_has_certificates(activity_id)


def test_the_issuer_and_mailer_reads_take_records_from_two_partitions_at_once(activity_id: str) -> None:
    """`claim_and_certificate` and `certificate_and_current` are one consistent BatchGetItem each; what is
    missing comes back as None."""
    cid = f"C-{activity_id}"
    assert store.claim_and_certificate(activity_id, BADGE, cid, 1) == (None, None)
    assert store.certificate_and_current(cid, 1) == (None, None)
    assert _claim(activity_id, 1, "2027-10-14T12:00:00-05:00")
    claim, version = store.claim_and_certificate(activity_id, BADGE, cid, 1)
    assert claim == store.get_claim(activity_id, BADGE) and version is None
    assert store.put_certificate_version(_certificate(activity_id, cid, 1))
    assert store.put_certificate_version(_certificate(activity_id, cid, 2))
    claim, version = store.claim_and_certificate(activity_id, BADGE, cid, 1)
    assert claim is not None and claim["totals"] == {"AMA_PRA_1": "1.5"}
    assert version == store.get_certificate(cid, 1)
    record, current = store.certificate_and_current(cid, 1)
    assert record == store.get_certificate(cid, 1) and current == 2
    assert store.certificate_and_current(cid, 3) == (None, 2)


def test_mail_state_moves_only_from_the_state_expected(activity_id: str) -> None:
    cid = f"C-{activity_id}"
    # No version, no state: the update never creates an item.
    assert not store.set_mail_state(cid, 1, "sending", expect=None)
    assert _item(f"CERT#{cid}", "V#000001") is None
    store.put_certificate_version(_certificate(activity_id, cid, 1))
    assert store.set_mail_state(cid, 1, "sending", expect=None, sending_at="2027-10-14T12:00:01-05:00")
    assert not store.set_mail_state(cid, 1, "sending", expect=None)  # a second delivery of the job
    assert not store.set_mail_state(cid, 1, "sent", expect="throttled")
    assert store.set_mail_state(cid, 1, "sent", expect="sending", message_id="m-1", sent_at="2027-10-14T12:00:02Z")
    record = store.get_certificate(cid, 1)
    assert record is not None and record["mail_state"] == "sent" and record["message_id"] == "m-1"
    # A resend is refused while one is asked for, then the send moves on from it.
    assert store.request_resend(cid, 1, at="2027-10-15T09:00:00Z", by="organizer-1")
    assert not store.request_resend(cid, 1, at="2027-10-15T09:00:01Z", by="organizer-1")
    assert store.set_mail_state(cid, 1, "sending", expect="resend_requested")
    assert not store.request_resend(cid, 1, at="2027-10-15T09:00:02Z", by="organizer-1")
    record = store.get_certificate(cid, 1)
    assert record is not None and int(record["resend_count"]) == 1
    assert store.revoke_certificate_version(cid, 1, reason="duplicate", at="2027-10-16T09:00:00Z", by="org")
    assert not store.revoke_certificate_version(cid, 1, reason="other", at="2027-10-16T09:01:00Z", by="org")
    assert store.get_certificate(cid, 1)["revoked_reason"] == "duplicate"


def test_a_delivery_outcome_never_gives_way_to_a_better_one(activity_id: str) -> None:
    cid = f"C-{activity_id}"
    store.put_certificate_version(_certificate(activity_id, cid, 1))
    store.set_mail_state(cid, 1, "sending", expect=None)
    store.set_mail_state(cid, 1, "sent", expect="sending", message_id="m-1")

    def record(state: str, message_id: str | None = "m-1") -> bool:
        return store.record_delivery(cid, 1, state, message_id=message_id, at="2027-10-14T12:01:00Z", detail=state)

    assert not record("delivered", "m-0")  # an event of an earlier send
    assert record("delivered")
    assert not record("delivered")
    assert record("bounced")
    assert not record("delivered")
    assert record("complained", None)
    assert not record("bounced")
    found = store.get_certificate(cid, 1)
    assert found is not None and found["delivery"] == "complained" and int(found["delivery_rank"]) == 3
    # A delivery event for a version that does not exist creates nothing.
    assert not store.record_delivery(cid, 9, "delivered", message_id=None, at="2027-10-14T12:01:00Z")
    assert _item(f"CERT#{cid}", "V#000009") is None


def test_a_device_is_issued_and_revoked_in_transactions(activity_id: str) -> None:
    token_hash = f"hash-{activity_id}"
    store.put_device(token_hash, activity_id=activity_id, device_id="door-1", created_at="2027-10-14T07:00:00Z")
    store.put_device(f"{token_hash}-any", activity_id="*", device_id="any", created_at="2027-10-14T07:00:00Z")
    assert store.get_device(token_hash)["revoked"] is False
    assert [d["device_id"] for d in store.list_devices(activity_id)] == ["door-1"]
    revoked = store.revoke_device(activity_id, "door-1", revoked_at="2027-10-14T08:00:00Z")
    assert revoked is not None and revoked["revoked"] is True and "token_hash" not in revoked
    token = store.get_device(token_hash)
    assert token is not None and token["revoked"] is True and token["revoked_at"] == "2027-10-14T08:00:00Z"
    again = store.revoke_device(activity_id, "door-1", revoked_at="2027-10-14T09:00:00Z")
    assert again is not None and again["revoked_at"] == "2027-10-14T08:00:00Z"
    assert store.revoke_device(activity_id, "door-9", revoked_at="2027-10-14T09:00:00Z") is None


def test_attendance_rows_never_go_back_to_fewer_scans(activity_id: str) -> None:
    assert store.put_attendance_if_newer(activity_id, BADGE, _attendance(3600, "1"), 2)
    assert store.put_attendance_if_newer(activity_id, BADGE, _attendance(4500, "1.25"), 3)
    assert not store.put_attendance_if_newer(activity_id, BADGE, _attendance(3600, "1"), 2)
    assert store.put_attendance_if_newer(activity_id, BADGE, _attendance(4500, "1.25"), 3)  # same scans: converge
    assert store.attendance_of(activity_id, BADGE)["S1"].credits == {"AMA_PRA_1": Decimal("1.25")}
    # A row the finalizer batch-wrote carries its scan count too, so a stale single write is refused.
    store.put_attendances(activity_id, [("B-1002", _attendance(5400, "1.5"), 4)])
    assert not store.put_attendance_if_newer(activity_id, "B-1002", _attendance(3600, "1"), 3)
    assert {(b, a.seconds) for b, a in store.all_attendance(activity_id)} == {(BADGE, 4500), ("B-1002", 5400)}


def test_a_live_record_never_goes_back_to_fewer_scans_and_is_read_by_badge(activity_id: str) -> None:
    assert store.put_live_if_newer(activity_id, BADGE, {"sessions": ["S1"]}, 2)
    assert store.put_live_if_newer(activity_id, BADGE, {"sessions": ["S1", "S2"]}, 3)
    assert not store.put_live_if_newer(activity_id, BADGE, {"sessions": ["S1"]}, 2)
    assert store.put_live_if_newer(activity_id, BADGE, {"sessions": ["S1", "S2"]}, 3)  # same scans: converge
    assert store.put_live_if_newer(activity_id, "B-1002", {"sessions": []}, 1)
    found = store.live_items(activity_id, [BADGE, "B-1002", "B-1003"])  # B-1003 has none
    assert sorted((i["badge_id"], i["sessions"], i["scan_count"]) for i in found) == [
        ("B-1001", ["S1", "S2"], 3),
        ("B-1002", [], 1),
    ]
    assert "GSI1PK" not in (_item(f"ACT#{activity_id}#B#{BADGE}", "LIVE") or {"GSI1PK": "missing"})


def test_the_finalization_lease_is_released_only_by_the_run_holding_it(activity_id: str) -> None:
    store.begin_finalization(activity_id, "S1", run_id="run-1", at="2027-10-14T09:30:00-05:00")
    store.begin_finalization(activity_id, "S1", run_id="run-2", at="2027-10-14T09:31:00-05:00")
    assert not store.end_finalization(activity_id, "S1", run_id="run-1")
    state = store.session_states(activity_id)["S1"]
    assert state["running"] == "run-2" and state["finalized_at"] == "2027-10-14T09:30:00-05:00"
    assert state["last_finalized_at"] == "2027-10-14T09:31:00-05:00"
    assert store.end_finalization(activity_id, "S1", run_id="run-2")
    assert store.end_finalization(activity_id, "S1", run_id="run-2")  # a retried release: done already
    assert "running" not in store.session_states(activity_id)["S1"]
    assert store.finalized_sessions(activity_id) == {"S1"}
    # Late-scan markers left while a run held the lease.
    store.mark_dirty(activity_id, BADGE, ["S1", "S2"], at="2027-10-14T09:31:30-05:00")
    assert store.dirty_badges(activity_id, "S1") == [BADGE]
    store.clear_dirty(activity_id, "S1", [BADGE])
    assert store.dirty_badges(activity_id, "S1") == [] and store.dirty_badges(activity_id, "S2") == [BADGE]


def test_a_count_item_takes_a_batch_only_past_its_mark(activity_id: str) -> None:
    key = "T@shard-1"
    deltas = {"registered": 2, "credits.AMA_PRA_1": Decimal("1.25"), "inside@1823000000": -1}
    assert store.add_counts(activity_id, key, deltas, first=Decimal(11), last=Decimal(19))
    assert not store.add_counts(activity_id, key, deltas, first=Decimal(11), last=Decimal(19))  # a replay
    assert not store.add_counts(activity_id, key, deltas, first=Decimal(15), last=Decimal(25))  # overlaps
    assert store.count_mark(activity_id, key) == Decimal(19)
    assert not store.add_counts(activity_id, key, {"registered": 1}, first=Decimal(20), last=Decimal(25), expect=18)
    assert store.add_counts(activity_id, key, {"registered": 1}, first=Decimal(20), last=Decimal(25), expect=19)
    assert store.add_counts(activity_id, key, {}, first=Decimal(26), last=Decimal(26))  # nothing to add
    # Sequence numbers as DynamoDB Streams write them: 21 digits with leading zeros.
    assert store.add_counts(activity_id, key, {"registered": 1}, first=Decimal("000000000000000000027"), last=28)
    # Stream sequence numbers may have up to 40 digits (more than a DynamoDB number holds): the marks
    # are kept as zero-padded strings, and 40-digit marks still compare exactly.
    high = int("9" * 39 + "0")
    assert store.add_counts(activity_id, key, {"registered": 1}, first=high - 1, last=high)
    assert not store.add_counts(activity_id, key, {"registered": 1}, first=high, last=high + 1)
    assert store.add_counts(activity_id, key, {"registered": -1}, first=high + 1, last=high + 9, expect=high)
    assert store.count_mark(activity_id, key) == high + 9
    store.correct_counts(activity_id, "T@repair", {"registered": -1, "credits.AMA_PRA_1": Decimal("0.25")})
    store.correct_counts(activity_id, "T@repair", {})
    items = {item["SK"]: item for item in store.count_items(activity_id)}
    assert items[key]["registered"] == 4 and items[key]["seq"] == f"{high + 9:040d}"
    assert items[key]["credits.AMA_PRA_1"] == Decimal("1.25") and items[key]["inside@1823000000"] == -1
    assert items["T@repair"]["registered"] == -1 and "seq" not in items["T@repair"]


def test_concurrent_attendance_writers_converge_on_the_most_scans(activity_id: str) -> None:
    """Late-scan consumers on several containers racing on one row: DynamoDB serializes the
    conditional writes, so whatever the interleaving the row computed from the most scans stands."""
    from concurrent.futures import ThreadPoolExecutor

    counts = [3, 7, 1, 8, 2, 6, 5, 4] * 3

    def write(count: int) -> bool:
        return store.put_attendance_if_newer(activity_id, BADGE, _attendance(count * 600, str(count)), count)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(write, counts))
    assert any(results)
    row = store.attendance_of(activity_id, BADGE)["S1"]
    assert row.seconds == 8 * 600 and row.credits == {"AMA_PRA_1": Decimal(8)}


def test_a_large_roster_is_written_and_read_in_batches(activity_id: str) -> None:
    """More rows than one BatchWriteItem (25) or BatchGetItem (100) takes, a shared address, and a
    second upload of the same rows: every row once, found again by badge, by shard and by address."""
    from cme.auth import email_key
    from cme.service.roster import upsert_roster

    rows = [
        {
            "badge_id": f"B-{n:04d}",
            "given_name": "Ana",
            "family_name": f"Pérez {n}",
            "email": "desk@example.org" if n % 50 == 0 else f"a{n}@example.org",
            "profession": "physician",
        }
        for n in range(260)
    ]
    assert upsert_roster(activity_id, rows)["created"] == 260
    assert upsert_roster(activity_id, rows) == {"created": 0, "updated": 260, "rejected": []}
    asked = [r["badge_id"] for r in rows] + [f"X-{n}" for n in range(40)]
    assert store.existing_badges(activity_id, asked) == {r["badge_id"] for r in rows}
    assert len(store.get_attendees(activity_id, asked)) == 260
    assert sorted(a.badge_id for a in store.roster(activity_id)) == sorted(r["badge_id"] for r in rows)
    shared = store.badges_for_email(activity_id, email_key("Desk@Example.org "))
    assert sorted(shared) == [f"B-{n:04d}" for n in range(0, 260, 50)]


def test_a_branding_image_is_deleted_once(activity_id: str) -> None:
    store.put_branding_image(activity_id, "logo", {"s3_key": "branding/logo.png", "sha256": "ab" * 32})
    assert set(store.branding_images(activity_id)) == {"logo"}
    assert store.delete_branding_image(activity_id, "logo")
    assert not store.delete_branding_image(activity_id, "logo")
    assert store.branding_images(activity_id) == {}
