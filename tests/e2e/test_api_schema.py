"""Every operation of the OpenAPI document (shared/cme/openapi.yaml), driven by schemathesis over HTTP against
the local stack with the right credentials per route: whatever a client sends, no 5xx, a documented status, a
documented content type, and a body and headers matching the documented schema.

Examples per operation: `CME_SCHEMA_EXAMPLES` (default 12, about 45 s on 2 cores); `CME_SCHEMA_COVERAGE=1` adds
schemathesis' coverage phase (boundary values of every parameter and field, about 40 s more). A longer run is
`CME_SCHEMA_COVERAGE=1 CME_SCHEMA_EXAMPLES=200 .venv/bin/python -m pytest tests/e2e/test_api_schema.py -q`
(`make fuzz`). Each operation draws valid and invalid requests (schemathesis' positive and negative modes);
path parameters, the scan batch's activity, the form's CSRF token and the learner's token are mostly swapped
for those of a real meeting (a certificate issued), so the requests reach past "no such activity" into the
handlers' own checks.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from builders import answers, at, roster_rows, scan, worked_example_activity
from stack_support import http, new_activity_id

pytestmark = pytest.mark.e2e

DOCUMENT = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "cme", "openapi.yaml")
EXAMPLES = int(os.environ.get("CME_SCHEMA_EXAMPLES", "12"))
COVERAGE = os.environ.get("CME_SCHEMA_COVERAGE") == "1"
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": int(os.environ.get("CME_SCHEMA_SEED", "20271014")),
        "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large", "large_base_example"],
        "generation": {"max-examples": EXAMPLES, "mode": "all", "no-shrink": True},
        "phases": {
            # Boundary values of every parameter and field; methods a route does not have are API Gateway's
            # answer (the local front's differs), not the product's.
            "coverage": {"enabled": COVERAGE, "unexpected-methods": []},
            "stateful": {"enabled": False},
        },
        "request-timeout": 60,
    }
)
schema = schemathesis.openapi.from_path(DOCUMENT, config=CONFIG)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
BADGE = "B-1001"


class Meeting:
    """`cme local` as a process of its own (what the fuzzing writes stays there, and nothing of this process
    points at it), with the worked-example meeting: the agenda, the roster, a morning of scans, and
    B-1001's evaluation and certificate. Everything goes over HTTP, as a client's requests would."""

    def __init__(self, directory: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cme_local.cli", "local", "--port", str(port), "--now", at("07:00")],
            cwd=directory,
            stdout=subprocess.DEVNULL,
        )
        state = directory / ".cme" / "local.json"
        deadline = time.monotonic() + 120
        while not state.exists():
            assert self.process.poll() is None and time.monotonic() < deadline, "cme local did not start"
            time.sleep(0.2)
        local = json.loads(state.read_text())
        self.url: str = local["api_url"]
        self.organizer: str = local["organizer_token"]
        self.scanner: str = local["scanner_token"]
        self.activity_id = new_activity_id()
        self._seed()

    def _seed(self) -> None:
        url, organizer = self.url, self.organizer
        put = http("PUT", f"{url}/activities/{self.activity_id}", body=worked_example_activity(), token=organizer)
        assert put.status == 201, put.body
        roster = http(
            "POST",
            f"{url}/activities/{self.activity_id}/attendees?send_links=false",
            body=roster_rows(),
            token=organizer,
        )
        assert roster.status == 200, roster.body
        assert http("POST", f"{url}/_local/clock", body={"now": at("12:30")}).status == 200
        scans = [scan("e1", BADGE, "Hall-A", "07:50"), scan("e2", BADGE, "Room-201", "09:50")]
        body = {"activity_id": self.activity_id, "scans": scans}
        assert http("POST", f"{url}/scans", body=body, token=self.scanner).status == 200
        assert http("POST", f"{url}/_local/settle").status == 200
        link = http("GET", f"{url}/activities/{self.activity_id}/attendees/{BADGE}/link", token=organizer)
        self.learner = str(link.json["url"].rsplit("/l/", 1)[1])
        evaluation = {"answers": answers(), "attest": True}
        assert http("POST", f"{url}/evaluations", body=evaluation, token=self.learner).status == 202
        assert http("POST", f"{url}/_local/settle").status == 200
        me = http("GET", f"{url}/me", token=self.learner).json
        self.certificate_id = str(me["certificate"]["certificate_id"])
        page = http("GET", f"{url}/l/evaluation", headers={"Cookie": f"cme_session={self.learner}"})
        found = re.search(r'name="csrf" value="([^"]+)"', page.body.decode())
        assert found, page.body[:200]
        self.csrf = found.group(1)
        self.session = requests.Session()

    def stop(self) -> None:
        self.session.close()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def real(self, name: str) -> str | None:
        return {
            "activity_id": self.activity_id,
            "badge_id": BADGE,
            "session_id": "S1",
            "certificate_id": self.certificate_id,
            "token": self.learner,
        }.get(name)


@pytest.fixture(scope="module")
def meeting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Meeting]:
    local = Meeting(tmp_path_factory.mktemp("api-schema"))
    yield local
    local.stop()


def _mostly(case: Any, salt: str) -> bool:
    """Two requests in three get the real meeting's values (stable for a given generated request)."""
    return zlib.crc32(f"{salt}{case.path_parameters}{case.query}".encode()) % 3 != 0


def _aim_at_the_meeting(case: Any, meeting: Meeting) -> None:
    for name in list(case.path_parameters or {}):
        real = meeting.real(name)
        if real is not None and _mostly(case, name):
            case.path_parameters[name] = real
    if case.operation.path == "/scans" and isinstance(case.body, dict) and _mostly(case, "scans"):
        case.body["activity_id"] = meeting.activity_id
    if case.operation.path == "/scanner/setup" and _mostly(case, "setup"):
        case.query = {**(case.query or {}), "activity_id": meeting.activity_id}
    if case.operation.path.startswith("/l/evaluation") and isinstance(case.body, dict) and _mostly(case, "csrf"):
        case.body["csrf"] = meeting.csrf  # past the CSRF check, into the form's own


def _credentials(case: Any, meeting: Meeting) -> tuple[dict[str, str], dict[str, str]]:
    """(headers, cookies) the operation's security asks for, from the local stack."""
    security = case.operation.definition.raw.get("security") or []
    schemes = {name for requirement in security for name in requirement}
    if "organizerJwt" in schemes:
        return {"Authorization": f"Bearer {meeting.organizer}"}, {}
    if "scannerDevice" in schemes:
        return {"Authorization": f"Bearer {meeting.scanner}"}, {}
    if "learnerBearer" in schemes:
        return {"Authorization": f"Bearer {meeting.learner}"}, {}
    if "learnerCookie" in schemes:
        return {}, {"cme_session": meeting.learner}
    return {}, {}


@schema.parametrize()
def test_no_request_gets_a_5xx_or_an_undocumented_answer(case: Any, meeting: Meeting) -> None:
    _aim_at_the_meeting(case, meeting)
    headers, cookies = _credentials(case, meeting)
    case.call_and_validate(
        base_url=meeting.url, session=meeting.session, headers=headers, cookies=cookies, checks=CHECKS
    )
