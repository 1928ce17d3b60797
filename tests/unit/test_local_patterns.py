"""The local stack applies the template's stream filters as Lambda does: the outbox function sees
exactly the table changes that become events."""

from __future__ import annotations

import json

import pytest

from builders import stream_event
from cme.service.outbox import event_for_change
from cme_local.cfn_yaml import load_template
from cme_local.patterns import any_matches, matches
from make_sample_events import ROOT


def test_pattern_rules():
    event = {"eventName": "INSERT", "dynamodb": {"Keys": {"SK": {"S": "SCAN#1"}}, "SizeBytes": 120}}
    assert matches({"eventName": ["INSERT", "MODIFY"]}, event)
    assert not matches({"eventName": ["REMOVE"]}, event)
    assert matches({"dynamodb": {"Keys": {"SK": {"S": [{"prefix": "SCAN#"}]}}}}, event)
    assert not matches({"dynamodb": {"Keys": {"SK": {"S": [{"prefix": "EVAL#"}]}}}}, event)
    assert matches({"dynamodb": {"Keys": {"PK": {"S": [{"exists": False}]}}}}, event)
    assert matches({"eventName": [{"anything-but": ["REMOVE"]}]}, event)
    assert matches({"dynamodb": {"SizeBytes": [{"numeric": [">", 100, "<=", 120]}]}}, event)
    assert not matches({"dynamodb": {"SizeBytes": [{"numeric": [">", 120]}]}}, event)
    assert not matches({"missing": {"deeper": ["x"]}}, event)
    assert any_matches([], event)  # no filters: everything passes
    with pytest.raises(ValueError):
        matches({"eventName": "INSERT"}, event)


def _outbox_filters():
    template = load_template(ROOT / "template.yaml")
    stream = template["Resources"]["StreamOutboxFunction"]["Properties"]["Events"]["TableStream"]["Properties"]
    return [json.loads(f["Pattern"]) for f in stream["FilterCriteria"]["Filters"]]


A = "asa-2027"
PK = f"ACT#{A}#B#B-1"
CHANGES = [
    ("INSERT", {"PK": PK, "SK": "SCAN#s1", "activity_id": A, "badge_id": "B-1", "scan_id": "s1"}, None),
    ("MODIFY", {"PK": PK, "SK": "SCAN#s1", "activity_id": A, "badge_id": "B-1"}, {"PK": PK, "SK": "SCAN#s1"}),
    ("INSERT", {"PK": PK, "SK": "LIVE", "activity_id": A}, None),
    ("MODIFY", {"PK": PK, "SK": "LIVE", "activity_id": A}, {"PK": PK, "SK": "LIVE"}),
    ("INSERT", {"PK": PK, "SK": "PROFILE", "activity_id": A}, None),
    ("INSERT", {"PK": PK, "SK": "ATT#S1", "activity_id": A}, None),
    (
        "INSERT",
        {
            "PK": f"ACT#{A}",
            "SK": "ENDREQ#S1",
            "activity_id": A,
            "session_id": "S1",
            "ended_at": "x",
            "reason": "manual",
            "requested_at": "1",
        },
        None,
    ),
    (
        "MODIFY",
        {
            "PK": f"ACT#{A}",
            "SK": "ENDREQ#S1",
            "activity_id": A,
            "session_id": "S1",
            "ended_at": "x",
            "reason": "manual",
            "requested_at": "2",
        },
        {"PK": f"ACT#{A}", "SK": "ENDREQ#S1", "requested_at": "1"},
    ),
    ("INSERT", {"PK": f"ACT#{A}", "SK": "SESSION#S1", "finalized": True}, None),
    (
        "INSERT",
        {
            "PK": PK,
            "SK": "EVAL#ACTIVITY",
            "activity_id": A,
            "badge_id": "B-1",
            "scope": "ACTIVITY",
            "evaluation_id": "e1",
            "submitted_at": "t",
        },
        None,
    ),
    (
        "INSERT",
        {"PK": PK, "SK": "CLAIM", "activity_id": A, "badge_id": "B-1", "version": 1, "evaluation_id": "e1"},
        None,
    ),
    (
        "INSERT",
        {
            "PK": "CERT#c1",
            "SK": "V#000001",
            "activity_id": A,
            "badge_id": "B-1",
            "certificate_id": "c1",
            "version": 1,
            "s3_key": "k",
            "sha256": "0",
        },
        None,
    ),
    ("MODIFY", {"PK": "CERT#c1", "SK": "V#000001", "mail_state": "sent"}, {"PK": "CERT#c1", "SK": "V#000001"}),
    ("INSERT", {"PK": "CERT#c1", "SK": "CURRENT", "version": 1}, None),
    ("INSERT", {"PK": "DEVICE#abc", "SK": "DEVICE"}, None),
    ("REMOVE", None, {"PK": PK, "SK": "SCAN#s1"}),
]


@pytest.mark.parametrize(("name", "new", "old"), CHANGES, ids=[f"{c[0]}-{(c[1] or c[2])['SK']}" for c in CHANGES])
def test_the_outbox_filters_pass_what_the_outbox_publishes(name, new, old):
    filters = _outbox_filters()
    [record] = stream_event((name, new, old))["Records"]
    published = event_for_change(name, new, old) is not None
    if published:
        assert any_matches(filters, record), "a change that becomes an event must reach the outbox"
    # Filters may pass a little more than is published (a MODIFY without a new version), never less.
    if not any_matches(filters, record):
        assert not published
    assert len(filters) <= 5  # Lambda's default limit of filters per event source mapping


def test_most_high_volume_writes_never_reach_the_outbox():
    filters = _outbox_filters()
    for sk in ("LIVE", "PROFILE", "ATT#S1", "SESSION#S1"):
        [record] = stream_event(("MODIFY", {"PK": PK, "SK": sk}, {"PK": PK, "SK": sk}))["Records"]
        assert not any_matches(filters, record)
