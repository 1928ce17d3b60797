"""Benchmarks (`cme bench`), printed as one table and written as JSON (out/bench.json).

`finalize`: finalizing one plenary session for N attendees (default 2,000) on the local stack: wall time per
run (median of repeats) and DynamoDB requests per attendee, by operation. Finalization is idempotent, so the
repeats redo the same work. Its figures are the top-level keys of the JSON.

`certificates` (cme_local.bench_certificates): certificates per second of the issuer's fpdf2 renderer against a
reportlab rendering of the same certificate in the same process, PDF sizes by script, and the issuer's import
time. Its figures are under the `certificates` key.

`latency`: the time from a scan accepted by `POST /scans` to the dashboard's count including it, on a local
stack whose pollers run by themselves (the stream → check-in consumer → presence record → stream → counts path),
median and 95th percentile over 100 scans. Its figures are under the `dashboard_latency` key.

`coldstart` (cme_local.bench_coldstart): each function's cold start (a fresh process importing its handler and
serving one representative event) over a fresh process that imports boto3 and makes one client call, against
the targets. Its figures are under the `coldstart` key.

`demo` (cme_local.bench_demo): `make demo`'s wall time for its default meeting, both processes' processor
time, the requests the local AWS served, and the local AWS's own floor a request measured in the same run.
Its figures are under the `demo` key.

`capacity` and `hot_keys` (cme_local.bench_capacity): DynamoDB write and read units per event kind and per
attendee of the demo conference against the floor, S3/SES/SQS/EventBridge requests per certificate and the cost
per attendee at list prices; the highest write rate on one partition key when 40,000 attendees' scans arrive
within a minute. Their figures are under the `capacity` and `hot_keys` keys.

`cme bench --only finalize` / `--only certificates` / `--only latency` / `--only coldstart` / `--only demo` /
`--only capacity` / `--only hot_keys` runs one of them."""

from __future__ import annotations

import json
import random
import statistics
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

DAY = "2027-10-14"
OFFSET = "-05:00"


def _at(moment: datetime) -> str:
    return moment.isoformat()


def _roster(attendees: int) -> list[dict[str, Any]]:
    """Physicians B00000, B00001, ... as roster rows."""
    return [
        {
            "badge_id": f"B{i:05d}",
            "given_name": "Test",
            "family_name": f"Learner {i}",
            "email": f"learner{i}@example.org",
            "profession": "physician",
            "degree": "MD",
        }
        for i in range(attendees)
    ]


def _plenary(attendees: int) -> dict[str, Any]:
    start = datetime.fromisoformat(f"{DAY}T08:00:00{OFFSET}")
    return {
        "title": "Benchmark assembly",
        "provider": {"name": "Benchmark Academy"},
        "location": "Hall",
        "timezone": "America/Chicago",
        "starts_on": DAY,
        "ends_on": DAY,
        "credit_types": {"AMA_PRA_1": {"max": 4}},
        "sessions": [
            {
                "session_id": "P1",
                "title": "Plenary",
                "room": "Hall-A",
                "starts_at": _at(start),
                "ends_at": _at(start + timedelta(minutes=90)),
                "credits": {"AMA_PRA_1": 1.25},  # 80 credit minutes: 90 less the 10-minute break
                "breaks": [
                    {"starts_at": _at(start + timedelta(minutes=45)), "ends_at": _at(start + timedelta(minutes=55))}
                ],
            },
            {
                "session_id": "P2",
                "title": "Workshop",
                "room": "Room-201",
                "starts_at": _at(start + timedelta(minutes=100)),
                "ends_at": _at(start + timedelta(minutes=160)),
                "credits": {"AMA_PRA_1": 1.0},
            },
        ],
    }


