"""The local AWS: moto's server in a process of its own (its work runs on another core than the
functions'), with the local stack's speed-ups applied and three extra read-only routes: `GET
/_cme/sent-mail`, the raw messages SES accepted; `GET /_cme/pending`, what the local pollers would
find; `GET /_cme/usage`, the requests served and this process's processor time. Prints its port,
then serves until killed. Run as `python -m cme_local.aws_process [--port N]`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from collections import Counter
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"


def sent_mail(since: int = 0) -> list[dict[str, Any]]:
    """The raw messages SES accepted, in order, from the `since`-th on."""
    from moto.backends import get_backend

    backend = get_backend("ses")[ACCOUNT][REGION]
    messages = []
    for message in list(backend.sent_messages)[since:]:
        raw = getattr(message, "raw_data", None)
        messages.append(
            {
                "message_id": message.id,
                "to": list(getattr(message, "destinations", []) or []),
                "raw": raw if isinstance(raw, str) else (raw.decode() if raw else ""),
            }
        )
    return messages


def pending() -> dict[str, Any]:
    """What the local pollers would find: each queue's visible messages (by queue name) and how many
    mails SES has accepted. One look instead of an empty receive per queue and pass, which is what
    Lambda's long polls cost the functions: nothing."""
    from moto.backends import get_backend

    queues = get_backend("sqs")[ACCOUNT][REGION].queues
    streams = {}
    for table in list(get_backend("dynamodb")[ACCOUNT][REGION].tables.values()):
        shard = getattr(table, "stream_shard", None)
        if shard is not None and table.latest_stream_label:
            count = len(shard.items)
            last = str(shard.starting_sequence_number + count - 1) if count else None
            streams[f"{table.table_arn}/stream/{table.latest_stream_label}"] = last
    groups = get_backend("scheduler")[ACCOUNT][REGION].schedule_groups
    return {
        "queues": {name: len(queue.messages) for name, queue in list(queues.items())},
        "streams": streams,  # stream ARN -> the last record's sequence number (None: no record yet)
        "sent_mail": len(get_backend("ses")[ACCOUNT][REGION].sent_messages),
        # group -> each schedule's name and last change: the scheduler poller lists a group again only
        # when this moved
        "schedules": {
            name: sorted([s.name, s.last_modified_date] for s in list(group.schedules.values()))
            for name, group in list(groups.items())
        },
    }


class Usage:
    """What the local AWS has served: requests by service (from the signature's credential scope) and
    operation (the JSON protocols' target, else the HTTP method), and the processor time of this
    process, for the demo's summary and the benchmarks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.operations: Counter[tuple[str, str]] = Counter()  # (service, operation) -> requests

    def count(self, environ: dict[str, Any]) -> None:
        scope = environ.get("HTTP_AUTHORIZATION", "").split("Credential=", 1)[-1].split("/")
        service = scope[3] if len(scope) > 4 else "unsigned"
        operation = environ.get("HTTP_X_AMZ_TARGET", "").rsplit(".", 1)[-1] or environ.get("REQUEST_METHOD", "")
        with self._lock:
            self.operations[(service, operation)] += 1

    def figures(self) -> dict[str, Any]:
        with self._lock:
            operations = self.operations.most_common()
        by_service: Counter[str] = Counter()
        for (service, _), n in operations:
            by_service[service] += n
        return {
            "requests": sum(by_service.values()),
            "by_service": dict(by_service.most_common()),
            "by_operation": {f"{service} {operation}": n for (service, operation), n in operations},
            "cpu_seconds": time.process_time(),
        }


def application() -> Any:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    moto_app = DomainDispatcherApplication(create_backend_app)
    usage = Usage()

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == "/_cme/usage":
            body = json.dumps(usage.figures()).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        if environ.get("PATH_INFO") == "/_cme/pending":
            body = json.dumps(pending()).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        if environ.get("PATH_INFO") == "/_cme/sent-mail":
            from urllib.parse import parse_qs

            since = parse_qs(environ.get("QUERY_STRING", "")).get("since", ["0"])[0]
            body = json.dumps({"messages": sent_mail(int(since) if since.isdigit() else 0)}).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        usage.count(environ)
        return moto_app(environ, start_response)

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cme_local.aws_process")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    for noisy in ("werkzeug", "waitress", "waitress.queue"):
        logging.getLogger(noisy).setLevel(logging.ERROR)

    from waitress.server import create_server

    from cme_local import moto_speedups

    moto_speedups.apply()
    # waitress keeps connections alive (werkzeug's development server closes every one) and serves
    # from a fixed pool of threads: the SDK's calls skip a TCP handshake and a thread start each.
    server = create_server(application(), host="127.0.0.1", port=args.port, threads=8, ident="moto")
    print(server.effective_port, flush=True)
    sys.stdout.close()
    _exit_with_parent()
    server.run()
    return 0


def _exit_with_parent() -> None:
    """The local AWS lives only as long as the stack that started it: a stack killed outright (no
    chance to stop its children) must not leave a server behind."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
