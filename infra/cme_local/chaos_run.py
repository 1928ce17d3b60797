"""`cme chaos`: the demo meeting under faults, then the checks that it lost and duplicated nothing.

The run: a local stack whose functions' AWS calls fail at `fault_rate` (throttling, 5xx, timeouts
before and after the service applied the request; cme_local.chaos), every queue message and stream
batch delivered twice, every consumer crashing once right after a batch it finished, the certificate
issuer down for its first invocations (so messages exhaust their retries and land in its DLQ), scans
shuffled within each upload and a tenth of the uploads arriving three hours late. Clients retry what
answered 5xx, as a scanner or a browser would. After the timeline, `cme redrive` sends the DLQs'
messages back and the stack settles.

The checks, each a figure in the summary:
- credit: every attendee's stored attendance equals credit-rules.md applied to their accepted scans;
- certificates: each learner who claimed credit has exactly one current certificate, printing the
  claim's totals;
- mail: no certificate version was mailed twice, and every current version was mailed or is flagged
  for the organizer's resend;
- counts: the live dashboard equals a recount;
- queues: every DLQ is empty after the redrive;
- logs: no email, birth date, board id or NPI of the roster in any log line of the functions.
"""

from __future__ import annotations

import io
import json
import random
import re
import time
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from cme_local.chaos import ChaosSettings

CONSUMERS = (
    "StreamOutboxFunction",
    "CountChangesFunction",
    "OnCheckInFunction",
    "OnSessionEndFunction",
    "OnEvaluationFunction",
    "IssueCertificateFunction",
    "SendCertificateMailFunction",
    "SendLearnerLinkFunction",
)


def chaotic_batches(batches: list[Any], rng: random.Random, late_share: float = 0.1) -> list[Any]:
    """Scans shuffled within each upload; `late_share` of the uploads arrive three hours late."""
    out = []
    for batch in batches:
        scans = list(batch.scans)
        rng.shuffle(scans)
        late = rng.random() < late_share
        out.append(
            replace(
                batch,
                scans=scans,
                upload_at=batch.upload_at + timedelta(hours=3) if late else batch.upload_at,
                backlog=batch.backlog or late,
            )
        )
    return out


def _mailed_versions(messages: list[dict[str, Any]]) -> Counter[tuple[str, int]]:
    found: Counter[tuple[str, int]] = Counter()
    for message in messages:
        match = re.search(r"certificate-(c[a-z0-9]+)-v(\d+)\.pdf", message.get("raw", ""))
        if match:
            found[(match.group(1), int(match.group(2)))] += 1
    return found