def bench_finalize(attendees: int = 2000, repeats: int = 3, seed: int = 1) -> dict[str, Any]:
    import boto3

    from cme_local.stack import LocalStack

    counts: Counter[str] = Counter()
    lock = threading.Lock()

    def count(model: Any, **_: Any) -> None:
        with lock:
            counts[f"{model.service_model.service_name}.{model.name}"] += 1

    # Clients copy their session's hooks when created: register before the stack makes any.
    boto3.setup_default_session()
    boto3.DEFAULT_SESSION.events.register("before-call.dynamodb.*", count)  # type: ignore[union-attr]
    rng = random.Random(seed)
    start = datetime.fromisoformat(f"{DAY}T07:30:00{OFFSET}")
    stack = LocalStack(now=start, background_pump=False).start()
    try:
        from cme.adapters import store
        from cme.domain.models import Activity, Attendee
        from cme.service.activities import import_activity
        from cme.service.attendance import finalize_session
        from cme.service.scans import ingest_scans

        activity = Activity.model_validate({**_plenary(attendees), "activity_id": "bench"})
        import_activity(activity)
        store.put_attendees("bench", [Attendee.model_validate(row) for row in _roster(attendees)])
        stack.set_clock(datetime.fromisoformat(f"{DAY}T11:00:00{OFFSET}"))
        scans = []
        for i in range(attendees):
            enter = start + timedelta(minutes=rng.randint(10, 45))
            scans.append({"scan_id": f"e{i}", "badge_id": f"B{i:05d}", "room": "Hall-A", "scanned_at": _at(enter)})
            if rng.random() < 0.3:  # some leave early through the exit door
                leave = start + timedelta(minutes=rng.randint(60, 120))
                scans.append(
                    {
                        "scan_id": f"x{i}",
                        "badge_id": f"B{i:05d}",
                        "room": "Hall-A",
                        "scanned_at": _at(leave),
                        "direction": "exit",
                    }
                )
            if rng.random() < 0.5:  # and go on to the workshop
                scans.append(
                    {
                        "scan_id": f"w{i}",
                        "badge_id": f"B{i:05d}",
                        "room": "Room-201",
                        "scanned_at": _at(start + timedelta(minutes=125)),
                    }
                )
        device = {"activity_id": "*", "device_id": "bench"}
        for offset in range(0, len(scans), 500):
            ingest_scans(device, {"activity_id": "bench", "scans": scans[offset : offset + 500]})

        walls = []
        records = 0
        for _ in range(repeats):
            counts.clear()
            began = time.perf_counter()
            records = finalize_session("bench", "P1")["attendees"]
            walls.append(time.perf_counter() - began)
        requests = sum(counts.values())
        return {
            "benchmark": "finalize a plenary",
            "attendees": attendees,
            "attendance_records": records,
            "repeats": repeats,
            "wall_seconds_median": round(statistics.median(walls), 3),
            "wall_seconds_all": [round(w, 3) for w in walls],
            "dynamodb_requests": requests,
            "dynamodb_requests_per_attendee": round(requests / attendees, 3),
            "dynamodb_requests_by_operation": dict(counts),
        }
    finally:
        stack.stop()


