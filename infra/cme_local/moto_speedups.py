"""moto's DynamoDB answers a Query by sorting every item of the table first, so each query costs
O(table) and a demo meeting slows to a crawl as the table fills. This gives its query the items of
the one partition asked for (or, for an index query, the items unsorted: it sorts its own results).
Results are identical; only the work is less. Applied by the local stack, checked by its tests."""

from __future__ import annotations

import copy
import threading
from typing import Any

from moto.dynamodb.models import table as table_module
from moto.dynamodb.models.table import Table

_scope = threading.local()
_original_all_items = Table.all_items
_original_query = Table.query


def _all_items(self: Table) -> list[Any]:
    scope = getattr(_scope, "value", None)
    if scope is None or scope[0] is not self:
        return _original_all_items(self)
    if scope[1] is None:
        buckets = self.items.values()
        items = [item for bucket in buckets for item in (bucket.values() if self.range_key_attr else [bucket])]
        index_hash = scope[2]
        if index_hash is None:
            return items
        # Only items whose index hash key matches can match the query: compare plain values first.
        attribute, value = index_hash
        return [item for item in items if (found := item.attrs.get(attribute)) is not None and found.value == value]
    bucket = self.items.get(scope[1])
    if bucket is None:
        return []
    return list(bucket.values()) if self.range_key_attr else [bucket]


