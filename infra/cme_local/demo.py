"""Replay the simulated conference against a running local stack over HTTP (standard library only).

`run_demo` walks the conference's timeline on the stack's clock: agenda and roster, door-device
uploads, session ends, evaluations and claims; then downloads the certificates and the mail and
writes `out/summary.json`. Progress lines carry counts and ids only, never names, emails or
board ids, and never a learner's token.
"""

from __future__ import annotations

import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from cme_local.conference import ClaimAdjustment, Conference, EvaluationPlan, build_conference

SCANS_PER_REQUEST = 500
ROSTER_ROWS_PER_REQUEST = 5000
#: Settle the stack's pollers after this many uploads or evaluations (session ends always settle).
SETTLE_EVERY_EVENTS = 25

Json = Any
Log = Callable[[str], None]


class ApiError(RuntimeError):
    """A non-2xx answer (or no answer) from the stack, with the response body for the reader."""

    def __init__(self, method: str, url: str, status: int | None, body: str):
        self.method, self.url, self.status, self.body = method, url, status, body
        shown = body if len(body) <= 2000 else body[:2000] + "…"
        super().__init__(f"{method} {_redact(url)} → {status if status is not None else 'no answer'}: {shown}")

    @property
    def code(self) -> str | None:
        try:
            return json.loads(self.body)["error"]["code"]
        except (ValueError, KeyError, TypeError):
            return None


def _redact(url: str) -> str:
    """Drop query strings (presigned signatures) and learner tokens from a URL before showing it."""
    base = url.split("?", 1)[0]
    return re.sub(r"/l/[^/]+", "/l/…", base)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None  # the caller reads Location itself


class Client:
    """JSON over HTTP with Bearer auth; never follows redirects; raises ApiError on non-2xx."""

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 120.0, retries: int = 0):
        """`retries`: how often a request that got a 5xx or no answer is sent again (a phone or a
        scanner retries; every route the demo calls may be repeated)."""
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.retries = retries
        # No proxies: the stack is on 127.0.0.1, whatever the environment says.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())

    def with_token(self, token: str | None) -> Client:
        return Client(self.base_url, token, self.timeout, self.retries)

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"

    def request(
        self,
        method: str,
        path: str,
        body: Json = None,
        *,
        auth: bool = True,
        timeout: float | None = None,
        accept_redirect: bool = False,
    ) -> tuple[int, dict[str, str], bytes]:
        for attempt in range(self.retries + 1):
            try:
                return self._once(method, path, body, auth=auth, timeout=timeout, accept_redirect=accept_redirect)
            except ApiError as error:
                if attempt == self.retries or (error.status is not None and error.status < 500):
                    raise
                time.sleep(min(2.0, 0.1 * 2**attempt))
        raise AssertionError("unreachable")

    def _once(
        self,
        method: str,
        path: str,
        body: Json,
        *,
        auth: bool,
        timeout: float | None,
        accept_redirect: bool,
    ) -> tuple[int, dict[str, str], bytes]:
        url = self.url(path)
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - http(s) only
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if auth and self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with self._opener.open(request, timeout=timeout or self.timeout) as response:
                return response.status, dict(response.headers.items()), response.read()
        except urllib.error.HTTPError as error:
            payload = error.read()
            if accept_redirect and 300 <= error.code < 400:
                return error.code, dict(error.headers.items()), payload
            raise ApiError(method, url, error.code, payload.decode("utf-8", "replace")) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            raise ApiError(method, url, None, str(getattr(error, "reason", error))) from None

    def _json(self, method: str, path: str, body: Json = None, **kwargs: Any) -> Json:
        _, _, payload = self.request(method, path, body, **kwargs)
        return json.loads(payload) if payload.strip() else None

    def get(self, path: str, **kwargs: Any) -> Json:
        return self._json("GET", path, **kwargs)

    def put(self, path: str, body: Json, **kwargs: Any) -> Json:
        return self._json("PUT", path, body, **kwargs)

    def post(self, path: str, body: Json = None, **kwargs: Any) -> Json:
        return self._json("POST", path, {} if body is None else body, **kwargs)

    def location(self, path: str) -> str:
        """GET a route that answers with a redirect and return its absolute Location."""
        status, headers, _ = self.request("GET", path, accept_redirect=True)
        target = next((v for k, v in headers.items() if k.lower() == "location"), None)
        if not 300 <= status < 400 or not target:
            raise ApiError("GET", self.url(path), status, "expected a redirect with a Location header")
        return urllib.parse.urljoin(self.url(path), target)

    def download(self, url: str) -> bytes:
        """GET an absolute (presigned) URL without Authorization."""
        _, _, payload = self.request("GET", url, auth=False)
        return payload


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _quarters(value: Any) -> int:
    return int(Decimal(str(value)) * 4)


