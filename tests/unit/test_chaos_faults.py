"""The local stack's injected AWS errors read, to the SDK, as the services' own: botocore parses each
one to its error code (so it retries a throttle or a 5xx as it would against AWS)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cme_local.chaos import THROTTLES, _error_response

pytestmark = pytest.mark.unit

CALLS = {
    "dynamodb": lambda c: c.get_item(TableName="t", Key={"PK": {"S": "x"}}),
    "s3": lambda c: c.put_object(Bucket="b", Key="k", Body=b"x"),
    "sesv2": lambda c: c.send_email(
        FromEmailAddress="a@example.org",
        Destination={"ToAddresses": ["b@example.org"]},
        Content={"Raw": {"Data": b"x"}},
    ),
    "sqs": lambda c: c.send_message(QueueUrl="https://sqs.us-east-1.amazonaws.com/1/q", MessageBody="x"),
    "eventbridge": lambda c: c.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}"}]),
    "scheduler": lambda c: c.get_schedule(Name="n"),
}
CLIENT_NAMES = {"eventbridge": "events"}


@pytest.mark.parametrize("service", sorted(THROTTLES))
@pytest.mark.parametrize("kind", ["throttle", "server_error"])
def test_an_injected_error_parses_to_its_code(service: str, kind: str) -> None:
    code, status = THROTTLES[service] if kind == "throttle" else ("InternalServerError", 500)
    client = boto3.session.Session().client(
        CLIENT_NAMES.get(service, service),
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )

    def fail(request: Any, **_: Any) -> Any:
        return _error_response(request, service, code, status)

    client.meta.events.register("before-send", fail)
    with pytest.raises(ClientError) as raised:
        CALLS[service](client)
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
