"""boto3 clients, created lazily once per container (endpoints come from AWS_ENDPOINT_URL) and shared by
its threads: clients are thread-safe. DynamoDB items go through one document client (Python values, as
boto3's Table resource takes them) and `table(name)` objects on it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import boto3
from boto3.dynamodb.table import BatchWriter
from boto3.dynamodb.transform import TransformationInjector, copy_dynamodb_params
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=10)

#: Per service, what differs from _CONFIG. SES has no idempotency key: the SDK must never send a mail
#: again by itself (a timeout may come after SES accepted it); the mail path decides instead.
_SERVICE_CONFIG = {
    # SigV4 presigned URLs everywhere (the only kind S3 accepts in newer regions).
    "s3": Config(signature_version="s3v4"),
    "sesv2": Config(retries={"mode": "standard", "total_max_attempts": 1}),
}


_made: dict[str, Any] = {}
_making = threading.Lock()


def _once(key: str, make: Callable[[], Any]) -> Any:
    """One client per key and container. Made under a lock: the threads of a cold start's first
    overlapped reads wait for the one client instead of each making its own (tens of ms apiece)."""
    found = _made.get(key)
    if found is None:
        with _making:
            found = _made.get(key)
            if found is None:
                found = _made[key] = make()
    return found


def client(service: str) -> Any:
    config = _CONFIG.merge(_SERVICE_CONFIG[service]) if service in _SERVICE_CONFIG else _CONFIG
    return _once(service, lambda: boto3.client(service, config=config))  # type: ignore[call-overload]


class _Transformations:
    """boto3's DynamoDB transformations, as its Table resource registers them on its client: Python values
    in and out, condition objects (`Key`, `Attr`) written as expressions with placeholders. The condition
    builder numbers placeholders in state of its own, so each thread gets its own builder; the value
    (de)serializers keep no state and are shared."""

    def __init__(self) -> None:
        self._shared = TransformationInjector()
        self._local = threading.local()

    def conditions(self, params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        injector = getattr(self._local, "injector", None)
        if injector is None:
            injector = self._local.injector = TransformationInjector()
        injector.inject_condition_expressions(params, model, **kwargs)

    def register(self, events: Any) -> None:
        events.register("provide-client-params.dynamodb", copy_dynamodb_params, unique_id="cme-dynamodb-params-copy")
        events.register("before-parameter-build.dynamodb", self.conditions, unique_id="cme-dynamodb-conditions")
        events.register(
            "before-parameter-build.dynamodb", self._shared.inject_attribute_value_input, unique_id="cme-dynamodb-in"
        )
        events.register("after-call.dynamodb", self._shared.inject_attribute_value_output, unique_id="cme-dynamodb-out")


def document_client() -> Any:
    """A DynamoDB client that takes and returns Python values and condition objects, as boto3's Table
    resource does, without building the resource: a resource and its Table cost a cold start about 40 ms
    more than a client, a second client of a service about 30 ms more. Thread-safe, as clients are."""

    def make() -> Any:
        made = boto3.client("dynamodb", config=_CONFIG)
        _Transformations().register(made.meta.events)
        return made

    return _once("dynamodb (documents)", make)


class Table:
    """The part of boto3's Table resource the store uses, on the one document client."""

    def __init__(self, name: str) -> None:
        self.name = name

    def get_item(self, **request: Any) -> Any:
        return document_client().get_item(TableName=self.name, **request)

    def put_item(self, **request: Any) -> Any:
        return document_client().put_item(TableName=self.name, **request)

    def update_item(self, **request: Any) -> Any:
        return document_client().update_item(TableName=self.name, **request)

    def delete_item(self, **request: Any) -> Any:
        return document_client().delete_item(TableName=self.name, **request)

    def query(self, **request: Any) -> Any:
        return document_client().query(TableName=self.name, **request)

    def batch_writer(self) -> BatchWriter:
        """boto3's batch writer: batches of 25, unprocessed items sent again."""
        return BatchWriter(self.name, document_client())


def table(name: str) -> Table:
    return Table(name)


def reset() -> None:
    """Forget every client (the local stack calls this after it points the SDK at a new endpoint)."""
    with _making:
        _made.clear()
