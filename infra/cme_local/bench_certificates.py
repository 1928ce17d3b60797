"""`cme bench` certificates: rendering speed of the issuer's fpdf2 path against reportlab, PDF sizes, and the
issuer's import time.

- Speed: one process, steady state (fonts parsed and a warm-up render done for both renderers), N rounds
  interleaved so that both renderers share the machine's noise: each round renders the Latin certificate once
  with fpdf2 (`cme.certificates.render.render_certificate`) and once with reportlab (`render_reportlab`, below),
  alternating which goes first. Figures are medians of seconds per certificate, their inverse (certificates per
  second) and the ratio fpdf2 / reportlab; also the median of the per-round ratios. Both renderers produce a
  complete PDF in memory (bytes).
- Sizes: the fpdf2 PDF of the same certificate with a Latin, a CJK and an Arabic name, and the reportlab PDF
  of the Latin one. A script counts as supported when the renderer neither raises nor logs missing glyphs and
  the name can be read back from page 1 (pypdf; right-to-left text reads back in logical order only when it
  was shaped). Unsupported scripts are reported and not measured.
- Import time: fresh interpreters (median of 5 by default), each timing `import app` of
  functions/issue_certificate and then `render.warm_up()`, against fresh interpreters that import boto3 and
  create one S3 client.

reportlab is a benchmark-only dependency (the `bench` extra); without it the comparison is skipped.
"""

from __future__ import annotations

import gc
import io
import json
import logging
import os
import re
import statistics
import subprocess
import sys
import time
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from cme.certificates import render
from cme.certificates.render import CertificateDocument, TranscriptLine

ROOT = Path(__file__).resolve().parents[2]
ISSUER_DIR = ROOT / "functions" / "issue_certificate"

NAMES = {
    "latin": "José Núñez-Łukasiewicz",
    "cjk": "王小明",
    "arabic": "محمد الأحمد",
}

# --------------------------------------------------------------------------------------------------
# The document
# --------------------------------------------------------------------------------------------------


def certificate_document(learner_name: str = NAMES["latin"]) -> CertificateDocument:
    """A physician's certificate for the worked-example meeting (credit-rules.md: sessions S1, S2 with its
    break, S4), AMA PRA Category 1 credit claimed with ABIM MOC, as `service.certificates.render_pdf` builds
    it."""
    cid = "CERT-7F3K9Q2M"
    sessions = [
        TranscriptLine("Sepsis update", date(2027, 10, 14), 90, {"AMA_PRA_1": Decimal("1.5")}),
        TranscriptLine("Antibiotic stewardship", date(2027, 10, 14), 60, {"AMA_PRA_1": Decimal("1.0")}),
        TranscriptLine("Heart failure in primary care", date(2027, 10, 14), 60, {"AMA_PRA_1": Decimal("1.0")}),
    ]
    return CertificateDocument(
        certificate_id=cid,
        version=1,
        kind="physician",
        learner_name=learner_name,
        degree="MD",
        provider_name="Midwest Academy of Family Physicians",
        joint_provider=None,
        provider_address=None,
        activity_title="Annual Scientific Assembly 2027",
        activity_format="live",
        location="McCormick Place, Chicago, IL",
        starts_on=date(2027, 10, 14),
        ends_on=date(2027, 10, 16),
        credits_claimed={"AMA_PRA_1": Decimal("3.5")},
        designated_max={"AMA_PRA_1": Decimal("21.5"), "ANCC": Decimal("21.5")},
        participation_hours=None,
        moc_boards=["ABIM"],
        moc_points=Decimal("3.5"),
        issued_at=datetime(2027, 10, 16, 22, 5, tzinfo=UTC),
        verify_url=f"https://cme.example.org/verify/{cid}?version=1",
        sessions=sessions,
    )


# --------------------------------------------------------------------------------------------------
# The reportlab rendering of the same certificate
# --------------------------------------------------------------------------------------------------

