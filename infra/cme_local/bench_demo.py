"""`demo`: `make demo`'s wall time for its default meeting, where that time goes, and what the local AWS
alone costs for the same number of requests.

The demo runs as `make demo` runs it: `cme demo` in a process of its own, which starts its own local AWS
(moto's server, another process). Its summary reports its wall time, both processes' processor time and
the requests the local AWS served. Figures: the median over `runs` runs.

The local AWS's floor is measured in the same bench: a fresh local AWS serving the cheapest requests
there are (a small PutItem, GetItem and Query on items of a few attributes) from `PROBE_THREADS` client
threads at once (the demo's busiest moments have its queue pollers and the front end calling at once;
more threads gave the local AWS less work a request when measured, so this is its best case), with no
code of ours; the median of `probes` probes. `request_floor_seconds`, the demo's requests at that rate,
is what the requests alone would take on this machine if the product did nothing between them and every
request were as small as the probe's."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from cme_local.stack import local_aws_usage

ROOT = Path(__file__).resolve().parents[2]
TARGET_SECONDS = 60.0
PROBE_THREADS = 8
TOP_OPERATIONS = 10
#: The local AWS takes any credentials; these only sign the probe's requests.
_PROBE_CREDENTIALS = {"aws_access_key_id": "probe", "aws_secret_access_key": "probe", "region_name": "us-east-1"}


def _demo_once(attendees: int | None, seed: int | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cme-bench-demo-") as scratch:
        out = Path(scratch) / "out"
        argv = [sys.executable, "-m", "cme_local.cli", "demo", "--quiet", "--out", str(out)]
        argv += ["--state-dir", str(Path(scratch) / "state")]
        if attendees is not None:
            argv += ["--attendees", str(attendees)]
        if seed is not None:
            argv += ["--seed", str(seed)]
        began = time.monotonic()
        subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, env=_environment())  # noqa: S603 (our own interpreter and code)
        wall = time.monotonic() - began
        summary = json.loads((out / "summary.json").read_text())
    if summary.get("errors"):
        raise RuntimeError(f"the demo reported {summary['errors']} errors")
    return {
        "wall_seconds": round(wall, 1),
        "stack_cpu_seconds": summary["cpu_seconds"]["stack"],
        "local_aws_cpu_seconds": summary["cpu_seconds"]["local_aws"],
        "requests": summary["local_aws_requests"],
        "requests_by_operation": summary["local_aws_requests_by_operation"],
        "attendees": summary["attendees"],
        "certificates": summary["certificates"],
    }


def _environment() -> dict[str, str]:
    path = [str(ROOT / "infra"), str(ROOT / "shared"), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path if p)}


def local_aws_floor(requests: int = 3000, threads: int = PROBE_THREADS) -> dict[str, Any]:
    """One probe: `requests` of the cheapest kind against a fresh local AWS, from `threads` threads."""
    import boto3

    server = subprocess.Popen(
        [sys.executable, "-m", "cme_local.aws_process", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env=_environment(),
    )
    try:
        assert server.stdout is not None
        endpoint = f"http://127.0.0.1:{int(server.stdout.readline())}"
        session = boto3.session.Session(**_PROBE_CREDENTIALS)
        dynamodb = session.client("dynamodb", endpoint_url=endpoint)
        keys = [{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}]
        dynamodb.create_table(
            TableName="probe",
            KeySchema=keys,
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in ("PK", "SK")],
            BillingMode="PAY_PER_REQUEST",
        )
        each = max(1, requests // (3 * threads))

        def work(worker: int) -> None:
            for i in range(each):
                key = {"PK": {"S": f"P#{worker}#{i % 20}"}, "SK": {"S": f"S#{i}"}}
                dynamodb.put_item(TableName="probe", Item={**key, "at": {"N": str(i)}, "room": {"S": "Hall-A"}})
                dynamodb.get_item(TableName="probe", Key=key)
                dynamodb.query(
                    TableName="probe",
                    KeyConditionExpression="PK = :p",
                    ExpressionAttributeValues={":p": key["PK"]},
                )

        workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        server_before, client_before, began = local_aws_usage(endpoint), time.process_time(), time.monotonic()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        wall = time.monotonic() - began
        client_cpu, server_after = time.process_time() - client_before, local_aws_usage(endpoint)
    finally:
        server.kill()
        server.wait()
    done = 3 * each * threads
    server_cpu = server_after["cpu_seconds"] - server_before["cpu_seconds"]
    return {
        "requests": done,
        "served": server_after["requests"] - server_before["requests"],
        "ms_per_request": 1000 * wall / done,
        "client_cpu_ms_per_request": 1000 * client_cpu / done,
        "local_aws_cpu_ms_per_request": 1000 * server_cpu / done,
    }


def bench_demo(
    runs: int = 1, attendees: int | None = None, seed: int | None = None, probes: int = 3, probe_requests: int = 3000
) -> dict[str, Any]:
    demos = [_demo_once(attendees, seed) for _ in range(runs)]
    floors = [local_aws_floor(probe_requests) for _ in range(probes)]

    def median(rows: list[dict[str, Any]], key: str) -> float:
        return float(statistics.median(row[key] for row in rows))

    wall, requests = median(demos, "wall_seconds"), median(demos, "requests")
    stack_cpu, aws_cpu = median(demos, "stack_cpu_seconds"), median(demos, "local_aws_cpu_seconds")
    floor_ms = median(floors, "ms_per_request")
    floor_seconds = requests * floor_ms / 1000
    return {
        "target_seconds": TARGET_SECONDS,
        "wall_seconds": wall,
        "wall_seconds_all": [d["wall_seconds"] for d in demos],
        "attendees": demos[0]["attendees"],
        "certificates": demos[0]["certificates"],
        "stack_cpu_seconds": stack_cpu,
        "local_aws_cpu_seconds": aws_cpu,
        # Two processes, each on at most one core: neither can finish before its own processor time.
        "busiest_process_share_of_wall": round(max(stack_cpu, aws_cpu) / wall, 2),
        # Over 1: that process alone needs more than the target, however well the two overlap.
        "cpu_seconds_over_target": {
            "stack": round(stack_cpu / TARGET_SECONDS, 2),
            "local_aws": round(aws_cpu / TARGET_SECONDS, 2),
        },
        "requests": int(requests),
        # The first run's busiest operations (service and operation): where the requests come from.
        "requests_by_operation": dict(list(demos[0]["requests_by_operation"].items())[:TOP_OPERATIONS]),
        "local_aws_floor": {
            "threads": PROBE_THREADS,
            "ms_per_request": round(floor_ms, 3),
            "client_cpu_ms_per_request": round(median(floors, "client_cpu_ms_per_request"), 3),
            "local_aws_cpu_ms_per_request": round(median(floors, "local_aws_cpu_ms_per_request"), 3),
        },
        "request_floor_seconds": round(floor_seconds, 1),
        "request_floor_share_of_target": round(floor_seconds / TARGET_SECONDS, 2),
        # The demo's own cost a request, against the floor's (both sides of each request).
        "stack_cpu_ms_per_request": round(1000 * stack_cpu / requests, 3),
        "local_aws_cpu_ms_per_request": round(1000 * aws_cpu / requests, 3),
    }
