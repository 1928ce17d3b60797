"""`cme bench --only certificates` with two rounds: the shape and sanity of its figures, never its speed."""

from __future__ import annotations

import io
import json
import re

import pytest
from pypdf import PdfReader

from cme.certificates import render

pytestmark = pytest.mark.unit

pytest.importorskip("reportlab", reason="reportlab (the `bench` and `dev` extras) is not installed")

from cme_local import bench, bench_certificates  # noqa: E402 (after the skip)


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() or "" for page in reader.pages))


@pytest.fixture(scope="module")
def result() -> dict:
    return bench_certificates.bench_certificates(rounds=2, import_processes=1)


def test_both_renderings_are_complete_pdfs_of_the_same_certificate():
    doc = bench_certificates.certificate_document()
    ours = render.render_certificate(doc)
    theirs = bench_certificates.render_reportlab(doc)
    for pdf in (ours, theirs):
        assert pdf.startswith(b"%PDF-") and len(PdfReader(io.BytesIO(pdf)).pages) == 2
    text = _text(theirs)
    assert doc.learner_name in text
    ama = next(s for s in render.statements(doc) if "designates this live activity" in s)
    assert ama in text
    for statement in render.statements(doc):
        assert statement in text
    for line in doc.sessions:
        assert line.title in text
    assert doc.certificate_id in text and "Page 2 of 2" in text
    fonts = {
        str(font.get_object()["/BaseFont"])
        for page in PdfReader(io.BytesIO(theirs)).pages
        for font in page["/Resources"]["/Font"].values()
    }
    assert fonts and all("DejaVu" in f for f in fonts)  # the same faces, embedded


def test_the_benchmark_reports_every_figure(result, tmp_path):
    assert result["rounds"] == 2
    for key in ("fpdf2", "reportlab"):
        assert result[f"{key}_seconds_per_certificate_median"] > 0
        assert result[f"{key}_certificates_per_second"] > 0
    assert result["fpdf2_over_reportlab_time_ratio"] > 0
    assert result["fpdf2_over_reportlab_time_ratio_paired_median"] > 0
    latin = result["latin"]
    assert latin["supported"] is True and latin["name"] == bench_certificates.NAMES["latin"]
    assert latin["pdf_bytes_fpdf2"] > 0 and latin["pdf_bytes_reportlab"] > 0
    for script in ("cjk", "arabic"):
        entry = result[script]
        assert entry["name"] == bench_certificates.NAMES[script] and entry["note"]
        if entry["supported"]:
            assert entry["pdf_bytes_fpdf2"] > 0 and entry["fpdf2_seconds_per_certificate_median"] > 0
        else:
            assert "pdf_bytes_fpdf2" not in entry
    imports = result["issuer_import"]
    assert imports["processes"] == 1
    # The handler warms up during its import (Lambda's init phase): nothing is left to warm after it.
    assert imports["handler_warms_up_at_import"] is True and imports["warm_up_seconds_median"] >= 0
    for key in (
        "import_handler_seconds_median",
        "import_handler_and_warm_up_seconds_median",
        "boto3_import_and_client_seconds_median",
        "import_handler_over_boto3_ratio",
        "import_handler_and_warm_up_over_boto3_ratio",
    ):
        assert imports[key] > 0, key
    assert imports["largest_imports"]

    table = bench.format_table({"certificates": result})
    assert "certificates.fpdf2_over_reportlab_time_ratio " in table
    assert "certificates.latin.pdf_bytes_reportlab " in table
    json.dumps(result)  # what `cme bench` writes


def test_a_script_without_glyphs_is_reported_not_measured():
    check = bench_certificates.check_script(bench_certificates.certificate_document("𓀀𓀁 Smith"))
    assert check["supported"] is False and check["note"]


def test_cli_only_certificates_writes_them_under_their_key(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench_certificates, "bench_certificates", lambda **_: {"rounds": 0, "latin": {"x": 1}})
    monkeypatch.setattr(bench, "bench_finalize", lambda **_: pytest.fail("--only certificates ran finalize"))
    out = tmp_path / "bench.json"
    bench.main(out=out, only="certificates")
    assert json.loads(out.read_text()) == {"certificates": {"rounds": 0, "latin": {"x": 1}}}
    assert "certificates.latin.x  1" in capsys.readouterr().out