MM = 72 / 25.4  # points per millimetre
INK = (33, 37, 41)
ACCENT = (22, 62, 114)
MUTED = (95, 99, 104)
RULE = (176, 141, 87)
PAGE_MARGIN = 18.0
TITLES = {
    "physician": ("Certificate of Completion", None),
    "nursing": ("Certificate of Attendance", "Nursing Continuing Professional Development"),
    "participation": ("Certificate of Participation", None),
}
FORMAT_WORDS = {"live": "live activity", "enduring": "enduring material"}
# The faces fpdf2 sets certificates in (render.PRIMARY_FACES); the full DejaVu if the cut is not there.
RL_FACES = {
    "DejaVuCore": ("DejaVuSans-Core.ttf", "DejaVuSans.ttf"),
    "DejaVuCore-Bold": ("DejaVuSans-Core-Bold.ttf", "DejaVuSans-Bold.ttf"),
    "DejaVuCore-Oblique": ("DejaVuSans-Core-Oblique.ttf", "DejaVuSans-Oblique.ttf"),
}
_AMA_NAME = re.compile(r"(AMA PRA Category 1 Credits?)™")


def reportlab_version() -> str | None:
    try:
        import reportlab
    except ImportError:
        return None
    return str(reportlab.Version)


@cache
def _register_fonts() -> tuple[str, ...]:
    """Register the DejaVu faces with reportlab once per process (reportlab subsets them per document)."""
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    fonts = Path(render.__file__).resolve().parent / "fonts"
    used = []
    for name, candidates in RL_FACES.items():
        path = next((fonts / f for f in candidates if (fonts / f).exists()), fonts / candidates[-1])
        pdfmetrics.registerFont(TTFont(name, str(path)))
        used.append(path.name)
    addMapping("DejaVuCore", 0, 0, "DejaVuCore")
    addMapping("DejaVuCore", 1, 0, "DejaVuCore-Bold")
    addMapping("DejaVuCore", 0, 1, "DejaVuCore-Oblique")
    addMapping("DejaVuCore", 1, 1, "DejaVuCore-Bold")
    return tuple(used)


def _font(style: str) -> str:
    return {"": "DejaVuCore", "B": "DejaVuCore-Bold", "I": "DejaVuCore-Oblique"}[style]


def _rgb(color: tuple[int, int, int]) -> Any:
    from reportlab.lib.colors import Color

    return Color(color[0] / 255, color[1] / 255, color[2] / 255)


def _markup(text: str) -> str:
    """Plain text as Paragraph markup, the AMA credit name in italics with a superscript ™ (as fpdf2 sets it)."""
    return _AMA_NAME.sub(r"<i>\1</i><super>™</super>", escape(text))


def _claimed(doc: CertificateDocument) -> list[str]:
    """The "credit claimed" items of page 1, as markup: the amount bold, a no-break space, the credit name."""
    printed = doc.printed_credits
    codes = [c for c in render.CREDIT_ORDER if c in printed] + sorted(set(printed) - set(render.CREDIT_ORDER))
    items = []
    for code in codes:
        if code == "PARTICIPATION":
            continue
        amount = printed[code]
        items.append(f"<b>{render.format_amount(amount)}</b>\u00a0{_markup(render.credit_name(code, amount))}")
    hours = doc.hours_of_participation
    if hours is not None and (doc.kind == "participation" or "PARTICIPATION" in doc.credits_claimed):
        name = render.credit_name("PARTICIPATION", hours)
        items.append(f"<b>{render.format_amount(hours)}</b>\u00a0{escape(name)}")
    if doc.kind == "physician" and doc.moc_points is not None and doc.moc_boards:
        boards = escape(", ".join(doc.moc_boards))
        items.append(f"<b>{render.format_amount(doc.moc_points)}</b>\u00a0MOC points ({boards})")
    return items


def _plain(markup: str) -> str:
    return re.sub(r"<[^>]+>", "", markup).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")


