"""Overlap independent DynamoDB round trips within one invocation (a Lambda spends most of its time
waiting on them): a small shared thread pool, results in input order."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_WORKERS = 8


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="cme-io")


def map_io(function: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """`[function(item) for item in items]`, with up to MAX_WORKERS calls in flight at once. Each call
    runs in a copy of the caller's context (context variables reach the pool's threads)."""
    work = list(items)
    if len(work) <= 1:
        return [function(item) for item in work]
    context = contextvars.copy_context()
    return list(_pool().map(lambda item: context.copy().run(function, item), work))


A = TypeVar("A")
B = TypeVar("B")


def both(first: Callable[[], A], second: Callable[[], B]) -> tuple[A, B]:
    """Two independent reads at once."""
    pending = _pool().submit(contextvars.copy_context().run, second)
    return first(), pending.result()
