"""Fault injection for the local stack: AWS calls made by the functions fail at a chosen rate, the way
AWS fails — throttling, a 5xx, or a timeout (before the request reached the service, or after the
service applied it and the answer was lost, which the SDK then retries).

Only calls made while a function runs are touched (the pollers and the provisioner stand for AWS
itself): FunctionHost marks its invocations in `IN_FUNCTION`, and the functions' I/O threads inherit
it (cme.concurrency copies the context into them).

Besides the SDK faults the switch can make each function crash once after a batch it completed (the
batch is delivered again), keep one function failing for its first N invocations (an outage that
sends messages to a DLQ), and deliver every queue message and stream batch twice.
"""

from __future__ import annotations

import contextvars
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError

#: Set while a function of the template runs (the faults hit only its AWS calls).
IN_FUNCTION: contextvars.ContextVar[str | None] = contextvars.ContextVar("cme_local_in_function", default=None)

#: Per service (as botocore names it in its events): the error code AWS answers when it throttles,
#: and its HTTP status.
THROTTLES = {
    "dynamodb": ("ThrottlingException", 400),
    "s3": ("SlowDown", 503),
    "sesv2": ("TooManyRequestsException", 429),
    "sqs": ("RequestThrottled", 403),
    "eventbridge": ("ThrottlingException", 400),
    "scheduler": ("ThrottlingException", 429),
}
SERVICES = frozenset(THROTTLES)
KINDS = ("throttle", "server_error", "timeout_before", "timeout_after")


class InjectedCrash(RuntimeError):
    """A function died after finishing its work (its batch is delivered again)."""


class InjectedOutage(RuntimeError):
    """A function is down (every invocation fails until the outage ends)."""


@dataclass
class ChaosSettings:
    fault_rate: float = 0.0
    seed: int = 7
    duplicate_deliveries: bool = False
    crash_once_after: frozenset[str] = frozenset()  # functions that crash once after a finished batch
    outage: dict[str, int] = field(default_factory=dict)  # function -> invocations that fail first


class FaultInjector:
    """Installs itself on the SDK session the functions use (`before-send`): a chosen share of their
    calls to DynamoDB, S3, SES, SQS, EventBridge and Scheduler fail."""

    def __init__(self, settings: ChaosSettings):
        self.settings = settings
        # One stream of draws per service: which of a service's calls fail depends only on the seed and
        # that service's own calls, not on how other services' calls from other threads interleave.
        self._streams: dict[str, random.Random] = {}
        self._lock = threading.Lock()
        self.injected: Counter[str] = Counter()  # "service.kind" -> count
        self.calls: Counter[str] = Counter()  # service -> calls seen inside functions
        self.crashed: set[str] = set()
        self.outage_failures: Counter[str] = Counter()
        self._http: Any = None

    # ---- SDK faults -----------------------------------------------------------------------------

    def install(self, session: Any) -> None:
        session.events.register("before-send", self._before_send)

    def uninstall(self, session: Any) -> None:
        session.events.unregister("before-send", self._before_send)

    def _draw(self, service: str) -> tuple[bool, str]:
        with self._lock:
            stream = self._streams.get(service)
            if stream is None:
                stream = self._streams[service] = random.Random(f"{self.settings.seed}:{service}")
            return stream.random() < self.settings.fault_rate, stream.choice(KINDS)

    def _before_send(self, request: Any, **kwargs: Any) -> AWSResponse | None:
        if IN_FUNCTION.get() is None:
            return None
        service = _service_of(kwargs.get("event_name", ""))
        if service not in SERVICES:
            return None
        with self._lock:
            self.calls[service] += 1
        hit, kind = self._draw(service)
        if not hit:
            return None
        with self._lock:
            self.injected[f"{service}.{kind}"] += 1
        if kind == "timeout_before":
            raise ReadTimeoutError(endpoint_url=request.url)
        if kind == "timeout_after":
            self._send(request)  # the service applies it; the answer is lost on the way back
            raise ReadTimeoutError(endpoint_url=request.url)
        code, status = THROTTLES[service] if kind == "throttle" else ("InternalServerError", 500)
        return _error_response(request, service, code, status)

    def _send(self, request: Any) -> None:
        from botocore.httpsession import URLLib3Session

        if self._http is None:
            self._http = URLLib3Session()
        self._http.send(request)

    # ---- function faults --------------------------------------------------------------------------

    def before_invoke(self, function: str) -> None:
        planned = self.settings.outage.get(function, 0)
        with self._lock:
            down = self.outage_failures[function] < planned
            if down:
                self.outage_failures[function] += 1
        if down:
            raise InjectedOutage(f"{function} is down")

    def after_invoke(self, function: str) -> None:
        with self._lock:
            crash = function in self.settings.crash_once_after and function not in self.crashed
            if crash:
                self.crashed.add(function)
        if crash:
            raise InjectedCrash(f"{function} crashed after finishing its batch")

    def figures(self) -> dict[str, Any]:
        return {
            "fault_rate": self.settings.fault_rate,
            "calls_inside_functions": dict(sorted(self.calls.items())),
            "faults_injected": sum(self.injected.values()),
            "faults_by_service_and_kind": dict(sorted(self.injected.items())),
            "crashed_after_a_batch": sorted(self.crashed),
            "outage_failures": dict(self.outage_failures),
        }


def _service_of(event_name: str) -> str:
    # "before-send.dynamodb.PutItem" -> "dynamodb"
    parts = event_name.split(".")
    return parts[1] if len(parts) > 2 else ""


def _error_response(request: Any, service: str, code: str, status: int) -> AWSResponse:
    """The error as the service's protocol writes it, so botocore parses and retries it as it would."""
    content_type = request.headers.get("Content-Type") or ""
    if isinstance(content_type, bytes):
        content_type = content_type.decode()
    if service == "s3":  # REST-XML
        body = f"<Error><Code>{code}</Code><Message>injected</Message></Error>"
        headers = {"Content-Type": "text/xml"}
    elif service == "sqs" and "json" not in content_type:  # the query protocol (XML)
        body = f"<ErrorResponse><Error><Code>{code}</Code><Message>injected</Message></Error></ErrorResponse>"
        headers = {"Content-Type": "text/xml"}
    elif service == "sqs":  # SQS's JSON protocol
        body = f'{{"__type": "{code}", "message": "injected"}}'
        headers = {"x-amzn-query-error": f"{code};Sender", "Content-Type": "application/x-amz-json-1.0"}
    elif service in ("sesv2", "scheduler"):  # REST-JSON
        body = '{"message": "injected"}'
        headers = {"x-amzn-ErrorType": code, "Content-Type": "application/json"}
    else:  # JSON 1.0/1.1 (DynamoDB, EventBridge)
        body = f'{{"__type": "com.amazonaws#{code}", "message": "injected"}}'
        headers = {"Content-Type": "application/x-amz-json-1.0"}
    return AWSResponse(request.url, status, headers, _Raw(body.encode()))


class _Raw:
    """The raw body botocore reads from a response."""

    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body

    def read(self, *_: Any) -> bytes:
        body, self._body = self._body, b""
        return body
