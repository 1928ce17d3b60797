"""Capacity and cost benchmarks (`cme bench --only capacity`, `cme bench --only hot_keys`).

`capacity`: the demo conference (cme_local.conference) replayed through the real handlers on the local
stack, as `cme demo` does, with every AWS request the functions make counted by service and operation
and every DynamoDB write and read priced in capacity units, attributed to the function making it (so to
the event kind it handles) and to the access pattern it serves. From the same run: S3, SES, SQS and
EventBridge requests per certificate, Lambda invocations and durations, log bytes, and the cost per
attendee at AWS list prices (`PRICES`).

`hot_keys`: 40,000 attendees' scans arriving within one minute (door devices that were offline sync at
once), through `ingest_scans` and the stream consumers on a simulated clock: every write's partition
key, on the table and on GSI1, logged with its simulated time; the highest rate on one key over any
one-second window. The whole rush is planned; one GSI shard's attendees are executed (`bench_hot_keys`
says why that gives the whole rush's rates).

Capacity units are computed here, not read from DynamoDB's answers: moto answers
`ReturnConsumedCapacity` with a fixed number per call (1.0 for a write whatever its size, no GSI
writes, 0.5 for a GetItem), which the figures show next to the computed ones. The computation
follows DynamoDB's rules: an item's size is the UTF-8 length of its attribute names and values
(numbers about one byte per two significant digits, plus one; lists and maps three bytes plus one per
element); a write costs one unit per started KB of the larger of the item before and after, at least
one, also when its condition fails; a transaction twice that; each write that puts, changes or removes
an item's entry in GSI1 (projection ALL: the whole item) costs that entry's units again, twice when its
index key changes; a read costs one unit per started 4 KB (per item for GetItem and BatchGetItem, per
page for Query), half when eventually consistent (GSI reads always are). An item written unchanged
costs its table units and no index write. The items' sizes before a write come from a copy of every
item this process wrote (the bench starts with an empty table); UpdateItem is asked for the new image
(`ReturnValues=ALL_NEW` where the caller asks for none) and projected queries for the item keys too, so
that every item's full size is known (the product reads neither the answer's new image nor the extra
key attributes).
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import hashlib
import io
import json
import math
import random
import statistics
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

#: The function (its folder name) whose AWS calls are being made; None outside any function (the
#: local pollers and scheduler, which stand for Lambda's event source mappings and AWS itself).
FUNCTION: contextvars.ContextVar[str | None] = contextvars.ContextVar("cme_bench_function", default=None)
OUTSIDE = "aws"

#: What each function's writes are for: the floor's event kinds, and what the floor leaves out.
KIND_OF_FUNCTION = {
    "ingest_scans": "scan",
    "on_check_in": "scan",
    "on_session_end": "attendance",
    "learner_api": "evaluation",
    "on_evaluation": "claim",
    "issue_certificate": "certificate",
    "send_certificate_mail": "certificate",
    "on_mail_event": "certificate",
    "count_changes": "dashboard_counts",
    "organizer_api": "agenda_and_roster",
    "send_learner_link": "sign_in_links",
    "public_api": "sign_in_links",
    "stream_outbox": "events",
}
FLOOR_KINDS = ("scan", "attendance", "evaluation", "claim", "certificate")
TARGET_WRITE_RATIO = 1.5
TARGET_KEY_WRITES_PER_SECOND = 333  # a partition's 1,000 write units/s with 3x headroom
TARGET_COST_PER_ATTENDEE = 0.001

# ---------------------------------------------------------------------------------------------
# Prices: AWS list prices, us-east-1, on-demand, free tiers left out.

PRICES_CHECKED_ON = "2026-11-27"
#: USD. Sources (pricing pages as named by AWS): "AWS Lambda pricing", "Amazon API Gateway pricing"
#: (HTTP APIs), "Amazon DynamoDB pricing" (on-demand capacity), "Amazon EventBridge pricing",
#: "Amazon SQS pricing", "Amazon S3 pricing", "Amazon SES pricing", "Amazon SNS pricing",
#: "Amazon CloudWatch pricing" (Logs), "AWS X-Ray pricing", "AWS Secrets Manager pricing". Not fetched by
#: the bench: check the pages, and this date, before quoting a bill.
PRICES: dict[str, float] = {
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second_arm64": 0.0000133334,
    "http_api_request": 1.00 / 1e6,  # first 300 million a month
    "dynamodb_write_request_unit": 0.625 / 1e6,
    "dynamodb_read_request_unit": 0.125 / 1e6,
    "dynamodb_storage_gb_month": 0.25,
    "dynamodb_pitr_gb_month": 0.20,
    "dynamodb_stream_read_request_unit": 0.02 / 1e5,  # GetRecords by Lambda triggers: free
    "eventbridge_event": 1.00 / 1e6,  # custom events, per 64 KB
    "scheduler_invocation": 1.00 / 1e6,
    "sqs_request": 0.40 / 1e6,  # standard queues, per 64 KB
    "s3_put": 0.005 / 1000,
    "s3_get": 0.0004 / 1000,
    "s3_storage_gb_month": 0.023,
    "s3_standard_ia_gb_month": 0.0125,
    "s3_glacier_instant_gb_month": 0.004,
    "ses_message": 0.10 / 1000,
    "ses_attachment_gb": 0.12,
    "sns_publish": 0.50 / 1e6,  # deliveries to SQS are free
    "logs_ingested_gb": 0.50,
    "logs_stored_gb_month": 0.03,
    "xray_trace_recorded": 5.00 / 1e6,
    "secrets_manager_call": 0.05 / 10000,
}
#: Lambda writes START, END and REPORT lines per invocation (REPORT with the X-Ray trace id when
#: tracing is active): about 60 + 55 + 260 bytes.
PLATFORM_LOG_BYTES_PER_INVOCATION = 375
#: In AWS each function log line also carries `xray_trace_id` (tracing is active).
TRACE_ID_BYTES_PER_LOG_LINE = 52
#: One HTTP API access log line in the template's format, typical values.
ACCESS_LOG_BYTES_PER_REQUEST = 330
#: X-Ray's default sampling rule: the first request each second and 5% of the others.
XRAY_DEFAULT_SAMPLING = 0.05
#: A container's init (imports, clients; the issuer also parses its fonts), billed since 2025-08.
#: Measured by `cme bench --only certificates` (issuer import and warm-up 0.6 s; a boto3 import and
#: client 0.25 s, Powertools and pydantic about 0.1 s more).
INIT_SECONDS = {"issue_certificate": 0.6}
INIT_SECONDS_DEFAULT = 0.35
#: A function not invoked for this long (the stack's clock) starts cold the next time.
IDLE_BEFORE_COLD_START = timedelta(minutes=10)
#: Records are kept at least 6 years (attendance, claims, certificates): storage over that time.
RETENTION_MONTHS = 72


# ---------------------------------------------------------------------------------------------
# DynamoDB's item size and capacity unit rules, on the wire format (typed attribute values).


def _number_size(text: str) -> int:
    digits = text.lstrip("+-").lower().split("e", 1)[0].replace(".", "").strip("0")
    return (len(digits) + 1) // 2 + 1


def value_size(value: dict[str, Any]) -> int:
    """The size DynamoDB counts for one attribute value (without its name)."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(str(inner).encode())
    if kind == "N":
        return _number_size(str(inner))
    if kind == "B":
        return len(base64.b64decode(inner))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(v).encode()) for v in inner)
    if kind == "NS":
        return sum(_number_size(str(v)) for v in inner)
    if kind == "BS":
        return sum(len(base64.b64decode(v)) for v in inner)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in inner.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return float(units) if consistent else units / 2


