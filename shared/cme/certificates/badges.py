"""Printable badge sheets: one card per attendee, with a QR code door staff scan.

Public API
----------
- `render_badges(attendees, *, title=None, paper="letter", sort="name") -> bytes`: the PDF.
- `read_roster(data, filename) -> RosterRead`: a roster file (CSV or JSON, the import's format) as the
  attendees to print and the rows that cannot be, by row number and field.
- `LAYOUTS`: the card size and grid of each paper.

What the QR code carries: the `badge_id`, nothing else. A badge is on show all day and its code can be
read by anyone's phone, so it holds no email, birth date, board id or NPI; the scanner looks the badge
up in the roster (contract.md `POST /scans` posts the `badge_id`).

Layout: six 4 × 3 in cards per sheet (2 columns × 3 rows), the size of the common conference badge
holder inserts. On Letter they sit where Avery 5392 / 5384 perforated badge inserts are (0.25 in side
and 1 in top margins), so those sheets can be fed as well as plain card stock; on A4 they are
100 × 75 mm, centred (5 mm side margins, printable on any office printer), and still fit a 4 × 3 in
holder. Each card has a light grey border to cut along (on perforated stock it falls on the
perforation). On a card: the name (given and family name, degree after a comma) large across the
top, the activity title and the profession at the bottom left, the QR code at the bottom right with
the badge_id printed under it. The code is error correction level M or higher (segno raises the level
when the symbol size allows), at least 27 mm wide, with a quiet zone of 4 modules, drawn as vector
rectangles (each row's runs of dark modules merged, identical runs of consecutive rows merged too).

Fonts come from the certificate renderer (`render.py`): the same primary faces, the same fallback faces
attached only when the sheet's names need them (Arabic, Hebrew, CJK, ...), and right-to-left names
shaped; a character no face has prints as U+FFFD and is counted in a warning, never named.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Literal

from cme.certificates.render import (
    CREATOR,
    FAMILY,
    INK,
    MUTED,
    _fit_size,
    _lines,
    _pdf_class,
    _prepare,
    _producer,
    attach_fonts,
)
from cme.domain.models import Attendee

if TYPE_CHECKING:  # pragma: no cover
    from fpdf import FPDF

__all__ = ["LAYOUTS", "PROFESSION_LABELS", "Layout", "RosterRead", "read_roster", "render_badges", "sorted_attendees"]

Paper = Literal["letter", "a4"]
SortOrder = Literal["name", "badge"]


@dataclass(frozen=True)
class Layout:
    """A sheet: paper size and a grid of equal cards, centred on it (all in mm)."""

    page: tuple[float, float]
    card: tuple[float, float]
    columns: int = 2
    rows: int = 3

    @property
    def origin(self) -> tuple[float, float]:
        """The top left corner of the grid."""
        return (
            (self.page[0] - self.columns * self.card[0]) / 2,
            (self.page[1] - self.rows * self.card[1]) / 2,
        )


LAYOUTS: dict[str, Layout] = {
    # 4 × 3 in cards at Avery 5392 / 5384 positions: 0.25 in side margins, 1 in top and bottom.
    "letter": Layout(page=(215.9, 279.4), card=(101.6, 76.2)),
    # 100 × 75 mm cards, centred: 5 mm side margins (a 101.6 mm card would leave 3.4 mm, inside many
    # printers' unprintable edge), and they still fit 4 × 3 in badge holders.
    "a4": Layout(page=(210.0, 297.0), card=(100.0, 75.0)),
}

PROFESSION_LABELS: dict[str, str] = {
    "physician": "Physician",
    "nurse": "Nurse",
    "pharmacist": "Pharmacist",
    "physician_assistant": "Physician Assistant",
    "other": "",
}

# Card geometry (mm).
PAD = 4.0  # text keeps this far from the card's edge
QR_BOX = 38.0  # the code with its quiet zone, square
QR_EDGE = 2.0  # the quiet zone may come this close to the card's side (it is white anyway)
BOTTOM = 3.0  # the last line of text (badge_id, profession) ends this far above the card's edge
QUIET_MODULES = 4
BORDER_GREY = (200, 200, 200)
QR_INK = (0, 0, 0)
PT = 25.4 / 72  # mm per point
LINE = 1.18  # line height, in font sizes
NAME_SIZES = (24.0, 9.0)  # largest and smallest name size, pt
TITLE_SIZES = (9.5, 7.0)
ONE_LINE_SMALLEST = 16.0  # a name set on one line at this size or above is not wrapped
ELLIPSIS = "…"


# --------------------------------------------------------------------------------------------------
# The roster
# --------------------------------------------------------------------------------------------------


@dataclass
class RosterRead:
    """The attendees to print (a later row for the same badge replaces an earlier one, as the roster
    import does) and the rows left out: (row number, reason naming the field, never its value)."""

    attendees: list[Attendee] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)


def read_roster(data: bytes, filename: str = "") -> RosterRead:
    """Parse a roster file with the import's own parser and model: CSV (`.csv`, or anything not
    starting with `[` or `{`) or JSON. Raises `cme.errors.ApiError` (its `message` says why) when
    the file as a whole cannot be used."""
    from pydantic import ValidationError

    from cme.api import validation_details
    from cme.service.roster import parse_roster

    name = filename.lower()
    if name.endswith(".csv"):
        content_type = "text/csv"
    elif name.endswith(".json"):
        content_type = "application/json"
    else:
        content_type = "application/json" if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"[", b"{") else "text/csv"
    rows = parse_roster(data, content_type)
    out = RosterRead()
    first_row: dict[str, int] = {}
    by_badge: dict[str, Attendee] = {}
    for index, row in enumerate(rows, start=1):
        try:
            attendee = Attendee.model_validate(row)
        except ValidationError as exc:
            problems = "; ".join(f"{d['field']}: {d['message']}" for d in validation_details(exc))
            out.skipped.append((index, problems))
            continue
        earlier = first_row.get(attendee.badge_id)
        if earlier is not None:
            out.skipped.append((earlier, f"badge_id: repeated in row {index}, which is printed instead"))
        first_row[attendee.badge_id] = index
        by_badge[attendee.badge_id] = attendee
    out.attendees = list(by_badge.values())
    out.skipped.sort()
    return out


def _plain(text: str) -> str:
    """Sort key text: accents dropped ("Ångström" sorts with A), case folded."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _natural(text: str) -> tuple[tuple[int, int, str], ...]:
    """Numbers compared as numbers: B-999 before B-1000."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.findall(r"\d+|\D+", text))


def sorted_attendees(attendees: Iterable[Attendee], sort: SortOrder = "name") -> list[Attendee]:
    if sort == "badge":
        return sorted(attendees, key=lambda a: _natural(a.badge_id))
    if sort != "name":
        raise ValueError(f"sort: expected 'name' or 'badge', got {sort!r}")
    return sorted(attendees, key=lambda a: (_plain(a.family_name), _plain(a.given_name), _natural(a.badge_id)))


# --------------------------------------------------------------------------------------------------
# The PDF
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Card:
    badge_id: str
    name: str
    profession: str


def _nfc(text: str) -> str:
    # fpdf2 sets one glyph per code point: composed characters print, a bare combining mark may not.
    return unicodedata.normalize("NFC", text)


@cache
def _badge_pdf_class() -> type[FPDF]:
    class BadgePDF(_pdf_class()):  # type: ignore[misc]
        """The certificate's document class (fonts, U+FFFD for unprintable characters), no footer:
        the margins of perforated badge stock are not for printing on."""

        def footer(self) -> None:
            return None

    return BadgePDF


def render_badges(
    attendees: Sequence[Attendee],
    *,
    title: str | None = None,
    paper: Paper = "letter",
    sort: SortOrder = "name",
) -> bytes:
    """Badge sheets as PDF bytes: one card per attendee, sorted by family and given name (or by
    badge_id), six to a page."""
    if paper not in LAYOUTS:
        raise ValueError(f"paper: expected one of {', '.join(LAYOUTS)}, got {paper!r}")
    if not attendees:
        raise ValueError("no attendees: a badge sheet needs at least one")
    layout = LAYOUTS[paper]
    title = _nfc(" ".join(title.split())) if title else None
    cards = [
        _Card(a.badge_id, _nfc(a.display_name), PROFESSION_LABELS.get(a.profession, ""))
        for a in sorted_attendees(attendees, sort)
    ]
    pdf = _badge_pdf_class()(orientation="P", unit="mm", format=paper)
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.c_margin = 0  # text is placed in the card's own padding: cells add none (widths are measured as set)
    pdf.set_title(f"Badges: {title}" if title else "Badges")
    pdf.set_creator(CREATOR)
    pdf.set_producer(_producer())
    pdf.set_lang("en")
    regular = [title or "", *PROFESSION_LABELS.values(), *(c.badge_id for c in cards), ELLIPSIS]
    attach_fonts(pdf, {"B": "".join(c.name for c in cards) + ELLIPSIS, "": "".join(regular)}, "badge sheet")

    per_page = layout.columns * layout.rows
    memo: dict[tuple[object, ...], tuple[float, str, int]] = {}
    left, top = layout.origin
    width, height = layout.card
    for index, card in enumerate(cards):
        slot = index % per_page
        if slot == 0:
            pdf.add_page()
        x = left + (slot % layout.columns) * width
        y = top + (slot // layout.columns) * height
        _card(pdf, card, x, y, width, height, title, memo)
    return bytes(pdf.output())


def _card(
    pdf: FPDF,
    card: _Card,
    x: float,
    y: float,
    width: float,
    height: float,
    title: str | None,
    memo: dict[tuple[object, ...], tuple[float, str, int]],
) -> None:
    from fpdf.enums import WrapMode

    pdf.set_draw_color(*BORDER_GREY)
    pdf.set_line_width(0.2)
    pdf.rect(x, y, width, height)

    # The badge_id under the code, to type in when a code will not scan: as large as the code's width
    # allows, wrapped rather than set below 6 pt (a UUID takes two lines). The code sits right above it.
    id_size = _fit_size(pdf, card.badge_id, "", QR_BOX, 8, 6)
    id_lines = _lines(pdf, card.badge_id, "", id_size, QR_BOX)
    id_line = id_size * PT * LINE
    bottom = y + height - BOTTOM
    box_x = x + width - QR_EDGE - QR_BOX
    box_y = bottom - id_lines * id_line - QR_BOX
    module = _draw_qr(pdf, card.badge_id, box_x, box_y, QR_BOX)
    pdf.set_text_color(*INK)
    pdf.set_xy(box_x, box_y + QR_BOX)
    pdf.multi_cell(QR_BOX, id_line, card.badge_id, align="C", wrapmode=WrapMode.CHAR, new_x="LEFT", new_y="NEXT")

    # The name across the top, centred in the space above the code.
    name_w = width - 2 * PAD
    _name(pdf, card.name, x + PAD, y + PAD, name_w, box_y - (y + PAD) - 1)

    # The title (top) and the profession (bottom) left of the code.
    side_w = box_x - (x + PAD) - 2
    side_top = box_y + QUIET_MODULES * module
    prof_size = 9.0
    prof_y = bottom - prof_size * PT * LINE
    if card.profession:
        pdf.set_font(FAMILY, "", prof_size)
        pdf.set_text_color(*MUTED)
        _prepare(pdf, card.profession)
        pdf.set_xy(x + PAD, prof_y)
        pdf.cell(side_w, prof_size * PT * LINE, card.profession, align="L")
    if title:
        room = (prof_y - 1.5 if card.profession else bottom) - side_top
        _block(pdf, title, "", x + PAD, side_top, side_w, room, TITLE_SIZES, align="L", color=INK, memo=memo)


def _name(pdf: FPDF, name: str, x: float, y: float, width: float, room: float) -> None:
    """The name as large as fits `room`: on one line if it fits at `ONE_LINE_SMALLEST` or more,
    else wrapped, vertically centred."""
    largest, smallest = NAME_SIZES
    size = _fit_size(pdf, name, "B", width, largest, smallest)
    if size >= ONE_LINE_SMALLEST and pdf.get_string_width(name) <= width and size * PT * LINE <= room:
        pdf.set_font(FAMILY, "B", size)
        pdf.set_text_color(*INK)
        _prepare(pdf, name, ltr=True)
        pdf.set_xy(x, y + (room - size * PT * LINE) / 2)
        pdf.multi_cell(width, size * PT * LINE, name, align="C", new_x="LEFT", new_y="NEXT")
        return
    _block(pdf, name, "B", x, y, width, room, NAME_SIZES, align="C", color=INK, ltr=True, middle=True)


def _block(
    pdf: FPDF,
    text: str,
    style: str,
    x: float,
    y: float,
    width: float,
    room: float,
    sizes: tuple[float, float],
    *,
    align: str,
    color: tuple[int, int, int],
    ltr: bool = False,
    middle: bool = False,
    memo: dict[tuple[object, ...], tuple[float, str, int]] | None = None,
) -> None:
    """`text` word-wrapped into width × room at the largest size (0.5 pt steps) that fits, shortened
    with an ellipsis if it does not fit at the smallest. `memo` keeps the fitting of a text that
    every card repeats (the title)."""
    key = (text, style, width, room, sizes, ltr)
    fitted = memo.get(key) if memo is not None else None
    if fitted is None:
        fitted = _fit_block(pdf, text, style, width, room, sizes, ltr=ltr)
        if memo is not None:
            memo[key] = fitted
    size, text, lines = fitted
    line = size * PT * LINE
    pdf.set_font(FAMILY, style, size)
    _prepare(pdf, text, ltr=ltr)
    pdf.set_text_color(*color)
    pdf.set_xy(x, y + ((room - lines * line) / 2 if middle else 0))
    pdf.multi_cell(width, line, text, align=align, new_x="LEFT", new_y="NEXT")


def _fit_block(
    pdf: FPDF, text: str, style: str, width: float, room: float, sizes: tuple[float, float], *, ltr: bool
) -> tuple[float, str, int]:
    """(size, text, lines) for `_block`."""
    largest, smallest = sizes
    size = largest
    while True:
        lines = _fitting_lines(pdf, text, style, size, width, room, ltr=ltr)
        if lines is not None:
            return size, text, lines
        if size <= smallest:
            break
        size = max(size - 0.5, smallest)
    low, high = 0, len(text)  # the longest prefix that fits with the ellipsis
    while low < high:
        mid = (low + high + 1) // 2
        if _fitting_lines(pdf, text[:mid].rstrip() + ELLIPSIS, style, size, width, room, ltr=ltr) is not None:
            low = mid
        else:
            high = mid - 1
    text = text[:low].rstrip() + ELLIPSIS
    return size, text, _fitting_lines(pdf, text, style, size, width, room, ltr=ltr) or 1


def _fitting_lines(
    pdf: FPDF, text: str, style: str, size: float, width: float, room: float, *, ltr: bool = False
) -> int | None:
    """The lines `text` wraps into at `size` if they fit width × room, each word whole (fpdf2 breaks
    a word wider than the line anywhere: "Hohenzollern-W / ürttemberg"), else None. CJK text, which
    has no spaces to wrap at, may break between any two characters. The quick estimate (`_lines`)
    rules most sizes out; fpdf2's own wrapping, slower, decides."""
    fits = max(int(room / (size * PT * LINE) + 1e-6), 1)
    if _lines(pdf, text, style, size, width) > fits:
        return None
    if any(pdf.get_string_width(word) > width for word in text.split() if not _breakable(word)):
        return None
    pdf.set_font(FAMILY, style, size)
    _prepare(pdf, text, ltr=ltr)
    wrapped = pdf.multi_cell(width, size * PT * LINE, text, dry_run=True, output="LINES")
    assert isinstance(wrapped, list)
    return len(wrapped) if len(wrapped) <= fits else None


