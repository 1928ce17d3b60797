"""`cme bench --only coldstart` with one process for two functions: the shape and sanity of its figures,
never their speed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cme_local import bench, bench_coldstart


@pytest.fixture(scope="module")
def result() -> dict:
    return bench_coldstart.bench_coldstart(processes=1, functions=("public_api", "issue_certificate"))


def test_each_function_is_timed_against_the_boto3_baseline(result):
    assert result["processes"] == 1
    baseline = result["baseline"]
    assert 0 < baseline["interpreter_start_ms_median"] < baseline["ready_ms_median"]
    assert baseline["cpu_ms_median"] > 0
    assert baseline["import_boto3_ms_median"] > 0 and baseline["client_and_call_ms_median"] > 0
    assert baseline["imports_ms"] > 0 and any(entry.startswith("boto") for entry in baseline["largest_imports"])
    assert set(result["functions"]) == {"public_api", "issue_certificate"}
    for name, figures in result["functions"].items():
        assert figures["import_handler_ms_median"] > 0 and figures["first_event_ms_median"] > 0
        assert figures["cpu_ms_median"] > 0 and figures["cpu_ratio"] > 0
        assert figures["import_handler_ms_median"] + figures["first_event_ms_median"] < figures["ready_ms_median"]
        assert figures["ratio"] == pytest.approx(figures["ready_ms_median"] / baseline["ready_ms_median"], abs=0.01)
        assert figures["target"] == (2.5 if name == "issue_certificate" else 1.5)
        assert figures["meets_target"] == (figures["ratio"] <= figures["target"])
        assert figures["imports_ms"] > 0 and figures["largest_imports"]
        # The library floor: the same third-party modules and clients without our code, on the same scale.
        assert figures["library_floor_ratio"] > 0 and figures["over_library_floor"] > 0
        assert figures["ratio"] == pytest.approx(
            figures["library_floor_ratio"] * figures["over_library_floor"], abs=0.03
        )
        assert "dynamodb" in figures["clients"]
        assert {"boto3", "botocore", "aws_lambda_powertools"} <= set(figures["libraries"])
        assert "cme" not in figures["libraries"] and "app" not in figures["libraries"]
    assert "s3" in result["functions"]["issue_certificate"]["clients"]
    # fpdf2 loads cryptography when it finds it (this venv has it for the local stack); a deployment
    # does not ship it, so the issuer's process must not load it either.
    issuer = set(result["functions"]["issue_certificate"]["libraries"])
    assert {"fpdf", "fontTools", "PIL", "segno"} <= issuer and "cryptography" not in issuer
    # The issuer parses its fonts at import; its trace shows fpdf2 among what it loads.
    assert any(entry.startswith("fpdf ") for entry in result["functions"]["issue_certificate"]["largest_imports"])
    assert result["targets_met"] == all(f["meets_target"] for f in result["functions"].values())
    table = bench.format_table({"coldstart": result})
    assert "coldstart.functions.public_api.ratio " in table
    assert "coldstart.baseline.ready_ms_median " in table
    json.dumps(result)  # what `cme bench` writes


def test_every_template_function_has_a_representative_event():
    from cme_local.provision import Provisioner

    folders = {
        str(spec["Properties"]["CodeUri"]).strip("/").split("/")[-1]
        for spec in Provisioner(bench_coldstart.ROOT / "template.yaml").resources.values()
        if spec["Type"] == "AWS::Serverless::Function"
    }
    assert folders and all(hasattr(bench_coldstart.Meeting, f"_{folder}") for folder in folders)


def test_only_what_a_deployment_ships_can_be_imported():
    shipped = bench_coldstart.deployed_distributions()
    assert {"boto3", "botocore", "aws-lambda-powertools", "pydantic", "jinja2", "fpdf2", "fonttools"} <= shipped
    assert not {"moto", "cryptography", "pytest", "reportlab", "cme-credit-pipeline"} & shipped
    blocked = set(bench_coldstart.not_deployed())
    assert {"moto", "cryptography", "pytest", "reportlab", "cme_local"} <= blocked
    assert not {"cme", "boto3", "botocore", "fpdf", "fontTools", "PIL", "pydantic", "jinja2"} & blocked
    # The same restriction for the other benches' child processes (the certificates bench's import).
    probe = (
        "import sys, fpdf\n"
        "assert 'cryptography' not in sys.modules, 'fpdf2 found cryptography'\n"
        "try:\n    import moto\nexcept ModuleNotFoundError:\n    print('refused')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", bench_coldstart.deployed_only() + probe], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "refused"


def test_import_trace_summary_counts_each_module_once():
    trace = "\n".join(
        [
            "import time: self [us] | cumulative | imported package",
            "import time:       300 |        300 |   botocore.utils",
            "import time:       200 |        500 | botocore",
            "import time:      1000 |       1500 | boto3",
            "some log line",
        ]
    )
    total, top = bench_coldstart.largest_imports(trace)
    assert total == pytest.approx(0.0015)
    assert top == ["boto3 1 ms", "botocore 0 ms"]


def test_cli_only_coldstart_writes_it_under_its_key(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench_coldstart, "bench_coldstart", lambda **_: {"processes": 0, "functions": {"x": 1}})
    monkeypatch.setattr(bench, "bench_finalize", lambda **_: pytest.fail("--only coldstart ran finalize"))
    out = tmp_path / "bench.json"
    bench.main(out=out, only="coldstart")
    assert json.loads(out.read_text()) == {"coldstart": {"processes": 0, "functions": {"x": 1}}}
    assert "coldstart.functions.x  1" in capsys.readouterr().out
