"""The outbox (shared/cme/service/outbox.py, functions/stream_outbox/app.py): table changes become the
contract's events, published in batches of at most ten, with the earliest failure reported for retry."""

from __future__ import annotations

import importlib.util
import json
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from builders import LambdaContext, stream_event
from cme.config import settings
from cme.service.outbox import entry, event_for_change

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
ACT = "asa-2027"

#: contract.md, Events: the required detail fields of each detail-type.
REQUIRED = {
    "CheckInScanned": {"activity_id", "scan"},
    "SessionEnded": {"activity_id", "session_id", "ended_at", "reason"},
    "EvaluationSubmitted": {"activity_id", "badge_id", "session_id", "evaluation_id", "submitted_at"},
    "CertificateIssued": {"activity_id", "badge_id", "certificate_id", "version", "s3_key", "sha256"},
}
SCAN_FIELDS = {"scan_id", "badge_id", "room", "session_id", "scanned_at", "direction", "device_id", "received_at"}


# ---- items as the store writes them --------------------------------------------------------------


def scan_item(scan_id: str = "7f0c-1", **extra: Any) -> dict[str, Any]:
    return {
        "PK": f"ACT#{ACT}#B#B-1001",
        "SK": f"SCAN#{scan_id}",
        "GSI1PK": f"ACT#{ACT}#ROOM#Hall-A#3",
        "GSI1SK": f"001791900000#B-1001#{scan_id}",
        "activity_id": ACT,
        "badge_id": "B-1001",
        "scan_id": scan_id,
        "room": "Hall-A",
        "at": Decimal(1791900000),
        "direction": "entry",
        "scanned_at": "2027-10-14T07:58:12-05:00",
        "received_at": "2027-10-14T12:58:13+00:00",
        "device_id": "door-hall-a-1",
        "session_id": "S1",
        **extra,
    }


def end_request(requested_at: str = "2027-10-14T14:30:00+00:00", **extra: Any) -> dict[str, Any]:
    return {
        "PK": f"ACT#{ACT}",
        "SK": "ENDREQ#S1",
        "activity_id": ACT,
        "session_id": "S1",
        "reason": "manual",
        "ended_at": "2027-10-14T09:30:00-05:00",
        "requested_at": requested_at,
        **extra,
    }


def evaluation_item(scope: str = "ACTIVITY", evaluation_id: str = "ev-1", **extra: Any) -> dict[str, Any]:
    return {
        "PK": f"ACT#{ACT}#B#B-1001",
        "SK": f"EVAL#{scope}",
        "activity_id": ACT,
        "badge_id": "B-1001",
        "scope": scope,
        "doc": json.dumps({"answers": {}}),
        "evaluation_id": evaluation_id,
        "submitted_at": "2027-10-16T18:00:00+00:00",
        **extra,
    }


def claim_item(version: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "PK": f"ACT#{ACT}#B#B-1001",
        "SK": "CLAIM",
        "activity_id": ACT,
        "badge_id": "B-1001",
        "version": Decimal(version),
        "evaluation_id": f"ev-{version}",
        "submitted_at": "2027-10-16T18:00:00+00:00",
        "claimed": "{}",
        "totals": "{}",
        "claimed_at": "2027-10-16T18:00:01+00:00",
        **extra,
    }


def certificate_version(version: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "PK": "CERT#cabcdefghijklmnopqrs",
        "SK": f"V#{version:06d}",
        "activity_id": ACT,
        "badge_id": "B-1001",
        "certificate_id": "cabcdefghijklmnopqrs",
        "version": Decimal(version),
        "s3_key": f"certificates/{ACT}/cabcdefghijklmnopqrs/v{version}.pdf",
        "sha256": "ab" * 32,
        "issued_at": "2027-10-16T18:00:05+00:00",
        **extra,
    }


def _assert_contract_detail(detail_type: str, detail: dict[str, Any]) -> None:
    missing = REQUIRED[detail_type] - set(detail)
    assert not missing, f"{detail_type} lacks {missing}"
    json.dumps(detail)  # plain JSON, no Decimal left behind


# ---- event_for_change ------------------------------------------------------------------------------


