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


def test_per_batch_reads_once_per_key_within_a_batch_and_always_outside_one():
    reads = []

    @cache.per_batch
    def read(key):
        reads.append(key)
        return {"value": key, "read": len(reads)}

    assert read("a")["read"] == 1 and read("a")["read"] == 2  # no batch: every call reads
    with cache.batch_scope():
        first = read("a")
        assert read("a") is first and read("b")["read"] == 4
        assert map_io(lambda _: read("a"), range(4)) == [first] * 4  # the pool's threads share the batch
    with cache.batch_scope():
        assert read("a")["read"] == 5  # the next batch reads again
    assert reads == ["a", "a", "a", "b", "a"]


def test_per_batch_records_handled_at_once_share_the_first_read():
    callers = []
    reads = []
    lock = threading.Lock()

    @cache.per_batch
    def read(key):
        reads.append(key)
        deadline = time.monotonic() + 5
        while len(callers) < 6 and time.monotonic() < deadline:  # every caller has asked
            time.sleep(0.005)
        return f"agenda-{key}"

    def record(_):
        with lock:
            callers.append(threading.get_ident())
        return read("asa-2027")

    with cache.batch_scope():
        assert map_io(record, range(6)) == ["agenda-asa-2027"] * 6
    assert len(callers) == 6 and reads == ["asa-2027"]  # a plain memo would have read six times


def test_per_batch_does_not_keep_a_failed_read():
    attempts = []

    @cache.per_batch
    def read(key):
        attempts.append(key)
        if len(attempts) == 1:
            raise TimeoutError("throttled")
        return "agenda"

    with cache.batch_scope():
        with pytest.raises(TimeoutError):
            read("a")
        assert read("a") == "agenda" and read("a") == "agenda"
    assert attempts == ["a", "a"]
