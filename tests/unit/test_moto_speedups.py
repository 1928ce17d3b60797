"""The local stack's moto speed-ups change how much work moto does, never what it answers: the same
queries, pages and stream records come back with and without them."""

from __future__ import annotations

import base64
import os
import random
from datetime import datetime
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Attr, Key
from moto import mock_aws

from cme_local import moto_speedups


def _offline_credentials() -> None:
    os.environ.update(
        AWS_ACCESS_KEY_ID="t",
        AWS_SECRET_ACCESS_KEY="t",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",
    )


def _without_and_with_speedups(run):
    """`run()` on moto as it is, then with the speed-ups applied (undone afterwards)."""
    try:
        plain = run()
        moto_speedups.apply()
        return plain, run()
    finally:
        moto_speedups.restore()


@pytest.fixture
def table():
    _offline_credentials()
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        created = dynamodb.create_table(
            TableName="speed",
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("PK", "SK", "GPK", "GSK")],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "GSI",
                    "KeySchema": [
                        {"AttributeName": "GPK", "KeyType": "HASH"},
                        {"AttributeName": "GSK", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            BillingMode="PAY_PER_REQUEST",
        )
        rng = random.Random(11)
        with created.batch_writer() as batch:
            for i in range(400):
                item: dict[str, Any] = {
                    "PK": f"P#{rng.randrange(12)}",
                    "SK": f"S#{i:04d}",
                    "n": rng.randrange(100),
                    "m": {"a": [1, "x", {"b": True}]},
                    "s": {"u", "v"},
                }
                if rng.random() < 0.7:
                    item.update(GPK=f"G#{rng.randrange(5)}", GSK=f"{rng.randrange(1000):04d}")
                batch.put_item(Item=item)
        yield created
    moto_speedups.restore()


QUERIES = [
    {"KeyConditionExpression": Key("PK").eq("P#3")},
    {"KeyConditionExpression": Key("PK").eq("P#3") & Key("SK").begins_with("S#01")},
    {"KeyConditionExpression": Key("PK").eq("P#5") & Key("SK").lt("S#0200"), "ScanIndexForward": False},
    {"KeyConditionExpression": Key("PK").eq("P#7"), "Limit": 7},
    {"KeyConditionExpression": Key("PK").eq("P#1"), "FilterExpression": Attr("n").gt(50)},
    {"KeyConditionExpression": Key("PK").eq("P#2"), "ProjectionExpression": "SK, n"},
    # names some items lack, a name given through ExpressionAttributeNames, and paths (these go to moto's
    # own projection)
    {
        "KeyConditionExpression": Key("PK").eq("P#4"),
        "ProjectionExpression": "GSK, s, #n",
        "ExpressionAttributeNames": {"#n": "n"},
    },
    {"KeyConditionExpression": Key("PK").eq("P#6"), "ProjectionExpression": "m.a[2].b, SK, m.a[0]"},
    {"IndexName": "GSI", "KeyConditionExpression": Key("GPK").eq("G#1"), "ProjectionExpression": "PK, absent_name, m"},
    {"KeyConditionExpression": Key("PK").eq("P#404")},
    {"IndexName": "GSI", "KeyConditionExpression": Key("GPK").eq("G#2")},
    {"IndexName": "GSI", "KeyConditionExpression": Key("GPK").eq("G#4") & Key("GSK").lt("0500"), "Limit": 9},
    {"IndexName": "GSI", "KeyConditionExpression": Key("GPK").eq("G#0"), "Select": "COUNT"},
]


def _all_pages(table, query):
    pages, request = [], dict(query)
    while True:
        page = table.query(**request)
        pages.append({k: v for k, v in page.items() if k != "ResponseMetadata"})
        if "LastEvaluatedKey" not in page:
            return pages
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def test_queries_answer_the_same(table):
    plain = [_all_pages(table, q) for q in QUERIES]
    moto_speedups.apply()
    fast = [_all_pages(table, q) for q in QUERIES]
    assert fast == plain
    assert sum(len(p.get("Items", [])) for pages in plain for p in pages) > 100  # the comparison saw data


def test_projections_convert_each_item_once_and_actions_are_listed_once_per_class(table, monkeypatch):
    """What the projection and action speed-ups save: moto converted a found item to plain JSON once per
    projected name, and listed the response class's functions for every request."""
    from moto.core import utils
    from moto.dynamodb.models.dynamo_type import Item

    conversions = []
    listings = []
    to_regular_json = Item.to_regular_json
    getmembers = utils.inspect.getmembers
    monkeypatch.setattr(Item, "to_regular_json", lambda self: conversions.append(1) or to_regular_json(self))
    monkeypatch.setattr(utils.inspect, "getmembers", lambda *a, **k: listings.append(1) or getmembers(*a, **k))
    query = {"KeyConditionExpression": Key("PK").eq("P#2"), "ProjectionExpression": "SK, n, m, s"}

    def run():
        conversions.clear()
        listings.clear()
        items = [table.query(**query)["Items"] for _ in range(3)]
        return items, len(conversions), len(listings)

    plain_run, fast_run = _without_and_with_speedups(run)
    (plain, plain_conversions, plain_listings), (fast, fast_conversions, fast_listings) = plain_run, fast_run
    assert fast == plain and len(plain[0]) > 10
    assert plain_conversions == 3 * 4 * len(plain[0])
    assert fast_conversions == 3 * len(plain[0])
    assert plain_listings == 3 and fast_listings <= 1


def test_the_item_size_limit_holds_as_in_moto_with_one_sum_an_item(table, monkeypatch):
    """moto refuses an item over its 400 KB limit the same with the speed-ups, which size an item once
    instead of once per attribute set (and each found item once a query instead of twice)."""
    from botocore.exceptions import ClientError
    from moto.dynamodb.models.dynamo_type import DynamoType

    sizes = []
    size = DynamoType.size
    monkeypatch.setattr(DynamoType, "size", lambda self: sizes.append(1) or size(self))
    wide = {f"a{n:02d}": f"value {n}" for n in range(40)}

    def run():
        sizes.clear()
        answers = []
        for n, filler in enumerate((403_000, 404_990, 405_100)):  # under, at the edge, over moto's limit
            try:
                table.put_item(Item={"PK": "BIG", "SK": f"{n}", "blob": "x" * filler})
                answers.append("stored")
            except ClientError as error:
                answers.append(error.response["Error"]["Message"])
        put_sizes = len(sizes)
        table.put_item(Item={"PK": "WIDE", "SK": "0", **wide})
        wide_sizes = len(sizes) - put_sizes
        sizes.clear()
        found = table.query(KeyConditionExpression=Key("PK").eq("P#3"))["Items"]
        return answers, wide_sizes, len(sizes), len(found)

    (plain, plain_wide, plain_query, found), (fast, fast_wide, fast_query, _) = _without_and_with_speedups(run)
    assert fast == plain and plain[0] == "stored" and "size" in plain[2]
    assert plain_wide > 10 * fast_wide  # n² attribute sizes against n
    assert found > 10 and fast_query * 2 <= plain_query


def test_item_operations_and_stream_records_answer_the_same(table):
    client = table.meta.client
    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    arn = table.latest_stream_arn
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]

    existing = table.query(KeyConditionExpression=Key("PK").eq("P#3"))["Items"][0]["SK"]

    def snapshot():
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        records = streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=50)["Records"]
        return (
            client.get_item(TableName="speed", Key={"PK": "P#3", "SK": existing}),
            client.batch_get_item(
                RequestItems={"speed": {"Keys": [{"PK": "P#1", "SK": f"S#{i:04d}"} for i in range(40)]}}
            ),
            [{k: v for k, v in r.items()} for r in records],
        )

    def strip(value):
        if isinstance(value, dict):
            # String and number sets are unordered in DynamoDB.
            return {
                k: sorted(v) if k in ("SS", "NS") else strip(v) for k, v in value.items() if k != "ResponseMetadata"
            }
        if isinstance(value, (list, tuple)):
            return [strip(v) for v in value]
        return value

    plain = strip(snapshot())
    moto_speedups.apply()
    fast = strip(snapshot())
    assert fast == plain
    assert fast[0]["Item"]["SK"] == existing and len(fast[1]["Responses"]["speed"]) > 0
    assert isinstance(fast[2][0]["dynamodb"]["ApproximateCreationDateTime"], datetime)