def _number(quarters: int) -> float | int:
    return quarters // 4 if quarters % 4 == 0 else quarters / 4


def answer_form(questions: list[dict[str, Any]], intended: dict[str, Any]) -> dict[str, Any]:
    """Answer the questions the stack serves, using the plan's answers where they fit."""
    answers: dict[str, Any] = {}
    for question in questions:
        qid, kind = question["id"], question.get("type")
        wanted = intended.get(qid)
        options = question.get("options") or []
        if kind == "scale":
            low, high = question.get("min") or 1, question.get("max") or 5
            value = wanted if isinstance(wanted, int) and not isinstance(wanted, bool) else high - 1
            answers[qid] = max(low, min(high, value))
        elif kind == "yes_no":
            answers[qid] = wanted if wanted in ("yes", "no") else "yes"
        elif kind == "choice":
            if wanted in options:
                answers[qid] = wanted
            elif options:
                answers[qid] = options[0]
        elif kind == "text":
            text = wanted if isinstance(wanted, str) and wanted else intended.get("practice_change")
            if text or question.get("required", True):
                answers[qid] = text or "Apply today's guideline updates in clinic."
        elif wanted is not None:
            answers[qid] = wanted
        trigger = question.get("comment_required_when")
        if trigger is not None and answers.get(qid) == trigger:
            answers[f"{qid}_comment"] = intended.get(f"{qid}_comment") or "See my remarks to the planners."
    return answers


def lowered_claims(me: dict[str, Any], adjustment: ClaimAdjustment) -> dict[str, dict[str, float | int]] | None:
    """Claim everything claimable except `adjustment.sessions` sessions lowered by a quarter step each.

    Reads `claimable` per session (or, before the evaluation gate opens, the computed `credits`).
    None when nothing can be lowered (the learner then claims everything).
    """
    sessions = me.get("sessions") or []
    source = "claimable" if any(any(v for v in (s.get("claimable") or {}).values()) for s in sessions) else "credits"
    claims: dict[str, dict[str, int]] = {}
    for session in sessions:
        for credit_type, amount in (session.get(source) or {}).items():
            if _quarters(amount) > 0:
                claims.setdefault(credit_type, {})[session["session_id"]] = _quarters(amount)
    step = _quarters(adjustment.reduce_by)
    candidates = sorted(
        {sid for per_session in claims.values() for sid, q in per_session.items() if q >= step},
        key=lambda sid: (-max(claims[t].get(sid, 0) for t in claims), sid),
    )
    if not candidates:
        return None
    for sid in candidates[: adjustment.sessions]:
        for per_session in claims.values():
            if per_session.get(sid, 0) >= step:
                per_session[sid] -= step
    return {t: {sid: _number(q) for sid, q in per_session.items()} for t, per_session in claims.items()}


def _add(totals: dict[str, Decimal], amounts: dict[str, Any] | None) -> None:
    for credit_type, amount in (amounts or {}).items():
        totals[credit_type] = totals.get(credit_type, Decimal(0)) + Decimal(str(amount))


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:120] or "message"


