"""Memos for hot, rarely-changing reads.

- `ttl_memo(seconds)`: in a warm container (an agenda, a device token), one read per key per
  `seconds`, so a door rush does not re-read them for every request.
- `per_batch`: within one consumer invocation (`batch_scope`), one read per key, shared by every
  record of the batch: ten claims of one activity read its agenda once, not ten times. Records
  handled at once share the first caller's read (the others wait for it); a failed read is not
  kept. Outside a batch scope (the HTTP functions) it is a plain call, so a request always reads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps
from typing import TypeVar

T = TypeVar("T")


def ttl_memo(seconds: float) -> Callable[[Callable[..., T]], Callable[..., T]]:
    def decorate(function: Callable[..., T]) -> Callable[..., T]:
        entries: dict[Hashable, tuple[float, T]] = {}
        lock = threading.Lock()

        @wraps(function)
        def memoized(*args: Hashable) -> T:
            now = time.monotonic()
            with lock:
                hit = entries.get(args)
            if hit is not None and now - hit[0] < seconds:
                return hit[1]
            value = function(*args)
            with lock:
                entries[args] = (now, value)
                if len(entries) > 1024:  # a container serves few activities; stay bounded anyway
                    entries.pop(next(iter(entries)))
            return value

        memoized.cache_clear = entries.clear  # type: ignore[attr-defined]
        return memoized

    return decorate


class _Batch:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reads: dict[Hashable, Future[object]] = {}


#: The invocation's batch (map_io runs its calls in copies of the caller's context, so they share it).
_BATCH: ContextVar[_Batch | None] = ContextVar("cme_batch", default=None)


@contextmanager
def batch_scope() -> Iterator[None]:
    """The reads of `per_batch` functions are shared until the block ends (one consumer invocation)."""
    token = _BATCH.set(_Batch())
    try:
        yield
    finally:
        _BATCH.reset(token)


def per_batch(function: Callable[..., T]) -> Callable[..., T]:
    """One call per arguments within a batch scope; a plain call outside one (see the module's doc).
    The value is shared, so callers must not change it."""

    @wraps(function)
    def shared(*args: Hashable) -> T:
        batch = _BATCH.get()
        if batch is None:
            return function(*args)
        key = (function, args)
        with batch.lock:
            pending = batch.reads.get(key)
            first = pending is None
            if pending is None:
                pending = batch.reads[key] = Future()
        if not first:
            return pending.result()  # type: ignore[return-value]
        try:
            value = function(*args)
        except BaseException as error:
            with batch.lock:
                del batch.reads[key]  # the next record reads again
            pending.set_exception(error)
            raise
        pending.set_result(value)
        return value

    return shared
