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


def test_a_services_faults_depend_on_the_seed_and_its_own_calls_only() -> None:
    """Which of S3's calls fail must not change with how many DynamoDB calls other threads made in
    between: a small chaos meeting then faults each service the same way on every run."""
    from cme_local.chaos import ChaosSettings, FaultInjector

    settings = ChaosSettings(fault_rate=0.1, seed=11)
    alone, interleaved = FaultInjector(settings), FaultInjector(settings)
    s3_alone = [alone._draw("s3") for _ in range(40)]
    s3_interleaved = []
    for n in range(40):
        for _ in range(n % 7):
            interleaved._draw("dynamodb")
        s3_interleaved.append(interleaved._draw("s3"))
    assert s3_interleaved == s3_alone
    assert any(hit for hit, _ in s3_alone) and not all(hit for hit, _ in s3_alone)
    other_seed = FaultInjector(ChaosSettings(fault_rate=0.1, seed=12))
    assert [other_seed._draw("s3") for _ in range(40)] != s3_alone