def _index_hash(self: Table, index_name: str, hash_key: Any) -> tuple[str, Any] | None:
    try:
        index = self.get_index(index_name)
        attribute = next(k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH")
    except (StopIteration, KeyError, AttributeError, ValueError, TypeError):
        return None
    return (attribute, hash_key.value) if hash_key is not None and hasattr(hash_key, "value") else None


def _query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
    index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
    index_hash = _index_hash(self, index_name, hash_key) if index_name else None
    _scope.value = (self, None if index_name else hash_key, index_hash)
    _scope.sizes = {}  # the items found are not changed during the query: each one's size once
    try:
        return _original_query(self, hash_key, *args, **kwargs)
    finally:
        _scope.value = None
        _scope.sizes = None


class _QueryCopy:
    """The `copy` module as moto's table code sees it. A query deep-copies every item it found before
    answering (a third of its time), though nothing changes them afterwards: projections build new
    items, filters only read, and the answer is serialized at once. Inside a query the list is copied
    shallowly; everywhere else (scans, backups) it is the real deep copy."""

    copy = staticmethod(copy.copy)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        if getattr(_scope, "value", None) is not None and isinstance(value, list):
            return list(value)
        return copy.deepcopy(value, memo)


# ---- projections ---------------------------------------------------------------------------------------
# A ProjectionExpression makes moto convert the whole item to plain JSON once per projected name, for
# every item found (a scan set's four names: four conversions an item). When every name is a top-level
# attribute (no path, no list index), one conversion gives the same answer: each name picks its own
# top-level key, so the picks never overlap. Anything else goes to moto's own projection.
_original_project: Any = None


def _project(self: Any, projection_expressions: list[list[str]]) -> Any:
    if not all(len(path) == 1 and "[" not in path[0] for path in projection_expressions):
        return _original_project(self, projection_expressions)
    from moto.dynamodb.models.dynamo_type import Item, serializer

    regular = self.to_regular_json()
    picked = {path[0]: regular[path[0]] for path in projection_expressions if path[0] in regular}
    return Item(hash_key=self.hash_key, range_key=self.range_key, attrs=serializer.serialize(picked)["M"])


def _fast_project() -> None:
    global _original_project
    from moto.dynamodb.models.dynamo_type import Item

    if _original_project is None:
        _original_project = Item.project
        Item.project = _project  # type: ignore[method-assign]


# ---- item sizes ----------------------------------------------------------------------------------------
# moto checks an item against DynamoDB's 400 KB limit as each attribute is set, summing the sizes of all
# the attributes set before: building an item of n attributes costs n² attribute sizes. Sizes only add
# up, so the last of those sums (the whole item's size) is over the limit exactly when one of them is:
# an item is built with one sum. A query asks each item it finds for its size twice (its 1 MB page
# limit): within a query, a size is worked out once.
_original_item_init: Any = None
_original_item_size: Any = None
_ITEM_SIZE_LIMIT = 405_000  # moto's own figure (LimitedSizeDict)


def _item_init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    self.hash_key = hash_key
    self.range_key = range_key
    built = LimitedSizeDict()
    for key, value in attrs.items():
        dict.__setitem__(built, key, DynamoType(value))
    if sum(bytesize(key) + value.size() for key, value in built.items()) > _ITEM_SIZE_LIMIT:
        raise ItemSizeTooLarge
    self.attrs = built


def _item_size(self: Any) -> int:
    sizes = getattr(_scope, "sizes", None)
    if sizes is None:
        return int(_original_item_size(self))
    found = sizes.get(id(self))
    if found is None:
        found = sizes[id(self)] = _original_item_size(self)
    return int(found)


def _fast_item_sizes() -> None:
    global _original_item_init, _original_item_size
    from moto.dynamodb.models.dynamo_type import Item

    if _original_item_init is None:
        _original_item_init, _original_item_size = Item.__init__, Item.size
        Item.__init__ = _item_init  # type: ignore[method-assign]
        Item.size = _item_size  # type: ignore[method-assign]


# ---- answers ------------------------------------------------------------------------------------------
# Every DynamoDB answer goes through moto's `dynamo_to_dict`, which asks each node of each item, strings
# included, whether it is a date, a DynamoType, has a `to_json` or is a dict or list. Plain dicts and
# lists, items' attribute dicts, and the attribute types whose values come back as they are (S, N, BOOL,
# NULL, and M and L around them) are converted directly; anything else is moto's own conversion.
_original_dynamo_to_dict: Any = None
# moto's classes, set when applied (an import per node would cost more than it saves)
_DynamoType: Any = None
_LimitedSizeDict: Any = None
_AS_THEY_ARE = frozenset({"S", "N", "BOOL", "NULL"})


def _dynamo_to_dict(obj: Any) -> Any:
    kind = type(obj)
    if kind is dict or kind is _LimitedSizeDict:  # the latter: an item's attributes
        return {key: _dynamo_to_dict(value) for key, value in obj.items()}
    if kind is list:
        return [_dynamo_to_dict(value) for value in obj]
    if kind is _DynamoType:
        value = obj.value
        if obj.type in _AS_THEY_ARE and type(value) in (str, bool):
            return {obj.type: value}
        if obj.type in ("M", "L") and type(value) in (dict, list):
            return {obj.type: _dynamo_to_dict(value)}
    if kind is str or kind is bool or kind is int or kind is float or obj is None:
        return obj
    return _original_dynamo_to_dict(obj)


def _fast_answers() -> None:
    global _original_dynamo_to_dict, _DynamoType, _LimitedSizeDict
    from moto.dynamodb import responses
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict

    _DynamoType, _LimitedSizeDict = DynamoType, LimitedSizeDict
    if _original_dynamo_to_dict is None:
        _original_dynamo_to_dict = responses.dynamo_to_dict
        responses.dynamo_to_dict = _dynamo_to_dict


# ---- actions -------------------------------------------------------------------------------------------
# Every request asks `inspect.getmembers` for the names of its response class's functions (about a
# hundred for DynamoDB's) to check that the action is one of them. A class's functions do not change
# while the server runs: list them once per class.
_original_method_names: Any = None


def _memoize_method_names() -> None:
    global _original_method_names
    from functools import cache

    from moto.core import responses

    if _original_method_names is None:
        _original_method_names = responses.method_names_from_class
        responses.method_names_from_class = cache(_original_method_names)


# ---- EventBridge -------------------------------------------------------------------------------------
# moto builds each target's input with jsonpath_ng, whose `parse` constructs a fresh PLY parser per
# expression, per target, per event (about 10 ms an event). The parsed expressions are immutable: keep
# them.
_original_jsonpath_parse: Any = None


def _memoize_jsonpath() -> None:
    global _original_jsonpath_parse
    from functools import lru_cache

    import jsonpath_ng.ext

    if _original_jsonpath_parse is None:
        _original_jsonpath_parse = jsonpath_ng.ext.parse
        jsonpath_ng.ext.parse = lru_cache(maxsize=256)(_original_jsonpath_parse)


# ---- request routing ---------------------------------------------------------------------------------
# moto's server works out which service a request is for by scanning its module list and every
# service's URL patterns, for every request. The answer depends on the host string alone: keep it.
_original_backend_for_host: Any = None


def _memoize_backend_for_host() -> None:
    global _original_backend_for_host
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    if _original_backend_for_host is None:
        original = DomainDispatcherApplication.get_backend_for_host
        _original_backend_for_host = original
        answers: dict[str | None, Any] = {}

        def get_backend_for_host(self: Any, host: str | None) -> Any:
            if host not in answers:
                answers[host] = original(self, host)
            return answers[host]

        DomainDispatcherApplication.get_backend_for_host = get_backend_for_host  # type: ignore[method-assign]


# ---- SQS -------------------------------------------------------------------------------------------------
# Sending a message asks the queue for all its attributes (to read ContentBasedDeduplication, which
# only FIFO queues have), and that counts every message in the queue. For a standard queue, while a
# message is being sent, the answer is known without counting.
_original_queue_attributes: Any = None
_original_send_message: Any = None
_original_within_retention: Any = None


def _fast_sqs_send() -> None:
    global _original_queue_attributes, _original_send_message, _original_within_retention
    from moto.sqs.models import Queue, SQSBackend

    if _original_send_message is not None:
        return
    _original_queue_attributes = Queue.attributes
    _original_send_message = SQSBackend.send_message
    _original_within_retention = SQSBackend.is_message_valid_based_on_retention_period

    def attributes(self: Any) -> Any:
        if getattr(_scope, "sending", False) and not self.fifo_queue:
            return {}
        return _original_queue_attributes.fget(self)

    def send_message(self: Any, *args: Any, **kwargs: Any) -> Any:
        _scope.sending = True
        try:
            return _original_send_message(self, *args, **kwargs)
        finally:
            _scope.sending = False

    Queue.attributes = property(attributes)  # type: ignore[method-assign, assignment]
    SQSBackend.send_message = send_message  # type: ignore[method-assign]
    SQSBackend.is_message_valid_based_on_retention_period = _within_retention  # type: ignore[method-assign]


def _within_retention(self: Any, queue_name: str, message: Any) -> bool:
    """moto builds every attribute of the queue (counting its messages twice) to read the retention
    period, for each message it receives: a receive cost O(queue) per message. Read the one attribute."""
    from moto.core.utils import unix_time

    retention = int(self.get_queue(queue_name).message_retention_period)
    return bool(retention + message.sent_timestamp / 1000 > unix_time())


def apply() -> None:
    _memoize_jsonpath()
    _memoize_backend_for_host()
    _fast_sqs_send()
    _fast_project()
    _fast_item_sizes()
    _fast_answers()
    _memoize_method_names()
    if Table.query is not _query:
        Table.all_items = _all_items  # type: ignore[method-assign]
        Table.query = _query  # type: ignore[method-assign]
        table_module.copy = _QueryCopy  # type: ignore[assignment]
    apply_fast_responses()


# ---- responses ---------------------------------------------------------------------------------------
# DynamoDB item operations already hold their answer in wire form (DynamoDB JSON); moto still walks it
# through its generic shape-driven serializer, about 1 ms per item. For these operations the JSON
# encoding of the result *is* the wire body, so it is written directly.
FAST_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactWriteItems",
        "TransactGetItems",
    }
)
_original_execute = None
_original_get_records: Any = None