def verify(stack: Any, activity_id: str, log_text: str) -> dict[str, Any]:
    """The checks of the module docstring, against the store and the sent mail."""
    from cme.adapters import store
    from cme.auth import certificate_id
    from cme.domain.credit import session_attendance
    from cme.service.certificates import NOT_ON_CERTIFICATE
    from cme.service.dashboard import dashboard, differences, recount

    activity = store.get_activity(activity_id)
    assert activity is not None
    roster = store.roster(activity_id)
    finalized = store.finalized_sessions(activity_id)
    wrong_credit = []
    for person in roster:
        expected = session_attendance(activity, person.badge_id, store.scans_of(activity_id, person.badge_id))
        stored = store.attendance_of(activity_id, person.badge_id)
        for session_id in finalized:
            want, have = expected.get(session_id), stored.get(session_id)
            if want is None and (have is None or (have.seconds == 0 and not any(have.credits.values()))):
                continue
            if want != have:
                wrong_credit.append(f"{person.badge_id}/{session_id}")
    claims = {str(c["badge_id"]): c for c in store.all_claims(activity_id)}
    wrong_certificates = []
    mail_states: Counter[str] = Counter()
    for badge_id, claim in claims.items():
        if not any(float(v) > 0 for v in claim["totals"].values()):
            continue
        cid = certificate_id(activity_id, badge_id)
        record = store.get_certificate(cid)
        if record is None:
            wrong_certificates.append(f"{badge_id}: none")
            continue
        printed = {k: float(v) for k, v in record["credits"].items() if float(v) > 0}
        claimed = {k: float(v) for k, v in claim["totals"].items() if float(v) > 0 and k not in NOT_ON_CERTIFICATE}
        if printed != claimed:
            wrong_certificates.append(f"{badge_id}: prints {printed}, claimed {claimed}")
        mail_states[str(record.get("mail_state"))] += 1
    mailed = _mailed_versions(stack.sent_mail())
    twice = sorted(f"{cid} v{v}" for (cid, v), n in mailed.items() if n > 1)
    unaccounted = {s: n for s, n in mail_states.items() if s not in ("sent", "unknown", "failed")}
    found = differences(dashboard(activity_id), recount(activity_id))
    leaks = personal_data_in(log_text, roster)
    return {
        "attendees": len(roster),
        "finalized_sessions": len(finalized),
        "credit_rows_wrong": wrong_credit,
        "learners_with_credit_claimed": sum(
            1 for c in claims.values() if any(float(v) > 0 for v in c["totals"].values())
        ),
        "certificates_wrong": wrong_certificates,
        "current_versions_by_mail_state": dict(mail_states),
        "versions_mailed_twice": twice,
        "current_versions_neither_mailed_nor_flagged": unaccounted,
        "dashboard_differences": found,
        "log_lines": log_text.count("\n"),
        "personal_data_in_logs": leaks,
    }


def _token(value: str) -> re.Pattern[str]:
    """`value` as a whole token (a board id is not part of a longer number such as an account id)."""
    return re.compile(rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])")


def personal_data_in(text: str, roster: list[Any]) -> list[str]:
    """Which kinds of the roster's personal data (Attendee records) appear in the log text (never the
    values themselves)."""
    found = set()
    lowered = text.lower()
    for person in roster:
        if person.email and person.email.lower() in lowered:
            found.add("email")
        if person.npi and _token(person.npi).search(text):
            found.add("npi")
        if person.birth_mmdd and f'"{person.birth_mmdd}"' in text:
            found.add("birth date")
        for board_id in (person.board_ids or {}).values():
            if _token(board_id).search(text):
                found.add("board id")
    return sorted(found)


def _empty_dlqs(stack: Any) -> dict[str, int]:
    from cme.adapters.aws import client

    sqs = client("sqs")
    waiting = {}
    for url in sqs.list_queues(QueueNamePrefix="cme-local").get("QueueUrls", []):
        if "dlq" in url.lower():
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
            count = int(attributes["Attributes"]["ApproximateNumberOfMessages"])
            if count:
                waiting[url.rsplit("/", 1)[-1]] = count
    return waiting


#: Redrives an operator makes before the DLQs must be empty (each after the holds it would meet are over).
REDRIVE_ROUNDS = 3


def _wait_for_held_idempotency_records(stack: Any) -> float:
    """An operator redrives once no failed invocation's idempotency record is still held. A write whose
    answer was lost (an injected timeout after the service applied it) can leave Powertools' record in
    progress until that invocation's deadline (the function's timeout), and a message delivered again
    sooner finds it held and fails. On AWS the queue's visibility timeout, at least six times the
    function's, keeps every retry past that deadline; the local pollers retry at once, so the redrive
    waits for it instead. Returns the seconds waited."""
    from boto3.dynamodb.conditions import Attr

    from cme.adapters.aws import document_client

    request: dict[str, Any] = {
        "TableName": stack.environment["IDEMPOTENCY_TABLE"],
        "FilterExpression": Attr("status").eq("INPROGRESS"),
        "ConsistentRead": True,
    }
    held_until = 0.0
    while True:
        page = document_client().scan(**request)
        for item in page.get("Items", []):
            held_until = max(held_until, int(item.get("in_progress_expiration", 0)) / 1000)
        if "LastEvaluatedKey" not in page:
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    wait = held_until - time.time()
    if wait <= 0:
        return 0.0
    time.sleep(wait + 0.5)
    return round(wait + 0.5, 1)


