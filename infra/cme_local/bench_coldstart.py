"""`cme bench --only coldstart`: each function's cold start against a process that only sets up boto3.

The product's target: a fresh process that imports a function's handler and serves one representative
event takes at most 1.5 times as long as a fresh process that imports boto3 and makes one client call
(2.5 times for the certificate issuer, which parses its fonts during Lambda's init phase on purpose).

How it is measured. One local AWS (moto, `cme_local.aws_process`) provisioned from template.yaml by a
local stack, seeded through the HTTP API with the sample meeting of `events/` (the worked-example agenda
and roster, a learner's scans, the session ends, an evaluation, so a claim, a certificate and its mail
exist). Then, per round, one fresh interpreter per function and one for the baseline, one after the
other (nothing else runs meanwhile):

- a function's process gets that function's environment from the template (as the local stack sets it:
  table names, bus, bucket, the endpoint URL of the local AWS, Powertools settings), runs in the
  function's folder with the shared code first on `sys.path` (as Lambda puts `/var/task` and the layer),
  imports `app` and calls its handler once with the event and a Lambda-like context;
- the baseline's process gets the same AWS settings, imports boto3, makes a DynamoDB client and calls
  `describe_table` on the same endpoint.

Every process can import only what a deployment ships (`not_deployed`): the layer's requirements, the
runtime's boto3 and what they require. This venv also holds the test and local-stack tools, and a
library that uses an optional package when it finds one (fpdf2 and cryptography) would otherwise load it
here and not on Lambda.

The time of a process is from the parent's spawn to the moment the event was served (the child reads the
system-wide monotonic clock then and reports it; the interpreter's exit is not counted, Lambda does not
wait for it either). Figures: per function the median over the rounds, its import and first-event parts,
and the ratio of its median to the baseline's median (the target's figure); the same for the processor
time the process used (`cpu_ratio`: steadier on a busy machine, but without the waits on the local AWS);
and, from one more process run with `-X importtime`, the packages that took the most import time (their
own modules' time, so nothing is counted twice) with the total.

Each function also gets its library floor, timed in the same rounds: a process that imports every
third-party module the function's process had loaded (Powertools, pydantic, jinja2, fpdf2, their own
dependencies), makes the same clients and then the baseline's one call, with no code of ours.
`library_floor_ratio` is that floor over the baseline: what the packages the brief fixes cost a function
before it does anything; `over_library_floor` is the function over its floor: what our code adds.

The events are the samples of `events/<function>/` (real AWS envelopes) with what only a running
deployment knows filled in: tokens, the certificate id, sequence numbers. Each round's event does the
work a first event does: a new scan id, a new evaluation (so a new claim version, a new certificate
version and its first mail), a new sign-in request, count records past the shard's mark. One round
before the measured ones is not counted: it writes the bytecode caches and lets the local AWS create its
service backends."""

from __future__ import annotations

import copy
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
SHARED = ROOT / "shared"

ACTIVITY = "asa-2027"
BADGE = "B-1001"
#: The meeting's clock when the functions run: after the day's sessions ended (their schedules fired).
AFTER_THE_DAY = "2027-10-14T12:30:00-05:00"

TARGET = 1.5
#: The issuer imports fpdf2 and parses its fonts at import, during Lambda's init phase (not billed as
#: the invocation is): its target allows for that.
TARGETS = {"issue_certificate": 2.5}

_MARK = "COLDSTART "
#: The library floor of a function: a process that imports the third-party modules the function loaded
#: (Powertools, pydantic, jinja2, fpdf2, …), makes the clients it made and the baseline's one call; no
#: code of ours. What the target leaves for our own code is the gap between the two.
_FLOOR = "floor:"

