"""Badge sheets (shared/cme/certificates/badges.py, `cme badges`): every name printed in its script,
every QR code decoded by a real decoder back to its badge_id and to nothing else, the layout of both
papers, and the command's exit codes and messages (row numbers and fields, never personal data)."""

from __future__ import annotations

import io
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

from cme.certificates import badges
from cme.certificates.badges import LAYOUTS, QUIET_MODULES, read_roster, render_badges
from cme.domain.models import Attendee

pytestmark = pytest.mark.unit

TITLE = "Annual Scientific Sessions 2027 — Interventional Cardiology Update"
HEADER = "badge_id,given_name,family_name,email,profession,degree,npi,board_ids,birth_mmdd"
# (badge_id, given name, family name, profession, degree): Latin with accents, Greek, CJK, Arabic,
# Hebrew and a long name.
PEOPLE = [
    ("B-1001", "Zoë", "Ångström-Ñúñez", "physician", "MD"),
    ("B-1002", "Σοφία", "Παπαδοπούλου", "physician_assistant", "PA-C"),
    ("B-1003", "伟", "张", "other", ""),
    ("B-1004", "محمد", "عبد الله", "physician", ""),
    ("B-1005", "Maximilian Alexander Friedrich", "von Hohenzollern-Sigmaringen-Württemberg", "physician", "MD, PhD"),
    ("B-1006", "Ana", "Pérez", "nurse", "RN"),
    ("B-1007", "太郎", "山田", "pharmacist", "PharmD"),
    ("B-1008", "דוד", "כהן", "nurse", ""),
    ("B-1009", "Łukasz", "Żółć", "pharmacist", "PharmD"),
    ("B-1010", "Nguyễn Thị", "Minh Khai", "other", ""),
    ("B-1011", "민준", "김", "physician", "MD"),
]
IDS = {person[0] for person in PEOPLE}
RTL = {"B-1004", "B-1008"}


def _email(badge_id: str) -> str:
    return f"learner.{badge_id.lower()}@example.org"


def _csv(people: list[tuple[str, str, str, str, str]]) -> bytes:
    lines = [HEADER]
    for i, (badge, given, family, profession, degree) in enumerate(people):
        degree_cell = f'"{degree}"' if "," in degree else degree
        lines.append(
            f"{badge},{given},{family},{_email(badge)},{profession},{degree_cell},"
            f"{1234567890 + i},ABIM:{555000 + i},03{10 + i}"
        )
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def _private_values(people: list[tuple[str, str, str, str, str]]) -> list[str]:
    """What a badge must never show: email, NPI, board id, birth date (as the roster has them)."""
    return [
        value
        for i, (badge, *_) in enumerate(people)
        for value in (_email(badge), str(1234567890 + i), str(555000 + i), f"03{10 + i}")
    ]


def need(tool: str) -> None:
    """Skip (visibly) without the Debian tool, but fail in CI, where .ci/run installs it."""
    if shutil.which(tool):
        return
    package = "qpdf" if tool == "qpdf" else "poppler-utils"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{tool} is required in CI: apt-get install {package}")
    pytest.skip(f"{tool} not installed (apt-get install {package}): check skipped")


def zxing():  # type: ignore[no-untyped-def]
    """The decoder (zxing-cpp, the dev extra): skipped without it, except in CI."""
    try:
        import zxingcpp
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("zxing-cpp is required in CI: pip install -e '.[dev]'")
        pytest.skip("zxing-cpp not installed (pip install -e '.[dev]'): QR codes not decoded")
    return zxingcpp


def flat(text: str) -> str:
    # CID-keyed CFF subsets (the CJK faces) come out of pypdf with a NUL before each character.
    return " ".join(text.replace("\x00", "").split())


@pytest.fixture(scope="module")
def roster() -> list[Attendee]:
    read = read_roster(_csv(PEOPLE), "roster.csv")
    assert read.skipped == []
    return read.attendees


@pytest.fixture(scope="module")
def sheets(roster) -> dict[str, bytes]:
    return {paper: render_badges(roster, title=TITLE, paper=paper) for paper in ("letter", "a4")}


def rasterise(pdf: bytes, tmp_path: Path, resolution: int) -> list[Path]:
    need("pdftoppm")
    path = tmp_path / "badges.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(
        ["pdftoppm", "-r", str(resolution), "-png", str(path), str(tmp_path / "page")], capture_output=True, text=True
    )
    assert result.returncode == 0 and not result.stderr, result.stderr
    return sorted(tmp_path.glob("page-*.png"))


# ---- the PDF ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("paper", ["letter", "a4"])
def test_pages_and_paper(paper: str, sheets) -> None:
    reader = PdfReader(io.BytesIO(sheets[paper]))
    assert len(reader.pages) == math.ceil(len(PEOPLE) / 6) == 2
    width, height = (float(v) * 25.4 / 72 for v in reader.pages[0].mediabox[2:])
    assert (round(width, 1), round(height, 1)) == LAYOUTS[paper].page
    layout = LAYOUTS[paper]
    left, top = layout.origin
    assert left >= 5 - 1e-9 or paper == "letter"  # Letter: the Avery 5392 positions (0.25 in)
    assert top > 20 and layout.columns * layout.card[0] <= width and layout.rows * layout.card[1] <= height


