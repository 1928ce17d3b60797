"""The certificate PDF: wording (cme-facts.md, word for word), metadata, determinism, scripts."""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

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

    import uharfbuzz

    render.warm_up()
    every_script = "Արամ محمد דוד 张伟 镕 𠮷"  # DejaVu, Arabic and Hebrew (shaped), the three CJK tiers
    render_certificate(make_doc(learner_name="Արամ"))  # parses the fallback faces too
    render_certificate(make_doc(learner_name=every_script))

    def no_disk(*args: object, **kwargs: object) -> None:
        raise AssertionError("a font file was read again")

    monkeypatch.setattr(pathlib.Path, "read_bytes", no_disk)
    monkeypatch.setattr(pathlib.Path, "open", no_disk)
    monkeypatch.setattr(builtins, "open", no_disk)
    monkeypatch.setattr(uharfbuzz.Blob, "from_file_path", no_disk)  # fpdf2's own way to HarfBuzz
    assert render_certificate(make_doc(learner_name="Արամ")).startswith(b"%PDF")
    assert render_certificate(make_doc(learner_name=every_script)).startswith(b"%PDF")
    assert render_certificate(make_doc()).startswith(b"%PDF")


def test_primary_faces_are_used_as_shipped_without_compiling_them_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The primary faces are cut for the renderer (build_core_fonts.py): loading them at a cold start
    compiles nothing. A face rebuilt without that cut would be compiled again in every cold start."""
    from fontTools.ttLib import TTFont

    saved: list[object] = []
    monkeypatch.setattr(TTFont, "save", lambda self, *a, **k: saved.append(self))
    cache = render._FontCache()
    for face in render.PRIMARY_FACES:
        cache.cmap(face)
        assert cache._bytes[face] == (render.FONT_DIR / face.filename).read_bytes()
    assert saved == []


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


def need_tool(name: str) -> None:
    """Skip (visibly) without the Debian tool, but fail in CI, where .ci/run installs it."""
    if shutil.which(name):
        return
    package = "qpdf" if name == "qpdf" else "poppler-utils"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} is required in CI: apt-get install {package}")
    pytest.skip(f"{name} not installed (apt-get install {package}): check skipped")


def qpdf_check(pdf: bytes, tmp_path: Path) -> None:
    need_tool("qpdf")
    path = tmp_path / "check.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No syntax or stream encoding errors" in result.stdout


def rasterise(pdf: bytes, tmp_path: Path, resolution: int = 50) -> list[Path]:
    """Every page as PNG with pdftoppm, which must not complain (it reports missing or broken fonts)."""
    need_tool("pdftoppm")
    path = tmp_path / "raster.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(
        ["pdftoppm", "-r", str(resolution), "-png", str(path), str(tmp_path / "page")], capture_output=True, text=True
    )
    assert result.returncode == 0 and not result.stderr, result.stderr
    pages = sorted(tmp_path.glob("page-*.png"))
    assert pages and all(page.stat().st_size > 1000 for page in pages)
    return pages


def test_qpdf_finds_no_structural_problem(physician, tmp_path) -> None:
    qpdf_check(physician[0], tmp_path)


def test_poppler_rasterises_page_one_without_complaint(physician, tmp_path) -> None:
    rasterise(physician[0], tmp_path, resolution=40)


# --------------------------------------------------------------------------------------------------
# Names (and titles, providers, sessions) in every script
# --------------------------------------------------------------------------------------------------

SCRIPT_NAMES = {
    "latin": "Zoë Ångström-Ñúñez",
    "vietnamese": "Nguyễn Thị Minh Khai",
    "greek": "Σοφία Παπαδοπούλου",
    "cyrillic": "Дмитрий Иванов",
    "chinese-simplified": "张伟",
    "chinese-traditional": "王小明 (臺灣)",
    "japanese-kanji": "山田 太郎",
    "japanese-kana": "さくら・タナカ",
    "korean": "김민준",
    "arabic": "محمد عبد الله",
    "hebrew": "דוד כהן",
    # 镕 (U+9555, as in 朱镕基) is in none of GB 2312, Big5 level 1, JIS X 0208: the rare CJK tier.
    "rare-hanzi": "朱镕基",
    # 𠮷 (U+20BB7, Extension B) as in Japanese family names: the supplementary-plane tier.
    "extension-b": "𠮷田 花子",
}
BIDI_CONTROLS = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


def pdftotext(pdf: bytes, tmp_path: Path) -> list[str]:
    """Each page's text from poppler, with bidi embedding marks removed and whitespace collapsed."""
    need_tool("pdftotext")
    path = tmp_path / "text.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True)
    return [flat(page.translate(BIDI_CONTROLS)) for page in result.stdout.split("\f")]


