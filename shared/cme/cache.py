"""A small time-bounded memo for hot, rarely-changing reads in a warm container (an agenda, a device
token): one read per key per `seconds`, so a door rush does not re-read them for every request."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
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