def test_a_new_scan_is_check_in_scanned_with_the_scan_as_posted_plus_received_at() -> None:
    detail_type, detail = event_for_change("INSERT", scan_item(), None)
    assert detail_type == "CheckInScanned"
    _assert_contract_detail(detail_type, detail)
    assert detail["activity_id"] == ACT
    assert detail["scan"] == {
        "scan_id": "7f0c-1",
        "badge_id": "B-1001",
        "room": "Hall-A",
        "session_id": "S1",
        "scanned_at": "2027-10-14T07:58:12-05:00",
        "direction": "entry",
        "device_id": "door-hall-a-1",
        "received_at": "2027-10-14T12:58:13+00:00",
    }


def test_the_scan_detail_leaks_no_table_keys() -> None:
    _, detail = event_for_change("INSERT", scan_item(), None)
    assert set(detail["scan"]) == SCAN_FIELDS
    assert not {"PK", "SK", "GSI1PK", "GSI1SK"} & set(detail)


def test_a_scan_without_optional_fields_still_carries_every_scan_key() -> None:
    item = scan_item()
    del item["device_id"], item["session_id"]
    _, detail = event_for_change("INSERT", item, None)
    assert set(detail["scan"]) == SCAN_FIELDS
    assert detail["scan"]["device_id"] is None and detail["scan"]["session_id"] is None


def test_a_modified_scan_emits_nothing() -> None:
    assert event_for_change("MODIFY", scan_item(direction="exit"), scan_item()) is None


def test_a_session_end_request_is_session_ended() -> None:
    detail_type, detail = event_for_change("INSERT", end_request(), None)
    assert detail_type == "SessionEnded"
    _assert_contract_detail(detail_type, detail)
    assert detail == {
        "activity_id": ACT,
        "session_id": "S1",
        "ended_at": "2027-10-14T09:30:00-05:00",
        "reason": "manual",
    }


def test_a_repeated_end_request_with_a_new_requested_at_is_another_session_ended() -> None:
    old = end_request("2027-10-14T14:30:00+00:00")
    new = end_request("2027-10-14T14:45:00+00:00")
    found = event_for_change("MODIFY", new, old)
    assert found is not None and found[0] == "SessionEnded"


def test_an_end_request_rewritten_with_the_same_requested_at_emits_nothing() -> None:
    assert event_for_change("MODIFY", end_request(reason="scheduled"), end_request()) is None


def test_the_activity_evaluation_is_evaluation_submitted_with_a_null_session() -> None:
    detail_type, detail = event_for_change("INSERT", evaluation_item("ACTIVITY"), None)
    assert detail_type == "EvaluationSubmitted"
    _assert_contract_detail(detail_type, detail)
    assert detail == {
        "activity_id": ACT,
        "badge_id": "B-1001",
        "session_id": None,
        "evaluation_id": "ev-1",
        "submitted_at": "2027-10-16T18:00:00+00:00",
    }


def test_a_session_evaluation_names_its_session() -> None:
    _, detail = event_for_change("INSERT", evaluation_item("S2"), None)
    assert detail["session_id"] == "S2"


def test_a_replaced_evaluation_with_a_new_id_is_submitted_again() -> None:
    found = event_for_change("MODIFY", evaluation_item(evaluation_id="ev-2"), evaluation_item(evaluation_id="ev-1"))
    assert found is not None
    assert found[0] == "EvaluationSubmitted" and found[1]["evaluation_id"] == "ev-2"


def test_an_evaluation_rewritten_with_the_same_id_emits_nothing() -> None:
    old = evaluation_item()
    assert event_for_change("MODIFY", evaluation_item(doc="{}"), old) is None


def test_a_new_claim_version_is_claim_recorded() -> None:
    detail_type, detail = event_for_change("INSERT", claim_item(1), None)
    assert detail_type == "ClaimRecorded"
    assert detail == {"activity_id": ACT, "badge_id": "B-1001", "version": 1, "evaluation_id": "ev-1"}
    assert isinstance(detail["version"], int)
    found = event_for_change("MODIFY", claim_item(2), claim_item(1))
    assert found is not None and found[1]["version"] == 2


def test_a_claim_rewritten_at_the_same_version_emits_nothing() -> None:
    assert event_for_change("MODIFY", claim_item(2, claimed_at="later"), claim_item(2)) is None


def test_a_new_certificate_version_is_certificate_issued() -> None:
    detail_type, detail = event_for_change("INSERT", certificate_version(3), None)
    assert detail_type == "CertificateIssued"
    _assert_contract_detail(detail_type, detail)
    assert detail == {
        "activity_id": ACT,
        "badge_id": "B-1001",
        "certificate_id": "cabcdefghijklmnopqrs",
        "version": 3,
        "s3_key": f"certificates/{ACT}/cabcdefghijklmnopqrs/v3.pdf",
        "sha256": "ab" * 32,
    }
    assert isinstance(detail["version"], int)