def _cmap_entries(cmap: str, section: str) -> list[tuple[str, str]]:
    blocks = re.findall(rf"begin{section}(.*?)end{section}", cmap, re.S)
    return [pair for block in blocks for pair in re.findall(r"<([0-9A-Fa-f]+)>\s*<?([0-9A-Fa-f]+)>?", block)]


def _glyphs_of_codes(font, codes: Iterable[int]) -> dict[int, tuple[int, bool]]:  # type: ignore[no-untyped-def]
    """code -> (glyph id in the embedded subset, whether that glyph has an outline)."""
    from fontTools.cffLib import CFFFontSet
    from fontTools.ttLib import TTFont

    descendant = font["/DescendantFonts"][0].get_object()
    descriptor = descendant["/FontDescriptor"].get_object()
    out = {}
    if "/FontFile2" in descriptor:  # TrueType: the CIDToGIDMap stream maps codes (= CIDs) to glyphs
        ttf = TTFont(io.BytesIO(descriptor["/FontFile2"].get_object().get_data()))
        order, glyf = ttf.getGlyphOrder(), ttf["glyf"]
        cid_to_gid = descendant["/CIDToGIDMap"].get_object().get_data()
        for code in codes:
            gid = int.from_bytes(cid_to_gid[2 * code : 2 * code + 2], "big")
            out[code] = (gid, glyf[order[gid]].numberOfContours != 0)
    else:  # CID-keyed CFF: the /Encoding CMap maps codes to CIDs, the charset CIDs to glyphs
        cff = CFFFontSet()
        cff.decompile(io.BytesIO(descriptor["/FontFile3"].get_object().get_data()), None)
        top = cff[cff.fontNames[0]]
        gid_of_cid = {int(name[3:]): gid for gid, name in enumerate(top.charset) if name.startswith("cid")}
        encoding = font["/Encoding"].get_object().get_data().decode()
        cids = {int(code, 16): int(cid) for code, cid in _cmap_entries(encoding, "cidchar")}
        for code in codes:
            gid = gid_of_cid.get(cids.get(code, 0), 0)
            out[code] = (gid, top.CharStrings[top.charset[gid]].calcBounds(top.CharStrings) is not None)
    return out