def _canvas_class() -> Any:
    from reportlab.pdfgen.canvas import Canvas

    class NumberedCanvas(Canvas):  # type: ignore[misc]
        """Defers each page so the footer can say "Page n of N" (fpdf2's {nb} alias)."""

        footer_text = ""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for number, state in enumerate(self._pages, 1):
                self.__dict__.update(state)
                self._footer(number, total)
                Canvas.showPage(self)
            Canvas.save(self)

        def _footer(self, number: int, total: int) -> None:
            width, _ = self._pagesize
            y = (PAGE_MARGIN - 4 - 2) * MM - 7 * 0.35  # fpdf2: a 4 mm cell 14 mm above the bottom edge
            self.setFont(_font(""), 7)
            self.setFillColor(_rgb(MUTED))
            self.drawString(PAGE_MARGIN * MM, y, self.footer_text)
            self.drawRightString(width - PAGE_MARGIN * MM, y, f"Page {number} of {total}")

    return NumberedCanvas


@cache
def _canvas() -> Any:
    return _canvas_class()


def render_reportlab(doc: CertificateDocument) -> bytes:
    """The certificate of `render.render_certificate` drawn with reportlab: same page, texts, fonts, QR code
    and transcript table (the layout follows render.py's, not to the point)."""
    from reportlab.lib.pagesizes import A4, landscape, letter

    _register_fonts()
    buf = io.BytesIO()
    size = landscape(letter if doc.paper == "letter" else A4)
    canvas = _canvas()(
        buf, pagesize=size, invariant=1, pageCompression=1, lang="en", initialFontName="DejaVuCore", initialFontSize=10
    )
    title = TITLES[doc.kind][0]
    canvas.setTitle(f"CME certificate: {doc.activity_title}")
    canvas.setAuthor(doc.provider_name)
    canvas.setSubject(f"{title} for {doc.display_name}, certificate {doc.certificate_id} version {doc.version}")
    canvas.setCreator("cme-credit-pipeline")
    canvas.setKeywords(f"CME certificate {doc.certificate_id} version {doc.version}")
    canvas.footer_text = f"Certificate {doc.certificate_id} · version {doc.version} · {doc.verify_url}"
    _rl_certificate_page(canvas, doc)
    canvas.showPage()
    _rl_transcript_pages(canvas, doc)
    canvas.save()
    return buf.getvalue()


def _qr_png(url: str) -> io.BytesIO:
    """The QR code PNG, made as render.py makes it (segno, error level M, 8 px modules)."""
    import segno

    buf = io.BytesIO()
    segno.make(url, error="m", micro=False).save(buf, kind="png", scale=8, border=0, dark="#16263e")
    buf.seek(0)
    return buf


def _style(size: float, style: str = "", color: tuple[int, int, int] = INK, align: str = "C", **kw: Any) -> Any:
    from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT, TA_RIGHT
    from reportlab.lib.styles import ParagraphStyle

    alignment = {"C": TA_CENTER, "L": TA_LEFT, "R": TA_RIGHT, "J": TA_JUSTIFY}[align]
    kw.setdefault("leading", size * 0.45 * MM)
    return ParagraphStyle(
        "cert", fontName=_font(style), fontSize=size, textColor=_rgb(color), alignment=alignment, **kw
    )


class _Cursor:
    """fpdf2's top-down y in mm on a reportlab canvas."""

    def __init__(self, canvas: Any) -> None:
        self.canvas = canvas
        self.w = canvas._pagesize[0] / MM
        self.h = canvas._pagesize[1] / MM
        self.y = PAGE_MARGIN

    def para(self, markup: str, style: Any, x: float, width: float) -> float:
        """A wrapped paragraph whose top is at the cursor; moves the cursor below it."""
        from reportlab.platypus import Paragraph

        p = Paragraph(markup, style)
        _, height = p.wrap(width * MM, self.h * MM)
        p.drawOn(self.canvas, x * MM, (self.h - self.y) * MM - height)
        self.y += height / MM
        return height / MM

    def center(
        self, text: str, size: float, style: str = "", color: tuple[int, int, int] = INK, gap: float = 0
    ) -> None:
        self.para(escape(text), _style(size, style, color), PAGE_MARGIN, self.w - 2 * PAGE_MARGIN)
        self.y += gap

    def line(self, x1: float, y1: float, x2: float, y2: float) -> None:
        self.canvas.line(x1 * MM, (self.h - y1) * MM, x2 * MM, (self.h - y2) * MM)