_RUNNER = """
import time

began = time.monotonic()
import json
import os
import sys


class Context:
    \"\"\"The context object Lambda passes: the fields the handlers and Powertools read.\"\"\"

    def __init__(self, name, memory, timeout):
        self.function_name = name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + name
        self.aws_request_id = "00000000-0000-4000-8000-00000000c01d"
        self.log_group_name = "/aws/lambda/" + name
        self.log_stream_name = "coldstart"
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


kind = sys.argv[1]
start = time.perf_counter()
if kind == "baseline":
    import boto3

    imported = time.perf_counter()
    boto3.client("dynamodb").describe_table(TableName=os.environ["TABLE_NAME"])
    outcome = {}
elif kind == "floor":
    import importlib

    with open(sys.argv[2]) as file:
        needs = json.load(file)
    for module in needs["modules"]:
        try:
            importlib.import_module(module)
        except Exception:  # a module only its package imports, under a condition of its own
            pass
    import boto3

    imported = time.perf_counter()
    for service in needs["services"]:
        boto3.client(service)
    boto3.client("dynamodb").describe_table(TableName=os.environ["TABLE_NAME"])
    outcome = {}
else:
    with open(sys.argv[2]) as file:
        event = json.load(file)
    start = time.perf_counter()
    sys.path[:0] = [os.getcwd(), sys.argv[3]]
    import botocore.session

    services = []
    create_client = botocore.session.Session.create_client

    def recorded(self, service_name, *args, **kwargs):
        services.append(service_name)
        return create_client(self, service_name, *args, **kwargs)

    botocore.session.Session.create_client = recorded
    import app

    imported = time.perf_counter()
    result = app.handler(event, Context(kind, int(sys.argv[4]), int(sys.argv[5])))
    result = result if isinstance(result, dict) else {}
    outcome = {"status": result.get("statusCode"), "failures": len(result.get("batchItemFailures") or [])}
served = time.perf_counter()
ready = time.monotonic()
if kind not in ("baseline", "floor"):
    # What the function needed of others: the third-party modules it loaded, the clients it made.
    import boto3

    site = os.path.dirname(os.path.dirname(boto3.__file__))
    outcome["modules"] = [
        name for name, module in list(sys.modules.items()) if (getattr(module, "__file__", None) or "").startswith(site)
    ]
    outcome["services"] = services
print(
    "COLDSTART "
    + json.dumps(
        {"began": began, "ready": ready, "import": imported - start, "event": served - imported, **outcome}
    ),
    flush=True,
)
"""


def _sample(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / name).read_text()))


def _body(event: dict[str, Any]) -> Any:
    return json.loads(event["body"])