def run_chaos(
    *,
    attendees: int = 300,
    fault_rate: float = 0.1,
    seed: int = 7,
    outage_invocations: int | None = None,
    out_dir: Path = Path("out/chaos"),
    log: Any = print,
) -> dict[str, Any]:
    import os

    # Every log line the functions write, for the search: at INFO (or DEBUG if asked), whatever level
    # the environment this run was started from gave the shared logger when it was made.
    level = "DEBUG" if os.environ.get("CME_LOG_LEVEL", "").upper() == "DEBUG" else "INFO"
    os.environ["CME_LOG_LEVEL"] = level
    from cme.observability import logger

    logger.setLevel(level)
    from cme_local.conference import build_conference
    from cme_local.demo import _Demo
    from cme_local.redrive import redrive
    from cme_local.stack import LocalStack

    started = time.monotonic()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    conference = build_conference(seed=seed, attendees=attendees, activity_id="chaos-2027")
    conference.scan_batches = chaotic_batches(conference.scan_batches, random.Random(seed))
    stack = LocalStack(now=conference.timeline_start - timedelta(minutes=5), background_pump=False).start()
    captured = io.StringIO()
    handler = logger.registered_handler
    previous = handler.setStream(captured)  # type: ignore[attr-defined]
    try:
        injector = stack.enable_chaos(
            ChaosSettings(
                fault_rate=fault_rate,
                seed=seed,
                duplicate_deliveries=True,
                crash_once_after=frozenset(CONSUMERS),
                # Long enough for messages to reach the DLQ: with every delivery twice, 8 receives of a
                # message per container (the DLQ takes it at the 6th) whichever container gets it.
                outage={
                    "IssueCertificateFunction": outage_invocations or 16 * stack.host.slots("IssueCertificateFunction")
                },
            )
        )
        demo = _Demo(
            stack.api_url, stack.organizer_token, stack.scanner_token, conference, out_dir, log, 0.0, retries=6
        )
        demo.load_activity()
        demo.walk_timeline()
        dlq_before = _empty_dlqs(stack)
        from cme.adapters.aws import client

        # The faults go on while the operator redrives, so a redriven message can meet a new hold and
        # return to its DLQ: the operator waits for it and redrives again, a few rounds at most.
        stack.set_clock(conference.timeline_end + timedelta(minutes=10))
        waited, redrives = 0.0, []
        for _ in range(REDRIVE_ROUNDS):
            waited += _wait_for_held_idempotency_records(stack)
            moved = redrive(client, prefix="cme-local", bus_name=stack.environment.get("EVENT_BUS_NAME", "cme"))
            redrives.append(moved.as_dict())
            stack.settle()
            if not _empty_dlqs(stack):
                break
        faults = injector.figures()
        stack.disable_chaos()
        checks = verify(stack, conference.activity_id, captured.getvalue())
        checks["dlq_after_redrive"] = _empty_dlqs(stack)
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
        stack.stop()
    summary = {
        "attendees": attendees,
        "seed": seed,
        "scans_posted": demo.scans,
        "evaluations": demo.evaluations,
        "client_errors": demo.errors[:20],
        "faults": faults,
        "dlq_before_redrive": dlq_before,
        "redrive": redrives[0],
        "redrive_rounds": redrives,
        "waited_for_held_idempotency_records_seconds": round(waited, 1),
        "checks": checks,
        "passed": passed(checks),
        "wall_time_seconds": round(time.monotonic() - started, 1),
    }
    (out_dir / "chaos.json").write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    return summary


def passed(checks: dict[str, Any]) -> bool:
    return not (
        checks["credit_rows_wrong"]
        or checks["certificates_wrong"]
        or checks["versions_mailed_twice"]
        or checks["current_versions_neither_mailed_nor_flagged"]
        or checks["dashboard_differences"]
        or checks["personal_data_in_logs"]
        or checks["dlq_after_redrive"]
        or checks["finalized_sessions"] == 0
    )