def test_every_name_and_badge_id_is_in_the_text(sheets) -> None:
    """Right-to-left names come out of pypdf in visual order: words right to left (as the certificate
    tests check them)."""
    text = " ".join(flat(page.extract_text()) for page in PdfReader(io.BytesIO(sheets["letter"])).pages)
    for badge, given, family, _, degree in PEOPLE:
        name = f"{given} {family}"
        assert badge in text
        if badge in RTL:
            assert " ".join(reversed(name.split())) in text, badge
        else:
            assert name + (f", {degree}" if degree else "") in text, badge
    assert text.count(TITLE) == len(PEOPLE)
    for label in ("Physician Assistant", "Nurse", "Pharmacist"):
        assert label in text


def test_no_personal_data_beyond_the_name(sheets) -> None:
    for pdf in sheets.values():
        reader = PdfReader(io.BytesIO(pdf))
        text = " ".join(flat(page.extract_text()) for page in reader.pages)
        metadata = " ".join(str(value) for value in (reader.metadata or {}).values())
        for value in _private_values(PEOPLE):
            assert value not in text and value not in metadata
        assert metadata.count(TITLE) == 1  # the document title: the activity's, no attendee's


@pytest.mark.parametrize("paper", ["letter", "a4"])
def test_every_qr_code_decodes_to_its_badge_id_and_nothing_else(paper: str, sheets, tmp_path) -> None:
    """Rasterised at 100 dpi, every page's codes are read by zxing-cpp: one per attendee, each exactly
    the badge_id, error correction M or better, at least 25 mm wide."""
    decoder = zxing()
    from PIL import Image

    decoded: list[str] = []
    for page in rasterise(sheets[paper], tmp_path, resolution=100):
        with Image.open(page) as image:
            found = decoder.read_barcodes(image, formats=decoder.BarcodeFormat.QRCode)
        for code in found:
            assert code.valid and code.bytes == code.text.encode("ascii")
            assert code.ec_level in ("M", "Q", "H"), code.ec_level
            corners = code.position
            width_mm = math.dist(
                (corners.top_left.x, corners.top_left.y), (corners.top_right.x, corners.top_right.y)
            ) * (25.4 / 100)
            assert width_mm >= 25, width_mm
            decoded.append(code.text)
    assert sorted(decoded) == sorted(IDS)


@pytest.mark.parametrize("paper", ["letter", "a4"])
def test_qpdf_finds_no_structural_problem(paper: str, sheets, tmp_path) -> None:
    need("qpdf")
    path = tmp_path / "check.pdf"
    path.write_bytes(sheets[paper])
    result = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No syntax or stream encoding errors" in result.stdout


class _Recorder:
    """Stands in for the PDF: records the filled rectangles `_draw_qr` draws."""

    def __init__(self) -> None:
        self.rects: list[tuple[float, float, float, float]] = []

    def set_fill_color(self, *_: int) -> None:
        pass

    def rect(self, x: float, y: float, w: float, h: float, style: str) -> None:
        assert style == "F"
        self.rects.append((x, y, w, h))


@pytest.mark.parametrize("badge_id", ["B-1001", "3f2b8c1e-7d44-4a9e-9c55-0d6f1e2a7b90", "X" * 128])
def test_qr_rectangles_are_the_symbol_with_its_quiet_zone(badge_id: str) -> None:
    """The merged rectangles cover exactly segno's dark modules, inside a quiet zone of 4 modules,
    and the symbol is at least 25 mm wide whatever the badge_id's length."""
    import segno

    qr = segno.make(badge_id, error="m", micro=False)
    assert qr.error in ("M", "Q", "H")
    recorder = _Recorder()
    box = badges.QR_BOX
    module = badges._draw_qr(recorder, badge_id, 10.0, 20.0, box)  # type: ignore[arg-type]
    n = len(qr.matrix)
    assert module == pytest.approx(box / (n + 2 * QUIET_MODULES))
    assert n * module >= 25
    painted = [[0] * n for _ in range(n)]
    for x, y, w, h in recorder.rects:
        col, row = round((x - 10.0) / module) - QUIET_MODULES, round((y - 20.0) / module) - QUIET_MODULES
        for r in range(row, row + round(h / module)):
            for c in range(col, col + round(w / module)):
                assert 0 <= r < n and 0 <= c < n, "a mark in the quiet zone"
                assert not painted[r][c], "modules drawn twice"
                painted[r][c] = 1
    assert painted == [list(row) for row in qr.matrix]
    assert len(recorder.rects) < sum(map(sum, qr.matrix)) / 2  # runs merged, not module by module


# ---- order and roster -----------------------------------------------------------------------------


