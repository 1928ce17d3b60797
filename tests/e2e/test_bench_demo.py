"""`cme bench --only demo`: the demo as `make demo` runs it, where its time goes, and the local AWS's own
floor a request, measured beside it."""

from __future__ import annotations

import pytest

from cme_local.bench_demo import bench_demo, local_aws_floor


def test_demo_bench_runs_the_demo_and_prices_its_requests_at_the_local_aws_floor() -> None:
    result = bench_demo(runs=1, attendees=24, seed=3, probes=1, probe_requests=240)
    assert result["attendees"] == 24 and result["certificates"] > 0
    assert result["wall_seconds_all"] == [result["wall_seconds"]] and result["target_seconds"] == 60
    # Both processes worked, and the local AWS served at least a scan write, a certificate put and a mail
    # for each.
    assert result["stack_cpu_seconds"] > 0 and result["local_aws_cpu_seconds"] > 0
    assert result["requests"] > 3 * result["certificates"]
    floor = result["local_aws_floor"]
    assert floor["threads"] == 8 and floor["ms_per_request"] > 0
    assert result["request_floor_seconds"] == pytest.approx(
        result["requests"] * floor["ms_per_request"] / 1000, abs=0.1
    )
    assert result["request_floor_share_of_target"] == pytest.approx(result["request_floor_seconds"] / 60, abs=0.01)
    assert result["stack_cpu_ms_per_request"] == pytest.approx(
        1000 * result["stack_cpu_seconds"] / result["requests"], rel=0.01
    )
    share = max(result["stack_cpu_seconds"], result["local_aws_cpu_seconds"]) / result["wall_seconds"]
    assert result["busiest_process_share_of_wall"] == pytest.approx(share, abs=0.01)
    assert result["cpu_seconds_over_target"] == {
        "stack": pytest.approx(result["stack_cpu_seconds"] / 60, abs=0.01),
        "local_aws": pytest.approx(result["local_aws_cpu_seconds"] / 60, abs=0.01),
    }
    # The busiest operations, busiest first; each accepted scan is a DynamoDB put.
    counts = list(result["requests_by_operation"].values())
    assert 0 < len(counts) <= 10 and counts == sorted(counts, reverse=True) and sum(counts) <= result["requests"]
    assert result["requests_by_operation"]["dynamodb PutItem"] > 0


def test_the_floor_probe_makes_the_requests_it_counts() -> None:
    probe = local_aws_floor(requests=96, threads=4)
    # 96 requests over 4 threads: 8 put/get/query rounds each, all of them served while it was timed.
    assert probe["requests"] == probe["served"] == 96
    assert probe["ms_per_request"] > 0
    assert probe["client_cpu_ms_per_request"] > 0 and probe["local_aws_cpu_ms_per_request"] > 0
