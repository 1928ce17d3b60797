"""The embedded local stack: moto in server mode on 127.0.0.1, provisioned from template.yaml, the
functions running in-process behind an API Gateway-like front, queue/stream pollers and a scheduler."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import urllib.request
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

from cme_local.provision import REGION, Provisioner, Route


def local_aws_usage(endpoint: str) -> dict[str, Any]:
    """What a local AWS has served: `{"requests": n, "by_service": {...}, "by_operation": {...},
    "cpu_seconds": s}` (`aws_process.Usage`)."""
    with urllib.request.urlopen(f"{endpoint}/_cme/usage", timeout=30) as response:  # noqa: S310
        return dict(json.loads(response.read()))


ROOT = Path(__file__).resolve().parents[2]

LOCAL_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "POWERTOOLS_SERVICE_NAME": "cme-local",
    "POWERTOOLS_METRICS_NAMESPACE": "CME",
    "POWERTOOLS_TRACE_DISABLED": "true",
    # EMF metric lines are CloudWatch's input; on a laptop they would only flood the terminal.
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}


#: Containers per queue consumer, and so batches of one queue in flight at once (Lambda scales a queue's
#: consumer out to many; two keep this machine's two cores busy while one waits on the local AWS).
QUEUE_CONTAINERS = 2


def forget_deployment() -> None:
    """Forget what the shared code keeps per container from the deployment it runs in: the signing key,
    the organizer page's sign-in settings, the door scanner's cached device tokens and agendas. One
    process may start several stacks in turn (the tests, the benchmarks), each a deployment with its own
    secret and data; a key kept from the one before would sign and derive ids no other process agrees
    with (the settings are cleared with the environment)."""
    from cme import auth
    from cme.service import scans
    from cme.web import organizer

    auth.signing_key.cache_clear()
    organizer.sign_in.cache_clear()
    scans.forget_cached()


class LocalStack:
    def __init__(self, root: Path = ROOT, *, port: int = 0, now: datetime | None = None, background_pump: bool = True):
        self.root = root
        self.requested_port = port
        self.initial_now = now
        self.background_pump = background_pump
        self._pump_lock = threading.RLock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # ---- life cycle ------------------------------------------------------------------------------

    def start(self) -> LocalStack:
        os.environ.update(LOCAL_ENV)
        # Metrics are off here, so a handler's metrics decorator finds none to publish: that is expected.
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        self.aws = subprocess.Popen(
            [sys.executable, "-m", "cme_local.aws_process", "--port", "0"],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
        )
        assert self.aws.stdout is not None
        port = self.aws.stdout.readline().strip()
        if not port.isdigit():
            self.aws.kill()
            raise RuntimeError("the local AWS (moto) did not start")
        self.aws_endpoint = f"http://127.0.0.1:{port}"
        os.environ["AWS_ENDPOINT_URL"] = self.aws_endpoint

        from cme import clock
        from cme.adapters import aws
        from cme.config import settings

        aws.reset()
        if self.initial_now is not None:
            clock.set_override(self.initial_now)

        from cme_local.front import Front, LocalAuthorizer, make_handler

        self.front = Front(("127.0.0.1", self.requested_port), make_handler(self))
        self.api_url = f"http://127.0.0.1:{self.front.server_address[1]}"

        provisioner = Provisioner(self.root / "template.yaml", parameters={"PublicBaseUrl": self.api_url})
        self.wiring = provisioner.provision(aws.client)
        environment: dict[str, str] = {}
        for spec in self.wiring.functions.values():
            environment.update({k: v for k, v in spec.environment.items() if k != "POWERTOOLS_SERVICE_NAME"})
        environment["PUBLIC_BASE_URL"] = self.api_url
        environment["POWERTOOLS_LOG_LEVEL"] = os.environ.get("CME_LOG_LEVEL", "WARNING")
        os.environ.update(environment)
        self.environment = environment
        settings.cache_clear()
        forget_deployment()

        from cme_local.functions import FunctionHost
        from cme_local.pump import Pump

        self.host = FunctionHost(
            self.root,
            self.wiring.functions,
            http_functions=frozenset(r.function for r in self.wiring.routes),
            containers={q.function: QUEUE_CONTAINERS for q in self.wiring.queues},
        )
        self.pump = Pump(
            self.wiring,
            self.host,
            aws.client,
            settings().schedule_group,
            sent_mail=self.sent_mail,
            pending=self.pending,
        )
        self.authorizer = LocalAuthorizer(os.urandom(32).hex())
        self.organizer_token = self.authorizer.issue("local-organizer")
        self.scanner_token = self._local_scanner_token()

        thread = threading.Thread(target=self.front.serve_forever, name="cme-front", daemon=True)
        thread.start()
        self._threads.append(thread)
        if self.background_pump:
            self.start_background_pump()
        return self

    def start_background_pump(self) -> None:
        """Deliver queues, streams and schedules continuously (as AWS does), not only on settle()."""
        pumper = threading.Thread(target=self._pump_forever, name="cme-pump", daemon=True)
        pumper.start()
        self._threads.append(pumper)

    def stop(self) -> None:
        self._stop.set()
        self.front.shutdown()
        self.front.server_close()
        for thread in self._threads:
            thread.join(timeout=10)
        self.aws.terminate()
        try:
            self.aws.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.aws.kill()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _local_scanner_token(self) -> str:
        from cme import clock
        from cme.adapters import store
        from cme.auth import device_token_hash, new_device_token

        token = new_device_token()
        store.put_device(
            device_token_hash(token),
            activity_id="*",
            device_id="local-scanner",
            created_at=clock.iso(clock.now()),
            label="local stack",
        )
        return token

    # ---- driving it -----------------------------------------------------------------------------

    def _pump_forever(self) -> None:
        log = logging.getLogger("cme_local.pump")
        while not self._stop.wait(0.2):
            try:
                with self._pump_lock:
                    self.pump.pass_once()
            except Exception:
                log.exception("pump pass failed")

    def enable_chaos(self, settings: Any) -> Any:
        """Switch fault injection on (cme_local.chaos): the functions' AWS calls fail at the settings'
        rate, deliveries repeat, functions crash or go down as planned. Returns the injector (its figures)."""
        import boto3

        from cme.adapters import aws
        from cme_local.chaos import FaultInjector

        injector = FaultInjector(settings)
        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        injector.install(boto3.DEFAULT_SESSION)
        aws.reset()  # clients copy their session's hooks when made: make them again
        self.host.chaos = injector
        self.host.duplicate_deliveries = settings.duplicate_deliveries
        self._chaos = injector
        return injector

    def disable_chaos(self) -> None:
        import boto3

        from cme.adapters import aws

        injector = getattr(self, "_chaos", None)
        if injector is not None and boto3.DEFAULT_SESSION is not None:
            injector.uninstall(boto3.DEFAULT_SESSION)
        aws.reset()
        self.host.chaos = None
        self.host.duplicate_deliveries = False
        self._chaos = None

    def settle(self, timeout: float = 300.0) -> int:
        with self._pump_lock:
            return self.pump.settle(timeout)

    def set_clock(self, moment: datetime) -> datetime:
        from cme import clock

        if moment.tzinfo is None:
            raise ValueError("the clock needs a timezone-aware time")
        clock.set_override(moment)
        self.pump.scheduler.fire_due(force=True)
        return moment

    def match_route(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.wiring.routes:
            if route.method != method and not (method == "HEAD" and route.method == "GET"):
                continue
            found = route.pattern.match(path)
            if found:
                from urllib.parse import unquote

                return route, {k: unquote(v) for k, v in found.groupdict().items()}
        return None

    def sent_mail(self, since: int = 0) -> list[dict[str, Any]]:
        """The raw mails SES accepted, in order (from the `since`-th on)."""
        url = f"{self.aws_endpoint}/_cme/sent-mail?since={since}"
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310
            return list(json.loads(response.read())["messages"])

    def pending(self) -> dict[str, Any]:
        """What the pollers would find in the local AWS: visible messages per queue, mails sent."""
        with urllib.request.urlopen(f"{self.aws_endpoint}/_cme/pending", timeout=30) as response:  # noqa: S310
            return dict(json.loads(response.read()))

    def aws_usage(self) -> dict[str, Any]:
        return local_aws_usage(self.aws_endpoint)

    def status(self) -> dict[str, Any]:
        return {
            "api_url": self.api_url,
            "invocations": self.host.invocations,
            "busy_seconds": {k: round(v, 2) for k, v in self.host.busy_seconds.items()},
            "queues": {q.mapping.function: {"delivered": q.delivered, "failed": q.failed} for q in self.pump.queues},
            "streams": {
                s.mapping.function: {"delivered": s.delivered, "discarded": s.discarded} for s in self.pump.streams
            },
            "schedules_fired": self.pump.scheduler.fired,
        }

    def organizer_page_url(self, activity_id: str | None = None) -> str:
        """The organizer's dashboard page, ready to open: a fresh local token (12 hours) in the fragment,
        which the browser never sends and the page moves to the tab's storage."""
        from urllib.parse import quote

        token = self.authorizer.issue("local-organizer", ttl=12 * 3600)
        path = f"/organizer/activities/{quote(activity_id, safe='')}" if activity_id else "/organizer/"
        return f"{self.api_url}{path}#token={token}"

    def local_json(self, activity_ids: list[str] | None = None) -> dict[str, Any]:
        return {
            "api_url": self.api_url,
            "organizer_token": self.organizer_token,
            "scanner_token": self.scanner_token,
            "activity_ids": activity_ids or [],
            "aws_endpoint_url": self.aws_endpoint,
            "dashboard_url": f"{self.api_url}/organizer/",
        }

    def write_local_json(self, directory: Path, activity_ids: list[str] | None = None) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "local.json"
        path.write_text(json.dumps(self.local_json(activity_ids), indent=2) + "\n")
        return path