def printed_characters(pdf: bytes) -> tuple[set[str], int]:
    """The characters the embedded font subsets print with a real glyph, and the number of codes
    that print none (.notdef, or an empty outline for a non-space character).

    Checked on the PDF itself with fontTools: each code of a font's ToUnicode map goes to its glyph
    through the CIDToGIDMap (TrueType subsets) or the /Encoding CMap and CFF charset (CFF subsets).
    """
    reader = PdfReader(io.BytesIO(pdf))
    printed: set[str] = set()
    blank = 0
    fonts = {ref.idnum: ref.get_object() for page in reader.pages for ref in page["/Resources"]["/Font"].values()}
    for font in fonts.values():
        to_unicode = {
            int(code, 16): bytes.fromhex(text).decode("utf-16-be")
            for code, text in _cmap_entries(font["/ToUnicode"].get_object().get_data().decode(), "bfchar")
        }
        to_unicode = {code: text for code, text in to_unicode.items() if text != "\x00"}  # code 0: .notdef
        glyphs = _glyphs_of_codes(font, to_unicode)
        for code, text in to_unicode.items():
            gid, inked = glyphs[code]
            if gid == 0 or (not text.isspace() and not inked):
                blank += 1
            else:
                printed.update(text)
    return printed, blank


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def script_pdfs() -> dict[str, tuple[bytes, list[str]]]:
    """Each name of SCRIPT_NAMES as the learner's name and in a session title: (pdf, warnings)."""
    out = {}
    logger = logging.getLogger("cme.certificates.render")
    for key, name in SCRIPT_NAMES.items():
        records = _Records()
        logger.addHandler(records)
        try:
            sessions = [TranscriptLine(f"Keynote: {name}", date(2025, 3, 3), 60, {"AMA_PRA_1": Decimal("1")})]
            pdf = render_certificate(make_doc(learner_name=name, sessions=sessions))
        finally:
            logger.removeHandler(records)
        out[key] = (pdf, records.messages)
    return out


@pytest.mark.parametrize("key", SCRIPT_NAMES)
def test_names_in_every_script_are_printed_and_extractable(key: str, script_pdfs, tmp_path) -> None:
    """qpdf finds the file sound; poppler extracts the name (page 1, transcript heading and session
    title) and rasterises every page without complaint; every character of the name is printed
    with a real glyph of an embedded subset; no character lacked a face.

    Right-to-left names: the PDF holds the glyphs in visual order (HarfBuzz output). pdftotext puts
    RTL runs back in logical order (marking them with U+202B...U+202C, removed here), so the name is
    compared as typed. pypdf returns the visual order (words right to left, each word's letters in
    logical order, from the ToUnicode clusters), which is checked too, with the word order reversed.
    """
    pdf, warnings = script_pdfs[key]
    name = SCRIPT_NAMES[key]
    assert not warnings, warnings
    printed, blank = printed_characters(pdf)
    assert blank == 0, "a code prints .notdef or nothing"
    assert {ch for ch in name if not ch.isspace()} <= printed

    # pypdf (CID-keyed CFF subsets come out with a NUL before each character: pypdf reads their
    # embedded /Encoding CMap one byte at a time; poppler reads it right).
    first = flat(PdfReader(io.BytesIO(pdf)).pages[0].extract_text().replace("\x00", ""))
    if key in ("arabic", "hebrew"):
        assert " ".join(reversed(name.split())) in first
    else:
        assert f"{name}, MD" in first

    qpdf_check(pdf, tmp_path)
    pages = pdftotext(pdf, tmp_path)
    assert f"{name}, MD" in pages[0]
    assert f"Transcript {name}, MD" in pages[1]
    assert f"Keynote: {name}" in pages[1]
    rasterise(pdf, tmp_path)


def test_script_fallback_faces(script_pdfs) -> None:
    """Each script takes its face; Latin, Greek, Cyrillic and Vietnamese need no fallback at all."""

    def faces(key: str) -> set[str]:
        reader = PdfReader(io.BytesIO(script_pdfs[key][0]))
        names = {f.get_object()["/BaseFont"] for page in reader.pages for f in page["/Resources"]["/Font"].values()}
        return {name.split("+", 1)[1] for name in names}

    for key in ("latin", "vietnamese", "greek", "cyrillic"):
        assert all("Core" in face for face in faces(key)), key
    assert "NotoSansArabicBold" in faces("arabic")
    assert "NotoSansHebrewBold" in faces("hebrew")
    for key in ("chinese-simplified", "chinese-traditional", "japanese-kanji", "japanese-kana", "korean"):
        assert {"NotoSansCJKSCBold", "NotoSansCJKSC"} <= faces(key), key
        assert not any("Droid" in face for face in faces(key)), key
    assert "DroidSansFallback" in faces("rare-hanzi")
    assert "NotoSansCJKSC" in faces("extension-b")


