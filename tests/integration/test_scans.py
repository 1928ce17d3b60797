"""`POST /scans` against moto: one result per scan in request order, every reason code, duplicates,
device tokens, offline backlogs, and bad bodies answered 4xx."""

from __future__ import annotations

from datetime import datetime

import pytest

from builders import roster_rows, scan, worked_example_activity


@pytest.fixture
def ready(handlers, activity_id, clock):
    handlers.put_activity(activity_id, worked_example_activity())
    handlers.post_roster(activity_id, roster_rows())
    clock("2027-10-14T12:30:00-05:00")
    return activity_id


def _post(handlers, stack, activity_id, scans, token=None):
    status, body, _ = handlers.scans({"activity_id": activity_id, "scans": scans}, token=token or stack.scanner_token)
    assert status == 200, body
    return body["results"]


def test_each_scan_gets_its_result_in_request_order(handlers, stack, ready):
    results = _post(
        handlers,
        stack,
        ready,
        [
            scan("a1", "B-1001", "Hall-A", "07:50"),
            scan("a2", "B-404", "Hall-A", "07:51"),
            scan("a3", "B-1001", "Room-999", "07:52"),
            {"scan_id": "a4", "badge_id": "B-1001", "session_id": "S9", "scanned_at": "2027-10-14T08:00:00-05:00"},
            {"scan_id": "a5", "badge_id": "B-1001", "scanned_at": "2027-10-14T08:00:00-05:00"},
            scan("a6", "B-1001", "Hall-A", "07:50", scanned_at="2027-10-20T08:00:00-05:00"),
            scan("a1", "B-1001", "Hall-A", "07:50"),
            {"scan_id": "a8", "badge_id": "B-1002", "session_id": "S2", "scanned_at": "2027-10-14T09:50:00-05:00"},
            "not even an object",
        ],
    )
    assert [(r["scan_id"], r["status"], r["reason"]) for r in results] == [
        ("a1", "accepted", None),
        ("a2", "rejected", "unknown_badge"),
        ("a3", "rejected", "unknown_room"),
        ("a4", "rejected", "unknown_session"),
        ("a5", "rejected", "invalid"),
        ("a6", "rejected", "outside_activity"),
        ("a1", "duplicate", None),
        ("a8", "accepted", None),
        (None, "rejected", "invalid"),
    ]
    assert results[0]["attendee_name"] == "Dr. Ana Pérez" and results[0]["session_id"] == "S1"
    assert results[7]["attendee_name"] == "Łukasz Żółć" and results[7]["session_id"] == "S2"


def test_a_duplicate_changes_nothing(handlers, stack, ready):
    from cme.adapters import store

    _post(handlers, stack, ready, [scan("d1", "B-1001", "Hall-A", "07:50")])
    results = _post(handlers, stack, ready, [scan("d1", "B-1001", "Room-201", "09:00", direction="exit")])
    assert results[0]["status"] == "duplicate"
    [stored] = store.scans_of(ready, "B-1001")
    assert (stored.room, stored.direction) == ("Hall-A", "entry")


def test_scans_from_the_future_beyond_the_skew_are_refused(handlers, stack, ready, clock):
    clock("2027-10-14T08:00:00-05:00")
    results = _post(
        handlers, stack, ready, [scan("f1", "B-1001", "Hall-A", "08:04"), scan("f2", "B-1001", "Hall-A", "08:06")]
    )
    assert [r["status"] for r in results] == ["accepted", "rejected"]
    assert results[1]["reason"] == "outside_activity"


def test_an_offline_backlog_days_late_counts_by_scanned_at(handlers, stack, ready, clock):
    from cme.adapters import store

    clock("2027-10-16T18:00:00-05:00")
    results = _post(handlers, stack, ready, [scan("o1", "B-1003", "Room-201", "09:40")])
    assert results[0]["status"] == "accepted"
    [stored] = store.scans_of(ready, "B-1003")
    assert stored.at == int(datetime.fromisoformat("2027-10-14T09:40:00-05:00").timestamp())  # not the arrival


def test_batch_size_limits(handlers, stack, ready):
    status, body, _ = handlers.scans({"activity_id": ready, "scans": []}, token=stack.scanner_token)
    assert status == 422 and body["error"]["details"][0]["field"] == "scans"
    many = [scan(f"m{i}", "B-1001", "Hall-A", "07:50") for i in range(501)]
    status, _, _ = handlers.scans({"activity_id": ready, "scans": many}, token=stack.scanner_token)
    assert status == 422


def test_device_tokens(handlers, stack, ready, activity_id):
    from cme.adapters import store
    from cme.auth import device_token_hash

    status, body, _ = handlers.scans({"activity_id": ready, "scans": [scan("t1", "B-1001", "Hall-A", "07:50")]})
    assert status == 401
    status, body, _ = handlers.scans({"scans": [scan("t1", "B-1001", "Hall-A", "07:50")]}, token="dev_forged")
    assert status == 401
    store.put_device(
        device_token_hash("dev_other"),
        activity_id="another-activity",
        device_id="d-x",
        created_at="2027-10-14T07:00:00-05:00",
    )
    status, body, _ = handlers.scans(
        {"activity_id": ready, "scans": [scan("t1", "B-1001", "Hall-A", "07:50")]}, token="dev_other"
    )
    assert status == 403
    store.put_device(
        device_token_hash("dev_bound"), activity_id=ready, device_id="d-b", created_at="2027-10-14T07:00:00-05:00"
    )
    status, body, _ = handlers.scans({"scans": [scan("t2", "B-1001", "Hall-A", "07:50")]}, token="dev_bound")
    assert status == 200 and body["results"][0]["status"] == "accepted"
    device = store.get_device(device_token_hash("dev_bound"))
    store.put_device(
        device_token_hash("dev_bound"), activity_id=ready, device_id="d-b", created_at=device["created_at"]
    )
    from cme.adapters.aws import table
    from cme.config import settings

    table(settings().table_name).update_item(
        Key={"PK": f"DEVICE#{device_token_hash('dev_bound')}", "SK": "DEVICE"},
        UpdateExpression="SET revoked = :t",
        ExpressionAttributeValues={":t": True},
    )
    # A container re-reads a token record at most every CACHE_SECONDS: a revocation lands within that.
    from cme.service import scans as scan_service

    scan_service._device.cache_clear()
    status, body, _ = handlers.scans({"scans": [scan("t3", "B-1001", "Hall-A", "07:55")]}, token="dev_bound")
    assert status == 403 and body["error"]["code"] == "device_revoked"
    assert {s.scan_id for s in store.scans_of(ready, "B-1001")} == {"t2"}  # what it sent before stays


@pytest.mark.parametrize(
    ("raw", "headers", "status"),
    [
        ("{", {}, 400),
        ("[1, 2]", {}, 422),
        ('{"scans": "nope"}', {}, 422),
        ("scans", {"content-type": "text/plain"}, 415),
        ('{"activity_id": "no-such-activity", "scans": [{}]}', {}, 404),
    ],
    ids=["broken-json", "not-an-object", "scans-not-a-list", "wrong-content-type", "unknown-activity"],
)
def test_bad_bodies_are_4xx(handlers, stack, ready, raw, headers, status):
    code, body, _ = handlers.scans(raw=raw, token=stack.scanner_token, headers=headers)
    assert code == status, body
    assert body["error"]["message"]