def test_events_reach_queues_the_same():
    import json as _json

    _offline_credentials()

    def deliver():
        with mock_aws():
            events, sqs = boto3.client("events"), boto3.client("sqs")
            events.create_event_bus(Name="bus")
            url = sqs.create_queue(QueueName="q")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            events.put_rule(Name="r", EventBusName="bus", EventPattern=_json.dumps({"source": ["cme"]}))
            events.put_targets(Rule="r", EventBusName="bus", Targets=[{"Id": "1", "Arn": arn}])
            detail = {"activity_id": "a", "scan": {"badge_id": "B-1", "scanned_at": "2027-10-14T08:00:00-05:00"}}
            events.put_events(
                Entries=[
                    {
                        "Source": "cme",
                        "DetailType": "CheckInScanned",
                        "Detail": _json.dumps(detail),
                        "EventBusName": "bus",
                    }
                ]
            )
            sqs.send_message(
                QueueUrl=url, MessageBody="direct", MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}}
            )
            counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])[
                "Messages"
            ]
            body = _json.loads(received[0]["Body"])
            return (
                {k: v for k, v in body.items() if k not in ("id", "time")},
                counts["ApproximateNumberOfMessages"],
                [(m["Body"], m.get("MessageAttributes")) for m in received[1:]],
            )

    plain, fast = _without_and_with_speedups(deliver)
    assert fast == plain and plain[0]["detail"]["scan"]["badge_id"] == "B-1"
    assert plain[1] == "2" and plain[2] == [("direct", {"k": {"StringValue": "v", "DataType": "String"}})]