class _Demo:
    def __init__(
        self,
        api_url: str,
        organizer_token: str,
        scanner_token: str,
        conference: Conference,
        out_dir: Path,
        log: Log,
        pace: float,
        retries: int = 0,
    ):
        self.organizer = Client(api_url, organizer_token, retries=retries)
        self.scanner = Client(api_url, scanner_token, retries=retries)
        self.public = Client(api_url, retries=retries)
        self.conference = conference
        self.activity_id = conference.activity_id
        self.out_dir = out_dir
        self.log = log
        self.pace = pace
        self.now: datetime | None = None
        self.scans = {"posted": 0, "accepted": 0, "duplicate": 0, "rejected": 0}
        self.rejected_by_reason: dict[str, int] = {}
        self.sessions_ended = 0
        self.evaluations = 0
        self.skipped_no_credit = 0
        self.lowered = 0
        self.errors: list[str] = []
        self.learner_tokens: dict[str, str] = {}

    # -- the stack's clock and pollers ---------------------------------------------------------
    def set_clock(self, moment: datetime) -> None:
        if self.now is not None and moment <= self.now:
            return
        hint = "the stack's clock only moves forward: restart the local stack to replay the demo"
        try:
            answer = self.organizer.post("/_local/clock", {"now": moment.isoformat()}) or {}
        except ApiError as error:
            if self.now is None and error.status is not None and 400 <= error.status < 500:
                raise ApiError(error.method, error.url, error.status, f"{error.body} ({hint})") from None
            raise
        # A stack already later keeps its time: replaying then would finalize every session at
        # once and repeat every scan id, so stop at the first step.
        reported = datetime.fromisoformat(answer["now"]) if answer.get("now") else moment
        if self.now is None and reported - moment > timedelta(minutes=1):
            message = f"clock is at {reported.isoformat()}, after {moment.isoformat()} ({hint})"
            raise ApiError("POST", self.organizer.url("/_local/clock"), 200, message)
        self.now = moment

    def settle(self) -> int:
        answer = self.organizer.post("/_local/settle", {}, timeout=900) or {}
        return int(answer.get("delivered", 0))

    def _function_seconds(self) -> dict[str, float]:
        """Time spent inside each function, busiest first (where a run's time goes)."""
        try:
            busy = (self.organizer.get("/_local/status") or {}).get("busy_seconds") or {}
        except ApiError:
            return {}
        return {k: v for k, v in sorted(busy.items(), key=lambda kv: -kv[1]) if v}

    def _error(self, where: str, error: ApiError) -> None:
        code = error.code or (str(error.status) if error.status else "no answer")
        self.errors.append(f"{where}: {error.status} {code}")
        if len(self.errors) <= 10:
            self.log(f"  ! {where}: {error}")

    # -- steps ----------------------------------------------------------------------------------
    def load_activity(self) -> None:
        c = self.conference
        self.set_clock(c.timeline_start)
        self.organizer.put(f"/activities/{self.activity_id}", c.activity)
        self.log(f"activity {self.activity_id}: {c.expected_session_count} sessions")
        created = updated = 0
        rejected: list[Any] = []
        for chunk in _chunks(c.roster, ROSTER_ROWS_PER_REQUEST):
            answer = self.organizer.post(f"/activities/{self.activity_id}/attendees", chunk)
            created += answer.get("created", 0)
            updated += answer.get("updated", 0)
            rejected += answer.get("rejected", [])
        self.log(f"roster: {created} created, {updated} updated, {len(rejected)} rejected")
        for row in rejected[:5]:
            self.log(f"  ! roster row {row.get('row')}: {row.get('error')}")

    def upload(self, batch: Any) -> None:
        for chunk in _chunks(batch.scans, SCANS_PER_REQUEST):
            try:
                answer = self.scanner.post("/scans", {"activity_id": self.activity_id, "scans": chunk})
            except ApiError as error:
                self._error(f"POST /scans from {batch.device_id}", error)
                continue
            self.scans["posted"] += len(chunk)
            for result in answer.get("results", []):
                status = result.get("status", "unknown")
                self.scans[status] = self.scans.get(status, 0) + 1
                if status == "rejected":
                    reason = result.get("reason") or "unspecified"
                    self.rejected_by_reason[reason] = self.rejected_by_reason.get(reason, 0) + 1
        if batch.backlog:
            self.log(f"{batch.upload_at:%a %H:%M} {batch.device_id} back online: {len(batch.scans)} late scans")

    def learner(self, badge_id: str) -> Client:
        token = self.learner_tokens.get(badge_id)
        if token is None:
            link = self.organizer.get(f"/activities/{self.activity_id}/attendees/{badge_id}/link")["url"]
            token = urllib.parse.urlsplit(link).path.rsplit("/l/", 1)[-1].strip("/")
            self.learner_tokens[badge_id] = token
        return self.public.with_token(token)

    def evaluate(self, plan: EvaluationPlan) -> None:
        try:
            learner = self.learner(plan.badge_id)
            me = learner.get("/me")
            if not any(_quarters(v) for v in (me.get("credits_total") or {}).values()):
                # Faculty of every session they sat in, or scans that covered nothing: nothing to claim.
                self.skipped_no_credit += 1
                return
            form = learner.get("/me/evaluation-form")
            body: dict[str, Any] = {
                "session_id": None,
                "answers": answer_form(form.get("questions", []), plan.answers),
                "claims": None,
                "attest": True,
            }
            if plan.claims is not None:
                body["claims"] = lowered_claims(me, plan.claims)
                self.lowered += body["claims"] is not None
            learner.post("/evaluations", body)
            self.evaluations += 1
        except ApiError as error:
            self._error(f"evaluation of {plan.badge_id}", error)

    def walk_timeline(self) -> None:
        since_settle = 0
        upload_day = None
        evaluations_open = False
        for event in self.conference.timeline():
            if self.pace:
                time.sleep(self.pace)
            if event.kind == "session_end":
                self.set_clock(event.at + timedelta(seconds=1))
                delivered = self.settle()
                self.sessions_ended += 1
                since_settle = 0
                self.log(f"{event.at:%a %H:%M} {event.payload} ended; {delivered} deliveries settled")
                continue
            if event.kind == "evaluation" and not evaluations_open:
                if since_settle:
                    self.settle()
                since_settle = 0
                evaluations_open = True
                planned = len(self.conference.evaluations)
                self.log(f"{event.at:%a %H:%M} evaluations open: {planned} learners plan one")
            self.set_clock(event.at)
            if event.kind == "upload":
                if upload_day != event.at.date():
                    upload_day = event.at.date()
                    self.log(f"{event.at:%a %d %b}: doors open")
                self.upload(event.payload)
                since_settle += 1
                if since_settle >= SETTLE_EVERY_EVENTS:
                    self.settle()
                    since_settle = 0
            elif event.kind == "evaluation":
                self.evaluate(event.payload)
                since_settle += 1
                if since_settle >= SETTLE_EVERY_EVENTS:
                    self.settle()
                    since_settle = 0
                    done, planned = self.evaluations, len(self.conference.evaluations)
                    self.log(f"{event.at:%a %d %b %H:%M} {done}/{planned} evaluations submitted")
        self.set_clock(self.conference.timeline_end)
        self.log(f"timeline done: {self.settle()} deliveries settled")

    def collect(self) -> dict[str, Any]:
        certificates_dir = self.out_dir / "certificates"
        mail_dir = self.out_dir / "mail"
        certificates_dir.mkdir(parents=True, exist_ok=True)
        mail_dir.mkdir(parents=True, exist_ok=True)

        claimed: dict[str, Decimal] = {}
        learners_claimed = certificates = 0
        for plan in self.conference.evaluations:
            try:
                learner = self.learner(plan.badge_id)
                me = learner.get("/me")
                if any(Decimal(str(v)) > 0 for v in (me.get("claimed_total") or {}).values()):
                    learners_claimed += 1
                _add(claimed, me.get("claimed_total"))
                certificate = me.get("certificate")
                if not certificate:
                    continue
                certificate_id, version = certificate["certificate_id"], certificate.get("version", 1)
                url = learner.location(f"/certificates/{urllib.parse.quote(certificate_id)}")
                pdf = self.public.download(url)
                if not pdf.startswith(b"%PDF"):
                    self.errors.append(f"certificate {certificate_id}: download is not a PDF")
                name = f"{_safe_name(certificate_id)}-v{version}.pdf"
                (certificates_dir / name).write_bytes(pdf)
                certificates += 1
            except ApiError as error:
                self._error(f"certificate of {plan.badge_id}", error)
        self.log(f"certificates: {certificates} downloaded to {certificates_dir}")

        everything = (self.organizer.get("/_local/mail") or {}).get("messages", [])
        # Certificate mails carry the PDF; the others are sign-in links (registration, requests).
        messages = [m for m in everything if "application/pdf" in m.get("raw", "")]
        links = [m for m in everything if "application/pdf" not in m.get("raw", "")]
        links_dir = mail_dir / "links"
        links_dir.mkdir(parents=True, exist_ok=True)
        for folder, batch in ((mail_dir, messages), (links_dir, links)):
            for number, message in enumerate(batch, 1):
                name = f"{number:05d}-{_safe_name(str(message.get('message_id', number)))}.eml"
                (folder / name).write_text(message.get("raw", ""), encoding="utf-8")
        self.log(f"mail: {len(messages)} certificate mails written to {mail_dir}, {len(links)} sign-in link mails")

        dashboard = self.organizer.get(f"/activities/{self.activity_id}/dashboard")
        sessions = dashboard.get("sessions", [])
        # The live counts the stream kept, against a recount from the records.
        recount = self.organizer.get(f"/activities/{self.activity_id}/dashboard/recount")
        if not recount.get("consistent"):
            self.errors.append(f"live counts differ from a recount in {len(recount.get('differences') or [])} places")
        self.log(f"dashboard: live counts {'equal' if recount.get('consistent') else 'DIFFER FROM'} a recount")
        return {
            "activity_id": self.activity_id,
            "attendees": len(self.conference.roster),
            "sessions": self.conference.expected_session_count,
            "sessions_ended": self.sessions_ended,
            "sessions_finalized": sum(1 for s in sessions if s.get("finalized")),
            "scans": {**self.scans, "rejected_by_reason": dict(sorted(self.rejected_by_reason.items()))},
            "evaluations": self.evaluations,
            "evaluations_skipped_no_credit": self.skipped_no_credit,
            "lowered_claims": self.lowered,
            "learners_claimed": learners_claimed,
            "credits_claimed": {t: float(v) for t, v in sorted(claimed.items())},
            "certificates": certificates,
            "mails": len(messages),
            "link_mails": len(links),
            "dashboard": dashboard.get("totals", {}),
            "dashboard_equals_recount": bool(recount.get("consistent")),
            "function_seconds": self._function_seconds(),
            "errors": len(self.errors),
            "error_samples": self.errors[:20],
        }


