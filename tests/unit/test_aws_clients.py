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


def _attempts(service: str, call: Any) -> int:
    client = aws.client(service)
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