def _fast_execute(self: Any, context: Any) -> Any:
    import json

    if context.operation_model.name in FAST_OPERATIONS:
        try:
            body = json.dumps(self.result, separators=(",", ":"))
        except (TypeError, ValueError):
            pass
        else:
            return 200, {"Content-Type": "application/x-amz-json-1.0"}, body
    return _original_execute(self, context)  # type: ignore[misc]


def _stream_records_body(self: Any) -> Any:
    import json

    from moto.core.responses import ActionResult

    result = self.backend.get_records(self._get_param("ShardIterator"), self._get_param("Limit") or 1000)
    try:
        body = json.dumps(result, default=_epoch, separators=(",", ":"))
    except (TypeError, ValueError):
        return ActionResult(result)
    return 200, {"Content-Type": "application/x-amz-json-1.0"}, body


def _epoch(value: Any) -> float:
    from datetime import datetime

    if isinstance(value, datetime):
        return int(value.timestamp() * 1000) / 1000  # moto's own serializer keeps whole milliseconds
    raise TypeError(type(value).__name__)


def apply_fast_responses() -> None:
    global _original_execute
    from moto.dynamodb.responses import DynamoResult
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    if _original_execute is None:
        global _original_get_records
        _original_get_records = DynamoDBStreamsHandler.get_records
        _original_execute = DynamoResult.execute_result
        DynamoResult.execute_result = _fast_execute  # type: ignore[method-assign]
        DynamoDBStreamsHandler.get_records = _stream_records_body  # type: ignore[method-assign]