def test_receive_keeps_moto_retention_rule():
    """A receive reads the queue's retention period directly: messages past it are still not received."""
    _offline_credentials()

    def receive_after_ageing():
        from moto.backends import get_backend

        with mock_aws():
            sqs = boto3.client("sqs")
            url = sqs.create_queue(QueueName="kept", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
            for body in ("new", "old"):
                sqs.send_message(QueueUrl=url, MessageBody=body)
            queue = get_backend("sqs")["123456789012"]["us-east-1"].queues["kept"]
            old = next(m for m in queue._messages if m.body == "old")
            old.sent_timestamp -= 61_000  # sent 61 s ago, past the 60 s retention
            received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            return sorted(m["Body"] for m in received)

    plain, fast = _without_and_with_speedups(receive_after_ageing)
    assert fast == plain == ["new"]


def _wire_values():
    """DynamoDB attribute values in wire form, nested, of every type."""
    from hypothesis import strategies as st

    text = st.text(max_size=8)
    number = st.integers(-(10**6), 10**6).map(str)
    binary = st.binary(max_size=8).map(lambda b: base64.b64encode(b).decode())
    scalars = st.one_of(
        text.map(lambda v: {"S": v}),
        number.map(lambda v: {"N": v}),
        st.booleans().map(lambda v: {"BOOL": v}),
        st.just({"NULL": True}),
        binary.map(lambda v: {"B": v}),
        st.lists(text, min_size=1, max_size=3, unique=True).map(lambda v: {"SS": v}),
        st.lists(number, min_size=1, max_size=3, unique=True).map(lambda v: {"NS": v}),
        st.lists(binary, min_size=1, max_size=3, unique=True).map(lambda v: {"BS": v}),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3).map(lambda v: {"L": v}),
            st.dictionaries(text, inner, max_size=3).map(lambda v: {"M": v}),
        ),
        max_leaves=12,
    )


def test_answers_convert_as_moto_converts_them():
    """The direct conversion of DynamoDB answers gives what moto's own does, for every attribute type,
    nested, inside items, dicts and lists, beside the dates and numbers answers also hold."""
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from moto.dynamodb.models.dynamo_type import DynamoType, Item
    from moto.dynamodb.models.utilities import dynamo_to_dict

    attributes = st.dictionaries(st.text(min_size=1, max_size=6), _wire_values(), max_size=5)

    def item(attrs):
        return Item(hash_key=DynamoType({"S": "h"}), range_key=None, attrs={"PK": {"S": "h"}, **attrs})

    answers = st.recursive(
        st.one_of(
            _wire_values().map(DynamoType),
            attributes.map(item),
            attributes.map(lambda attrs: item(attrs).attrs),  # what a query answers with
            attributes.map(lambda attrs: {k: DynamoType(v) for k, v in attrs.items()}),
            st.sampled_from([None, 0, 7, 1.5, "text", True, datetime(2027, 10, 14, 9, 30)]),
        ),
        lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)),
        max_leaves=8,
    )

    @settings(max_examples=300, deadline=None)
    @given(answers)
    def check(answer):
        assert moto_speedups._dynamo_to_dict(answer) == dynamo_to_dict(answer)

    moto_speedups.apply()
    try:
        check()
    finally:
        moto_speedups.restore()
