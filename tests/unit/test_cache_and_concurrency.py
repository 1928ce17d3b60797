"""The warm-container memo re-reads after its time, and concurrent I/O keeps input order."""

from __future__ import annotations

import threading
import time

import pytest

from cme import cache
from cme.concurrency import map_io


def test_ttl_memo_reads_once_per_key_until_it_expires(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(cache.time, "monotonic", lambda: now[0])
    reads = []

    @cache.ttl_memo(15)
    def read(key):
        reads.append(key)
        return f"value-{key}-{len(reads)}"

    assert read("a") == "value-a-1"
    assert read("a") == "value-a-1" and read("b") == "value-b-2"
    now[0] += 14.9
    assert read("a") == "value-a-1"
    now[0] += 0.2
    assert read("a") == "value-a-3"
    read.cache_clear()
    assert read("b") == "value-b-4"
    assert reads == ["a", "b", "a", "b"]


def test_map_io_keeps_order_overlaps_calls_and_surfaces_errors():
    inside = []
    peak = [0]
    lock = threading.Lock()

    def slow_square(n):
        with lock:
            inside.append(n)
            peak[0] = max(peak[0], len(inside))
        time.sleep(0.05)
        with lock:
            inside.remove(n)
        return n * n

    assert map_io(slow_square, range(16)) == [n * n for n in range(16)]
    assert peak[0] > 1  # the calls overlapped
    assert map_io(slow_square, []) == []

    def boom(n):
        raise ValueError(n)

    with pytest.raises(ValueError):
        map_io(boom, [1, 2, 3])