# ---------------------------------------------------------------------------------------------
# Access patterns: what an item (or a GSI1 partition) is, from its key.


def _s(value: Any) -> str:
    return str(value.get("S", "")) if isinstance(value, dict) else str(value or "")


def pattern_of(pk: str, sk: str = "", *, table: str = "") -> str:
    """The access pattern an item belongs to, by its key (store.py's key list)."""
    if table and "dempoten" in table:
        return "IDEMPOTENCY"
    if pk.startswith("COUNT#"):
        return "COUNT"
    if pk.startswith("CERT#"):
        return "CERT_CURRENT" if sk == "CURRENT" else "CERT_VERSION"
    if pk.startswith("DEVICE#"):
        return "DEVICE"
    if "#EMAIL#" in pk:
        return "EMAIL_INDEX"
    if not sk:  # a query that found nothing: the partition it looked in
        return "ATTENDEE*" if "#B#" in pk else "ACTIVITY_PARTITION*" if pk.startswith("ACT#") else "OTHER*"
    return sk.split("#", 1)[0]


def index_pattern(gsi_pk: str) -> str:
    """GSI1 partitions are ACT#{a}#{KIND}#…: the kind."""
    parts = gsi_pk.split("#")
    return f"GSI1 {parts[2]}" if len(parts) > 2 else "GSI1"


def key_family(key: str) -> str:
    """A partition key with the activity and badge left out: `ACT#a#B#b` → `ACT#·#B#·`."""
    index = key.startswith("GSI1 ")
    bare = key.removeprefix("GSI1 ")
    parts = bare.split("#")
    if parts[0] == "ACT" and len(parts) > 1:
        parts[1] = "·"
        if len(parts) > 3 and parts[2] == "B":
            parts[3] = "·"
    elif parts[0] in ("CERT", "DEVICE", "COUNT") and len(parts) > 1:
        parts[1] = "·"
    if index and parts[-1].isdigit():
        parts[-1] = "k"  # the store's shard of the badge
    return ("GSI1 " if index else "") + "#".join(parts)


@dataclass(frozen=True)
class _Stored:
    size: int
    digest: str
    index_key: tuple[str, str] | None


def _stored(item: dict[str, Any]) -> _Stored:
    digest = hashlib.blake2b(json.dumps(item, sort_keys=True).encode(), digest_size=12).hexdigest()
    index = (_s(item["GSI1PK"]), _s(item["GSI1SK"])) if "GSI1PK" in item and "GSI1SK" in item else None
    return _Stored(item_size(item), digest, index)


def _key_of(table: str, item: dict[str, Any]) -> tuple[str, str, str]:
    if "PK" in item:
        return table, _s(item["PK"]), _s(item.get("SK"))
    return table, _s(item.get("id")), ""


# ---------------------------------------------------------------------------------------------
# The meter: botocore hooks on the session the stack's clients are made from.