def test_mail_state_written_onto_a_certificate_version_emits_nothing() -> None:
    sent = certificate_version(1, mail_status="sent")
    assert event_for_change("MODIFY", sent, certificate_version(1)) is None


def test_the_current_certificate_pointer_emits_nothing() -> None:
    pointer = {
        "PK": "CERT#cabcdefghijklmnopqrs",
        "SK": "CURRENT",
        "activity_id": ACT,
        "badge_id": "B-1001",
        "certificate_id": "cabcdefghijklmnopqrs",
        "version": Decimal(1),
    }
    assert event_for_change("INSERT", pointer, None) is None


@pytest.mark.parametrize(
    "item",
    [
        {"PK": f"ACT#{ACT}#B#B-1001", "SK": "PROFILE", "badge_id": "B-1001", "activity_id": ACT},
        {"PK": f"ACT#{ACT}#B#B-1001", "SK": "LIVE", "badge_id": "B-1001", "room": "Hall-A"},
        {"PK": f"ACT#{ACT}#B#B-1001", "SK": "ATT#S1", "badge_id": "B-1001", "seconds": Decimal(5400)},
        {"PK": f"ACT#{ACT}", "SK": "SESSION#S1", "finalized": True},
        {"PK": f"ACT#{ACT}", "SK": "META", "title": "x"},
    ],
    ids=["profile", "live", "attendance", "session-state", "activity"],
)
@pytest.mark.parametrize("event_name", ["INSERT", "MODIFY"])
def test_other_items_emit_nothing(item: dict[str, Any], event_name: str) -> None:
    old = dict(item) if event_name == "MODIFY" else None
    assert event_for_change(event_name, item, old) is None


@pytest.mark.parametrize(
    "item",
    [scan_item(), end_request(), evaluation_item(), claim_item(), certificate_version()],
    ids=["scan", "end-request", "evaluation", "claim", "certificate"],
)
def test_a_removal_emits_nothing(item: dict[str, Any]) -> None:
    assert event_for_change("REMOVE", None, item) is None
    assert event_for_change("REMOVE", item, item) is None


def test_the_entry_is_an_eventbridge_put_events_entry_from_source_cme() -> None:
    _, detail = event_for_change("INSERT", certificate_version(2), None)
    made = entry("cme-bus", "CertificateIssued", detail)
    assert made == {
        "Source": "cme",
        "DetailType": "CertificateIssued",
        "Detail": json.dumps(detail),
        "EventBusName": "cme-bus",
    }
    assert json.loads(made["Detail"]) == detail


# ---- the stream handler ----------------------------------------------------------------------------


class FakeEvents:
    """put_events that records each call; `fail` names (call index, entry index) pairs to fail,
    `raise_on` call indexes that raise."""

    def __init__(self, fail: set[tuple[int, int]] = frozenset(), raise_on: set[int] = frozenset()) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.fail = fail
        self.raise_on = raise_on

    def put_events(self, *, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        call = len(self.calls)
        self.calls.append(Entries)
        if call in self.raise_on:
            raise RuntimeError("throttled")
        results = [
            {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}
            if (call, index) in self.fail
            else {"EventId": f"e-{call}-{index}"}
            for index in range(len(Entries))
        ]
        return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}

    @property
    def published(self) -> list[dict[str, Any]]:
        return [e for call in self.calls for e in call]


