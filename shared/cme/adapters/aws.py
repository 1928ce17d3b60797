"""boto3 clients and resources, created lazily once per container (endpoints come from AWS_ENDPOINT_URL).

Clients are thread-safe and shared; resources are not, so each thread gets its own, built on the one
client of its service (a thread's first read costs no client of its own: a cold start that overlaps its
reads does not make a client per thread)."""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=10)
_local = threading.local()
_generation = 0


def _cached(kind: str) -> dict[str, Any]:
    if getattr(_local, "generation", None) != _generation:
        _local.__dict__.clear()
        _local.generation = _generation
    return _local.__dict__.setdefault(kind, {})


#: Per service, what differs from _CONFIG. SES has no idempotency key: the SDK must never send a mail
#: again by itself (a timeout may come after SES accepted it); the mail path decides instead.
_SERVICE_CONFIG = {
    # SigV4 presigned URLs everywhere (the only kind S3 accepts in newer regions).
    "s3": Config(signature_version="s3v4"),
    "sesv2": Config(retries={"mode": "standard", "total_max_attempts": 1}),
}


@cache
def client(service: str) -> Any:
    config = _CONFIG.merge(_SERVICE_CONFIG[service]) if service in _SERVICE_CONFIG else _CONFIG
    return boto3.client(service, config=config)  # type: ignore[call-overload]


_first: dict[str, Any] = {}
_first_lock = threading.Lock()


def _first_resource(service: str) -> Any:
    """The container's first resource of a service: its class and its client serve every thread's own.
    Made under a lock: the threads of a cold start's first overlapped reads wait for it, not make more."""
    with _first_lock:
        if service not in _first:
            _first[service] = boto3.resource(service, config=_CONFIG)  # type: ignore[call-overload]
        return _first[service]


def resource(service: str) -> Any:
    resources = _cached("resources")
    if service not in resources:
        first = _first_resource(service)
        resources[service] = type(first)(client=first.meta.client)
    return resources[service]


def table(name: str) -> Any:
    tables = _cached("tables")
    if name not in tables:
        tables[name] = resource("dynamodb").Table(name)
    return tables[name]


def reset() -> None:
    """Forget every client (the local stack calls this after it points the SDK at a new endpoint)."""
    global _generation
    client.cache_clear()
    with _first_lock:
        _first.clear()
    _generation += 1
