"""`cme chaos` with a small meeting, as a process: faults in the functions' AWS calls, every delivery
twice, a crash after a finished batch in every consumer, the certificate issuer down until its messages
reach the DLQ, shuffled and late scans — and afterwards nothing lost, nothing duplicated. The large run
is the command itself (`make chaos`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_a_small_meeting_under_chaos_loses_and_duplicates_nothing(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "cme_local.cli", "chaos", "--attendees", "12", "--seed", "11", "--out", str(tmp_path),
         "--quiet"],
        capture_output=True, text=True, timeout=600,
        # Started from a quiet environment (as after an in-process local stack): the run still logs at INFO.
        env={**os.environ, "POWERTOOLS_LOG_LEVEL": "WARNING"},
    )  # fmt: skip
    summary = json.loads((tmp_path / "chaos.json").read_text())
    checks = summary["checks"]
    # The faults happened...
    faults = summary["faults"]
    assert faults["faults_injected"] > 0 and faults["fault_rate"] == 0.1
    assert {k.split(".")[0] for k in faults["faults_by_service_and_kind"]} >= {"dynamodb", "s3", "eventbridge"}
    assert len(faults["crashed_after_a_batch"]) >= 6
    assert summary["dlq_before_redrive"].get("cme-local-certificatedlq", 0) > 0
    assert summary["redrive"]["moved"] == summary["dlq_before_redrive"]
    # ...and nothing was lost or duplicated.
    assert checks["finalized_sessions"] > 0 and checks["learners_with_credit_claimed"] > 0
    assert checks["credit_rows_wrong"] == []
    assert checks["certificates_wrong"] == []
    assert checks["versions_mailed_twice"] == []
    assert checks["current_versions_neither_mailed_nor_flagged"] == {}
    assert checks["dashboard_differences"] == []
    assert checks["dlq_after_redrive"] == {}
    # The search read the functions' INFO lines (hundreds for this meeting), not a few warnings.
    assert checks["log_lines"] >= 100 and checks["personal_data_in_logs"] == []
    assert summary["passed"] is True and result.returncode == 0, result.stdout[-2000:]
