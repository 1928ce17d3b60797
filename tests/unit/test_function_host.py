"""The local function host: a function's containers are copies of its module with globals of their own,
each used by one invocation at a time; a function given two runs two invocations at once, HTTP
functions take turns in one container."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from cme_local.functions import FunctionHost
from cme_local.provision import FunctionSpec

APP = """
calls = 0  # a container's own global

def handler(event, context):
    global calls
    calls += 1
    event["barrier"].wait(timeout=event.get("wait", 10))
    return {"container": id(globals()), "calls": calls}
"""


@pytest.fixture
def host(tmp_path):
    for folder in ("worker", "http_a", "http_b"):
        (tmp_path / "functions" / folder).mkdir(parents=True)
        (tmp_path / "functions" / folder / "app.py").write_text(APP)
    specs = {
        name: FunctionSpec(name, folder, "app.handler", {}, 30, 512)
        for name, folder in (("Worker", "worker"), ("HttpA", "http_a"), ("HttpB", "http_b"))
    }
    return FunctionHost(tmp_path, specs, http_functions=frozenset({"HttpA", "HttpB"}), containers={"Worker": 2})


def test_a_function_with_two_containers_runs_two_invocations_at_once_with_their_own_globals(host):
    barrier = threading.Barrier(2)  # both must be inside the handler at the same time to pass
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: host.invoke("Worker", {"barrier": barrier}), range(2)))
    assert not barrier.broken
    assert len({r["container"] for r in results}) == 2
    assert [r["calls"] for r in results] == [1, 1]
    # A third invocation reuses a container rather than making another.
    third = host.invoke("Worker", {"barrier": threading.Barrier(1)})
    assert third["container"] in {r["container"] for r in results} and third["calls"] == 2
    assert host.containers("Worker") == 2 and host.slots("Worker") == 2
    assert host.invocations["Worker"] == 3


def test_http_functions_take_turns(host):
    barrier = threading.Barrier(2)
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(host.invoke, name, {"barrier": barrier, "wait": 0.5}) for name in ("HttpA", "HttpB")]
        # One holds the turn and waits at the barrier for the other, which cannot start: it breaks.
        errors = [f.exception(timeout=30) for f in futures]
    assert barrier.broken and any(isinstance(e, threading.BrokenBarrierError) for e in errors)
    assert host.slots("HttpA") == host.slots("HttpB") == 1