def test_a_rare_hanzi_falls_back_to_the_rare_tier_and_the_unknown_to_a_replacement_mark(caplog, tmp_path) -> None:
    """镕 is outside the Noto CJK cut: the regular Droid Sans Fallback face prints it (in a bold name
    too, there being no bold rare face). A character no shipped face has (here a Unicode 15
    Extension H ideograph and Devanagari) prints as U+FFFD instead of vanishing, with a warning that
    counts, but does not name, the characters."""
    common = render._FONTS.cmap(next(f for f in render.FALLBACK_FACES if f.family == "notocjk"))
    rare = render._FONTS.cmap(next(f for f in render.FALLBACK_FACES if f.family == "cjkrare"))
    assert 0x9555 not in common and 0x9555 in rare
    assert 0x4DAE in rare  # 䶮, Extension A

    with caplog.at_level("WARNING", logger="cme.certificates.render"):
        pdf = render_certificate(make_doc(learner_name="刘䶮 \U00031350 देव"))
    assert len(caplog.records) == 1
    assert "4 characters have no glyph" in caplog.records[0].getMessage()
    assert "देव" not in caplog.text
    printed, blank = printed_characters(pdf)
    assert blank == 0 and {"刘", "䶮", "\ufffd"} <= printed
    pages = pdftotext(pdf, tmp_path)
    assert "刘䶮 \ufffd \ufffd\ufffd\ufffd, MD" in pages[0]


def test_a_character_the_bold_fallback_face_lacks_comes_from_the_regular_face() -> None:
    """U+1D5A0 (mathematical sans-serif A) is in DejaVu Sans Book, not Bold: a bold name with it
    attaches the regular face, and only that one."""
    pdf = render_certificate(make_doc(learner_name="Ana \U0001d5a0"))
    reader = PdfReader(io.BytesIO(pdf))
    faces = {f.get_object()["/BaseFont"].split("+")[1] for p in reader.pages for f in p["/Resources"]["/Font"].values()}
    assert "DejaVuSansBook" in faces and "DejaVuSansBold" not in faces
    printed, blank = printed_characters(pdf)
    assert "\U0001d5a0" in printed and blank == 0


RTL_DOC = {
    "learner_name": "محمد عبد الله",
    "provider_name": "الجمعية السعودية لأمراض القلب",
    "activity_title": "المؤتمر السنوي لأمراض القلب 2025: مستجدات قصور القلب",
    "location": "مركز الرياض الدولي للمؤتمرات",
    "joint_provider": "המרכז הרפואי שיבא",
}


def _loose_words(text: str) -> list[str]:
    """Words (RTL letter runs apart from anything else) with their letters sorted: extractors differ
    on RTL order, and poppler also swaps the two letters of a lam-alef ligature glyph when it
    restores logical order."""
    words = re.findall(r"[\u0590-\u08ff\ufb1d-\ufeff]+|[^\s\u0590-\u08ff\ufb1d-\ufeff]+", text)
    return ["".join(sorted(word.strip(".,:·()"))) for word in words if word.strip(".,:·()")]


