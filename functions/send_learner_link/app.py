"""LearnerRegistered and LoginLinkRequested → mail the learner a sign-in link, once per event
(Powertools idempotency on the idempotency table: a redelivered event sends nothing)."""

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from cme.adapters.aws import client
from cme.config import settings
from cme.consumers import typed_sqs_event_consumer
from cme.service.access import send_learner_links

TYPES = ("LearnerRegistered", "LoginLinkRequested")


CONFIG = IdempotencyConfig(event_key_jmespath="key", expires_after_seconds=7 * 86400)


@cache
def _once() -> Any:
    # The container's DynamoDB client: left to itself, Powertools makes a boto3 session of its own, which
    # loads the SDK's endpoint and service data a second time in the first event.
    persistence = DynamoDBPersistenceLayer(table_name=settings().idempotency_table, boto3_client=client("dynamodb"))
    config = CONFIG

    @idempotent_function(data_keyword_argument="request", persistence_store=persistence, config=config)
    def send(request: dict[str, Any]) -> int:
        return send_learner_links(request["type"], request["detail"], settings().public_base_url.rstrip("/"))

    return send


def _handle(detail_type: str, detail: dict[str, Any]) -> Any:
    if detail_type == "LearnerRegistered":
        key = f"registered#{detail['activity_id']}#{detail['badge_id']}"
    else:
        key = f"login#{detail['request_id']}"
    return _once()(request={"key": key, "type": detail_type, "detail": detail})


_consume = typed_sqs_event_consumer(TYPES, _handle)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    CONFIG.register_lambda_context(context)  # an in-progress record expires with this invocation
    return _consume(event, context)