def _with_elapsed_time(log: Log, started: float) -> Log:
    def timed(message: str) -> None:
        log(f"[{time.monotonic() - started:7.1f}s] {message}")

    return timed


def run_demo(
    api_url: str,
    organizer_token: str,
    scanner_token: str,
    *,
    seed: int = 7,
    attendees: int = 300,
    out_dir: Path = Path("out"),
    log: Log = print,
    activity_id: str = "asa-2027",
    pace: float = 0.0,
) -> dict[str, Any]:
    """Replay a simulated conference against the local stack; write `out_dir` and return the summary.

    `pace` sleeps that many seconds between timeline events, to watch the dashboard move.
    """
    started = time.monotonic()
    log = _with_elapsed_time(log, started)
    conference = build_conference(seed=seed, attendees=attendees, activity_id=activity_id)
    log(
        f"conference seed {seed}: {len(conference.roster)} attendees, "
        f"{conference.expected_session_count} sessions, "
        f"{len(conference.scans)} scans in {len(conference.scan_batches)} uploads, "
        f"{len(conference.evaluations)} evaluations"
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    demo = _Demo(api_url, organizer_token, scanner_token, conference, out_dir, log, pace)
    demo.load_activity()
    demo.walk_timeline()
    summary = demo.collect()
    summary["seed"] = seed
    summary["wall_time_seconds"] = round(time.monotonic() - started, 1)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return summary


def _flatten(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        if not value:
            return [(prefix, "-")]
        rows: list[tuple[str, str]] = []
        for key, inner in value.items():
            rows += _flatten(f"{prefix}.{key}" if prefix else str(key), inner)
        return rows
    if isinstance(value, list):
        return [(prefix, str(len(value)))]
    if isinstance(value, float):
        return [(prefix, f"{value:g}")]
    return [(prefix, str(value))]


#: Summary entries too long for the printed table.
SUMMARY_FILE_ONLY = ("error_samples", "local_aws_requests_by_operation")


def format_summary(summary: dict[str, Any]) -> str:
    """A small aligned two-column table of the summary (lists show as their length; the error samples
    and the requests by operation are in summary.json only)."""
    rows = _flatten("", {k: v for k, v in summary.items() if k not in SUMMARY_FILE_ONLY})
    width = max((len(label) for label, _ in rows), default=0)
    value_width = max((len(value) for _, value in rows), default=0)
    lines = [f"{'what'.ljust(width)}  {'value'.rjust(value_width)}", f"{'-' * width}  {'-' * value_width}"]
    lines += [f"{label.ljust(width)}  {value.rjust(value_width)}" for label, value in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`python -m cme_local.demo [--attendees N] [--seed S] [--out DIR] [--config .cme/local.json]`."""
    import argparse

    parser = argparse.ArgumentParser(description="Replay a simulated conference against the local stack.")
    parser.add_argument("--config", type=Path, default=Path(".cme/local.json"))
    parser.add_argument("--attendees", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("out"))
    parser.add_argument("--activity", default="asa-2027")
    parser.add_argument("--pace", type=float, default=0.0)
    args = parser.parse_args(argv)
    config = json.loads(args.config.read_text(encoding="utf-8"))
    try:
        summary = run_demo(
            config["api_url"],
            config["organizer_token"],
            config["scanner_token"],
            seed=args.seed,
            attendees=args.attendees,
            out_dir=args.out,
            activity_id=args.activity,
            pace=args.pace,
        )
    except ApiError as error:
        print(f"demo failed: {error}", file=sys.stderr)
        return 1
    print(format_summary(summary))
    return 0 if not summary["errors"] else 2


if __name__ == "__main__":
    raise SystemExit(main())