class Meter:
    """Counts every AWS request by function and operation, and prices every DynamoDB request in
    capacity units by function and access pattern. With `key_log`, also records each write's partition
    keys (table and GSI1) and each read's, with the simulated time in `now`."""

    def __init__(self, *, key_log: bool = False):
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str, str], _Stored] = {}
        self.requests: Counter[tuple[str, str]] = Counter()  # (function, service.Operation)
        self.write_units: Counter[tuple[str, str]] = Counter()  # (function, pattern), table and GSI1
        self.read_units: defaultdict[tuple[str, str], float] = defaultdict(float)
        self.item_writes: Counter[tuple[str, str]] = Counter()  # item writes (batch members each)
        self.unchanged: Counter[tuple[str, str]] = Counter()  # writes of an item equal to the stored one
        self.condition_failed: Counter[tuple[str, str]] = Counter()
        self.stored: Counter[tuple[str, str]] = Counter()  # successful item writes
        self.moto_reported_units = 0.0
        self.sqs_messages = 0  # first receipts: each one a SendMessage by EventBridge or SNS
        self.sqs_receives: Counter[str] = Counter()  # "with_messages" / "empty"
        self.eventbridge_entries: Counter[str] = Counter()  # function -> PutEvents entries
        self.event_types: Counter[str] = Counter()  # detail-type -> entries put on the bus
        self.queue_messages: Counter[str] = Counter()  # queue name -> first receipts
        self.s3_put_bytes = 0
        self.ses_bytes: Counter[str] = Counter()  # function -> raw message bytes
        self.key_log: list[tuple[float, str, float]] | None = [] if key_log else None
        self.read_log: list[tuple[float, str, float]] | None = [] if key_log else None
        self.now = 0.0

    # ---- installing -----------------------------------------------------------------------------

    def install(self, session: Any) -> None:
        session.events.register("before-parameter-build.dynamodb", self._before_build)
        session.events.register("before-call", self._before_call)
        session.events.register("after-call", self._after_call)

    @staticmethod
    def _before_build(params: dict[str, Any], model: Any, **_: Any) -> None:
        """Ask for what the unit computation needs and the caller did not (never changes what it gets)."""
        members = model.input_shape.members if model.input_shape is not None else {}
        if "ReturnConsumedCapacity" in members:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")
        if model.name == "UpdateItem":
            params.setdefault("ReturnValues", "ALL_NEW")
        projection = params.get("ProjectionExpression")
        if model.name in ("Query", "Scan") and projection:
            params["ProjectionExpression"] = f"{projection}, PK, SK"

    def _before_call(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        function = FUNCTION.get() or OUTSIDE
        service = model.service_model.service_name
        with self._lock:
            self.requests[(function, f"{service}.{model.name}")] += 1
        body = params.get("body")
        if service == "dynamodb" and isinstance(body, bytes | str) and body:
            context["cme_bench"] = (function, json.loads(body))
        elif service == "s3" and model.name == "PutObject":
            with self._lock:
                self.s3_put_bytes += _length(body)
        elif service == "sesv2" and model.name == "SendEmail" and isinstance(body, bytes | str):
            raw = json.loads(body).get("Content", {}).get("Raw", {}).get("Data", "")
            with self._lock:
                self.ses_bytes[function] += len(base64.b64decode(raw)) if raw else len(body)
        elif service == "events" and model.name == "PutEvents" and isinstance(body, bytes | str):
            entries = json.loads(body).get("Entries", [])
            with self._lock:
                self.eventbridge_entries[function] += len(entries)
                self.event_types.update(str(e.get("DetailType", "")) for e in entries)
        elif service == "sqs" and model.name == "ReceiveMessage" and isinstance(body, bytes | str):
            with contextlib.suppress(ValueError):  # SQS speaks JSON in this SDK; the count is only a figure
                context["cme_bench_queue"] = str(json.loads(body).get("QueueUrl", "")).rsplit("/", 1)[-1]

    def _after_call(
        self, http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        service = model.service_model.service_name
        if service == "sqs" and model.name == "ReceiveMessage":
            messages = parsed.get("Messages") or []
            first = sum(1 for m in messages if str(m.get("Attributes", {}).get("ApproximateReceiveCount", "1")) == "1")
            with self._lock:
                self.sqs_receives["with_messages" if messages else "empty"] += 1
                self.sqs_messages += first
                self.queue_messages[str(context.get("cme_bench_queue", ""))] += first
            return
        pending = context.get("cme_bench")
        if service != "dynamodb" or pending is None:
            return
        function, request = pending
        content = getattr(http_response, "content", b"") or b"{}"
        try:
            answer = json.loads(content)
        except ValueError:
            answer = {}
        ok = getattr(http_response, "status_code", 500) < 300
        with self._lock:
            consumed = answer.get("ConsumedCapacity")
            for entry in consumed if isinstance(consumed, list) else [consumed] if consumed else []:
                self.moto_reported_units += float(entry.get("CapacityUnits", 0))
            self._account(function, model.name, request, answer, ok)

    # ---- writes ---------------------------------------------------------------------------------

    def _account(
        self, function: str, operation: str, request: dict[str, Any], answer: dict[str, Any], ok: bool
    ) -> None:
        table = str(request.get("TableName", ""))
        if operation == "PutItem":
            item = request["Item"]
            self._write(function, _key_of(table, item), item if ok else None, ok=ok)
        elif operation == "UpdateItem":
            # The new image (ALL_NEW, asked for above); without it the item is taken as unchanged in size.
            key = _key_of(table, request["Key"])
            self._write(function, key, answer.get("Attributes"), ok=ok, keep=ok and "Attributes" not in answer)
        elif operation == "DeleteItem":
            self._write(function, _key_of(table, request["Key"]), None, ok=ok, delete=True)
        elif operation == "BatchWriteItem":
            unprocessed = answer.get("UnprocessedItems") or {}
            for name, entries in request.get("RequestItems", {}).items():
                for entry in entries[: len(entries) - len(unprocessed.get(name, []))]:
                    if "PutRequest" in entry:
                        item = entry["PutRequest"]["Item"]
                        self._write(function, _key_of(name, item), item, ok=True)
                    else:
                        key = _key_of(name, entry["DeleteRequest"]["Key"])
                        self._write(function, key, None, ok=True, delete=True)
        elif operation == "TransactWriteItems":
            for entry in request.get("TransactItems", []):
                ((kind, body),) = entry.items()
                name = str(body.get("TableName", ""))
                if kind == "Put":
                    self._write(function, _key_of(name, body["Item"]), body["Item"] if ok else None, ok=ok, factor=2)
                elif kind == "Delete":
                    self._write(function, _key_of(name, body["Key"]), None, ok=ok, delete=True, factor=2)
                else:  # Update (no new image in a transaction's answer: size taken as unchanged) or ConditionCheck
                    self._write(function, _key_of(name, body["Key"]), None, ok=ok, keep=True, factor=2)
        elif operation in ("GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"):
            self._reads(function, operation, request, answer)

    def _write(
        self,
        function: str,
        key: tuple[str, str, str],
        new_item: dict[str, Any] | None,
        *,
        ok: bool,
        delete: bool = False,
        keep: bool = False,
        factor: int = 1,
    ) -> None:
        """One item written: `new_item` its new image (None when deleted or failed); `keep`: the item
        is left as stored (a condition check, or an update whose new image is unknown)."""
        table, pk, sk = key
        pattern = pattern_of(pk, sk, table=table)
        counted = (function, pattern)
        self.item_writes[counted] += 1
        old = self._items.get(key)
        if not ok:
            # A failed condition still costs the units of the item as it stands (at least one).
            self.condition_failed[counted] += 1
            units = factor * write_units(old.size if old else 0)
            self.write_units[counted] += units
            self._log(pk, units)
            return
        new = old if keep else None if delete or new_item is None else _stored(new_item)
        units = factor * write_units(max(old.size if old else 0, new.size if new else 0))
        self.write_units[counted] += units
        self._log(pk, units)
        self.stored[counted] += 1
        if old is not None and new is not None and old.digest == new.digest:
            self.unchanged[counted] += 1
        else:
            index_writes: list[tuple[str, int]] = []
            old_index, new_index = (old.index_key if old else None), (new.index_key if new else None)
            if old is not None and old_index and (new_index is None or new_index != old_index):
                index_writes.append((old_index[0], write_units(old.size)))  # the entry leaves its place
            if new is not None and new_index:
                index_writes.append((new_index[0], write_units(new.size)))
            for index_pk, index_units in index_writes:
                self.write_units[(function, index_pattern(index_pk))] += index_units
                self._log(f"GSI1 {index_pk}", index_units)
        if new is None:
            self._items.pop(key, None)
        else:
            self._items[key] = new

    def _log(self, key: str, units: float) -> None:
        if self.key_log is not None:
            self.key_log.append((self.now, key, units))

    # ---- reads ----------------------------------------------------------------------------------

    def _size(self, table: str, item: dict[str, Any]) -> int:
        stored = self._items.get(_key_of(table, item)) if ("PK" in item or "id" in item) else None
        return stored.size if stored is not None else item_size(item)

    def _reads(self, function: str, operation: str, request: dict[str, Any], answer: dict[str, Any]) -> None:
        factor = 2 if operation == "TransactGetItems" else 1
        if operation in ("GetItem", "TransactGetItems"):
            gets = (
                [(str(request.get("TableName", "")), request["Key"], bool(request.get("ConsistentRead")))]
                if operation == "GetItem"
                else [(str(g["Get"]["TableName"]), g["Get"]["Key"], True) for g in request.get("TransactItems", [])]
            )
            for table, key, consistent in gets:
                stored = self._items.get(_key_of(table, key))
                units = factor * read_units(stored.size if stored else 0, consistent)
                pattern = pattern_of(_s(key.get("PK", key.get("id"))), _s(key.get("SK")), table=table)
                self.read_units[(function, pattern)] += units
                self._log_read(_s(key.get("PK", key.get("id"))), units)
        elif operation == "BatchGetItem":
            for table, wanted in request.get("RequestItems", {}).items():
                consistent = bool(wanted.get("ConsistentRead"))
                for key in wanted.get("Keys", []):
                    stored = self._items.get(_key_of(table, key))
                    units = read_units(stored.size if stored else 0, consistent)
                    pattern = pattern_of(_s(key.get("PK", key.get("id"))), _s(key.get("SK")), table=table)
                    self.read_units[(function, pattern)] += units
                    self._log_read(_s(key.get("PK", key.get("id"))), units)
        else:
            table = str(request.get("TableName", ""))
            items = answer.get("Items") or []
            index = request.get("IndexName")
            consistent = bool(request.get("ConsistentRead")) and not index
            units = read_units(sum(self._size(table, item) for item in items), consistent)
            values = request.get("ExpressionAttributeValues") or {}
            first = _s(values[min(values, key=lambda k: (len(k), k))]) if values else ""
            if index:
                partition = first
                pattern = index_pattern(partition)
                self._log_read(f"GSI1 {partition}", units)
            else:
                partition = _s(items[0]["PK"]) if items and "PK" in items[0] else first
                # A query of a partition may return several kinds of record (an attendee's, the agenda's).
                kinds = sorted({pattern_of(_s(i.get("PK")), _s(i.get("SK")), table=table) for i in items})
                pattern = "+".join(kinds) if kinds else pattern_of(partition, table=table)
                self._log_read(partition, units)
            self.read_units[(function, pattern)] += units

    def _log_read(self, key: str, units: float) -> None:
        if self.read_log is not None:
            self.read_log.append((self.now, key, units))

    # ---- figures --------------------------------------------------------------------------------

    def stored_items(self, pattern: str) -> int:
        return sum(1 for (table, pk, sk) in self._items if pattern_of(pk, sk, table=table) == pattern)

    def storage_bytes(self) -> dict[str, int]:
        """Bytes stored now, as DynamoDB bills them: each item plus 100 bytes, and each GSI1 entry again
        (idempotency records left out: they expire within hours)."""
        kept = [stored for (table, _, _), stored in self._items.items() if "dempoten" not in table]
        return {"table": sum(s.size + 100 for s in kept), "gsi1": sum(s.size + 100 for s in kept if s.index_key)}


def _length(body: Any) -> int:
    """The size of a request body: bytes, or the file-like object botocore makes of an S3 upload."""
    if isinstance(body, bytes | str):
        return len(body)
    if hasattr(body, "seek") and hasattr(body, "tell"):
        position = body.tell()
        body.seek(0, io.SEEK_END)
        size = int(body.tell())
        body.seek(position)
        return size
    return 0


@contextmanager
def metered(meter: Meter) -> Iterator[None]:
    """Install the meter on a fresh default session: clients copy their session's hooks when created,
    so this comes before the stack makes any."""
    import boto3

    boto3.setup_default_session()
    meter.install(boto3.DEFAULT_SESSION)
    try:
        yield
    finally:
        boto3.setup_default_session()


class Invocations:
    """Wraps the stack's FunctionHost.invoke: marks the function running (FUNCTION, which the
    functions' I/O threads inherit), and keeps each invocation's wall time and the stack's clock."""

    def __init__(self, stack: Any):
        from cme import clock

        self._clock = clock
        self.folder = {logical: spec.folder for logical, spec in stack.host.specs.items()}
        self.memory = {spec.folder: spec.memory for spec in stack.host.specs.values()}
        self.seconds: dict[str, list[float]] = defaultdict(list)
        self.cold_starts: Counter[str] = Counter()
        self._last: dict[str, datetime] = {}
        self._lock = threading.Lock()
        original = stack.host.invoke

        def invoke(logical_id: str, event: dict[str, Any]) -> Any:
            folder = self.folder.get(logical_id, logical_id)
            moment = self._clock.now()
            with self._lock:
                previous = self._last.get(folder)
                if previous is None or moment - previous >= IDLE_BEFORE_COLD_START:
                    self.cold_starts[folder] += 1
                self._last[folder] = moment
            token = FUNCTION.set(folder)
            began = time.perf_counter()
            try:
                return original(logical_id, event)
            finally:
                elapsed = time.perf_counter() - began
                FUNCTION.reset(token)
                with self._lock:
                    self.seconds[folder].append(elapsed)

        stack.host.invoke = invoke

    def figures(self) -> dict[str, dict[str, Any]]:
        out = {}
        for folder, walls in sorted(self.seconds.items()):
            billed_ms = sum(math.ceil(w * 1000) for w in walls)
            out[folder] = {
                "invocations": len(walls),
                "median_ms": round(statistics.median(walls) * 1000, 1),
                "billed_ms": billed_ms,
                "memory_mb": self.memory.get(folder, 512),
                "cold_starts": self.cold_starts[folder],
            }
        return out


class _LogCapture:
    """The functions' log lines at INFO (as template.yaml sets), captured: lines and bytes per function."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()

    def __enter__(self) -> _LogCapture:
        from cme.observability import logger

        self._handler = logger.registered_handler
        self._level = logger.log_level
        self._previous = self._handler.setStream(self.buffer)
        logger.setLevel("INFO")
        return self

    def __exit__(self, *exc: object) -> None:
        from cme.observability import logger

        self._handler.setStream(self._previous)
        logger.setLevel(self._level)

    def figures(self) -> dict[str, dict[str, int]]:
        lines: Counter[str] = Counter()
        size: Counter[str] = Counter()
        for line in self.buffer.getvalue().splitlines():
            try:
                name = str(json.loads(line).get("function_name", "")).removeprefix("cme-local-") or "other"
            except ValueError:
                name = "other"
            lines[name] += 1
            size[name] += len(line.encode()) + 1
        return {name: {"lines": lines[name], "bytes": size[name]} for name in sorted(lines)}


# ---------------------------------------------------------------------------------------------
# `capacity`: the demo conference, measured.


def _ratio(value: float, base: float, places: int = 3) -> float | None:
    return round(value / base, places) if base else None


def _by(counter: Mapping[tuple[str, str], float], index: int) -> dict[str, float]:
    summed: dict[str, float] = defaultdict(float)
    for key, value in counter.items():
        summed[key[index]] += value
    return {k: round(v, 1) for k, v in sorted(summed.items(), key=lambda kv: -kv[1])}


def _kind(function: str) -> str:
    return KIND_OF_FUNCTION.get(function, "platform" if function == OUTSIDE else function)


def measure_conference(attendees: int = 300, seed: int = 7, out_dir: Path | None = None) -> dict[str, Any]:
    """One metered replay of the demo conference; the raw figures `bench_capacity` summarises."""
    import tempfile

    from cme_local import demo
    from cme_local.conference import build_conference
    from cme_local.stack import LocalStack

    conference = build_conference(seed=seed, attendees=attendees)
    meter = Meter()
    settle_every = demo.SETTLE_EVERY_EVENTS
    # Each upload and evaluation delivered on its own, as Lambda's pollers see them minutes apart
    # (the demo settles every few events to go faster, which would merge their stream batches).
    demo.SETTLE_EVERY_EVENTS = 1
    began = time.monotonic()
    with metered(meter):
        stack = LocalStack(now=conference.timeline_start, background_pump=False).start()
        try:
            invocations = Invocations(stack)
            with _LogCapture() as logs, tempfile.TemporaryDirectory() as scratch:
                summary = demo.run_demo(
                    stack.api_url,
                    stack.organizer_token,
                    stack.scanner_token,
                    seed=seed,
                    attendees=attendees,
                    out_dir=out_dir or Path(scratch),
                    log=lambda _: None,
                )
            fired = stack.pump.scheduler.fired
            sns_published = stack.pump.mail_events.published if stack.pump.mail_events else 0
        finally:
            demo.SETTLE_EVERY_EVENTS = settle_every
            stack.stop()
    return {
        "conference": conference,
        "summary": summary,
        "meter": meter,
        "invocations": invocations.figures(),
        "logs": logs.figures(),
        "schedules_fired": fired,
        "sns_published": sns_published,
        "wall_seconds": time.monotonic() - began,
    }


def _product(counter: Mapping[tuple[str, str], float]) -> dict[tuple[str, str], float]:
    """The functions' share of a count (the local stack's own setup calls left out)."""
    return {key: value for key, value in counter.items() if key[0] != OUTSIDE}


def summarise_conference(run: dict[str, Any]) -> dict[str, Any]:
    """The capacity figures of one metered run (see the module docstring)."""
    meter: Meter = run["meter"]
    summary = run["summary"]
    conference = run["conference"]
    roster = len(conference.roster)
    certificates = meter.stored[("issue_certificate", "CERT_VERSION")]
    floor = {
        "scan": summary["scans"]["accepted"],
        "attendance": meter.stored_items("ATT"),
        "evaluation": summary["evaluations"],
        "claim": meter.stored[("on_evaluation", "CLAIM")],
        "certificate": certificates,
    }
    writes, reads = _product(meter.write_units), _product(meter.read_units)
    by_kind = _by_kind(writes)
    floor_total = sum(floor.values())
    total = sum(writes.values())
    in_floor_kinds = sum(by_kind.get(k, 0) for k in FLOOR_KINDS)
    read_total = sum(reads.values())
    activity = conference.activity
    operations = _operations(meter, "dynamodb.")
    dynamodb_requests = sum(operations.values())

    def per(value: float) -> float | None:
        return _ratio(value, roster)

    return {
        "meeting": {
            "days": (date.fromisoformat(activity["ends_on"]) - date.fromisoformat(activity["starts_on"])).days + 1,
            "sessions": len(activity["sessions"]),
            "attendees": roster,
            "accepted_scans": summary["scans"]["accepted"],
            "evaluations": summary["evaluations"],
            "certificates": certificates,
            "seed": conference.seed,
        },
        "dynamodb": {
            "write_units": round(total, 1),
            "write_units_per_attendee": per(total),
            "floor_units": floor_total,
            "floor_by_kind": floor,
            "write_units_over_floor": _ratio(total, floor_total),
            "floor_kinds_write_units_over_floor": _ratio(in_floor_kinds, floor_total),
            "target_write_units_over_floor": TARGET_WRITE_RATIO,
            "write_units_by_kind": {k: round(v, 1) for k, v in by_kind.items()},
            "write_units_over_floor_by_kind": {k: _ratio(by_kind.get(k, 0), floor[k]) for k in FLOOR_KINDS},
            "write_units_per_attendee_by_kind": {k: per(v) for k, v in sorted(by_kind.items())},
            "write_units_by_pattern": _by(writes, 1),
            "item_writes_by_pattern": {k: int(v) for k, v in _by(_product(meter.item_writes), 1).items()},
            "unchanged_rewrites_by_pattern": {k: int(v) for k, v in _by(_product(meter.unchanged), 1).items() if v},
            "read_units": round(read_total, 1),
            "read_units_per_attendee": per(read_total),
            "read_units_by_kind": {k: round(v, 1) for k, v in _by_kind(reads).items()},
            "read_units_by_pattern": _by(reads, 1),
            "requests": dynamodb_requests,
            "requests_per_attendee": per(dynamodb_requests),
            "requests_by_operation": operations,
            "condition_failures": sum(_product(meter.condition_failed).values()),
            "moto_reported_capacity_units": round(meter.moto_reported_units, 1),
            "storage_bytes": meter.storage_bytes(),
        },
        "per_certificate": _per_certificate(run, certificates),
        "lambda": run["invocations"],
        "logs": run["logs"],
    }


def _by_kind(counter: Mapping[tuple[str, str], float]) -> dict[str, float]:
    summed: dict[str, float] = defaultdict(float)
    for (function, _), value in counter.items():
        summed[_kind(function)] += value
    return dict(sorted(summed.items(), key=lambda kv: -kv[1]))


def _operations(meter: Meter, prefix: str) -> dict[str, int]:
    summed: Counter[str] = Counter()
    for (function, operation), n in meter.requests.items():
        if operation.startswith(prefix) and function != OUTSIDE:
            summed[operation.removeprefix(prefix)] += n
    return dict(summed.most_common())


#: The requests the figures per certificate show (the local stack's own set-up calls left out).
PER_CERTIFICATE_OPERATIONS = (
    "s3.PutObject",
    "s3.GetObject",
    "s3.HeadObject",
    "sesv2.SendEmail",
    "events.PutEvents",
    "sqs.SendMessage",
    "sqs.DeleteMessage",
    "sqs.DeleteMessageBatch",
    "sqs.ChangeMessageVisibility",
)


def _per_certificate(run: dict[str, Any], certificates: int) -> dict[str, Any]:
    """S3, SES, SQS and EventBridge requests of the run per certificate issued, by operation and function
    (`aws`: Lambda's pollers and EventBridge Scheduler, which the local stack stands in for). SQS sends
    are the messages EventBridge rules and SNS put on the queues (first receipts); the local pollers'
    empty receives stand for Lambda's long polls, a fixed cost per queue, and are shown apart."""
    meter: Meter = run["meter"]
    out: dict[str, Any] = {"certificates": certificates}
    for (function, operation), n in sorted(meter.requests.items()):
        if operation in PER_CERTIFICATE_OPERATIONS:
            out.setdefault(operation, {})[function] = _ratio(n, certificates)
    out["sqs.SendMessage by EventBridge and SNS"] = _ratio(meter.sqs_messages, certificates)
    out["sqs.ReceiveMessage with messages"] = _ratio(meter.sqs_receives["with_messages"], certificates)
    out["sqs.ReceiveMessage empty (local pollers)"] = _ratio(meter.sqs_receives["empty"], certificates)
    out["events.PutEvents entries"] = {f: _ratio(n, certificates) for f, n in sorted(meter.eventbridge_entries.items())}
    out["events by detail-type"] = {t: _ratio(n, certificates) for t, n in sorted(meter.event_types.items())}
    out["sqs messages by queue"] = {q: _ratio(n, certificates) for q, n in sorted(meter.queue_messages.items()) if n}
    out["s3_puts_per_certificate"] = _ratio(
        sum(n for (_, op), n in meter.requests.items() if op == "s3.PutObject"), certificates
    )
    out["ses_certificate_sends_per_certificate"] = _ratio(
        meter.requests[("send_certificate_mail", "sesv2.SendEmail")], certificates
    )
    out["target_s3_puts"] = 1
    out["target_ses_sends"] = 1
    return out


# ---------------------------------------------------------------------------------------------
# Cost per attendee


def cost(run: dict[str, Any], prices: dict[str, float] = PRICES) -> dict[str, Any]:
    """The meeting's AWS bill at list prices, per item and per attendee (the arithmetic, in dollars)."""
    meter: Meter = run["meter"]
    summary = run["summary"]
    roster = len(run["conference"].roster)
    invocations: dict[str, dict[str, Any]] = run["invocations"]
    requests = meter.requests

    def ops(name: str, function: str | None = None) -> int:
        return sum(n for (f, op), n in requests.items() if op == name and (function is None or f == function))

    lambda_requests = sum(f["invocations"] for f in invocations.values())
    gb_seconds = sum(f["billed_ms"] / 1000 * f["memory_mb"] / 1024 for f in invocations.values())
    init_gb_seconds = sum(
        f["cold_starts"] * INIT_SECONDS.get(name, INIT_SECONDS_DEFAULT) * f["memory_mb"] / 1024
        for name, f in invocations.items()
    )
    http_functions = ("organizer_api", "ingest_scans", "learner_api", "public_api")
    api_requests = sum(invocations.get(f, {}).get("invocations", 0) for f in http_functions)
    write_units = sum(_product(meter.write_units).values())
    read_units = sum(_product(meter.read_units).values())
    storage = meter.storage_bytes()
    stored_gb = (storage["table"] + storage["gsi1"]) / 1e9
    events = sum(meter.eventbridge_entries.values())
    # The local pollers' empty receives stand for Lambda's long polls, a fixed cost per queue (below).
    sqs_requests = meter.sqs_messages + meter.sqs_receives["with_messages"] + ops("sqs.DeleteMessageBatch")
    sqs_requests += ops("sqs.DeleteMessage") + ops("sqs.ChangeMessageVisibility") + ops("sqs.SendMessage")
    pdf_bytes = meter.s3_put_bytes
    s3_gets = ops("s3.GetObject") + summary.get("certificates", 0)  # + the learners' presigned downloads
    ses_messages = ops("sesv2.SendEmail")
    attachment_gb = meter.ses_bytes["send_certificate_mail"] / 1e9
    log_lines = sum(f["lines"] for f in run["logs"].values())
    log_bytes = sum(f["bytes"] for f in run["logs"].values())
    log_bytes += log_lines * TRACE_ID_BYTES_PER_LOG_LINE + lambda_requests * PLATFORM_LOG_BYTES_PER_INVOCATION
    log_bytes += api_requests * ACCESS_LOG_BYTES_PER_REQUEST
    secrets = ops("secretsmanager.GetSecretValue")
    # S3 classes over the retention: 3 months Standard, 9 Standard-IA, then Glacier Instant Retrieval.
    pdf_gb = pdf_bytes / 1e9
    s3_retained = pdf_gb * (
        3 * prices["s3_storage_gb_month"]
        + 9 * prices["s3_standard_ia_gb_month"]
        + (RETENTION_MONTHS - 12) * prices["s3_glacier_instant_gb_month"]
    )
    items = {
        "lambda_requests": lambda_requests * prices["lambda_request"],
        "lambda_duration": gb_seconds * prices["lambda_gb_second_arm64"],
        "lambda_init": init_gb_seconds * prices["lambda_gb_second_arm64"],
        "http_api_requests": api_requests * prices["http_api_request"],
        "dynamodb_writes": write_units * prices["dynamodb_write_request_unit"],
        "dynamodb_reads": read_units * prices["dynamodb_read_request_unit"],
        "dynamodb_stream_reads": 0.0,  # GetRecords by Lambda triggers are free
        "dynamodb_storage_first_month": stored_gb * prices["dynamodb_storage_gb_month"],
        "dynamodb_pitr_first_month": stored_gb * prices["dynamodb_pitr_gb_month"],
        "eventbridge_events": events * prices["eventbridge_event"],
        "scheduler_invocations": run["schedules_fired"] * prices["scheduler_invocation"],
        "sqs_requests": sqs_requests * prices["sqs_request"],
        "s3_puts": ops("s3.PutObject") * prices["s3_put"],
        "s3_gets": s3_gets * prices["s3_get"],
        "s3_storage_first_month": pdf_gb * prices["s3_storage_gb_month"],
        "ses_messages": ses_messages * prices["ses_message"],
        "ses_attachments": attachment_gb * prices["ses_attachment_gb"],
        "sns_publishes": run["sns_published"] * prices["sns_publish"],
        "logs_ingested": log_bytes / 1e9 * prices["logs_ingested_gb"],
        "logs_stored_first_month": log_bytes / 1e9 * prices["logs_stored_gb_month"],
        "xray_traces_all_sampled": lambda_requests * prices["xray_trace_recorded"],
        "secrets_manager_calls": secrets * prices["secrets_manager_call"],
    }
    meeting = sum(items.values())
    retained = (
        stored_gb * (prices["dynamodb_storage_gb_month"] + prices["dynamodb_pitr_gb_month"]) * (RETENTION_MONTHS - 1)
        + s3_retained
        - pdf_gb * prices["s3_storage_gb_month"]
    )
    return {
        "prices_checked_on": PRICES_CHECKED_ON,
        "quantities": {
            "lambda_requests": lambda_requests,
            "lambda_gb_seconds": round(gb_seconds, 2),
            "lambda_init_gb_seconds": round(init_gb_seconds, 2),
            "http_api_requests": api_requests,
            "dynamodb_write_units": round(write_units, 1),
            "dynamodb_read_units": round(read_units, 1),
            "dynamodb_stored_bytes": storage["table"] + storage["gsi1"],
            "eventbridge_events": events,
            "schedules_fired": run["schedules_fired"],
            "sqs_requests": sqs_requests,
            "s3_puts": ops("s3.PutObject"),
            "s3_gets": s3_gets,
            "s3_stored_bytes": pdf_bytes,
            "ses_messages": ses_messages,
            "ses_attachment_bytes": meter.ses_bytes["send_certificate_mail"],
            "sns_publishes": run["sns_published"],
            "log_lines": log_lines,
            "log_bytes": log_bytes,
            "secrets_manager_calls": secrets,
        },
        "dollars": {k: round(v, 6) for k, v in items.items()},
        "meeting_dollars": round(meeting, 4),
        "per_attendee_dollars": round(meeting / roster, 6),
        "per_attendee_dollars_xray_default_sampling": round(
            (meeting - items["xray_traces_all_sampled"] * (1 - XRAY_DEFAULT_SAMPLING)) / roster, 6
        ),
        "per_attendee_retention_dollars": round(retained / roster, 6),
        "retention_months": RETENTION_MONTHS,
        "target_per_attendee_dollars": TARGET_COST_PER_ATTENDEE,
        "per_attendee_by_item": {k: round(v / roster, 7) for k, v in sorted(items.items(), key=lambda kv: -kv[1])},
    }


def bench_capacity(attendees: int = 300, repeats: int = 1, seed: int = 7) -> dict[str, Any]:
    """The demo conference measured `repeats` times: units and requests are ratios within a run (the
    same seed gives the same meeting), durations and wall times the median over the runs."""
    runs = [measure_conference(attendees=attendees, seed=seed) for _ in range(repeats)]
    figures = [summarise_conference(run) for run in runs]
    costs = [cost(run) for run in runs]
    middle = sorted(range(repeats), key=lambda i: costs[i]["per_attendee_dollars"])[repeats // 2]
    result = {
        "benchmark": "capacity, requests and cost of the demo conference (local stack, real handlers)",
        "repeats": repeats,
        "wall_seconds_median": round(statistics.median(r["wall_seconds"] for r in runs), 1),
        **figures[middle],
        "cost": costs[middle],
    }
    if repeats > 1:
        result["cost"]["per_attendee_dollars_all"] = [c["per_attendee_dollars"] for c in costs]
    return result


# ---------------------------------------------------------------------------------------------
# `hot_keys`: a 40,000-attendee door rush after an outage, on a simulated clock.

RUSH_DAY = "2027-10-14"
RUSH_OFFSET = "-05:00"
BREAKOUT_ROOMS = ("Room-201", "Room-202", "Room-203", "Room-204")


def _rush_agenda() -> dict[str, Any]:
    def at(hhmm: str) -> str:
        return f"{RUSH_DAY}T{hhmm}:00{RUSH_OFFSET}"

    sessions = [
        {
            "session_id": "P1",
            "title": "Plenary",
            "room": "Hall-A",
            "starts_at": at("08:00"),
            "ends_at": at("09:30"),
            "credits": {"AMA_PRA_1": 1.5},
        }
    ]
    sessions += [
        {
            "session_id": f"B{n}",
            "title": f"Breakout {n}",
            "room": room,
            "starts_at": at("09:45"),
            "ends_at": at("11:00"),
            "credits": {"AMA_PRA_1": 1.25},
        }
        for n, room in enumerate(BREAKOUT_ROOMS, 1)
    ]
    return {
        "title": "Door rush",
        "provider": {"name": "Benchmark Academy"},
        "location": "Convention center",
        "timezone": "America/Chicago",
        "starts_on": RUSH_DAY,
        "ends_on": RUSH_DAY,
        "credit_types": {"AMA_PRA_1": {"max": 4}},
        "sessions": sessions,
    }


def _rush_uploads(
    attendees: int, devices: int, seconds: float, rng: random.Random
) -> list[tuple[float, str, list[dict[str, Any]]]]:
    """(arrival second, device, scans): each attendee entered the plenary (07:40-08:10) and a breakout
    (09:35-09:55) while the doors were offline; each device sends its backlog in 500-scan requests, the
    requests arriving at random over `seconds`. A quarter of the devices stand at the hall."""
    hall = [f"hall-{n}" for n in range(max(1, devices // 4))]
    rooms = {
        room: [f"{room.lower()}-{n}" for n in range(max(1, (devices - len(hall)) // 4))] for room in BREAKOUT_ROOMS
    }
    backlog: dict[str, list[dict[str, Any]]] = defaultdict(list)
    base = datetime.fromisoformat(f"{RUSH_DAY}T07:40:00{RUSH_OFFSET}")
    for i in range(attendees):
        badge = f"R{i:06d}"
        entered = base + timedelta(seconds=rng.randint(0, 30 * 60))
        device = rng.choice(hall)
        backlog[device].append(
            {
                "scan_id": f"h{i}",
                "badge_id": badge,
                "room": "Hall-A",
                "scanned_at": entered.isoformat(),
                "device_id": device,
            }
        )
        room = rng.choice(BREAKOUT_ROOMS)
        later = base + timedelta(minutes=115, seconds=rng.randint(0, 20 * 60))
        device = rng.choice(rooms[room])
        backlog[device].append(
            {"scan_id": f"b{i}", "badge_id": badge, "room": room, "scanned_at": later.isoformat(), "device_id": device}
        )
    uploads = []
    for device, scans in sorted(backlog.items()):
        scans.sort(key=lambda s: s["scanned_at"])
        for start in range(0, len(scans), 500):
            uploads.append((rng.uniform(0, seconds), device, scans[start : start + 500]))
    return sorted(uploads, key=lambda u: u[0])


def _max_in_window(entries: list[tuple[float, float]], window: float = 1.0) -> tuple[int, float]:
    """(most entries, most units) in any `window`-second interval of the (time, units) entries."""
    entries.sort()
    best_count, best_units, units, start = 0, 0.0, 0.0, 0
    for end, (moment, amount) in enumerate(entries):
        units += amount
        while entries[start][0] <= moment - window:
            units -= entries[start][1]
            start += 1
        best_count = max(best_count, end - start + 1)
        best_units = max(best_units, units)
    return best_count, best_units


def key_rates(log: list[tuple[float, str, float]], *, since: float = 0.0) -> list[dict[str, Any]]:
    """Per partition key, the most writes (and units) in any one-second window, highest first."""
    by_key: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for moment, key, units in log:
        if moment >= since:
            by_key[key].append((moment, units))
    rates = []
    for key, entries in by_key.items():
        count, units = _max_in_window(entries)
        rates.append(
            {
                "key": key,
                "family": key_family(key),
                "per_second": count,
                "units_per_second": units,
                "total": len(entries),
            }
        )
    return sorted(rates, key=lambda r: (-r["per_second"], r["key"]))


class _StreamReader:
    """Reads the table's stream from where it last stopped (moto has one shard)."""

    def __init__(self, stream_arn: str):
        from cme.adapters.aws import client

        self.streams = client("dynamodbstreams")
        self.arn = stream_arn
        self.positions: dict[str, str] = {}

    def read(self) -> list[dict[str, Any]]:
        from cme_local.pump import _stream_record

        records: list[dict[str, Any]] = []
        shards = self.streams.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            while True:
                request: dict[str, Any] = {"StreamArn": self.arn, "ShardId": shard_id}
                if shard_id in self.positions:
                    request.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=self.positions[shard_id])
                else:
                    request["ShardIteratorType"] = "TRIM_HORIZON"
                iterator = self.streams.get_shard_iterator(**request)["ShardIterator"]
                page = self.streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
                if not page:
                    break
                self.positions[shard_id] = page[-1]["dynamodb"]["SequenceNumber"]
                records += [_stream_record(raw, self.arn) for raw in page]
        return records


def _sqs_message(detail_type: str, detail: dict[str, Any], message_id: str) -> dict[str, Any]:
    body = {"version": "0", "id": message_id, "detail-type": detail_type, "source": "cme", "detail": detail}
    return {
        "messageId": message_id,
        "receiptHandle": message_id,
        "body": json.dumps(body, default=str),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:rush",
        "awsRegion": "us-east-1",
    }


def _rush_once(
    attendees: int, seconds: float, devices: int, stream_shards: int, sample_shards: int, seed: int
) -> dict[str, Any]:
    """One door rush (see `bench_hot_keys`): its key rates and what it executed."""
    from cme import clock
    from cme.service.outbox import event_for_change
    from cme_local.patterns import any_matches
    from cme_local.stack import LocalStack

    rng = random.Random(seed)
    meter = Meter(key_log=True)
    rush = datetime.fromisoformat(f"{RUSH_DAY}T10:00:00{RUSH_OFFSET}")
    began = time.monotonic()
    with metered(meter):
        stack = LocalStack(now=rush - timedelta(hours=3), background_pump=False).start()
        try:
            from cme.adapters import store
            from cme.domain.models import Activity, Attendee
            from cme.service.activities import import_activity
            from cme.service.scans import ingest_scans

            sampled = min(store.SHARDS, max(1, sample_shards))
            badges = [f"R{i:06d}" for i in range(attendees)]
            executed = [b for b in badges if store.shard(b) < sampled]
            planned = _rush_uploads(attendees, devices, seconds, rng)
            uploads = [
                (arrival, device_id, kept)
                for arrival, device_id, scans in planned
                if (kept := [s for s in scans if store.shard(s["badge_id"]) < sampled])
            ]
            Invocations(stack)  # marks the consumers' calls with their function
            import_activity(Activity.model_validate({**_rush_agenda(), "activity_id": "rush"}))
            for start in range(0, len(executed), 5000):
                store.put_attendees(
                    "rush",
                    [
                        Attendee(
                            badge_id=badge,
                            given_name="Test",
                            family_name=f"Learner {badge}",
                            email=f"{badge.lower()}@example.org",
                            profession="physician",
                            degree="MD",
                        )
                        for badge in executed[start : start + 5000]
                    ],
                    send_links=False,
                )
            count_mapping = next(m for m in stack.wiring.streams if m.function == "CountChangesFunction")
            reader = _StreamReader(count_mapping.stream_arn)
            reader.read()  # the agenda and roster: before the rush
            assert meter.key_log is not None and meter.read_log is not None
            meter.key_log.clear()
            meter.read_log.clear()
            device = {"activity_id": "*", "device_id": "rush"}
            check_ins: dict[int, list[dict[str, Any]]] = defaultdict(list)  # due second -> details
            counts: dict[int, dict[int, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
            second, number, accepted, largest_batch, redelivered = 0, 0, 0, 0, 0
            # A batch of the executed share stands for a batch of 1,000 of the whole rush's records.
            batch_limit = max(1, 1000 * sampled // store.SHARDS)
            pending = list(uploads)

            def at(offset: float) -> None:
                meter.now = offset
                clock.set_override(rush + timedelta(seconds=offset))

            while pending or check_ins or counts:
                due = check_ins.pop(second, [])
                batches = [due[i : i + 100] for i in range(0, len(due), 100)]
                for n, batch in enumerate(batches):
                    at(second + n / len(batches))
                    messages: dict[str, dict[str, Any]] = {}
                    for detail in batch:
                        number += 1
                        messages[f"m{number}"] = detail
                    delivery = {"Records": [_sqs_message("CheckInScanned", d, m) for m, d in messages.items()]}
                    answer = stack.host.invoke("OnCheckInFunction", delivery)
                    for failure in (answer or {}).get("batchItemFailures", []):  # SQS delivers them again
                        check_ins[second + 1].append(messages[failure["itemIdentifier"]])
                        redelivered += 1
                for shard, records in sorted(counts.pop(second, {}).items()):
                    at(second + shard / stream_shards)
                    largest_batch = max(largest_batch, len(records))
                    for start in range(0, len(records), batch_limit):
                        event = {"Records": records[start : start + batch_limit], "shardId": f"shardId-{shard:03d}"}
                        try:
                            stack.host.invoke("CountChangesFunction", event)
                        except Exception:  # Lambda retries the shard from the failed batch on
                            counts[second + 1][shard][:0] = records[start:]
                            redelivered += len(records) - start
                            break
                while pending and pending[0][0] < second + 1:
                    arrival, device_id, scans = pending.pop(0)
                    at(arrival)
                    answer = ingest_scans({**device, "device_id": device_id}, {"activity_id": "rush", "scans": scans})
                    accepted += sum(1 for r in answer["results"] if r["status"] == "accepted")
                for record in reader.read():
                    found = event_for_change(
                        record["eventName"],
                        _plain(record["dynamodb"].get("NewImage")),
                        _plain(record["dynamodb"].get("OldImage")),
                    )
                    if found and found[0] == "CheckInScanned":
                        check_ins[second + 2].append(found[1])
                    if any_matches(count_mapping.filters, record):
                        counts[second + 1][_stream_shard(record["dynamodb"]["Keys"]["PK"]["S"], stream_shards)].append(
                            record
                        )
                second += 1
        finally:
            clock.set_override(None)
            stack.stop()
    writes = key_rates(meter.key_log)
    reads = key_rates(meter.read_log)
    families: dict[str, dict[str, Any]] = {}
    for rate in writes:
        family = families.setdefault(
            rate["family"], {"keys": 0, "writes": 0, "max_per_second": 0, "max_units_per_second": 0.0}
        )
        family["keys"] += 1
        family["writes"] += rate["total"]
        family["max_per_second"] = max(family["max_per_second"], rate["per_second"])
        family["max_units_per_second"] = max(family["max_units_per_second"], rate["units_per_second"])
    top: dict[str, Any] = writes[0] if writes else {"key": "", "per_second": 0, "units_per_second": 0.0}
    counts_key = next((r for r in writes if str(r["key"]).startswith("COUNT#")), None)
    activity_reads = next((r for r in reads if r["key"] == "ACT#rush"), None)
    return {
        "scans": sum(len(u[2]) for u in planned),
        "uploads": len(planned),
        "sampled": sampled,
        "attendees_executed": len(executed),
        "scans_executed": sum(len(u[2]) for u in uploads),
        "scans_accepted": accepted,
        "largest_batch": largest_batch * store.SHARDS // sampled,
        "simulated_seconds": second,
        "redelivered": redelivered,
        "wall_seconds": time.monotonic() - began,
        "writes_logged": len(meter.key_log),
        "top": top,
        "counts_per_second": counts_key["per_second"] if counts_key else 0,
        "activity_read_units": float(activity_reads["units_per_second"]) if activity_reads else 0.0,
        "families": families,
    }


def _stream_shard(pk: str, shards: int) -> int:
    """The simulated stream shard of a partition key: a hash unrelated to the store's CRC-32 shards, so
    one GSI shard's attendees spread over every stream shard as all attendees do."""
    return int.from_bytes(hashlib.blake2b(pk.encode(), digest_size=4).digest(), "big") % shards


def bench_hot_keys(
    attendees: int = 40_000,
    seconds: float = 60.0,
    devices: int = 100,
    stream_shards: int = 8,
    sample_shards: int = 1,
    repeats: int = 3,
    seed: int = 3,
    gsi_shards: int | None = None,
) -> dict[str, Any]:
    """The door rush on a simulated clock, second by second: the uploads arriving in a second are
    ingested at their arrival times; the stream's new records are read after each second; CheckInScanned
    (the outbox's event for each new scan) reaches `on_check_in` two seconds after its scan, in SQS
    batches of 100, and `count_changes` gets each of `stream_shards` simulated stream shards' records
    one second later, in batches of up to 1,000 (records go to a shard by partition key, as a table's
    partitions feed its stream's shards). Both consumers run as the template's handlers. Writes are
    timed by the simulated clock, so the rates are the meeting's, whatever this machine's speed.

    The whole rush is planned (every attendee's scans, every upload and its arrival), and the attendees
    of `sample_shards` of the store's GSI shards are executed (one of sixteen: 2,512 of 40,000): a sharded
    key only ever holds its own shard's attendees, and an attendee's partition only its own, so their
    rates are exactly the whole rush's. The count items take one write per scope and stream-shard batch:
    the executed share's records are cut into batches of that share of 1,000, so that there are as many
    batches as the whole rush's records make. Reads of the activity's partition (one per check-in
    batch) are scaled up by the share left out.

    The busiest second depends on how the uploads happen to bunch: `repeats` rushes with arrival plans
    of successive seeds, the median of their figures. `gsi_shards` runs the rush with the store's GSI
    shard count set to that number instead (what the hottest keys would be with more shards)."""
    from cme.adapters import store

    product_shards = store.SHARDS
    if gsi_shards is not None:
        store.SHARDS = gsi_shards
    try:
        runs = [_rush_once(attendees, seconds, devices, stream_shards, sample_shards, seed + n) for n in range(repeats)]
    finally:
        store.SHARDS = product_shards
    shards_used = gsi_shards or product_shards
    middle = sorted(runs, key=lambda r: r["top"]["per_second"])[len(runs) // 2]
    scale = shards_used / middle["sampled"]
    return {
        "benchmark": "door rush: scans of N attendees arriving within a minute (simulated clock)",
        "attendees": attendees,
        "scans": middle["scans"],
        "uploads": middle["uploads"],
        "arrival_seconds": seconds,
        "gsi_shards": shards_used,
        "gsi_shards_executed": f"{middle['sampled']} of {shards_used}",
        "attendees_executed": middle["attendees_executed"],
        "scans_executed": middle["scans_executed"],
        "scans_accepted": middle["scans_accepted"],
        "stream_shards_simulated": stream_shards,
        "largest_stream_shard_second": middle["largest_batch"],
        "simulated_seconds": middle["simulated_seconds"],
        "redelivered_after_a_failure": middle["redelivered"],
        "repeats": repeats,
        "seeds": [seed + n for n in range(repeats)],
        "wall_seconds_median": round(statistics.median(r["wall_seconds"] for r in runs), 1),
        "writes_logged": middle["writes_logged"],
        "max_writes_per_second_one_key": middle["top"]["per_second"],
        "max_writes_per_second_one_key_all": [r["top"]["per_second"] for r in runs],
        "max_write_units_per_second_one_key": round(float(middle["top"]["units_per_second"] or 0), 1),
        "hottest_key": key_family(str(middle["top"]["key"])),
        "counts_partition_max_writes_per_second": statistics.median(r["counts_per_second"] for r in runs),
        "activity_partition_read_units_per_second": round(
            statistics.median(r["activity_read_units"] for r in runs) * scale, 1
        ),
        "target_max_writes_per_second": TARGET_KEY_WRITES_PER_SECOND,
        # Per kind of key: how many keys and writes (the middle rush), the busiest second (median of all).
        "key_families": {
            name: {
                "keys": family["keys"],
                "writes": family["writes"],
                **{
                    figure: statistics.median(r["families"].get(name, {}).get(figure, 0) for r in runs)
                    for figure in ("max_per_second", "max_units_per_second")
                },
            }
            for name, family in sorted(middle["families"].items(), key=lambda kv: -kv[1]["max_per_second"])[:10]
        },
    }


def _plain(image: dict[str, Any] | None) -> dict[str, Any] | None:
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {k: deserializer.deserialize(v) for k, v in image.items()} if image else None