def test_titles_providers_and_sessions_in_arabic_hebrew_and_chinese(tmp_path) -> None:
    """Every field set in a right-to-left script or in Chinese prints (a title wrapping over two lines,
    the provider inside the justified statements, session titles in the table) with real glyphs."""
    sessions = [
        TranscriptLine("الجلسة الافتتاحية: قصور القلب", date(2025, 3, 3), 90, {"AMA_PRA_1": Decimal("1.5")}),
        TranscriptLine("מושב פתיחה: אי ספיקת לב", date(2025, 3, 4), 60, {"AMA_PRA_1": Decimal("1")}),
        TranscriptLine("开幕式：心力衰竭的现状与展望", date(2025, 3, 5), 60, {"AMA_PRA_1": Decimal("1")}),
    ]
    doc = make_doc(**RTL_DOC, sessions=sessions)
    pdf = render_certificate(doc)
    printed, blank = printed_characters(pdf)
    assert blank == 0
    assert {ch for field in RTL_DOC.values() for ch in field if ch.isalpha()} <= printed
    qpdf_check(pdf, tmp_path)
    rasterise(pdf, tmp_path)
    text = " ".join(pdftotext(pdf, tmp_path))
    found = set(_loose_words(text))
    for field in (*RTL_DOC.values(), *(s.title for s in sessions)):
        missing = [w for w in _loose_words(field) if w not in found]
        assert not missing, (field, missing)

    chinese = make_doc(
        activity_title="2025年中国心血管病学年会：心力衰竭诊疗进展与多学科协作的最新临床实践及未来发展方向探讨暨继续医学教育项目",
        provider_name="中华医学会心血管病学分会",
    )
    pdf = render_certificate(chinese)
    pages = pdftotext(pdf, tmp_path)
    assert "中华医学会心血管病学分会 is accredited by" in pages[0]
    assert chinese.activity_title in pages[0].replace(" ", "")  # wrapped inside the title: no spaces in Chinese


def test_right_to_left_stretches_in_statements_are_laid_out_word_reversed() -> None:
    """Text regions (the statements) get no bidi from fpdf2: each RTL stretch is handed over with its
    words reversed, numbers and neutrals inside the stretch included, Latin words untouched."""
    assert render._visual_words("The جمعية القلب 2025 is accredited") == "The 2025 القلب جمعية is accredited"
    assert render._visual_words("שיבא and מרכז רפואי, ACME") == "שיבא and רפואי, מרכז ACME"
    assert render._visual_words("plain Latin text") == "plain Latin text"


