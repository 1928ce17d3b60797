"""`cme bench --only latency` with a few samples: the shape and sanity of its figures, never its speed."""

from __future__ import annotations

from cme_local import bench


def test_latency_benchmark_times_each_scan_until_the_dashboard_counts_it() -> None:
    result = bench.bench_dashboard_latency(samples=4)
    assert result["samples"] == 4
    assert 0 < result["seconds_median"] <= result["seconds_p95"] <= result["seconds_max"]
    assert result["target_p95_seconds"] == 2.0
    table = bench.format_table({"dashboard_latency": result})
    assert "dashboard_latency.seconds_p95" in table


def test_percentile_picks_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert bench._percentile(values, 0.95) == 95.0
    assert bench._percentile([3.0], 0.95) == 3.0
    assert bench._percentile([1.0, 2.0], 0.5) == 1.0


def test_mail_latency_benchmark_times_each_evaluation_until_its_mail_is_in_ses() -> None:
    result = bench.bench_mail_latency(samples=3)
    assert result["samples"] == 3
    assert 0 < result["seconds_median"] <= result["seconds_p95"] <= result["seconds_max"]
    assert result["target_p95_seconds"] == 3.0
    assert "mail_latency.seconds_p95" in bench.format_table({"mail_latency": result})