def _fit(text: str, style: str, width: float, largest: float, smallest: float) -> float:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    size = largest
    while size > smallest and stringWidth(text, _font(style), size) > width * MM:
        size = max(size - 1, smallest)
    return size


def _rl_certificate_page(canvas: Any, doc: CertificateDocument) -> None:
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.platypus import Paragraph

    c = _Cursor(canvas)
    w, h = c.w, c.h
    width = w - 2 * PAGE_MARGIN
    title, subtitle = TITLES[doc.kind]
    canvas.setStrokeColor(_rgb(RULE))
    canvas.setLineWidth(1.2 * MM)
    canvas.rect(8 * MM, 8 * MM, (w - 16) * MM, (h - 16) * MM)
    canvas.setLineWidth(0.3 * MM)
    canvas.rect(10.5 * MM, 10.5 * MM, (w - 21) * MM, (h - 21) * MM)

    c.y = PAGE_MARGIN + 2
    c.center(doc.provider_name, _fit(doc.provider_name, "B", width, 13, 9), "B", ACCENT)
    if doc.joint_provider:
        c.center(f"in joint providership with {doc.joint_provider}", 9, "", MUTED)
    if doc.provider_address:
        c.center(doc.provider_address, 8, "", MUTED)
    c.y += 4
    c.center(title, _fit(title, "B", width, 26, 18), "B", ACCENT)
    if subtitle:
        c.y += 1
        c.center(subtitle, 13, "", ACCENT)
    c.y += 4
    c.center("This certifies that", 10.5, "", MUTED, gap=2)

    name = doc.display_name
    name_size = _fit(name, "B", width - 20, 28, 16)
    if stringWidth(name, _font("B"), name_size) <= (width - 20) * MM or not doc.degree:
        c.center(name, name_size, "B", INK, gap=1)
    else:
        name_size = _fit(doc.learner_name, "B", width - 20, 22, 14)
        c.center(doc.learner_name, name_size, "B", INK)
        c.center(doc.degree, name_size * 0.75, "B", INK, gap=1)
    canvas.setStrokeColor(_rgb(RULE))
    canvas.setLineWidth(0.3 * MM)
    c.line(w / 2 - 70, c.y + 0.5, w / 2 + 70, c.y + 0.5)
    c.y += 4

    verb = "has participated in" if doc.kind == "participation" else "has completed"
    c.center(f"{verb} the {FORMAT_WORDS[doc.activity_format]}", 10.5, "", MUTED, gap=2)
    title_size = 16.0
    while title_size > 11:
        p = Paragraph(escape(doc.activity_title), _style(title_size, "B"))
        _, height = p.wrap((width - 20) * MM, h * MM)
        if height <= 2 * title_size * 0.45 * MM + 0.01:
            break
        title_size -= 1
    c.para(escape(doc.activity_title), _style(title_size, "B"), PAGE_MARGIN + 10, width - 20)
    c.y += 1.5
    details = " · ".join(
        [FORMAT_WORDS[doc.activity_format].capitalize(), doc.location, render.format_dates(doc.starts_on, doc.ends_on)]
    )
    c.center(details, 10.5, "", INK, gap=4)

    claimed = _claimed(doc)
    if claimed:
        label = "Participation recorded" if doc.kind == "participation" else "Credit claimed"
        c.center(label.upper(), 8, "B", MUTED, gap=1)
        line = "\u00a0\u00a0\u00a0·\u00a0\u00a0\u00a0".join(claimed)
        size = _fit(_plain(line), "B", width - 10, 13, 10)
        c.para(line, _style(size, leading=size * 1.25), PAGE_MARGIN, width)
        c.y += 3

    qr_size = 30.0
    band_bottom = h - PAGE_MARGIN - 3
    right_w = 52.0
    right_x = w - PAGE_MARGIN - right_w
    left_x = PAGE_MARGIN + 4
    left_w = right_x - left_x - 8
    top = max(c.y + 2, band_bottom - 58)
    canvas.setStrokeColor(_rgb(RULE))
    canvas.setLineWidth(0.2 * MM)
    c.line(left_x, top, w - PAGE_MARGIN - 4, top)

    texts = [_markup(s) for s in render.statements(doc)]
    available = band_bottom - (top + 3)
    size = 9.0
    while True:
        style = _style(size, align="J", leading=size * 1.25, spaceAfter=1.6 * MM)
        paras = [Paragraph(t, style) for t in texts]
        height = sum(p.wrap(left_w * MM, h * MM)[1] for p in paras) / MM + len(paras) * 1.6
        if height <= available or size <= 6.5:
            break
        size -= 0.5
    y = (h - top - 3) * MM
    for p in paras:
        y -= p.height
        p.drawOn(canvas, left_x * MM, y)
        y -= 1.6 * MM

    qr_x, qr_y = w - PAGE_MARGIN - 4 - qr_size, top + 3
    image = ImageReader(_qr_png(doc.verify_url))
    bottom = (h - qr_y - qr_size) * MM
    canvas.drawImage(image, qr_x * MM, bottom, qr_size * MM, qr_size * MM)
    canvas.linkURL(doc.verify_url, (qr_x * MM, bottom, (qr_x + qr_size) * MM, bottom + qr_size * MM), relative=0)
    c.y = qr_y + qr_size + 1.5
    info = [
        f"Issued {render.format_dates(doc.issued_at.date(), doc.issued_at.date())}",
        f"Certificate ID {doc.certificate_id}",
        f"Version {doc.version}" + (" (reissued)" if doc.version > 1 else ""),
    ]
    for text in info:
        c.para(escape(text), _style(7.5, align="R", leading=3.4 * MM), right_x, right_w - 4)
    url_w = right_w - 4
    url_size = _fit(doc.verify_url, "", url_w, 7, 5.5)
    url_lines = [doc.verify_url]
    if stringWidth(doc.verify_url, _font(""), url_size) > url_w * MM and "/" in doc.verify_url.rstrip("/"):
        cut = doc.verify_url.rstrip("/").rindex("/") + 1
        url_lines = [doc.verify_url[:cut], doc.verify_url[cut:]]
    for text in url_lines:
        y_top = c.y
        c.para(escape(text), _style(url_size, color=ACCENT, align="R", leading=3 * MM), right_x, url_w)
        rect = (right_x * MM, (h - c.y) * MM, (right_x + url_w) * MM, (h - y_top) * MM)
        canvas.linkURL(doc.verify_url, rect, relative=0)