def _with_eventbridge_body(sample: str, detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    """A sample SQS event of `events/` (EventBridge rule → queue) carrying another cme event."""
    event = _sample(sample)
    record = event["Records"][0]
    body = json.loads(record["body"])
    body.update({"id": str(uuid.uuid4()), "detail-type": detail_type, "detail": detail})
    record["body"] = json.dumps(body)
    record["messageId"] = str(uuid.uuid4())
    return event


class Meeting:
    """The sample meeting on the local stack, and each function's representative event for a round."""

    def __init__(self, stack: Any):
        self.stack = stack
        self.sequence = 10**20  # count records: past every mark the seeding's stream left
        self.at = datetime.fromisoformat(AFTER_THE_DAY)

    # ---- seeding -------------------------------------------------------------------------------------

    def seed(self) -> None:
        from cme_local.bench import call

        api, organizer = self.stack.api_url, self.stack.organizer_token
        self.stack.set_clock(datetime.fromisoformat("2027-10-14T07:00:00-05:00"))
        call("PUT", f"{api}/activities/{ACTIVITY}", organizer, _body(_sample("organizer_api/put-activity.json")))
        roster = _body(_sample("organizer_api/post-attendees.json"))
        call("POST", f"{api}/activities/{ACTIVITY}/attendees?send_links=false", organizer, roster)
        self.email = next(row["email"] for row in roster if row["badge_id"] == BADGE)
        self.stack.set_clock(datetime.fromisoformat("2027-10-14T12:10:00-05:00"))
        door = _body(_sample("ingest_scans/post-scans.json"))["scans"][0]  # Hall-A at 07:58 (S1)
        scans = [
            door,
            {**door, "scan_id": "seed-2", "room": "Room-201", "scanned_at": "2027-10-14T09:50:00-05:00"},
            {
                **door,
                "scan_id": "seed-3",
                "room": "Room-201",
                "scanned_at": "2027-10-14T12:05:00-05:00",
                "direction": "exit",
            },
        ]
        call("POST", f"{api}/scans", self.stack.scanner_token, {"activity_id": ACTIVITY, "scans": scans})
        self.stack.set_clock(self.at)  # the sessions' end schedules fire
        self.stack.settle()
        link = call("GET", f"{api}/activities/{ACTIVITY}/attendees/{BADGE}/link", organizer)
        self.learner_token = str(link["url"].rsplit("/l/", 1)[1])
        evaluation = _body(_sample("learner_api/post-evaluation.json"))
        call("POST", f"{api}/evaluations", self.learner_token, {"answers": evaluation["answers"], "attest": True})
        self.stack.settle()  # the claim, its certificate and its mail
        certificate = call("GET", f"{api}/me", self.learner_token)["certificate"]
        if not certificate:
            raise RuntimeError("the sample meeting issued no certificate")
        self.certificate_id = str(certificate["certificate_id"])

    def tick(self) -> str:
        """The next round's clock (a second later: each evaluation is newer than the last)."""
        from cme import clock

        self.at += timedelta(seconds=1)
        clock.set_override(self.at)
        return self.at.isoformat()

    # ---- the events ----------------------------------------------------------------------------------

    def event(self, function: str, round_: int) -> dict[str, Any]:
        make: Callable[[int], dict[str, Any]] = getattr(self, f"_{function}")
        return make(round_)

    def _organizer_api(self, round_: int) -> dict[str, Any]:
        return _sample("organizer_api/get-dashboard.json")

    def _public_api(self, round_: int) -> dict[str, Any]:
        text = (EVENTS / "public_api" / "get-verify.json").read_text()
        return dict(json.loads(text.replace("cexample0000000000000", self.certificate_id)))

    def _learner_api(self, round_: int) -> dict[str, Any]:
        event = _sample("learner_api/get-me.json")
        event["headers"]["authorization"] = f"Bearer {self.learner_token}"
        return event

    def _ingest_scans(self, round_: int) -> dict[str, Any]:
        event = _sample("ingest_scans/post-scans.json")
        event["headers"]["authorization"] = f"Bearer {self.stack.scanner_token}"
        body = _body(event)
        body["scans"][0]["scan_id"] = f"cold-{round_}-{uuid.uuid4().hex[:8]}"  # a new scan, accepted
        event["body"] = json.dumps(body)
        return event

    def _stream_outbox(self, round_: int) -> dict[str, Any]:
        return _sample("stream_outbox/scan-inserted.json")

    def _on_check_in(self, round_: int) -> dict[str, Any]:
        return _sample("on_check_in/check-in-scanned.json")

    def _on_session_end(self, round_: int) -> dict[str, Any]:
        return _sample("on_session_end/session-ended.json")

    def _count_changes(self, round_: int) -> dict[str, Any]:
        """A stream batch as the counting mapping delivers it (tumbling window: shardId and window):
        the learner's live presence and session attendance records inserted, read from the table."""
        from boto3.dynamodb.types import TypeSerializer

        from cme.adapters import store
        from cme.adapters.aws import client
        from cme.config import settings

        serializer = TypeSerializer()
        template = _sample("stream_outbox/scan-inserted.json")["Records"][0]
        records = []
        pk = store.attendee_pk(ACTIVITY, BADGE)
        for sk in ("LIVE", "ATT#S1"):
            item = client("dynamodb").get_item(TableName=settings().table_name, Key={"PK": {"S": pk}, "SK": {"S": sk}})
            if "Item" not in item:
                raise RuntimeError(f"the sample meeting has no {sk} record")
            self.sequence += 1
            record = copy.deepcopy(template)
            record["eventID"] = uuid.uuid4().hex
            record["dynamodb"].update(
                Keys={"PK": serializer.serialize(pk), "SK": serializer.serialize(sk)},
                NewImage=item["Item"],
                SequenceNumber=str(self.sequence),
                SizeBytes=len(json.dumps(item["Item"])),
            )
            records.append(record)
        return {
            "Records": records,
            "window": {"start": "2027-10-14T17:30:00Z", "end": "2027-10-14T17:31:00Z"},
            "state": {},
            "shardId": "shardId-00000001000000000000-coldstart",
            "eventSourceARN": records[0]["eventSourceARN"],
            "isFinalInvokeForWindow": False,
            "isWindowTerminatedEarly": False,
        }

    def _on_evaluation(self, round_: int) -> dict[str, Any]:
        """A new evaluation by the learner (as `POST /evaluations` stores it): its claim is new."""
        from cme.domain.models import EvaluationSubmission
        from cme.service.learners import load_learner, submit_evaluation

        answers = _body(_sample("learner_api/post-evaluation.json"))["answers"]
        submitted = submit_evaluation(
            ACTIVITY, BADGE, EvaluationSubmission.model_validate({"answers": answers, "attest": True})
        )
        stored = load_learner(ACTIVITY, BADGE).evaluations[None]
        detail = {
            "activity_id": ACTIVITY,
            "badge_id": BADGE,
            "session_id": None,
            "evaluation_id": submitted["evaluation_id"],
            "submitted_at": stored["submitted_at"],
        }
        return _with_eventbridge_body("on_evaluation/evaluation-submitted.json", "EvaluationSubmitted", detail)

    def _issue_certificate(self, round_: int) -> dict[str, Any]:
        """ClaimRecorded of a claim version with no certificate yet (a reissued claim when the round's
        evaluation did not make one)."""
        from cme.adapters import store
        from cme.service.claims import reissue_claim

        claim = store.get_claim(ACTIVITY, BADGE)
        assert claim is not None
        if store.get_certificate(self.certificate_id, int(claim["version"])) is not None:
            reissue_claim(ACTIVITY, BADGE)
            claim = store.get_claim(ACTIVITY, BADGE)
            assert claim is not None
        detail = {
            "activity_id": ACTIVITY,
            "badge_id": BADGE,
            "version": int(claim["version"]),
            "evaluation_id": claim["evaluation_id"],
        }
        return _with_eventbridge_body("issue_certificate/claim-recorded.json", "ClaimRecorded", detail)

    def _send_certificate_mail(self, round_: int) -> dict[str, Any]:
        """CertificateIssued of a version not mailed yet (an organizer's resend when there is none)."""
        from cme.adapters import store

        version = store.current_certificate_version(self.certificate_id)
        record = store.get_certificate(self.certificate_id, version)
        assert version is not None and record is not None
        kind = "CertificateIssued"
        if record.get("mail_state") is not None:
            store.request_resend(self.certificate_id, version, at=self.at.isoformat(), by="coldstart")
            kind = "CertificateResendRequested"
        detail = {
            "activity_id": ACTIVITY,
            "badge_id": BADGE,
            "certificate_id": self.certificate_id,
            "version": version,
            "s3_key": record["s3_key"],
            "sha256": record["sha256"],
        }
        return _with_eventbridge_body("send_certificate_mail/certificate-issued.json", kind, detail)

    def _on_mail_event(self, round_: int) -> dict[str, Any]:
        """SES's delivery event of the latest certificate mail (configuration set → SNS → SQS, raw)."""
        from cme.adapters import store

        version = store.current_certificate_version(self.certificate_id) or 1
        record = None
        while version > 0:
            record = store.get_certificate(self.certificate_id, version)
            if record is not None and record.get("message_id"):
                break
            version -= 1
        if record is None or not record.get("message_id"):
            raise RuntimeError("the sample meeting mailed no certificate")
        stamp = self.at.astimezone().isoformat()
        ses = {
            "eventType": "Delivery",
            "mail": {
                "timestamp": stamp,
                "source": "certificates@example.org",
                "messageId": record["message_id"],
                "destination": [self.email],
                "tags": {"certificate_id": [self.certificate_id], "version": [str(version)]},
            },
            "delivery": {
                "timestamp": stamp,
                "processingTimeMillis": 412,
                "recipients": [self.email],
                "smtpResponse": "250 2.0.0 OK",
                "reportingMTA": "a8-1.smtp-out.amazonses.com",
            },
        }
        event = _sample("on_session_end/session-ended.json")
        record_ = event["Records"][0]
        record_.update(
            messageId=str(uuid.uuid4()),
            body=json.dumps(ses),
            eventSourceARN=record_["eventSourceARN"].replace("SessionEndQueue", "MailEventsQueue"),
        )
        return event

    def _send_learner_link(self, round_: int) -> dict[str, Any]:
        """A new sign-in link request (each is mailed once: the idempotency key is the request id)."""
        from cme.auth import email_key

        detail = {
            "activity_id": ACTIVITY,
            "email_key": email_key(self.email),
            "request_id": uuid.uuid4().hex,
            "requested_at": self.at.isoformat(),
        }
        event = _with_eventbridge_body("on_session_end/session-ended.json", "LoginLinkRequested", detail)
        record = event["Records"][0]
        record["eventSourceARN"] = record["eventSourceARN"].replace("SessionEndQueue", "LinkQueue")
        return event


# ---- the processes --------------------------------------------------------------------------------


def _environment(stack: Any, spec: Any | None) -> dict[str, str]:
    """What Lambda would set: the template's variables of the function (the baseline: the AWS settings
    and the table name), the local AWS's endpoint, nothing of this process's own stack settings."""
    from cme_local.stack import LOCAL_ENV

    ours = set(stack.environment) | set(LOCAL_ENV)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ours and not k.startswith(("AWS_", "POWERTOOLS_", "PYTHON", "CME_"))
    }
    env.update(LOCAL_ENV)
    env["AWS_ENDPOINT_URL"] = stack.aws_endpoint
    if spec is None:
        env["TABLE_NAME"] = stack.environment["TABLE_NAME"]
        return env
    env.update(spec.environment)
    env["PUBLIC_BASE_URL"] = stack.api_url
    env["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    return env


def _spawn(argv: list[str], cwd: Path, env: dict[str, str], flags: tuple[str, ...] = ()) -> tuple[dict[str, Any], str]:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    spawned = time.monotonic()
    done = subprocess.run(  # noqa: S603 (our own interpreter and code)
        [sys.executable, *flags, "-c", deployed_only() + _RUNNER, *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith(_MARK)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{argv[0]}: the process failed ({done.returncode}): {done.stderr[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures = json.loads(lines[-1].removeprefix(_MARK))
    # The child's own processor time (its exit included): less moved by other work on the machine than
    # the wall time, and without the local AWS's share of each request.
    figures["cpu"] = after.ru_utime + after.ru_stime - used.ru_utime - used.ru_stime
    figures["ready_after"] = figures["ready"] - spawned
    figures["started_after"] = figures["began"] - spawned
    if (figures.get("status") or 0) >= 400 or figures.get("failures"):
        raise RuntimeError(f"{argv[0]}: the event was not served: {figures} {done.stdout[-2000:]}")
    return figures, done.stderr


def largest_imports(importtime: str, top: int = 6) -> tuple[float, list[str]]:
    """(seconds importing in all, the top-level packages that took longest by their own modules' time),
    from `python -X importtime` output. The interpreter's accounting is per process: a module imported
    while another thread imports one (a handler's overlapped reads) may show a negative time of its own;
    such times count as nothing."""
    found: dict[str, int] = {}
    for line in importtime.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or not line.startswith("import time:") or "cumulative" in line:
            continue
        package = parts[2].strip().split(".")[0]
        found[package] = found.get(package, 0) + max(0, int(parts[0].strip()))
    ranked = sorted(found.items(), key=lambda kv: -kv[1])[:top]
    return sum(found.values()) / 1e6, [f"{name} {us / 1e3:.0f} ms" for name, us in ranked]


def _distribution_key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def deployed_distributions() -> set[str]:
    """The distributions a deployment ships: the layer's requirements (shared/requirements.txt) and the
    runtime's boto3, with everything they require (optional extras left out), as installed here."""
    from importlib import metadata

    wanted = ["boto3"] + [line.split("#")[0].strip() for line in (SHARED / "requirements.txt").read_text().splitlines()]
    shipped: set[str] = set()
    while wanted:
        requirement = wanted.pop()
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
        if not match or "extra ==" in requirement.partition(";")[2]:
            continue
        key = _distribution_key(match.group(0))
        if key in shipped:
            continue
        try:
            requires = metadata.distribution(key).requires or []
        except metadata.PackageNotFoundError:
            continue  # not installed here: nothing of it can be imported anyway
        shipped.add(key)
        wanted.extend(requires)
    return shipped


def not_deployed() -> list[str]:
    """Top-level modules of the distributions installed here that no deployment ships (moto, the test
    tools, cryptography, ...); our own code (`cme`, the function's `app`) is in the package."""
    from importlib import metadata

    shipped = deployed_distributions()
    return sorted(
        top
        for top, owners in metadata.packages_distributions().items()
        if top != "cme" and not any(_distribution_key(owner) in shipped for owner in owners)
    )


@cache
def deployed_only() -> str:
    """Python source that, run first in a process, makes what no deployment ships unimportable there
    (every child process of the cold-start and certificates benches starts with it)."""
    return (
        "import sys as _sys\n"
        f"_NOT_DEPLOYED = frozenset({not_deployed()!r})\n"
        "class _NotDeployed:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.partition('.')[0] in _NOT_DEPLOYED:\n"
        "            raise ModuleNotFoundError(f'No module named {name!r} (not deployed)', name=name)\n"
        "        return None\n"
        "_sys.meta_path.insert(0, _NotDeployed())\n"
    )


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def bench_coldstart(processes: int = 7, functions: Iterable[str] | None = None) -> dict[str, Any]:
    from cme_local.stack import LocalStack

    stack = LocalStack(now=datetime.fromisoformat("2027-10-14T07:00:00-05:00"), background_pump=False).start()
    try:
        meeting = Meeting(stack)
        meeting.seed()
        specs = {spec.folder: spec for spec in stack.wiring.functions.values()}
        chosen = list(specs) if functions is None else list(functions)
        unknown = [name for name in chosen if name not in specs or not hasattr(meeting, f"_{name}")]
        if unknown:
            raise ValueError(f"no such function or no representative event: {', '.join(unknown)}")
        baseline_env = _environment(stack, None)
        with tempfile.TemporaryDirectory(prefix="cme-coldstart-") as scratch:

            def run(name: str, round_: int, flags: tuple[str, ...] = ()) -> tuple[dict[str, Any], str]:
                if name == "baseline":
                    return _spawn(["baseline"], ROOT, baseline_env, flags)
                if name.startswith(_FLOOR):
                    needs = Path(scratch, f"{name}.json")
                    return _spawn(["floor", str(needs)], ROOT, baseline_env, flags)
                spec = specs[name]
                env = _environment(stack, spec)
                env["CME_NOW"] = meeting.tick()
                path = Path(scratch, f"{name}-{round_}.json")
                path.write_text(json.dumps(meeting.event(name, round_)))
                argv = [spec.folder, str(path), str(SHARED), str(spec.memory), str(spec.timeout)]
                return _spawn(argv, ROOT / "functions" / spec.folder, env, flags)

            run("baseline", -1)
            for name in chosen:  # not counted: bytecode written, backends created, files cached
                first, _ = run(name, -1)
                needs = {"modules": first["modules"], "services": first["services"]}
                Path(scratch, f"{_FLOOR}{name}.json").write_text(json.dumps(needs))
                run(_FLOOR + name, -1)
            order = ["baseline", *(n for name in chosen for n in (name, _FLOOR + name))]
            timed: dict[str, list[dict[str, Any]]] = {name: [] for name in order}
            for round_ in range(processes):  # interleaved: every function shares each round's noise
                for name in order:
                    timed[name].append(run(name, round_)[0])
            traces = {
                name: largest_imports(run(name, processes, ("-X", "importtime"))[1])
                for name in order
                if not name.startswith(_FLOOR)
            }
    finally:
        stack.stop()

    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in timed[name])

    baseline = median("baseline", "ready_after")
    total, top = traces["baseline"]
    result: dict[str, Any] = {
        "benchmark": "cold start: fresh process, handler import + one event, over boto3 import + client + call",
        "processes": processes,
        "baseline": {
            "ready_ms_median": _ms(baseline),
            "cpu_ms_median": _ms(median("baseline", "cpu")),
            "interpreter_start_ms_median": _ms(median("baseline", "started_after")),
            "import_boto3_ms_median": _ms(median("baseline", "import")),
            "client_and_call_ms_median": _ms(median("baseline", "event")),
            "imports_ms": _ms(total),
            "largest_imports": top,
        },
        "functions": {},
    }
    for name in chosen:
        ready = median(name, "ready_after")
        target = TARGETS.get(name, TARGET)
        total, top = traces[name]
        ratio = round(ready / baseline, 2)
        floor = median(_FLOOR + name, "ready_after")
        result["functions"][name] = {
            "ratio": ratio,
            "target": target,
            "meets_target": ratio <= target,
            "library_floor_ratio": round(floor / baseline, 2),
            "over_library_floor": round(ready / floor, 2),
            "clients": timed[name][0]["services"],
            "libraries": sorted({module.split(".")[0] for module in timed[name][0]["modules"]}),
            "ready_ms_median": _ms(ready),
            "cpu_ms_median": _ms(median(name, "cpu")),
            "cpu_ratio": round(median(name, "cpu") / median("baseline", "cpu"), 2),
            "import_handler_ms_median": _ms(median(name, "import")),
            "first_event_ms_median": _ms(median(name, "event")),
            "imports_ms": _ms(total),
            "largest_imports": top,
        }
    result["targets_met"] = all(f["meets_target"] for f in result["functions"].values())
    return result
