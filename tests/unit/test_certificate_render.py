"""The certificate PDF: wording (cme-facts.md, word for word), metadata, determinism, scripts."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pypdf import PdfReader

from cme.certificates import render
from cme.certificates.render import (
    CertificateDocument,
    TranscriptLine,
    credit_label,
    format_amount,
    render_certificate,
    statements,
)

pytestmark = pytest.mark.unit

PROVIDER = "American College of Cardiovascular Medicine"
URL = "https://cme.example.org/verify/CERT-7F3K9Q2M?version=2"

# The statements of cme-facts.md with this test's names filled in, written out in full here so a
# wording change in render.py cannot pass unnoticed.
ACCME = (
    "The American College of Cardiovascular Medicine is accredited by the Accreditation Council for "
    "Continuing Medical Education (ACCME) to provide continuing medical education for physicians."
)
AMA_LIVE = (
    "The American College of Cardiovascular Medicine designates this live activity for a maximum of "
    "21.5 AMA PRA Category 1 Credits™. Physicians should claim only the credit commensurate with the "
    "extent of their participation in the activity."
)
JOINT = (
    "This activity has been planned and implemented in accordance with the accreditation requirements "
    "and policies of the Accreditation Council for Continuing Medical Education (ACCME) through the "
    "joint providership of American College of Cardiovascular Medicine and Midwest Heart Rhythm Society. "
    "The American College of Cardiovascular Medicine is accredited by the ACCME to provide continuing "
    "medical education for physicians."
)
ABIM = (
    "Successful completion of this CME activity, which includes participation in the evaluation "
    "component, enables the participant to earn up to 21.5 MOC points in the American Board of Internal "
    "Medicine's (ABIM) Maintenance of Certification (MOC) program. Participants will earn MOC points "
    "equivalent to the amount of CME credits claimed for the activity. It is the CME activity "
    "provider's responsibility to submit participant completion information to ACCME for the purpose "
    "of granting ABIM MOC credit."
)
ANCC = (
    "American College of Cardiovascular Medicine is accredited as a provider of nursing continuing "
    "professional development by the American Nurses Credentialing Center's Commission on Accreditation."
)
JA = (
    "In support of improving patient care, American College of Cardiovascular Medicine is jointly "
    "accredited by the Accreditation Council for Continuing Medical Education (ACCME), the Accreditation "
    "Council for Pharmacy Education (ACPE), and the American Nurses Credentialing Center (ANCC), to "
    "provide continuing education for the healthcare team."
)
PARTICIPATION = "This activity was designated for 21.5 AMA PRA Category 1 Credits™."

NAMES = ["Ana Pérez", "Łukasz Żółć", "Σοφία Παπαδοπούλου", "Дмитрий Иванов"]


def make_doc(**changes: object) -> CertificateDocument:
    doc = CertificateDocument(
        certificate_id="CERT-7F3K9Q2M",
        version=2,
        kind="physician",
        learner_name="Ana Pérez",
        degree="MD",
        provider_name=PROVIDER,
        joint_provider=None,
        provider_address="2400 N Street NW, Washington, DC 20037",
        activity_title="Annual Scientific Sessions 2025: Advances in Heart Failure",
        activity_format="live",
        location="McCormick Place, Chicago, IL",
        starts_on=date(2025, 3, 3),
        ends_on=date(2025, 3, 5),
        credits_claimed={"AMA_PRA_1": Decimal("3.5")},
        designated_max={"AMA_PRA_1": Decimal("21.5")},
        participation_hours=None,
        moc_boards=["ABIM"],
        moc_points=Decimal("3.5"),
        issued_at=datetime(2025, 3, 6, 14, 30, tzinfo=UTC),
        verify_url=URL,
        sessions=[
            TranscriptLine(
                "Opening plenary: heart failure in 2025", date(2025, 3, 3), 90, {"AMA_PRA_1": Decimal("1.5")}
            ),
            TranscriptLine("Atrial fibrillation in the elderly", date(2025, 3, 4), 60, {"AMA_PRA_1": Decimal("1")}),
            TranscriptLine("Interventional update", date(2025, 3, 5), 60, {"AMA_PRA_1": Decimal("1")}),
        ],
    )
    return replace(doc, **changes) if changes else doc


def nursing_doc(**changes: object) -> CertificateDocument:
    fields: dict[str, object] = dict(
        kind="nursing", degree="RN", credits_claimed={"ANCC": Decimal("3.25")},
        designated_max={"AMA_PRA_1": Decimal("21.5"), "ANCC": Decimal("20")}, moc_points=None,
        sessions=[TranscriptLine("Opening plenary", date(2025, 3, 3), 90, {"ANCC": Decimal("1.5")})],
    )  # fmt: skip
    return make_doc(**{**fields, **changes})


def participation_doc(**changes: object) -> CertificateDocument:
    fields: dict[str, object] = dict(
        kind="participation", degree="PA-C", credits_claimed={"AAPA_1": Decimal("3.5")},
        participation_hours=Decimal("3.5"), moc_points=None,
        sessions=[TranscriptLine("Opening plenary", date(2025, 3, 3), 90, {"AAPA_1": Decimal("1.5")})],
    )  # fmt: skip
    return make_doc(**{**fields, **changes})


def flat(text: str) -> str:
    """Whitespace and line breaks collapsed (justified lines carry extra spaces)."""
    return " ".join(text.split())


def read(pdf: bytes) -> tuple[PdfReader, list[str]]:
    reader = PdfReader(io.BytesIO(pdf))
    return reader, [flat(page.extract_text()) for page in reader.pages]


@pytest.fixture(scope="module")
def physician() -> tuple[bytes, PdfReader, list[str]]:
    pdf = render_certificate(make_doc())
    reader, pages = read(pdf)
    return pdf, reader, pages


def test_physician_certificate_carries_what_a_certificate_must(physician) -> None:
    _, reader, pages = physician
    assert len(reader.pages) == 2
    first = pages[0]
    for expected in (
        "Certificate of Completion", "Ana Pérez, MD", PROVIDER, "2400 N Street NW, Washington, DC 20037",
        "Annual Scientific Sessions 2025: Advances in Heart Failure",
        "Live activity · McCormick Place, Chicago, IL · March 3–5, 2025",
        "3.5 AMA PRA Category 1 Credits™", "3.5 MOC points (ABIM)",
        "Issued March 6, 2025", "Certificate ID CERT-7F3K9Q2M", "Version 2", URL,
    ):  # fmt: skip
        assert expected in first, expected
    assert "has completed the live activity" in first


def test_physician_statements_word_for_word(physician) -> None:
    first = physician[2][0]
    for statement in (ACCME, AMA_LIVE, ABIM):
        assert statement in first
    assert statements(make_doc()) == [ACCME, AMA_LIVE, ABIM]
    assert "joint providership" not in first
    assert "Category 1 credit" not in first and "ACCME credit" not in first


def test_transcript_page(physician) -> None:
    second = physician[2][1]
    assert second.startswith("Transcript Ana Pérez, MD")
    assert "AMA PRA Category 1 Credits™" in second
    assert "2025-03-03 Opening plenary: heart failure in 2025 90 1.5" in second
    assert "2025-03-04 Atrial fibrillation in the elderly 60 1" in second
    assert "Total 210 3.5" in second
    assert "Page 2 of 2" in second and "Page 1 of 2" in physician[2][0]


def test_metadata(physician) -> None:
    meta = physician[1].metadata
    assert meta.title == "CME certificate: Annual Scientific Sessions 2025: Advances in Heart Failure"
    assert meta.author == PROVIDER
    assert meta.subject == "Certificate of Completion for Ana Pérez, MD, certificate CERT-7F3K9Q2M version 2"
    assert meta.creator == "cme-credit-pipeline"
    assert meta.creation_date == datetime(2025, 3, 6, 14, 30, tzinfo=UTC)
    assert meta.producer.startswith("fpdf2 2.")


def test_letter_landscape_by_default_and_a4_on_request(physician) -> None:
    box = physician[1].pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (792, 612)
    reader, _ = read(render_certificate(make_doc(paper="a4")))
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (842, 595)


def test_verification_link_and_qr_code(physician) -> None:
    import segno

    page = physician[1].pages[0]
    links = {a.get_object()["/A"]["/URI"] for a in page["/Annots"]}
    assert links == {URL}
    (image,) = page.images
    pixels = image.image.convert("L")
    matrix = segno.make(URL, error="m", micro=False).matrix
    modules = len(matrix)
    step = pixels.width / modules
    assert pixels.width == pixels.height
    decoded = [
        [pixels.getpixel((int((x + 0.5) * step), int((y + 0.5) * step))) < 128 for x in range(modules)]
        for y in range(modules)
    ]
    assert decoded == [[bool(v) for v in row] for row in matrix]


def test_same_document_same_bytes(physician) -> None:
    pdf = physician[0]
    assert render_certificate(make_doc()) == pdf
    assert render_certificate(make_doc(version=3, verify_url=URL.replace("=2", "=3"))) != pdf


def test_joint_providership_replaces_accreditation_statement() -> None:
    doc = make_doc(joint_provider="Midwest Heart Rhythm Society")
    _, pages = read(render_certificate(doc))
    assert JOINT in pages[0]
    assert ACCME not in pages[0]
    assert AMA_LIVE in pages[0]
    assert "in joint providership with Midwest Heart Rhythm Society" in pages[0]


def test_enduring_material_and_single_credit() -> None:
    doc = make_doc(activity_format="enduring", designated_max={"AMA_PRA_1": Decimal("1")},
                   credits_claimed={"AMA_PRA_1": Decimal("1")}, moc_boards=[])  # fmt: skip
    _, pages = read(render_certificate(doc))
    assert (
        "The American College of Cardiovascular Medicine designates this enduring material for a maximum "
        "of 1 AMA PRA Category 1 Credit™. Physicians should claim only the credit commensurate with the "
        "extent of their participation in the activity."
    ) in pages[0]
    assert "1 AMA PRA Category 1 Credit™" in pages[0]
    assert "Enduring material ·" in pages[0]


def test_moc_statement_only_with_abim() -> None:
    for boards in ([], ["ABP"]):
        _, pages = read(render_certificate(make_doc(moc_boards=boards)))
        assert "Maintenance of Certification" not in pages[0]
    _, pages = read(render_certificate(make_doc(moc_boards=["ABP", "ABIM"])))
    assert ABIM in pages[0]


def test_nursing_certificate() -> None:
    doc = nursing_doc()
    _, pages = read(render_certificate(doc))
    first = pages[0]
    assert "Certificate of Attendance" in first
    assert "Nursing Continuing Professional Development" in first
    assert "Ana Pérez, RN" in first and "2400 N Street NW, Washington, DC 20037" in first
    assert "3.25 ANCC contact hours" in first
    assert ANCC in first
    assert statements(doc) == [ANCC]
    for physician_only in ("designates this", "AMA PRA", "Physicians should claim", "MOC", ACCME):
        assert physician_only not in first, physician_only
    assert "ANCC contact hours" in pages[1] and "Total 90 1.5" in pages[1]


def test_jointly_accredited_nursing_certificate_carries_the_ja_statement() -> None:
    _, pages = read(render_certificate(nursing_doc(jointly_accredited=True)))
    assert JA in pages[0]
    assert "Commission on Accreditation" not in pages[0]


def test_participation_certificate() -> None:
    doc = participation_doc()
    _, pages = read(render_certificate(doc))
    first = pages[0]
    assert "Certificate of Participation" in first
    assert "has participated in the live activity" in first
    assert "3.5 AAPA Category 1 CME credits" in first and "3.5 hours of participation" in first
    assert ACCME in first
    assert f"{PARTICIPATION} Hours of participation: 3.5." in first
    for physician_only in ("designates this", "Physicians should claim", "Maintenance of Certification"):
        assert physician_only not in first, physician_only


@pytest.mark.parametrize("name", NAMES)
def test_names_in_latin_greek_and_cyrillic(name: str) -> None:
    pdf = render_certificate(make_doc(learner_name=name))
    reader, pages = read(pdf)
    assert f"{name}, MD" in pages[0]
    assert f"Transcript {name}, MD" in pages[1]
    assert reader.metadata.subject.startswith(f"Certificate of Completion for {name}, MD")
    fonts = {f.get_object()["/BaseFont"] for f in reader.pages[0]["/Resources"]["/Font"].values()}
    assert all("Core" in font for font in fonts), "no fallback face needed for these scripts"


def test_characters_outside_the_core_faces_use_the_full_dejavu_fallback() -> None:
    name = "Արամ Պետրոսյան"
    reader, pages = read(render_certificate(make_doc(learner_name=name)))
    assert f"{name}, MD" in pages[0]
    fonts = {f.get_object()["/BaseFont"] for f in reader.pages[0]["/Resources"]["/Font"].values()}
    assert any("Core" not in font for font in fonts)


def test_decomposed_accents_are_composed() -> None:
    doc = make_doc(learner_name="Ana Pe\u0301rez")
    assert doc.learner_name == "Ana Pérez"
    _, pages = read(render_certificate(doc))
    assert "Ana Pérez, MD" in pages[0]


def test_long_texts_stay_on_page_one(caplog: pytest.LogCaptureFixture) -> None:
    doc = make_doc(
        learner_name="Maria Fernanda de los Ángeles Rodríguez-Castellanos y Villaseñor",
        degree="MD, PhD, FACC",
        joint_provider="The Midwest Society for Cardiac Rhythm Management and Electrophysiology Foundation",
        activity_title=(
            "Annual Scientific Sessions 2025 of the American College of Cardiovascular Medicine: "
            "Advances in Heart Failure, Arrhythmia, Imaging, Prevention and Interventional Cardiology "
            "for the Whole Care Team"
        ),
        credits_claimed={"AMA_PRA_1": Decimal("21.5"), "IPCE": Decimal("21.5"), "ACPE": Decimal("6")},
    )
    with caplog.at_level("WARNING", logger="cme.certificates.render"):
        reader, pages = read(render_certificate(doc))
    assert not caplog.records, "statements overflowed or glyphs were missing"
    assert len(reader.pages) == 2
    for text in statements(doc):
        assert text in pages[0]
    assert "Certificate ID CERT-7F3K9Q2M" in pages[0]


def test_many_sessions_continue_the_transcript_on_more_pages() -> None:
    lines = [TranscriptLine(f"Session {i}", date(2025, 3, 3), 30, {"AMA_PRA_1": Decimal("0.5")}) for i in range(80)]
    reader, pages = read(render_certificate(make_doc(sessions=lines)))
    assert len(reader.pages) > 2
    assert "Total 2400 40" in pages[-1]
    assert all("Date Session Minutes" in page for page in pages[1:]), "headings repeat"


def test_ama_credit_is_never_printed_for_non_physicians() -> None:
    claimed = {"AMA_PRA_1": Decimal("3.5"), "AAPA_1": Decimal("3.5"), "PARTICIPATION": Decimal("3.5")}
    sessions = [TranscriptLine("Opening plenary", date(2025, 3, 3), 90, {"AMA_PRA_1": Decimal("1.5")})]
    _, pages = read(render_certificate(participation_doc(credits_claimed=claimed, sessions=sessions)))
    assert "3.5 AAPA Category 1 CME credits" in pages[0]
    assert "3.5 AMA PRA" not in pages[0]
    assert "AMA PRA" not in pages[1]
    _, pages = read(render_certificate(nursing_doc(credits_claimed={"AMA_PRA_1": Decimal("3"), "ANCC": Decimal("3")})))
    assert "AMA PRA" not in " ".join(pages)


def test_invalid_documents_are_rejected() -> None:
    with pytest.raises(ValueError, match="AMA_PRA_1"):
        make_doc(designated_max={})
    with pytest.raises(ValueError, match="ends_on"):
        make_doc(ends_on=date(2025, 3, 1))


def test_wording_helpers() -> None:
    assert format_amount(Decimal("3.50")) == "3.5"
    assert format_amount(Decimal("10.00").normalize()) == "10"  # 1E+1 must not leak out
    assert format_amount(Decimal("0.25")) == "0.25"
    assert credit_label("AMA_PRA_1", Decimal("1")) == "1 AMA PRA Category 1 Credit™"
    assert credit_label("AMA_PRA_1", Decimal("2.25")) == "2.25 AMA PRA Category 1 Credits™"
    assert credit_label("ANCC", Decimal("1")) == "1 ANCC contact hour"
    assert credit_label("IPCE", Decimal("3")) == "3 IPCE credits"
    assert credit_label("AAPA_1", Decimal("3")) == "3 AAPA Category 1 CME credits"
    assert credit_label("PARTICIPATION", Decimal("3.5")) == "3.5 hours of participation"
    assert credit_label("ACPE", Decimal("2")) == "2 ACPE contact hours"
    assert render.format_dates(date(2025, 3, 30), date(2025, 4, 2)) == "March 30 – April 2, 2025"
    assert render.format_dates(date(2025, 3, 3), date(2025, 3, 3)) == "March 3, 2025"


def test_fpdf2_font_internals_match_the_clone_logic() -> None:
    """Fails when an fpdf2 upgrade changes TTFFont: re-check `_FontCache.attach`, then update."""
    from fpdf.fonts import TTFFont

    assert frozenset(TTFFont.__slots__) == render.KNOWN_TTFFONT_SLOTS


def test_fonts_are_read_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins
    import pathlib

    render.warm_up()
    render_certificate(make_doc(learner_name="Արամ"))  # parses the fallback faces too

    def no_disk(*args: object, **kwargs: object) -> None:
        raise AssertionError("a font file was read again")

    monkeypatch.setattr(pathlib.Path, "read_bytes", no_disk)
    monkeypatch.setattr(pathlib.Path, "open", no_disk)
    monkeypatch.setattr(builtins, "open", no_disk)
    assert render_certificate(make_doc(learner_name="Արամ")).startswith(b"%PDF")
    assert render_certificate(make_doc()).startswith(b"%PDF")


def test_core_faces_cover_the_required_scripts() -> None:
    cmap = render._FONTS.cmap(render.PRIMARY_FACES[0])
    for text in (*NAMES, "™–—“”‘’•…€", "Nguyễn Thị Hạnh", "Ångström Øresund Şişli Dvořák"):
        assert all(ord(ch) in cmap for ch in text if not ch.isspace()), text


def test_importing_render_loads_neither_fpdf_nor_boto3() -> None:
    code = (
        "import sys, cme.certificates.render as r; "
        "assert 'fpdf' not in sys.modules and 'boto3' not in sys.modules, 'eager import'; "
        "r.warm_up(); assert 'boto3' not in sys.modules, 'boto3'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.skipif(not shutil.which("qpdf"), reason="qpdf not installed: PDF structure check skipped")
def test_qpdf_finds_no_structural_problem(physician, tmp_path) -> None:
    path = tmp_path / "certificate.pdf"
    path.write_bytes(physician[0])
    result = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No syntax or stream encoding errors" in result.stdout


@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="pdftoppm not installed: rasterising skipped")
def test_poppler_rasterises_page_one_without_complaint(physician, tmp_path) -> None:
    path = tmp_path / "certificate.pdf"
    path.write_bytes(physician[0])
    result = subprocess.run(
        ["pdftoppm", "-r", "40", "-f", "1", "-l", "1", "-png", str(path), str(tmp_path / "page")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0 and not result.stderr, result.stderr
    assert (tmp_path / "page-1.png").stat().st_size > 1000
