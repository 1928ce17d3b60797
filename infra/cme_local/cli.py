"""`cme`: the project's command line — the local stack and the demo conference."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any


def _now(value: str | None) -> datetime | None:
    text = value or os.environ.get("CME_NOW")
    return datetime.fromisoformat(text) if text else None


def cmd_local(args: argparse.Namespace) -> int:
    from cme_local.stack import LocalStack

    stack = LocalStack(port=args.port, now=_now(args.now)).start()
    path = stack.write_local_json(Path(args.state_dir))
    print(f"local stack at {stack.api_url}  (AWS stand-in at {stack.aws_endpoint})")
    print(f"wrote {path}")
    print(f"organizer dashboard: {stack.organizer_page_url()}")
    print("Ctrl-C stops it.")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        while not stopped.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    stack.stop()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from cme_local.conference import build_conference
    from cme_local.demo import format_summary, run_demo
    from cme_local.stack import LocalStack

    conference = build_conference(seed=args.seed, attendees=args.attendees)
    start = _now(None) or conference.timeline_start
    began = time.monotonic()
    # Pollers run all along, as Lambda's do; the demo settles at its checkpoints (session ends, batches).
    stack = LocalStack(port=args.port, now=start).start()
    try:
        activity_id = conference.activity_id if hasattr(conference, "activity_id") else "asa-2027"
        stack.write_local_json(Path(args.state_dir), [activity_id])
        until = "" if args.serve else " (until the demo ends; --serve keeps it up)"
        print(f"organizer dashboard{until}: {stack.organizer_page_url(activity_id)}", flush=True)
        summary = run_demo(
            stack.api_url,
            stack.organizer_token,
            stack.scanner_token,
            seed=args.seed,
            attendees=args.attendees,
            out_dir=Path(args.out),
            log=(lambda *_: None) if args.quiet else print,
        )
        summary["wall_seconds_total"] = round(time.monotonic() - began, 1)
        # Where the time went: both processes' processor time (each runs on at most one core) and the
        # requests the local AWS served.
        usage = stack.aws_usage()
        summary["cpu_seconds"] = {"stack": round(time.process_time(), 1), "local_aws": round(usage["cpu_seconds"], 1)}
        summary["local_aws_requests"] = usage["requests"]
        summary["local_aws_requests_by_operation"] = usage["by_operation"]
        Path(args.out, "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
        print(format_summary(summary))
        print(f"certificates, mails and summary.json are in {Path(args.out).resolve()}")
        if args.serve:
            print(f"organizer dashboard: {stack.organizer_page_url(activity_id)}\nCtrl-C stops the stack.")
            try:
                while True:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
    finally:
        stack.stop()
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from cme_local.bench import main as bench

    bench(
        attendees=args.attendees,
        repeats=args.repeats,
        out=Path(args.out),
        only=args.only,
        rounds=args.rounds,
        import_processes=args.import_processes,
        latency_samples=args.latency_samples,
        coldstart_processes=args.coldstart_processes,
        capacity_attendees=args.capacity_attendees,
        rush_attendees=args.rush_attendees,
        demo_runs=args.demo_runs,
    )
    return 0


def _running_stack(state_dir: str) -> dict[str, Any] | None:
    """What `cme local` wrote of the stack it runs (`local.json`: URLs and tokens), if it did."""
    state = Path(state_dir) / "local.json"
    return dict(json.loads(state.read_text())) if state.exists() else None


def cmd_recount(args: argparse.Namespace) -> int:
    """Compare an activity's live counts with a recount from its records (the organizer route)."""
    import urllib.error
    import urllib.request
    from urllib.parse import quote

    api, token = args.api, args.token
    if not (api and token):
        local = _running_stack(args.state_dir)
        if local is None:
            print(f"no --api/--token and no running local stack in {args.state_dir}: start `cme local` or give both",
                  file=sys.stderr)  # fmt: skip
            return 2
        api, token = api or local["api_url"], token or local["organizer_token"]
    url = f"{api.rstrip('/')}/activities/{quote(args.activity_id, safe='')}/dashboard/recount"
    request = urllib.request.Request(  # noqa: S310 (the API's own URL)
        url, method="POST" if args.repair else "GET", headers={"authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 (the API's own URL)
            result = json.loads(response.read())
    except urllib.error.HTTPError as error:
        print(f"{error.code}: {error.read().decode(errors='replace')}", file=sys.stderr)
        return 2
    if args.repair:
        print(f"{args.activity_id}: {result['corrected']} counts set to the records")
    if args.json:
        print(json.dumps(result, indent=2))
    elif result["consistent"]:
        print(f"{args.activity_id}: the live counts equal a recount from the records")
    else:
        print(f"{args.activity_id}: {len(result['differences'])} counts differ from a recount:")
        for found in result["differences"]:
            print(f"  {found['field']}: live {found['live']}, recount {found['recount']}")
    return 0 if result["consistent"] else 1


def cmd_badges(args: argparse.Namespace) -> int:
    """Badge sheets from the roster file: 0 all printed, 1 rows left out (listed by row number and
    field, never their values: stderr ends up in logs), 2 nothing usable."""
    from cme.certificates.badges import read_roster, render_badges
    from cme.errors import ApiError

    try:
        roster = read_roster(Path(args.roster).read_bytes(), args.roster)
    except OSError as error:
        print(f"{args.roster}: cannot read the roster ({error.strerror or type(error).__name__})", file=sys.stderr)
        return 2
    except ApiError as error:
        print(f"{args.roster}: {error.message}", file=sys.stderr)
        return 2
    for row, reason in roster.skipped:
        print(f"row {row}: {reason}", file=sys.stderr)
    if not roster.attendees:
        print(f"{args.roster}: no attendee to print", file=sys.stderr)
        return 2
    pdf = render_badges(roster.attendees, title=args.title, paper=args.paper, sort=args.sort)
    Path(args.out).write_bytes(pdf)
    count, left_out = len(roster.attendees), len(roster.skipped)
    skipped = f", {left_out} row{'s' * (left_out != 1)} left out" if left_out else ""
    print(f"wrote {args.out}: {count} badge{'s' * (count != 1)}{skipped}")
    return 1 if roster.skipped else 0


def cmd_chaos(args: argparse.Namespace) -> int:
    from cme_local.chaos_run import run_chaos

    summary = run_chaos(
        attendees=args.attendees,
        fault_rate=args.fault_rate,
        seed=args.seed,
        out_dir=Path(args.out),
        log=(lambda _: None) if args.quiet else print,
    )
    checks = summary["checks"]
    print(json.dumps({k: v for k, v in summary.items() if k != "checks"}, indent=2, default=str))
    print(json.dumps(checks, indent=2, default=str))
    print("chaos run: " + ("every check passed" if summary["passed"] else "CHECKS FAILED"))
    return 0 if summary["passed"] else 1


def cmd_redrive(args: argparse.Namespace) -> int:
    import boto3

    from cme_local.redrive import redrive

    endpoint = args.endpoint_url
    if endpoint is None and not args.aws:
        endpoint = (_running_stack(args.state_dir) or {}).get("aws_endpoint_url")
    session = boto3.session.Session()

    def clients(service: str) -> object:
        return session.client(service, endpoint_url=endpoint)  # type: ignore[call-overload]

    report = redrive(clients, prefix=args.prefix, bus_name=args.bus, dry_run=args.dry_run)
    print(json.dumps(report.as_dict(), indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="cme", description="CME credit pipeline: local stack and demo")
    sub = parser.add_subparsers(dest="command", required=True)
    local = sub.add_parser("local", help="run the embedded local stack until Ctrl-C")
    local.add_argument("--port", type=int, default=int(os.environ.get("CME_PORT", "8765")))
    local.add_argument(
        "--now", help="start the stack's clock at this RFC 3339 time (default: CME_NOW or the machine's)"
    )
    local.add_argument("--state-dir", default=".cme")
    local.set_defaults(func=cmd_local)
    demo = sub.add_parser("demo", help="run a simulated conference through the local stack")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--attendees", type=int, default=300)
    demo.add_argument("--out", default="out")
    demo.add_argument("--port", type=int, default=0)
    demo.add_argument("--serve", action="store_true", help="keep the stack and its dashboard up afterwards")
    demo.add_argument("--quiet", action="store_true")
    demo.add_argument("--state-dir", default=".cme")
    demo.set_defaults(func=cmd_demo)
    bench = sub.add_parser(
        "bench",
        help="benchmarks: finalizing a plenary, rendering certificates (fpdf2 vs reportlab), scan-to-dashboard latency,"
        " cold starts, capacity units and cost per attendee, hot keys",
    )
    bench.add_argument(
        "--only",
        choices=["finalize", "certificates", "latency", "coldstart", "demo", "capacity", "hot_keys"],
        help="run one benchmark (default: all)",
    )
    bench.add_argument("--capacity-attendees", type=int, default=300, help="capacity: attendees of the demo conference")
    bench.add_argument(
        "--rush-attendees", type=int, default=40_000, help="hot_keys: attendees whose scans arrive at once"
    )
    bench.add_argument(
        "--coldstart-processes", type=int, default=7, help="coldstart: fresh processes per function (median)"
    )
    bench.add_argument("--demo-runs", type=int, default=1, help="demo: runs of the default meeting (median)")
    bench.add_argument("--latency-samples", type=int, default=100, help="latency: scans timed to the dashboard")
    bench.add_argument("--attendees", type=int, default=2000, help="finalize: attendees of the plenary")
    bench.add_argument("--repeats", type=int, default=3, help="finalize: runs (median)")
    bench.add_argument("--rounds", type=int, default=50, help="certificates: interleaved fpdf2/reportlab rounds")
    bench.add_argument(
        "--import-processes", type=int, default=5, help="certificates: fresh processes timing the issuer's import"
    )
    bench.add_argument("--out", default="out/bench.json")
    bench.set_defaults(func=cmd_bench)
    recount = sub.add_parser(
        "recount", help="compare an activity's live dashboard counts with a recount from its records"
    )
    recount.add_argument("activity_id")
    recount.add_argument("--api", help="the API's base URL (default: the running local stack's)")
    recount.add_argument("--token", help="an organizer token (default: the running local stack's)")
    recount.add_argument("--state-dir", default=".cme")
    recount.add_argument("--json", action="store_true", help="print the whole comparison")
    recount.add_argument(
        "--repair", action="store_true", help="first set the live counts to the records (when the meeting is quiet)"
    )
    recount.set_defaults(func=cmd_recount)
    badges = sub.add_parser("badges", help="printable badge sheets (PDF, a QR code of the badge_id) from a roster file")
    badges.add_argument("roster", help="the roster as imported: CSV with the contract's columns, or a JSON list")
    badges.add_argument("--out", default="badges.pdf")
    badges.add_argument("--title", help="the activity title, printed on every badge")
    badges.add_argument("--paper", choices=["letter", "a4"], default="letter")
    badges.add_argument("--sort", choices=["name", "badge"], default="name", help="family and given name, or badge_id")
    badges.set_defaults(func=cmd_badges)
    chaos = sub.add_parser(
        "chaos", help="the demo meeting under faults, duplicates, crashes and an outage; then the checks"
    )
    chaos.add_argument("--attendees", type=int, default=300)
    chaos.add_argument("--fault-rate", type=float, default=0.1, help="share of the functions' AWS calls that fail")
    chaos.add_argument("--seed", type=int, default=7)
    chaos.add_argument("--out", default="out/chaos")
    chaos.add_argument("--quiet", action="store_true")
    chaos.set_defaults(func=cmd_chaos)
    redrive = sub.add_parser("redrive", help="send the messages waiting in dead-letter queues back to their queues")
    redrive.add_argument("--prefix", default="", help="only queues whose names start with this (a stack's name)")
    redrive.add_argument("--bus", help="event bus to put undelivered events on again")
    redrive.add_argument("--endpoint-url", help="an SQS endpoint (default: the running local stack's, else AWS)")
    redrive.add_argument("--aws", action="store_true", help="use AWS even when a local stack is running")
    redrive.add_argument("--state-dir", default=".cme")
    redrive.add_argument("--dry-run", action="store_true", help="count, move nothing")
    redrive.set_defaults(func=cmd_redrive)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