def _rl_transcript_pages(canvas: Any, doc: CertificateDocument) -> None:
    from reportlab.platypus import Frame, Paragraph, Spacer, Table, TableStyle

    w, h = canvas._pagesize[0] / MM, canvas._pagesize[1] / MM
    width = w - 2 * PAGE_MARGIN
    about = (
        f"{doc.provider_name} · {FORMAT_WORDS[doc.activity_format].capitalize()} · {doc.location} · "
        f"{render.format_dates(doc.starts_on, doc.ends_on)}"
    )
    printed = doc.printed_credits
    codes = [c for c in render.CREDIT_ORDER if c in printed] + sorted(set(printed) - set(render.CREDIT_ORDER))
    claimed = "; ".join(render.credit_label(c, printed[c]) for c in codes) or "none"
    story: list[Any] = [
        Paragraph("Transcript", _style(16, "B", ACCENT, "L", leading=8 * MM)),
        Paragraph(escape(doc.display_name), _style(11, "B", INK, "L", leading=5.5 * MM)),
        Paragraph(escape(doc.activity_title), _style(9.5, "", INK, "L", leading=4.6 * MM)),
        Paragraph(escape(about), _style(9.5, "", MUTED, "L", leading=4.6 * MM)),
        Spacer(0, 1.5 * MM),
        Paragraph(
            escape(
                f"Credit claimed on this certificate: {claimed}. Minutes are the learner's recorded attendance, "
                "breaks excluded."
            ),
            _style(8, "", INK, "L", leading=4 * MM),
        ),
        Spacer(0, 4 * MM),
    ]

    date_w, minutes_w = 26.0, 18.0
    credit_w = min(30.0, (width - date_w - minutes_w - 70.0) / max(len(codes), 1))
    col_widths = [date_w, width - date_w - minutes_w - credit_w * len(codes), minutes_w, *([credit_w] * len(codes))]
    heading_pt = 8 if len(codes) <= 4 else 7
    head_style = _style(heading_pt, "B", INK, "L", leading=4.4 * MM)
    head_right = _style(heading_pt, "B", INK, "R", leading=4.4 * MM)
    head_italic = _style(heading_pt, "", INK, "R", leading=4.4 * MM)
    cell = _style(8.5, "", INK, "L", leading=4.4 * MM)
    head = [Paragraph("Date", head_style), Paragraph("Session", head_style), Paragraph("Minutes", head_right)]
    for code in codes:
        name = render.credit_name(code, Decimal(2))
        name = name[:1].upper() + name[1:]
        head.append(
            Paragraph(_markup(name), head_italic) if code == "AMA_PRA_1" else Paragraph(escape(name), head_right)
        )
    rows: list[list[Any]] = [head]
    total_minutes = 0
    totals = dict.fromkeys(codes, Decimal(0))
    for line in sorted(doc.sessions, key=lambda s: s.day):
        row: list[Any] = [line.day.isoformat(), Paragraph(escape(line.title), cell), str(line.minutes)]
        total_minutes += line.minutes
        for code in codes:
            amount = line.credits.get(code)
            row.append(render.format_amount(amount) if amount is not None else "–")
            if amount is not None:
                totals[code] += amount
        rows.append(row)
    rows.append(["Total", "", str(total_minutes), *(render.format_amount(totals[c]) for c in codes)])
    grey = _rgb((200, 200, 200))
    table = Table(rows, colWidths=[x * MM for x in col_widths], repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), _font(""), 8.5, 4.4 * MM),
                ("FONT", (0, -1), (-1, -1), _font("B"), 8.5, 4.4 * MM),
                ("TEXTCOLOR", (0, 0), (-1, -1), _rgb(INK)),
                ("BACKGROUND", (0, 0), (-1, 0), _rgb((234, 238, 244))),
                ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 1.2 * MM),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.2 * MM),
                ("LEFTPADDING", (0, 0), (-1, -1), 1.5 * MM),
                ("RIGHTPADDING", (0, 0), (-1, -1), 1.5 * MM),
                ("LINEBELOW", (0, 0), (-1, -2), 0.2 * MM, grey),
            ]
        )
    )
    story.append(table)
    bottom = PAGE_MARGIN + 2
    while story:
        frame = Frame(
            PAGE_MARGIN * MM, bottom * MM, width * MM, (h - PAGE_MARGIN - bottom) * MM, 0, 0, 0, 0, showBoundary=0
        )
        frame.addFromList(story, canvas)
        canvas.showPage()