def test_latin_documents_never_turn_text_shaping_on(monkeypatch: pytest.MonkeyPatch) -> None:
    from fpdf import FPDF

    calls: list[bool] = []
    original = FPDF.set_text_shaping

    def spy(self, use_shaping_engine: bool = True, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(use_shaping_engine)
        return original(self, use_shaping_engine, *args, **kwargs)

    monkeypatch.setattr(FPDF, "set_text_shaping", spy)
    render_certificate(make_doc(learner_name="Zoë Ångström-Ñúñez"))
    render_certificate(make_doc(learner_name="张伟"))
    assert calls == []
    render_certificate(make_doc(learner_name="דוד כהן"))
    assert True in calls


def test_script_faces_are_parsed_only_when_a_document_needs_them() -> None:
    """A fresh process: Latin and Armenian documents never parse the CJK, Arabic or Hebrew faces."""
    code = (
        "import cme.certificates.render as r, tests.unit.test_certificate_render as t; r.warm_up(); "
        "r.render_certificate(t.make_doc(learner_name='Արամ')); "
        "parsed = {f.family for f in r._FONTS._protos}; "
        "assert parsed == {'dejavu', 'dejavufull'}, parsed"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


# --------------------------------------------------------------------------------------------------
# Provider branding
# --------------------------------------------------------------------------------------------------


def _png(size: tuple[int, int], color: tuple[int, ...], mode: str = "RGB") -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new(mode, size, (255, 255, 255, 0) if mode == "RGBA" else "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse((size[0] // 10, size[1] // 10, size[0] // 2, size[1] - size[1] // 10), fill=color)
    draw.line((0, size[1] - 1, size[0], 0), fill=color, width=max(2, size[1] // 20))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def _jpeg(size: tuple[int, int]) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, (30, 60, 90)).save(buf, "JPEG")
    return buf.getvalue()


ACCENT_RGB = (200, 16, 46)
BRANDING = {
    "logo_png": _png((800, 200), (200, 16, 46)),
    "signature_png": _png((600, 200), (10, 30, 90, 255), mode="RGBA"),
    "signer_name": "Jane Q. Smith, MD, FACC",
    "signer_title": "Director, Continuing Medical Education",
    "accent_rgb": ACCENT_RGB,
}


def _colour_ops(page) -> set[tuple[float, float, float, str]]:  # type: ignore[no-untyped-def]
    """The colours a page's content stream sets: (r, g, b, "RG") for strokes, "rg" for fills and text."""
    content = page.get_contents().get_data().decode("latin-1")
    return {
        (round(float(r) * 255), round(float(g) * 255), round(float(b) * 255), op)
        for r, g, b, op in re.findall(r"([\d.]+) ([\d.]+) ([\d.]+) (RG|rg)\b", content)
    }


def test_branded_certificate(tmp_path) -> None:
    doc = make_doc(**BRANDING)
    pdf = render_certificate(doc)
    reader, pages = read(pdf)
    images = reader.pages[0].images
    assert len(images) == 3, "QR code, logo and signature"
    sizes = {image.image.size for image in images}
    assert {(800, 200), (600, 200)} <= sizes
    assert "Jane Q. Smith, MD, FACC Director, Continuing Medical Education" in pages[0]
    for statement in statements(doc):
        assert statement in pages[0]
    ops = _colour_ops(reader.pages[0])
    assert (*ACCENT_RGB, "RG") in ops, "frame and rules in the provider's colour"
    assert (*ACCENT_RGB, "rg") in ops, "headings in the provider's colour"
    assert (*render.RULE, "RG") not in ops and (*render.ACCENT, "rg") not in ops
    assert (*render.ACCENT, "rg") not in _colour_ops(reader.pages[1])
    qpdf_check(pdf, tmp_path)
    rasterise(pdf, tmp_path)

    plain_reader, _ = read(render_certificate(make_doc()))
    assert len(plain_reader.pages[0].images) == 1, "no branding: the QR code only"
    plain_ops = _colour_ops(plain_reader.pages[0])
    assert (*render.RULE, "RG") in plain_ops and (*render.ACCENT, "rg") in plain_ops


def test_branding_with_long_texts_and_a4_still_fits(caplog: pytest.LogCaptureFixture) -> None:
    doc = make_doc(
        **BRANDING,
        paper="a4",
        learner_name="Maria Fernanda de los Ángeles Rodríguez-Castellanos y Villaseñor",
        degree="MD, PhD, FACC",
        joint_provider="The Midwest Society for Cardiac Rhythm Management and Electrophysiology Foundation",
        activity_title=(
            "Annual Scientific Sessions 2025 of the American College of Cardiovascular Medicine: "
            "Advances in Heart Failure, Arrhythmia, Imaging, Prevention and Interventional Cardiology"
        ),
        credits_claimed={"AMA_PRA_1": Decimal("21.5"), "IPCE": Decimal("21.5"), "ACPE": Decimal("6")},
    )
    with caplog.at_level("WARNING", logger="cme.certificates.render"):
        reader, pages = read(render_certificate(doc))
    assert not caplog.records, "statements overflowed or glyphs were missing"
    for text in statements(doc):
        assert text in pages[0]
    assert len(reader.pages[0].images) == 3


def test_signer_without_images_and_a_jpeg_logo() -> None:
    reader, _ = read(render_certificate(make_doc(logo_png=_jpeg((300, 300)), signer_name="이서연")))
    assert len(reader.pages[0].images) == 2
    faces = {f.get_object()["/BaseFont"] for f in reader.pages[0]["/Resources"]["/Font"].values()}
    assert any("NotoSansCJK" in face for face in faces)


def test_a_light_accent_is_darkened_for_text_only() -> None:
    yellow = (255, 200, 0)
    palette = render._palette(yellow)
    assert palette.rule == yellow and palette.heading != yellow
    assert 1.05 / (render._luminance(palette.heading) + 0.05) >= 4.5
    assert render._palette(None) == render.DEFAULT_PALETTE
    assert render._palette(ACCENT_RGB).heading == ACCENT_RGB  # dark enough already


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"logo_png": b"not an image at all"}, "logo_png"),
        ({"logo_png": b"GIF89a\x01\x00\x01\x00"}, "logo_png"),
        ({"signature_png": BRANDING["signature_png"][:60]}, "signature_png"),  # truncated PNG
        ({"signature_png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 40}, "signature_png"),
        ({"signature_png": b"\xff\xd8\xff\xe0garbage"}, "signature_png"),
        ({"logo_png": "iVBORw0KGgo="}, "logo_png"),  # base64 text, not bytes
        ({"logo_png": b"\x89PNG\r\n\x1a\n" + b"\x00" * render.MAX_IMAGE_BYTES}, "logo_png"),
        ({"accent_rgb": (256, 0, 0)}, "accent_rgb"),
        ({"accent_rgb": (1, 2)}, "accent_rgb"),
        ({"accent_rgb": "#c8102e"}, "accent_rgb"),
    ],
)
def test_bad_branding_is_rejected_naming_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}: "):
        make_doc(**changes)


def test_branding_fields_are_normalised() -> None:
    doc = make_doc(logo_png=bytearray(BRANDING["logo_png"]), accent_rgb=[1, 2, 3], signer_name="Jose\u0301")
    assert isinstance(doc.logo_png, bytes)
    assert doc.accent_rgb == (1, 2, 3)
    assert doc.signer_name == "José"


# --------------------------------------------------------------------------------------------------
# Subsets and widths remembered across documents


def test_latin_names_share_one_subset_per_face(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "_subset_cache", render._SubsetCache())
    render.render_certificate(make_doc(learner_name="Ana Pérez"))
    after_first = render._subset_cache.misses
    assert after_first >= 2  # at least the regular and bold faces
    for name in ("Zoë Ångström", "Björn Müller-Lüdenscheidt", "François Dupré"):
        pdf = render.render_certificate(make_doc(learner_name=name))
        assert name in flat(read(pdf)[1][0])
    assert render._subset_cache.misses == after_first  # every face subset came from the cache
    # A name outside the shared repertoire gets a subset of its own, and prints.
    pdf = render.render_certificate(make_doc(learner_name="Łukasz Żółć"))
    assert render._subset_cache.misses > after_first and "Łukasz Żółć" in flat(read(pdf)[1][0])


def test_a_cached_subset_prints_exactly_what_a_fresh_one_does(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    doc = make_doc(learner_name="Zoë Ångström-Ñúñez")
    cached = render.render_certificate(doc)
    cached_again = render.render_certificate(doc)
    assert cached_again == cached
    fresh = render._SubsetCache()
    fresh.enabled = False  # fontTools subsets the document's own glyphs only, as fpdf2 does unpatched
    monkeypatch.setattr(render, "_subset_cache", fresh)
    uncached = render.render_certificate(doc)
    assert [flat(t) for t in read(uncached)[1]] == [flat(t) for t in read(cached)[1]]
    qpdf_check(cached, tmp_path)
    (tmp_path / "cached").mkdir()
    (tmp_path / "uncached").mkdir()
    first = rasterise(cached, tmp_path / "cached", 40)
    second = rasterise(uncached, tmp_path / "uncached", 40)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]  # pixel for pixel


# --------------------------------------------------------------------------------------------------
# Text laid out by the renderer itself


LONG_TEXTS = {
    "learner_name": "Maria Fernanda de los Ángeles Rodríguez-Castellanos y Villaseñor",
    "degree": "MD, PhD, FACC",
    "joint_provider": "The Midwest Society for Cardiac Rhythm Management and Electrophysiology Foundation",
    "activity_title": (
        "Annual Scientific Sessions 2025 of the American College of Cardiovascular Medicine: "
        "Advances in Heart Failure, Arrhythmia, Imaging, Prevention and Interventional Cardiology"
    ),
    "credits_claimed": {"AMA_PRA_1": Decimal("21.5"), "IPCE": Decimal("21.5"), "ACPE": Decimal("6")},
    "sessions": [
        TranscriptLine(
            "Late-breaking clinical trials in heart failure with preserved ejection fraction: what changes now",
            date(2025, 3, 3), 90, {"AMA_PRA_1": Decimal("1.5"), "IPCE": Decimal("1.5")},
        ),
        TranscriptLine("Imaging", date(2025, 3, 4), 60, {"AMA_PRA_1": Decimal("1")}),
    ],
}  # fmt: skip

WRAPPED = [
    ACCME,
    ABIM,
    "a  b   c    d",  # runs of spaces: fpdf2 keeps those before the break
    "Pneumonoultramicroscopicsilicovolcanoconiosis" * 3 + " and after",  # longer than any line
    "3.5\u00a0AMA PRA Category 1 Credits™   ·   21.5\u00a0IPCE credits   ·   3.5\u00a0MOC points (ABIM)",
    "Σοφία Παπαδοπούλου · Дмитрий Иванов · Nguyễn Thị Minh Khai",
    URL,
    "",
]


@pytest.mark.parametrize("by_char", [False, True], ids=["words", "characters"])
def test_lines_are_broken_where_fpdf2_breaks_them(by_char: bool) -> None:
    """The renderer's own line breaking gives fpdf2's lines, character for character: statements,
    runs of spaces, words longer than the line, no-break spaces, Greek, Cyrillic, Vietnamese, a URL
    broken between characters (WrapMode.CHAR), at several sizes, styles and widths."""
    from fpdf.enums import WrapMode

    pdf = render._pdf_class()(orientation="L", unit="mm")
    render.attach_fonts(pdf, {}, "test")
    pdf.add_page()
    for style in ("", "B", "I"):
        for size in (7.5, 9, 13):
            pdf.set_font(render.FAMILY, style, size)
            for width in (12.5, 45.3, 80, 150):
                for text in WRAPPED:
                    wrapmode = WrapMode.CHAR if by_char else WrapMode.WORD
                    expected = pdf.multi_cell(width, 5, text, wrapmode=wrapmode, dry_run=True, output="LINES")
                    lines = render._wrap(pdf, [(text, style)], size, width - 2 * pdf.c_margin, by_char=by_char)
                    got = ["".join(part for part, _ in line.parts) for line in lines or [render._NO_LINE]]
                    assert got == expected, (style, size, width, text)


@pytest.mark.parametrize(
    "changes",
    [
        LONG_TEXTS,
        {**BRANDING, **LONG_TEXTS, "paper": "a4"},
        {"kind": "nursing", "credits_claimed": {"ANCC": Decimal("2")}},
    ],
    ids=["long-texts", "branded-a4", "nursing"],
)
def test_text_laid_out_here_prints_what_fpdf2_prints(
    changes: dict[str, object], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Text the primary faces set alone is laid out by the renderer (fpdf2's line breaking is
    quadratic): the pages come out pixel for pixel as with fpdf2 laying out every line and cell
    (justified statements with the italic credit name and superscript ™, centred and right-aligned
    lines, the wrapped URL, the transcript's cells), and read the same."""
    doc = make_doc(**changes)
    ours = render_certificate(doc)
    monkeypatch.setattr(render, "_laid_out_here", lambda text: False)
    fpdf2s = render_certificate(doc)
    assert ours != fpdf2s
    assert [flat(t) for t in read(ours)[1]] == [flat(t) for t in read(fpdf2s)[1]]
    assert pdftotext(ours, tmp_path) == pdftotext(fpdf2s, tmp_path)
    qpdf_check(ours, tmp_path)
    (tmp_path / "ours").mkdir()
    (tmp_path / "fpdf2").mkdir()
    first = rasterise(ours, tmp_path / "ours", 40)
    second = rasterise(fpdf2s, tmp_path / "fpdf2", 40)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]  # pixel for pixel