def _breakable(word: str) -> bool:
    return any(unicodedata.east_asian_width(ch) in ("W", "F") for ch in word)


def _draw_qr(pdf: FPDF, badge_id: str, x: float, y: float, box: float) -> float:
    """The QR code of `badge_id` filling the box with its quiet zone (white, not drawn); the module
    size. Each row's runs of dark modules are one rectangle, and runs repeated by the rows below
    are one taller rectangle: about a third of the rectangles of module-by-module drawing."""
    import segno

    matrix = segno.make(badge_id, error="m", micro=False).matrix
    n = len(matrix)
    module = box / (n + 2 * QUIET_MODULES)
    x0, y0 = x + QUIET_MODULES * module, y + QUIET_MODULES * module
    pdf.set_fill_color(*QR_INK)
    open_runs: dict[tuple[int, int], int] = {}  # (first column, end column) -> first row
    for r in range(n + 1):
        runs = _runs(matrix[r]) if r < n else set()
        for run in [run for run in open_runs if run not in runs]:
            first = open_runs.pop(run)
            pdf.rect(x0 + run[0] * module, y0 + first * module, (run[1] - run[0]) * module, (r - first) * module, "F")
        for run in runs:
            open_runs.setdefault(run, r)
    return module


def _runs(row: Sequence[int]) -> set[tuple[int, int]]:
    """The runs of dark modules of a row, as (first column, end column)."""
    out: set[tuple[int, int]] = set()
    start = None
    for c, dark in enumerate(row):
        if dark and start is None:
            start = c
        elif not dark and start is not None:
            out.add((start, c))
            start = None
    if start is not None:
        out.add((start, len(row)))
    return out