def restore() -> None:
    """Undo `apply` (tests compare moto's own answers with the sped-up ones)."""
    global _original_execute
    from moto.dynamodb.responses import DynamoResult
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    global _original_jsonpath_parse, _original_backend_for_host, _original_send_message
    global _original_project, _original_method_names, _original_item_init, _original_item_size
    global _original_dynamo_to_dict
    import jsonpath_ng.ext
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    from moto.sqs.models import Queue, SQSBackend

    if _original_send_message is not None:
        Queue.attributes = _original_queue_attributes  # type: ignore[method-assign]
        SQSBackend.send_message = _original_send_message  # type: ignore[method-assign]
        SQSBackend.is_message_valid_based_on_retention_period = _original_within_retention  # type: ignore[method-assign]
        _original_send_message = None

    if _original_project is not None:
        from moto.dynamodb.models.dynamo_type import Item

        Item.project = _original_project  # type: ignore[method-assign]
        _original_project = None
    if _original_item_init is not None:
        from moto.dynamodb.models.dynamo_type import Item

        Item.__init__ = _original_item_init  # type: ignore[method-assign]
        Item.size = _original_item_size  # type: ignore[method-assign]
        _original_item_init = _original_item_size = None
    if _original_dynamo_to_dict is not None:
        from moto.dynamodb import responses as dynamodb_responses

        dynamodb_responses.dynamo_to_dict = _original_dynamo_to_dict
        _original_dynamo_to_dict = None
    if _original_method_names is not None:
        from moto.core import responses

        responses.method_names_from_class = _original_method_names
        _original_method_names = None

    if _original_backend_for_host is not None:
        DomainDispatcherApplication.get_backend_for_host = _original_backend_for_host  # type: ignore[method-assign]
        _original_backend_for_host = None

    Table.all_items = _original_all_items  # type: ignore[method-assign]
    Table.query = _original_query  # type: ignore[method-assign]
    table_module.copy = copy  # type: ignore[assignment]
    if _original_jsonpath_parse is not None:
        jsonpath_ng.ext.parse = _original_jsonpath_parse
        _original_jsonpath_parse = None
    if _original_execute is not None:
        DynamoResult.execute_result = _original_execute  # type: ignore[method-assign]
        DynamoDBStreamsHandler.get_records = _original_get_records  # type: ignore[method-assign]
        _original_execute = None
