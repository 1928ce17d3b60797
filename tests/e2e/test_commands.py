"""The two things a user runs: `cme local` (make local) and `cme demo` (make demo), as processes."""

from __future__ import annotations

import email
import email.policy
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal

from pypdf import PdfReader

from builders import roster_rows, worked_example_activity
from stack_support import http

CME = [sys.executable, "-m", "cme_local.cli"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_cme_local_writes_local_json_and_serves_the_contract(tmp_path):
    port = _free_port()
    env = {**os.environ, "CME_NOW": "2027-10-14T07:30:00-05:00"}
    process = subprocess.Popen(
        [*CME, "local", "--port", str(port)], cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        state = tmp_path / ".cme" / "local.json"
        deadline = time.monotonic() + 60
        while not state.exists() and time.monotonic() < deadline:
            assert process.poll() is None, "cme local exited early"
            time.sleep(0.2)
        local = json.loads(state.read_text())
        assert local["api_url"] == f"http://127.0.0.1:{port}"
        assert http("GET", f"{local['api_url']}/health").json == {"status": "ok"}
        # The local scanner token works for any activity right after it is created.
        reply = http(
            "PUT",
            f"{local['api_url']}/activities/asa-2027",
            body=worked_example_activity(),
            token=local["organizer_token"],
        )
        assert reply.status == 201
        http(
            "POST",
            f"{local['api_url']}/activities/asa-2027/attendees",
            body=roster_rows(),
            token=local["organizer_token"],
        )
        scans = {
            "activity_id": "asa-2027",
            "scans": [
                {"scan_id": "c1", "badge_id": "B-1001", "room": "Hall-A", "scanned_at": "2027-10-14T07:29:00-05:00"}
            ],
        }
        reply = http("POST", f"{local['api_url']}/scans", body=scans, token=local["scanner_token"])
        assert reply.json["results"][0]["status"] == "accepted"
        # The clock is CME_NOW: a scan a minute after it is still within the skew, an hour after is not.
        late = dict(scans["scans"][0], scan_id="c2", scanned_at="2027-10-14T08:40:00-05:00")
        reply = http(
            "POST",
            f"{local['api_url']}/scans",
            body={"activity_id": "asa-2027", "scans": [late]},
            token=local["scanner_token"],
        )
        assert reply.json["results"][0]["reason"] == "outside_activity"
        # The background pollers deliver without being asked: the dashboard sees the check-in.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            board = http(
                "GET", f"{local['api_url']}/activities/asa-2027/dashboard", token=local["organizer_token"]
            ).json
            if board["totals"]["checked_in"] == 1:
                break
            time.sleep(0.3)
        assert board["totals"]["checked_in"] == 1 and board["totals"]["inside_now"] == 1
        # `cme recount` finds the running stack from .cme/local.json and agrees with the live counts.
        recount = subprocess.run(
            [*CME, "recount", "asa-2027"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert recount.returncode == 0, recount.stderr
        assert "the live counts equal a recount" in recount.stdout
        detail = subprocess.run(
            [*CME, "recount", "asa-2027", "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert json.loads(detail.stdout)["recount"]["totals"]["checked_in"] == 1
        # The old local dashboard address leads to the product's organizer page.
        moved = http("GET", f"{local['api_url']}/_local/dashboard")
        assert moved.status == 302 and moved.headers["Location"] == "/organizer/"
        assert http("GET", f"{local['api_url']}/organizer/").status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


def test_cme_demo_produces_certificates_and_mails_that_agree(tmp_path):
    out = tmp_path / "out"
    result = subprocess.run(
        [*CME, "demo", "--attendees", "24", "--seed", "3", "--out", str(out), "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["errors"] == 0
    assert summary["sessions_finalized"] == summary["sessions"] >= 12
    # Where the time went: both processes' processor time, and the local AWS served at least a write
    # for each accepted scan.
    assert summary["cpu_seconds"]["stack"] > 0 and summary["cpu_seconds"]["local_aws"] > 0
    assert summary["local_aws_requests"] > summary["scans"]["accepted"] > 0
    by_operation = summary["local_aws_requests_by_operation"]
    assert sum(by_operation.values()) == summary["local_aws_requests"]
    assert by_operation["dynamodb PutItem"] >= summary["scans"]["accepted"]  # each accepted scan's put
    assert "local_aws_requests_by_operation" not in result.stdout  # in summary.json, not the table
    pdfs = sorted((out / "certificates").glob("*.pdf"))
    mails = sorted((out / "mail").glob("*.eml"))
    assert len(pdfs) == summary["certificates"] == summary["dashboard"]["certificates_issued"] > 0
    assert len(mails) == summary["mails"] == summary["dashboard"]["emails_sent"]
    # Every registered attendee got a sign-in link when the roster was imported.
    assert summary["link_mails"] == len(list((out / "mail" / "links").glob("*.eml"))) == summary["attendees"]
    attached = {}
    for path in mails:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        [attachment] = list(message.iter_attachments())
        attached[attachment.get_filename()] = attachment.get_content()
    for pdf in pdfs:
        data = pdf.read_bytes()
        assert data in attached.values(), f"{pdf.name} was not mailed"
        assert "Certificate" in PdfReader(io.BytesIO(data)).pages[0].extract_text()
    claimed = {k: Decimal(str(v)) for k, v in summary["credits_claimed"].items()}
    # (The dashboard also lists the offered types nobody claimed, at zero.)
    assert claimed == {k: Decimal(str(v)) for k, v in summary["dashboard"]["credits_claimed"].items() if v}
    assert summary["dashboard_equals_recount"] is True
    # Nothing personal is printed: the table names no email address.
    assert "@" not in result.stdout
    # No CloudWatch metric lines or library warnings on the terminal.
    assert '"_aws"' not in result.stdout + result.stderr and "Warning" not in result.stderr