# --------------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------------


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _page_one_text(pdf: bytes) -> str | None:
    try:
        from pypdf import PdfReader
    except ImportError:
        return None
    return PdfReader(io.BytesIO(pdf)).pages[0].extract_text() or ""


def _squash(text: str) -> str:
    return re.sub(r"[\s\x00]+", "", unicodedata.normalize("NFKC", text))


def check_script(doc: CertificateDocument) -> dict[str, Any]:
    """Render `doc` with fpdf2 and say whether its learner's name came out: {supported, note, pdf}."""
    logger = logging.getLogger("cme.certificates")
    handler = _Warnings()
    logger.addHandler(handler)
    began = time.perf_counter()
    try:
        pdf = render.render_certificate(doc)
    except Exception as exc:
        return {"supported": False, "note": f"render raised {type(exc).__name__}: {exc}", "pdf": None}
    finally:
        logger.removeHandler(handler)
    out = {"pdf": pdf, "first_render_seconds": time.perf_counter() - began}
    missing = [m for m in handler.messages if "glyph" in m]
    if missing:
        return {**out, "supported": False, "note": f"missing glyphs: {'; '.join(missing)}"}
    text = _page_one_text(pdf)
    if text is None:
        return {**out, "supported": True, "note": "no missing glyphs (pypdf not installed: name not read back)"}
    # Word by word: right-to-left words are laid out in visual order, each word reading back in logical
    # order when it was shaped (and reversed when it was not).
    page = _squash(text)
    if not all(_squash(word) in page for word in doc.learner_name.split()):
        return {**out, "supported": False, "note": "the name does not read back from page 1 (unshaped or lost)"}
    note = "no missing glyphs, the name reads back from page 1"
    if "\x00" in text:
        note += " (pypdf reads NUL characters around it: fpdf2's CFF font encoding)"
    return {**out, "supported": True, "note": note}


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _timed(fn: Callable[[], Any]) -> float:
    gc.collect()  # garbage left by one renderer is not collected on the other's clock
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def bench_rendering(rounds: int = 50, warm_up: int = 2) -> dict[str, Any]:
    render.warm_up()  # as the issuer would at init; its cost is measured in fresh processes (bench_imports)
    from fpdf import FPDF_VERSION

    rl = reportlab_version()
    docs = {script: certificate_document(name) for script, name in NAMES.items()}
    result: dict[str, Any] = {
        "benchmark": "render a certificate (fpdf2 issuer path vs reportlab)",
        "document": "physician, worked-example meeting, 3 sessions, AMA + ABIM MOC, Letter landscape, 2 pages",
        "rounds": rounds,
        "fpdf2_version": FPDF_VERSION,
        "reportlab_version": rl or "not installed",
    }
    checks = {script: check_script(doc) for script, doc in docs.items()}
    renders: dict[str, Callable[[], Any]] = {}
    for script, doc in docs.items():
        if checks[script]["supported"]:
            renders[f"fpdf2_{script}"] = lambda doc=doc: render.render_certificate(doc)
    if "fpdf2_latin" not in renders:
        raise RuntimeError(f"the Latin certificate does not render: {checks['latin']['note']}")
    if rl is not None:
        if _register_fonts.cache_info().currsize == 0:  # once per process, as fpdf2's faces are parsed
            began = time.perf_counter()
            _register_fonts()
            result["reportlab_font_registration_seconds"] = round(time.perf_counter() - began, 4)
        renders["reportlab_latin"] = lambda: render_reportlab(docs["latin"])
    else:
        print("reportlab is not installed (pip install -e '.[bench]'): the fpdf2/reportlab comparison is skipped")
        result["comparison"] = "skipped: reportlab is not installed (pip install -e '.[bench]')"

    for fn in renders.values():
        for _ in range(warm_up):
            fn()
    times: dict[str, list[float]] = {key: [] for key in renders}
    keys = list(renders)
    for i in range(rounds):
        order = keys[i % len(keys) :] + keys[: i % len(keys)]  # rotate who goes first
        for key in order:
            times[key].append(_timed(renders[key]))

    f_med = _median(times["fpdf2_latin"])
    result["fpdf2_seconds_per_certificate_median"] = round(f_med, 5)
    result["fpdf2_certificates_per_second"] = round(1 / f_med, 2)
    if "reportlab_latin" in times:
        r_med = _median(times["reportlab_latin"])
        result["reportlab_seconds_per_certificate_median"] = round(r_med, 5)
        result["reportlab_certificates_per_second"] = round(1 / r_med, 2)
        result["fpdf2_over_reportlab_time_ratio"] = round(f_med / r_med, 3)
        paired = [f / r for f, r in zip(times["fpdf2_latin"], times["reportlab_latin"], strict=True)]
        result["fpdf2_over_reportlab_time_ratio_paired_median"] = round(_median(paired), 3)

    for script, doc in docs.items():
        check = checks[script]
        entry: dict[str, Any] = {"name": doc.learner_name, "supported": check["supported"], "note": check["note"]}
        if check["supported"]:
            # The first render of a script in the process parses the fallback faces it needs.
            entry["fpdf2_first_render_seconds"] = round(check["first_render_seconds"], 4)
            entry["pdf_bytes_fpdf2"] = len(check["pdf"])
            entry["fpdf2_seconds_per_certificate_median"] = round(_median(times[f"fpdf2_{script}"]), 5)
            if script == "latin" and rl is not None:
                entry["pdf_bytes_reportlab"] = len(render_reportlab(doc))
        result[script] = entry
    return result