def call(method: str, url: str, token: str, body: Any = None) -> Any:
    """One API request with a bearer token; the JSON answer (an error status raises)."""
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 (the local stack's URL)
        url, data=data, method=method, headers={"authorization": f"Bearer {token}"}
    )
    if data is not None:
        request.add_header("content-type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (the local stack's URL)
        return json.loads(response.read() or b"null")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def _meeting_over_http(stack: Any, activity_id: str, attendees: int) -> None:
    """The plenary and its roster through the organizer API (no sign-in link mails)."""
    api, organizer = stack.api_url, stack.organizer_token
    call("PUT", f"{api}/activities/{activity_id}", organizer, _plenary(attendees))
    call("POST", f"{api}/activities/{activity_id}/attendees?send_links=false", organizer, _roster(attendees))


def _latency_figures(benchmark: str, latencies: list[float], *, target_p95: float) -> dict[str, Any]:
    return {
        "benchmark": benchmark,
        "samples": len(latencies),
        "seconds_median": round(statistics.median(latencies), 3),
        "seconds_p95": round(_percentile(latencies, 0.95), 3),
        "seconds_max": round(max(latencies), 3),
        "target_p95_seconds": target_p95,
    }


def bench_dashboard_latency(samples: int = 100) -> dict[str, Any]:
    """Scan accepted → count visible on the dashboard, through the HTTP API of a local stack whose
    pollers run by themselves (as under `cme local`): each scan is one new attendee at the door, and
    the dashboard is read every 20 ms until its checked-in count includes that attendee."""
    from cme_local.stack import LocalStack

    start = datetime.fromisoformat(f"{DAY}T08:20:00{OFFSET}")
    stack = LocalStack(now=start, background_pump=True).start()
    try:
        api, organizer, scanner = stack.api_url, stack.organizer_token, stack.scanner_token
        _meeting_over_http(stack, "latency", samples)
        stack.settle()
        latencies = []
        for i in range(samples):
            scan = {"scan_id": f"l{i}", "badge_id": f"B{i:05d}", "room": "Hall-A", "scanned_at": _at(start)}
            reply = call("POST", f"{api}/scans", scanner, {"activity_id": "latency", "scans": [scan]})
            accepted = time.perf_counter()
            assert reply["results"][0]["status"] == "accepted", reply
            while True:
                board = call("GET", f"{api}/activities/latency/dashboard", organizer)
                if board["totals"]["checked_in"] > i:
                    break
                time.sleep(0.02)
            latencies.append(time.perf_counter() - accepted)
        return _latency_figures("scan accepted → dashboard count (local stack, HTTP)", latencies, target_p95=2.0)
    finally:
        stack.stop()


def bench_mail_latency(samples: int = 40) -> dict[str, Any]:
    """Evaluation submitted (`POST /evaluations` answered 202) → the certificate mail accepted by SES,
    on a local stack whose pollers run by themselves: the claim, the certificate (rendered, stored in
    S3) and the mail, through the outbox, the bus and three queues. The local stack gives the
    certificate queue no delivery delay; on AWS, `CertificateSettleSeconds` (default 30 s, a window in
    which several claims settle into one version and one mail) comes on top."""
    from cme_local.demo import answer_form
    from cme_local.stack import LocalStack

    start = datetime.fromisoformat(f"{DAY}T08:20:00{OFFSET}")
    stack = LocalStack(now=start, background_pump=True).start()
    try:
        api, organizer, scanner = stack.api_url, stack.organizer_token, stack.scanner_token
        _meeting_over_http(stack, "mail", samples)
        entered = _at(start - timedelta(minutes=15))
        scans = [
            {"scan_id": f"m{i}", "badge_id": f"B{i:05d}", "room": "Hall-A", "scanned_at": entered}
            for i in range(samples)
        ]
        call("POST", f"{api}/scans", scanner, {"activity_id": "mail", "scans": scans})
        stack.set_clock(datetime.fromisoformat(f"{DAY}T11:00:00{OFFSET}"))  # both sessions over: finalized
        stack.settle()
        latencies = []
        for i in range(samples):
            link = call("GET", f"{api}/activities/mail/attendees/B{i:05d}/link", organizer)["url"]
            token = link.rsplit("/l/", 1)[1]
            form = call("GET", f"{api}/me/evaluation-form", token)
            body = {"answers": answer_form(form.get("questions", []), {}), "attest": True}
            seen = len(stack.sent_mail())
            call("POST", f"{api}/evaluations", token, body)
            submitted = time.perf_counter()
            while not any("application/pdf" in m.get("raw", "") for m in stack.sent_mail(since=seen)):
                time.sleep(0.02)
            latencies.append(time.perf_counter() - submitted)
        return _latency_figures(
            "evaluation submitted → certificate mail in SES (local stack, HTTP)", latencies, target_p95=3.0
        )
    finally:
        stack.stop()


def _flatten(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [row for key, inner in value.items() for row in _flatten(f"{prefix}.{key}", inner)]
    return [(prefix, json.dumps(value, ensure_ascii=False) if isinstance(value, list) else str(value))]


def format_table(result: dict[str, Any]) -> str:
    """One row a figure; the finalize figures as they were, the other benchmarks' flattened with dots."""
    nested = ("certificates", "dashboard_latency", "mail_latency", "coldstart", "demo", "capacity", "hot_keys")
    rows = [(k, json.dumps(v) if isinstance(v, (dict, list)) else str(v)) for k, v in result.items() if k not in nested]
    for key in nested:
        if key in result:
            rows += _flatten(key, result[key])
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


BENCHMARKS = ("finalize", "certificates", "latency", "coldstart", "demo", "capacity", "hot_keys")


def main(
    attendees: int = 2000,
    repeats: int = 3,
    out: Path = Path("out/bench.json"),
    only: str | None = None,
    rounds: int = 50,
    import_processes: int = 5,
    latency_samples: int = 100,
    coldstart_processes: int = 7,
    capacity_attendees: int = 300,
    rush_attendees: int = 40_000,
    demo_runs: int = 1,
) -> dict[str, Any]:
    if only is not None and only not in BENCHMARKS:
        raise ValueError(f"--only: one of {', '.join(BENCHMARKS)}")
    certificates = None
    if only in (None, "certificates"):  # first: before the local stack's threads and garbage are around
        from cme_local.bench_certificates import bench_certificates

        certificates = bench_certificates(rounds=rounds, import_processes=import_processes)
    coldstart = None
    if only in (None, "coldstart"):  # fresh processes against a local AWS of its own: before the others' stacks
        from cme_local.bench_coldstart import bench_coldstart

        coldstart = bench_coldstart(processes=coldstart_processes)
    demo = None
    if only in (None, "demo"):  # the demo's own processes, on a machine no other stack is using
        from cme_local.bench_demo import bench_demo

        demo = bench_demo(runs=demo_runs)
    result: dict[str, Any] = {}
    if only in (None, "finalize"):
        result.update(bench_finalize(attendees=attendees, repeats=repeats))
    if only in (None, "latency"):
        result["dashboard_latency"] = bench_dashboard_latency(samples=latency_samples)
        result["mail_latency"] = bench_mail_latency(samples=max(2, latency_samples * 2 // 5))
    if certificates is not None:
        result["certificates"] = certificates
    if coldstart is not None:
        result["coldstart"] = coldstart
    if demo is not None:
        result["demo"] = demo
    if only in (None, "capacity", "hot_keys"):
        from cme_local.bench_capacity import bench_capacity, bench_hot_keys

        if only in (None, "capacity"):
            result["capacity"] = bench_capacity(attendees=capacity_attendees)
        if only in (None, "hot_keys"):
            result["hot_keys"] = bench_hot_keys(attendees=rush_attendees)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(format_table(result))
    return result
