"""The SDK clients' retry settings: SES has no idempotency key, so its client never repeats a send by
itself (a timeout may come after SES accepted the mail); the other services retry as the SDK does."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError

from cme.adapters import aws

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    aws.reset()
    yield
    aws.reset()


def _attempts(service: str, call: Any, client: Any = None) -> int:
    """How many times `call(client)` is sent when every send times out (`client`: the service's plain
    client unless given)."""
    client = client if client is not None else aws.client(service)
    sent: list[str] = []

    def timeout(request: Any, **kwargs: Any) -> None:
        sent.append(kwargs["event_name"])
        raise ReadTimeoutError(endpoint_url=request.url)

    client.meta.events.register("before-send", timeout)
    with pytest.raises(ReadTimeoutError):
        call(client)
    return len(sent)


def test_a_mail_send_that_times_out_is_not_sent_again_by_the_sdk() -> None:
    def send(client: Any) -> Any:
        return client.send_email(
            FromEmailAddress="a@example.org",
            Destination={"ToAddresses": ["b@example.org"]},
            Content={"Raw": {"Data": b"x"}},
        )

    assert _attempts("sesv2", send) == 1


def test_other_services_retry_a_timeout() -> None:
    assert _attempts("dynamodb", lambda c: c.get_item(TableName="t", Key={"PK": {"S": "x"}})) == 5


def test_the_document_client_retries_a_timeout_as_the_other_clients() -> None:
    def read(_: Any) -> Any:
        return aws.table("t").get_item(Key={"PK": "x", "SK": "y"})

    assert _attempts("dynamodb", read, aws.document_client()) == 5  # as the plain DynamoDB client above


# ---- the document client: boto3's Table transformations on a plain client ------------------------------


@pytest.fixture
def items_table() -> Any:
    from moto import mock_aws

    with mock_aws():
        aws.reset()
        aws.client("dynamodb").create_table(
            TableName="items",
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "PK", "AttributeType": "S"},
                {"AttributeName": "SK", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield aws.table("items")
        aws.reset()


def test_items_go_in_and_come_out_as_python_values(items_table: Any) -> None:
    from decimal import Decimal

    from boto3.dynamodb.conditions import Attr, Key

    item = {"PK": "A", "SK": "S#1", "credit": Decimal("1.25"), "rooms": {"r1", "r2"}, "ok": True, "nested": {"n": [1]}}
    sent = {**item, "nested": {"n": [1]}}
    items_table.put_item(Item=sent, ConditionExpression=Attr("PK").not_exists())
    assert sent == item  # the caller's dictionaries are left as they were
    assert items_table.get_item(Key={"PK": "A", "SK": "S#1"})["Item"] == item

    with pytest.raises(aws.document_client().exceptions.ConditionalCheckFailedException):
        items_table.put_item(Item=item, ConditionExpression=Attr("PK").not_exists())

    with items_table.batch_writer() as batch:
        for i in range(2, 32):
            batch.put_item(Item={"PK": "A", "SK": f"S#{i:02d}", "n": i})
    page = items_table.query(
        KeyConditionExpression=Key("PK").eq("A") & Key("SK").begins_with("S#0"), FilterExpression=Attr("n").gte(5)
    )
    assert [found["n"] for found in page["Items"]] == [5, 6, 7, 8, 9]

    keys = [{"PK": "A", "SK": f"S#{i:02d}"} for i in (2, 31)]
    got = aws.document_client().batch_get_item(RequestItems={"items": {"Keys": keys}})["Responses"]["items"]
    assert sorted(found["n"] for found in got) == [2, 31]

    aws.document_client().transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "items", "Item": {"PK": "B", "SK": "X", "on": False}}},
            {
                "Update": {
                    "TableName": "items",
                    "Key": {"PK": "A", "SK": "S#02"},
                    "UpdateExpression": "SET n = :n",
                    "ExpressionAttributeValues": {":n": Decimal(20)},
                }
            },
        ]
    )
    assert items_table.get_item(Key={"PK": "B", "SK": "X"})["Item"]["on"] is False
    assert items_table.get_item(Key={"PK": "A", "SK": "S#02"})["Item"]["n"] == 20


def test_each_thread_numbers_its_placeholders_with_a_builder_of_its_own(items_table: Any) -> None:
    """The condition builder keeps its placeholder count between expressions of one request: two threads
    sharing one builder could reset each other's count mid-request and name two values alike."""
    import threading

    from boto3.dynamodb.conditions import Attr, ConditionExpressionBuilder, Key

    used: dict[int, list[Any]] = {}
    reset = ConditionExpressionBuilder.reset
    together = threading.Barrier(3, timeout=10)

    def recording(builder: Any) -> None:
        used.setdefault(threading.get_ident(), []).append(builder)
        reset(builder)

    def read() -> None:
        for _ in range(3):  # the three threads are alive together: their idents differ
            together.wait()
            items_table.query(KeyConditionExpression=Key("PK").eq("A"), FilterExpression=Attr("n").gte(1))

    ConditionExpressionBuilder.reset = recording  # type: ignore[method-assign]
    try:
        threads = [threading.Thread(target=read) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        ConditionExpressionBuilder.reset = reset  # type: ignore[method-assign]
    assert len(used) == 3 and all(len(builders) == 3 for builders in used.values())
    own = [{id(builder) for builder in builders} for builders in used.values()]
    assert all(len(ids) == 1 for ids in own)  # a thread keeps its builder
    assert len(set().union(*own)) == 3  # and no two threads share one


@pytest.mark.parametrize("make", [aws.document_client, lambda: aws.client("sesv2")], ids=["document", "plain"])
def test_threads_that_ask_at_once_get_one_client(monkeypatch: pytest.MonkeyPatch, make: Any) -> None:
    """A cold start's overlapped first reads ask for the client together: one is made, the rest wait."""
    import threading
    import time

    import boto3

    made: list[Any] = []
    real = boto3.client

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.05)  # as long as a first client takes, so every thread asks before it exists
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(boto3, "client", slow)
    got: list[Any] = []
    together = threading.Barrier(6, timeout=10)

    def ask() -> None:
        together.wait()
        got.append(make())

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1 and len(got) == 6 and all(found is made[0] for found in got)