# --------------------------------------------------------------------------------------------------
# The issuer's import time
# --------------------------------------------------------------------------------------------------

_ISSUER_CHILD = """
import json, sys, time
began = time.perf_counter()
import app
imported = time.perf_counter()
warms_up = "fpdf" in sys.modules
from cme.certificates import render
render.warm_up()
warm = time.perf_counter()
print(json.dumps({"import": imported - began, "import_warm_up": warm - began, "warms_up": warms_up}))
"""

_BOTO3_CHILD = """
import json, time
began = time.perf_counter()
import boto3
boto3.client("s3")
print(json.dumps({"boto3": time.perf_counter() - began}))
"""


def _issuer_env() -> dict[str, str]:
    """The issuer's environment (template.yaml Globals and its own variables) with inert AWS credentials.

    Bytecode caches are written (by the first, unmeasured process), so the figures are imports, not compiles."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(
        {
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_EC2_METADATA_DISABLED": "true",
            "TABLE_NAME": "cme",
            "IDEMPOTENCY_TABLE": "cme-idempotency",
            "EVENT_BUS_NAME": "cme",
            "CERTIFICATE_BUCKET": "cme-certificates",
            "POWERTOOLS_METRICS_NAMESPACE": "CME",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "POWERTOOLS_SERVICE_NAME": "issue_certificate",
            "PUBLIC_BASE_URL": "https://cme.example.org",
            "STAGE": "bench",
        }
    )
    return env


def _child(code: str, *flags: str) -> tuple[dict[str, Any], str]:
    """`code` in a fresh process that can import only what a deployment ships (as the cold-start bench's)."""
    from cme_local.bench_coldstart import deployed_only

    done = subprocess.run(  # noqa: S603 (our own interpreter and code)
        [sys.executable, *flags, "-c", deployed_only() + code],
        cwd=ISSUER_DIR,
        env=_issuer_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def bench_imports(processes: int = 5) -> dict[str, Any]:
    _child(_ISSUER_CHILD)  # bytecode caches written, files in the page cache
    _child(_BOTO3_CHILD)
    issuer, baseline = [], []
    for _ in range(processes):  # interleaved, as the renders are
        issuer.append(_child(_ISSUER_CHILD)[0])
        baseline.append(_child(_BOTO3_CHILD)[0]["boto3"])
    imp = _median([r["import"] for r in issuer])
    warm = _median([r["import_warm_up"] for r in issuer])
    warm_up_only = _median([r["import_warm_up"] - r["import"] for r in issuer])
    boto = _median(baseline)
    _, trace = _child(_ISSUER_CHILD, "-X", "importtime")
    from cme_local.bench_coldstart import largest_imports

    return {
        "processes": processes,
        "handler_warms_up_at_import": any(r["warms_up"] for r in issuer),
        "import_handler_seconds_median": round(imp, 4),
        "warm_up_seconds_median": round(warm_up_only, 4),
        "import_handler_and_warm_up_seconds_median": round(warm, 4),
        "boto3_import_and_client_seconds_median": round(boto, 4),
        "import_handler_over_boto3_ratio": round(imp / boto, 2),
        "import_handler_and_warm_up_over_boto3_ratio": round(warm / boto, 2),
        "largest_imports": largest_imports(trace)[1],
    }


def bench_certificates(rounds: int = 50, import_processes: int = 5) -> dict[str, Any]:
    result = bench_rendering(rounds=rounds)
    result["issuer_import"] = bench_imports(import_processes) if import_processes > 0 else "skipped"
    return result
