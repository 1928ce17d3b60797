"""`cme bench --only capacity` and `--only hot_keys` with tiny sizes: the shape of their figures and the
DynamoDB unit rules they price with, never their speed."""

from __future__ import annotations

from typing import Any

from cme.adapters import store
from cme_local import bench, bench_capacity
from cme_local.bench_capacity import Meter, item_size, key_family, read_units, value_size, write_units


def test_item_sizes_follow_dynamodbs_rules() -> None:
    assert value_size({"S": "héllo"}) == 6  # UTF-8 bytes
    assert value_size({"N": "12345"}) == 4  # one byte per two significant digits, plus one
    assert value_size({"N": "-0.00120"}) == 2
    assert value_size({"BOOL": True}) == 1
    assert value_size({"L": [{"S": "ab"}, {"N": "1"}]}) == 3 + (1 + 2) + (1 + 2)
    assert value_size({"M": {"k": {"S": "v"}}}) == 3 + 1 + 1 + 1
    assert item_size({"PK": {"S": "ACT#a"}, "n": {"N": "7"}}) == 2 + 5 + 1 + 2
    assert [write_units(0), write_units(1024), write_units(1025)] == [1, 1, 2]
    assert [read_units(4096, True), read_units(4097, True), read_units(10, False)] == [1.0, 2.0, 0.5]


def _put(meter: Meter, item: dict[str, Any], *, ok: bool = True, function: str = "ingest_scans") -> None:
    meter._account(function, "PutItem", {"TableName": "t", "Item": item}, {}, ok)


def test_writes_cost_their_table_and_index_units_and_failed_conditions_cost_too() -> None:
    meter = Meter(key_log=True)
    scan = {
        "PK": {"S": "ACT#a#B#1"},
        "SK": {"S": "SCAN#s1"},
        "GSI1PK": {"S": "ACT#a#ROOM#Hall#3"},
        "GSI1SK": {"S": "1#1#s1"},
        "note": {"S": "x" * 1500},
    }
    _put(meter, scan)
    assert meter.write_units[("ingest_scans", "SCAN")] == 2  # 1.5 KB: two units on the table
    assert meter.write_units[("ingest_scans", "GSI1 ROOM")] == 2  # and two for its index entry
    _put(meter, scan, ok=False)  # the same scan again: its condition fails, the units are spent anyway
    assert meter.write_units[("ingest_scans", "SCAN")] == 4
    assert meter.condition_failed[("ingest_scans", "SCAN")] == 1
    _put(meter, scan)  # written unchanged: no index write
    assert meter.unchanged[("ingest_scans", "SCAN")] == 1
    assert meter.write_units[("ingest_scans", "GSI1 ROOM")] == 2
    moved = {**scan, "GSI1PK": {"S": "ACT#a#ROOM#Hall#4"}, "note": {"S": "y"}}
    _put(meter, moved)  # the index key changes: the old entry leaves (2 units), the new one is put (1)
    assert meter.write_units[("ingest_scans", "GSI1 ROOM")] == 5
    assert meter.key_log is not None
    assert {key for _, key, _ in meter.key_log} == {"ACT#a#B#1", "GSI1 ACT#a#ROOM#Hall#3", "GSI1 ACT#a#ROOM#Hall#4"}
    assert key_family("GSI1 ACT#a#ROOM#Hall#3") == "GSI1 ACT#·#ROOM#Hall#k"
    assert key_family("ACT#a#B#1") == "ACT#·#B#·"


def test_the_busiest_second_of_a_key() -> None:
    log = [(0.1, "k", 1.0), (0.5, "k", 2.0), (1.05, "k", 1.0), (3.0, "k", 1.0), (0.2, "j", 1.0)]
    rates = bench_capacity.key_rates(log)
    assert rates[0] == {"key": "k", "family": "k", "per_second": 3, "units_per_second": 4.0, "total": 4}


def test_capacity_of_a_small_conference_through_the_handlers() -> None:
    result = bench_capacity.bench_capacity(attendees=4)
    meeting, dynamodb = result["meeting"], result["dynamodb"]
    assert meeting["attendees"] == 4 and meeting["sessions"] == 21
    assert meeting["accepted_scans"] > 0 and meeting["certificates"] > 0
    assert dynamodb["floor_units"] == sum(dynamodb["floor_by_kind"].values())
    assert dynamodb["write_units"] >= dynamodb["floor_units"]
    assert set(dynamodb["write_units_over_floor_by_kind"]) == set(bench_capacity.FLOOR_KINDS)
    assert dynamodb["write_units_by_pattern"]["SCAN"] >= meeting["accepted_scans"]
    assert dynamodb["write_units_by_pattern"]["GSI1 ROOM"] >= meeting["accepted_scans"]
    assert dynamodb["read_units"] > 0 and dynamodb["requests"] > 0
    # moto answers a flat figure per call: the computed units are what the figures report.
    assert dynamodb["moto_reported_capacity_units"] > 0
    per_certificate = result["per_certificate"]
    assert per_certificate["s3_puts_per_certificate"] == 1
    assert per_certificate["ses_certificate_sends_per_certificate"] == 1
    assert result["lambda"]["ingest_scans"]["invocations"] > 0
    cost = result["cost"]
    assert cost["per_attendee_dollars"] > 0
    assert abs(sum(cost["dollars"].values()) - cost["meeting_dollars"]) < 0.001
    table = bench.format_table({"capacity": result})
    assert "capacity.dynamodb.write_units_over_floor" in table
    assert "capacity.cost.per_attendee_dollars" in table


def test_hot_keys_of_a_small_rush_on_the_simulated_clock() -> None:
    result = bench_capacity.bench_hot_keys(
        attendees=80, seconds=3, devices=8, stream_shards=2, sample_shards=store.SHARDS, repeats=1
    )
    assert result["scans"] == result["scans_executed"] == result["scans_accepted"] == 160
    assert result["simulated_seconds"] >= 3
    families = result["key_families"]
    assert {"GSI1 ACT#·#ROOM#Hall-A#k", "GSI1 ACT#·#ATT#k", "COUNT#·", "ACT#·#B#·"} <= set(families)
    assert not [family for family in families if "#LIVE#" in family]  # presences are not indexed
    assert families["GSI1 ACT#·#ROOM#Hall-A#k"]["keys"] == store.SHARDS  # every shard holds plenary entries
    assert 0 < result["counts_partition_max_writes_per_second"] <= result["max_writes_per_second_one_key"]
    assert result["activity_partition_read_units_per_second"] > 0
    assert result["target_max_writes_per_second"] == 333
    assert "hot_keys.max_writes_per_second_one_key" in bench.format_table({"hot_keys": result})


def test_hot_keys_executes_one_shard_of_the_planned_rush() -> None:
    result = bench_capacity.bench_hot_keys(attendees=160, seconds=3, devices=8, stream_shards=2, repeats=1)
    assert result["gsi_shards_executed"] == f"1 of {store.SHARDS}"
    assert 0 < result["attendees_executed"] < 160 and result["scans"] == 320
    assert result["scans_accepted"] == result["scans_executed"] == 2 * result["attendees_executed"]
    assert result["key_families"]["GSI1 ACT#·#ROOM#Hall-A#k"]["keys"] == 1