def _badge_order(pdf: bytes, ids: list[str]) -> list[str]:
    text = " ".join(flat(page.extract_text()) for page in PdfReader(io.BytesIO(pdf)).pages)
    return sorted(ids, key=text.index)


def test_sorted_by_family_then_given_name_or_by_badge(roster) -> None:
    by_name = [a.badge_id for a in badges.sorted_attendees(roster)]
    assert by_name[:5] == ["B-1001", "B-1010", "B-1006", "B-1005", "B-1009"]  # Ångström, Minh, Pérez, von, Żółć
    twins = [
        Attendee(badge_id="B-2", given_name="Ben", family_name="Lee", email="b@example.org", profession="nurse"),
        Attendee(badge_id="B-10", given_name="Amy", family_name="Lee", email="a@example.org", profession="nurse"),
        Attendee(badge_id="B-9", given_name="Éva", family_name="Kovács", email="e@example.org", profession="nurse"),
    ]
    assert [a.badge_id for a in badges.sorted_attendees(twins)] == ["B-9", "B-10", "B-2"]
    assert [a.badge_id for a in badges.sorted_attendees(twins, "badge")] == ["B-2", "B-9", "B-10"]
    ids = ["B-1001", "B-1002", "B-1006", "B-1009"]
    few = [a for a in roster if a.badge_id in ids]
    assert _badge_order(render_badges(few), ids) == ["B-1001", "B-1006", "B-1009", "B-1002"]
    assert _badge_order(render_badges(few, sort="badge"), ids) == ids


def test_read_roster_lists_bad_rows_by_number_and_field_only() -> None:
    rows = _csv(PEOPLE[:3]).decode().splitlines()
    rows[2] = rows[2].replace(_email("B-1002"), "sofia-at-example")  # row 2: a bad email
    rows.append(rows[1].replace("Zoë", "Zoé"))  # row 4: B-1001 again, replacing row 1
    read = read_roster("\r\n".join(rows).encode(), "roster.csv")
    assert [a.badge_id for a in read.attendees] == ["B-1001", "B-1003"]
    assert read.attendees[0].given_name == "Zoé"
    assert read.skipped == [
        (1, "badge_id: repeated in row 4, which is printed instead"),
        (2, "email: not an email address"),
    ]
    as_json = read_roster(b'[{"badge_id": "B-1", "given_name": "A", "family_name": "B"}]', "roster.json")
    assert as_json.attendees == [] and as_json.skipped[0][0] == 1
    assert "sofia-at-example" not in repr(read.skipped)


def test_a_long_name_is_shortened_rather_than_overflowing() -> None:
    huge = Attendee(
        badge_id="B-1", given_name="Ana " * 49 + "Ana", family_name="Pérez " * 32 + "Pérez",
        email="a@example.org", profession="physician", degree="MD",
    )  # fmt: skip
    text = flat(PdfReader(io.BytesIO(render_badges([huge]))).pages[0].extract_text())
    assert "…" in text and "B-1" in text


# ---- the command ----------------------------------------------------------------------------------


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cme_local.cli", "badges", *args], capture_output=True, text=True, cwd=tmp_path
    )


def test_cli_prints_the_good_rows_and_names_the_bad_one(tmp_path) -> None:
    people = PEOPLE[:4]
    lines = _csv(people).decode().splitlines()
    lines[3] = lines[3].replace(_email("B-1003"), "zhang.wei.example.org")  # row 3: not an address
    (tmp_path / "roster.csv").write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    result = _cli(tmp_path, "roster.csv", "--out", "x.pdf", "--title", TITLE, "--paper", "a4")
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip() == "row 3: email: not an email address"
    for value in [*_private_values(people), "zhang.wei.example.org", "张"]:
        assert value not in result.stderr and value not in result.stdout
    reader = PdfReader(tmp_path / "x.pdf")
    text = " ".join(flat(page.extract_text()) for page in reader.pages)
    assert {"B-1001", "B-1002", "B-1004"} <= set(text.split()) and "B-1003" not in text


def test_cli_exit_codes(tmp_path) -> None:
    (tmp_path / "ok.json").write_text(
        '[{"badge_id": "B-1", "given_name": "Ana", "family_name": "Pérez", "email": "a@example.org",'
        ' "profession": "physician", "degree": "MD"}]',
        encoding="utf-8",
    )
    result = _cli(tmp_path, "ok.json", "--out", "ok.pdf", "--sort", "badge")
    assert result.returncode == 0 and result.stderr == "" and "1 badge" in result.stdout
    assert (tmp_path / "ok.pdf").read_bytes().startswith(b"%PDF-")

    (tmp_path / "no-header.csv").write_text("Ana,Pérez,a@example.org\n", encoding="utf-8")
    result = _cli(tmp_path, "no-header.csv", "--out", "no.pdf")
    assert result.returncode == 2 and "badge_id" in result.stderr
    assert "a@example.org" not in result.stderr
    assert _cli(tmp_path, "missing.csv").returncode == 2
    assert not (tmp_path / "no.pdf").exists()