@pytest.fixture(scope="module")
def outbox_app() -> ModuleType:
    path = ROOT / "functions" / "stream_outbox" / "app.py"
    spec = importlib.util.spec_from_file_location("stream_outbox_app_under_test", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def bus_settings(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("EVENT_BUS_NAME", "cme-test-bus")
    settings.cache_clear()
    yield
    settings.cache_clear()


def _run(app: ModuleType, monkeypatch: pytest.MonkeyPatch, fake: FakeEvents, event: dict[str, Any]) -> dict:
    services: list[str] = []

    def client(service: str) -> FakeEvents:
        services.append(service)
        return fake

    monkeypatch.setattr(app, "client", client)
    result = app.handler(event, LambdaContext("stream-outbox"))
    assert set(services) <= {"events"}
    return result


def _scans(count: int) -> list[tuple[str, dict[str, Any] | None, dict[str, Any] | None]]:
    return [("INSERT", scan_item(f"s-{n:03d}"), None) for n in range(count)]


def test_the_handler_publishes_each_change_once_from_source_cme_on_the_configured_bus(
    outbox_app: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeEvents()
    event = stream_event(
        ("INSERT", scan_item(), None),
        ("INSERT", end_request(), None),
        ("INSERT", evaluation_item(), None),
        ("INSERT", certificate_version(), None),
    )
    result = _run(outbox_app, monkeypatch, fake, event)
    assert result == {"batchItemFailures": []}
    assert len(fake.calls) == 1
    assert [e["DetailType"] for e in fake.published] == [
        "CheckInScanned",
        "SessionEnded",
        "EvaluationSubmitted",
        "CertificateIssued",
    ]
    for published in fake.published:
        assert published["Source"] == "cme"
        assert published["EventBusName"] == "cme-test-bus"
        _assert_contract_detail(published["DetailType"], json.loads(published["Detail"]))


def test_numbers_from_the_stream_are_published_as_json_numbers(
    outbox_app: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeEvents()
    _run(outbox_app, monkeypatch, fake, stream_event(("INSERT", certificate_version(7), None)))
    assert json.loads(fake.published[0]["Detail"])["version"] == 7


def test_entries_go_out_in_batches_of_at_most_ten_in_stream_order(
    outbox_app: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeEvents()
    result = _run(outbox_app, monkeypatch, fake, stream_event(*_scans(23)))
    assert result == {"batchItemFailures": []}
    assert [len(call) for call in fake.calls] == [10, 10, 3]
    published_ids = [json.loads(e["Detail"])["scan"]["scan_id"] for e in fake.published]
    assert published_ids == [f"s-{n:03d}" for n in range(23)]


def test_changes_that_are_no_event_are_not_published(outbox_app: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeEvents()
    event = stream_event(
        ("MODIFY", scan_item(direction="exit"), scan_item()),
        ("REMOVE", None, claim_item()),
        ("INSERT", {"PK": f"ACT#{ACT}#B#B-1001", "SK": "LIVE", "badge_id": "B-1001"}, None),
    )
    assert _run(outbox_app, monkeypatch, fake, event) == {"batchItemFailures": []}
    assert fake.published == []


def test_an_empty_batch_publishes_nothing(outbox_app: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeEvents()
    assert _run(outbox_app, monkeypatch, fake, {"Records": []}) == {"batchItemFailures": []}
    assert fake.calls == []


def test_a_failed_entry_reports_the_earliest_failed_record_only(
    outbox_app: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = stream_event(*_scans(15))
    sequence = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
    fake = FakeEvents(fail={(0, 7), (0, 3), (1, 2)})
    result = _run(outbox_app, monkeypatch, fake, event)
    assert result == {"batchItemFailures": [{"itemIdentifier": sequence[3]}]}


def test_a_failure_is_reported_by_the_records_own_sequence_number_past_silent_records(
    outbox_app: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records that make no event shift entry positions; the failure still names its own record."""
    event = stream_event(
        ("MODIFY", scan_item("a", direction="exit"), scan_item("a")),
        ("INSERT", {"PK": f"ACT#{ACT}#B#B-1001", "SK": "LIVE", "badge_id": "B-1001"}, None),
        ("INSERT", scan_item("b"), None),
        ("INSERT", scan_item("c"), None),
    )
    sequence = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
    fake = FakeEvents(fail={(0, 1)})
    result = _run(outbox_app, monkeypatch, fake, event)
    assert result == {"batchItemFailures": [{"itemIdentifier": sequence[3]}]}


def test_a_failed_call_reports_the_first_record_of_that_batch(
    outbox_app: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = stream_event(*_scans(25))
    sequence = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
    fake = FakeEvents(raise_on={1})
    result = _run(outbox_app, monkeypatch, fake, event)
    assert result == {"batchItemFailures": [{"itemIdentifier": sequence[10]}]}
    assert len(fake.calls) == 3  # the later batch is still attempted (consumers accept duplicates)


def test_a_later_entry_failure_does_not_hide_an_earlier_failed_call(
    outbox_app: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = stream_event(*_scans(25))
    sequence = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
    fake = FakeEvents(raise_on={0}, fail={(2, 0)})
    result = _run(outbox_app, monkeypatch, fake, event)
    assert result == {"batchItemFailures": [{"itemIdentifier": sequence[0]}]}
