"""CME certificate PDF: page 1 the certificate, page 2 (and on) the session transcript.

Public API
----------
- `CertificateDocument`, `TranscriptLine`: what a certificate prints (frozen dataclasses, no I/O).
- `render_certificate(doc) -> bytes`: the PDF. Same document in, same bytes out (the PDF creation
  date is `doc.issued_at` and the file id is a hash of the content).
- `statements(doc) -> list[str]`: the accreditation/designation statements the certificate prints,
  as plain text (the PDF sets the credit name in italics with a superscript ™).
- `credit_label(code, amount)`, `credit_name(code, amount)`, `format_amount(amount)`: the human wording
  of a credit amount ("3.5 AMA PRA Category 1 Credits™"), e.g. for the certificate mail.
- `warm_up()`: import fpdf2 and parse the fonts now (call it at Lambda init, outside the handler).

fpdf2 costs ~0.5 s to import, so it is imported on first use, not when this module is imported:
the wording helpers above can be used without paying for it.

Wording decisions
-----------------
- "Credit(s)" in the ACCME templates is printed as "Credit" when the number is exactly 1 and
  "Credits" otherwise; the same rule applies to every credit name ("1 ANCC contact hour").
- The ABIM MOC statement's "up to {N} MOC points" uses the activity's AMA PRA Category 1 maximum
  (MOC points equal the credit claimed); `moc_points` is the learner's own points, listed with the
  credit claimed. It is printed on physician certificates only, when `moc_boards` contains "ABIM".
- Nursing certificates carry the ANCC statement (or the Joint Accreditation statement when
  `jointly_accredited`), never the AMA designation. Participation certificates carry the ACCME
  accreditation statement and "This activity was designated for {N} AMA PRA Category 1 Credits™"
  plus the hours of participation, never the physician designation/claim wording.
- AMA PRA Category 1 Credit can only be awarded to physicians: on a nursing or participation
  certificate an AMA_PRA_1 entry of `credits_claimed` is not printed (page 1 nor transcript). A
  physician document without `designated_max["AMA_PRA_1"]` is rejected (ValueError).

Paper: US Letter landscape (ACCME providers are US organisations); `paper="a4"` gives A4 landscape.

Fonts (./fonts, see its README): text is set in "DejaVu Sans Core", DejaVu Sans cut down to Latin,
Greek, Cyrillic, punctuation and ™; the full DejaVu Sans is the first fallback, attached to a
document only when its text needs a character outside the cut (Armenian, Georgian, ...). Each face
is read from disk and parsed once per process; every document gets a light clone of the parsed face
(see `_FontCache`). Scripts DejaVu lacks (CJK, Arabic) are to be added to `FALLBACK_FACES`.
"""

from __future__ import annotations

import io
import logging
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cme.domain.models import CREDIT_NAMES

if TYPE_CHECKING:  # pragma: no cover
    from fpdf import FPDF

__all__ = [
    "CREDIT_ORDER",
    "CertificateDocument",
    "TranscriptLine",
    "credit_label",
    "credit_name",
    "format_amount",
    "render_certificate",
    "statements",
    "warm_up",
]

LOG = logging.getLogger(__name__)
# fpdf2 logs the very characters a font lacks, i.e. pieces of a learner's name: keep them out of the
# logs (this module logs how many characters are missing, never which).
logging.getLogger("fpdf.output").setLevel(logging.ERROR)

FONT_DIR = Path(__file__).resolve().parent / "fonts"
CREATOR = "cme-credit-pipeline"

# --------------------------------------------------------------------------------------------------
# The document
# --------------------------------------------------------------------------------------------------

Kind = Literal["physician", "nursing", "participation"]
_TEXT_FIELDS = (
    "learner_name", "degree", "provider_name", "joint_provider", "provider_address", "activity_title",
    "location",
)  # fmt: skip


@dataclass(frozen=True)
class TranscriptLine:
    title: str
    day: date
    minutes: int
    credits: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class CertificateDocument:
    certificate_id: str
    version: int
    kind: Kind
    learner_name: str
    degree: str
    provider_name: str
    joint_provider: str | None
    provider_address: str | None
    activity_title: str
    activity_format: Literal["live", "enduring"]
    location: str
    starts_on: date
    ends_on: date
    credits_claimed: dict[str, Decimal]
    designated_max: dict[str, Decimal]
    participation_hours: Decimal | None
    moc_boards: list[str]
    moc_points: Decimal | None
    issued_at: datetime
    verify_url: str
    sessions: list[TranscriptLine]
    #: Optional: "letter" (default, US providers) or "a4", both landscape.
    paper: Literal["letter", "a4"] = "letter"
    #: Optional: the provider is jointly accredited (ACCME/ACPE/ANCC); its JA statement then replaces
    #: the ACCME accreditation statement and the ANCC statement.
    jointly_accredited: bool = False

    def __post_init__(self) -> None:
        # Print composed characters ("e" + combining acute -> "é"): fpdf2 sets one glyph per code
        # point and places no combining marks without text shaping.
        for name in _TEXT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, unicodedata.normalize("NFC", value))
        if self.kind not in ("physician", "nursing", "participation"):
            raise ValueError(f"kind: unknown certificate kind {self.kind!r}")
        if self.activity_format not in ("live", "enduring"):
            raise ValueError(f"activity_format: unknown format {self.activity_format!r}")
        if self.version < 1:
            raise ValueError("version must be 1 or more")
        if self.ends_on < self.starts_on:
            raise ValueError("ends_on must not be before starts_on")
        if self.kind == "physician" and "AMA_PRA_1" not in self.designated_max:
            raise ValueError("designated_max.AMA_PRA_1 is required on a physician certificate")
        for code, amount in {**self.credits_claimed, **self.designated_max}.items():
            if not isinstance(amount, Decimal) or amount < 0:
                raise ValueError(f"{code}: {amount!r} is not a non-negative Decimal")

    @property
    def display_name(self) -> str:
        return f"{self.learner_name}, {self.degree}" if self.degree else self.learner_name

    @property
    def printed_credits(self) -> dict[str, Decimal]:
        """The credit the certificate prints: AMA PRA Category 1 Credit only on a physician's."""
        if self.kind == "physician":
            return self.credits_claimed
        return {code: amount for code, amount in self.credits_claimed.items() if code != "AMA_PRA_1"}

    @property
    def hours_of_participation(self) -> Decimal | None:
        if self.participation_hours is not None:
            return self.participation_hours
        return self.credits_claimed.get("PARTICIPATION")


# --------------------------------------------------------------------------------------------------
# Wording
# --------------------------------------------------------------------------------------------------

#: Canonical order of credit types on a certificate (as `cme.domain.models.CREDIT_TYPES`).
CREDIT_ORDER: tuple[str, ...] = ("AMA_PRA_1", "ANCC", "ACPE", "AAPA_1", "IPCE", "PARTICIPATION")

# code -> (singular, plural). AMA's name is italic with a superscript ™ in the PDF.
_TM = "™"

FORMAT_WORDS = {"live": "live activity", "enduring": "enduring material"}
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def format_amount(amount: Decimal) -> str:
    """3.50 -> "3.5", 10 -> "10", 0.25 -> "0.25" (never exponent notation)."""
    text = f"{amount.quantize(Decimal('0.01')):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def credit_name(code: str, amount: Decimal) -> str:
    """The credit's name for that amount, without the number: "AMA PRA Category 1 Credits™"."""
    singular, plural = CREDIT_NAMES.get(code, (code, code))
    name = singular if amount == 1 else plural
    return name + _TM if code == "AMA_PRA_1" else name


def credit_label(code: str, amount: Decimal) -> str:
    """ "3.5 AMA PRA Category 1 Credits™", "1 ANCC contact hour"."""
    return f"{format_amount(amount)} {credit_name(code, amount)}"


def _ordered(codes: Iterable[str]) -> list[str]:
    codes = set(codes)
    return [c for c in CREDIT_ORDER if c in codes] + sorted(codes - set(CREDIT_ORDER))


def _the(name: str) -> str:
    """ "The {provider}" of the ACCME templates, without doubling a name that starts with "The"."""
    return name if name.lower().startswith("the ") else f"The {name}"


def format_dates(starts_on: date, ends_on: date) -> str:
    """March 3, 2025 / March 3–5, 2025 / March 30 – April 2, 2025 / December 30, 2025 – January 2, 2026."""

    def md(day: date) -> str:
        return f"{_MONTHS[day.month - 1]} {day.day}"

    if starts_on == ends_on:
        return f"{md(starts_on)}, {starts_on.year}"
    if starts_on.year != ends_on.year:
        return f"{md(starts_on)}, {starts_on.year} – {md(ends_on)}, {ends_on.year}"
    if starts_on.month != ends_on.month:
        return f"{md(starts_on)} – {md(ends_on)}, {ends_on.year}"
    return f"{md(starts_on)}–{ends_on.day}, {ends_on.year}"


def format_day(day: date) -> str:
    return f"{_MONTHS[day.month - 1]} {day.day}, {day.year}"


# A run of text and how it is set: "" regular, "B" bold, "I" italic, "SUP" superscript regular.
Run = tuple[str, str]


def _ama_runs(amount: Decimal) -> list[Run]:
    singular, plural = CREDIT_NAMES["AMA_PRA_1"]
    return [(singular if amount == 1 else plural, "I"), (_TM, "SUP")]


def _credit_runs(code: str, amount: Decimal) -> list[Run]:
    """ "3.5 AMA PRA Category 1 Credits™" with the amount in bold."""
    # A no-break space keeps each amount on the line of its credit name.
    if code == "AMA_PRA_1":
        return [(format_amount(amount), "B"), ("\u00a0", ""), *_ama_runs(amount)]
    return [(format_amount(amount), "B"), ("\u00a0" + credit_name(code, amount), "")]


def _statement_runs(doc: CertificateDocument) -> list[list[Run]]:
    """Each statement the certificate prints, as styled runs (cme-facts.md, word for word)."""
    provider = doc.provider_name
    ama_max = doc.designated_max.get("AMA_PRA_1")
    out: list[list[Run]] = []

    ja = [
        (
            f"In support of improving patient care, {provider} is jointly accredited by the Accreditation "
            "Council for Continuing Medical Education (ACCME), the Accreditation Council for Pharmacy "
            "Education (ACPE), and the American Nurses Credentialing Center (ANCC), to provide continuing "
            "education for the healthcare team.",
            "",
        )
    ]
    if doc.joint_provider:
        accreditation = [
            (
                "This activity has been planned and implemented in accordance with the accreditation "
                "requirements and policies of the Accreditation Council for Continuing Medical Education "
                f"(ACCME) through the joint providership of {provider} and {doc.joint_provider}. "
                f"{_the(provider)} is accredited by the ACCME to provide continuing medical education "
                "for physicians.",
                "",
            )
        ]
    elif doc.jointly_accredited:
        accreditation = ja
    else:
        accreditation = [
            (
                f"{_the(provider)} is accredited by the Accreditation Council for Continuing Medical "
                "Education (ACCME) to provide continuing medical education for physicians.",
                "",
            )
        ]

    if doc.kind == "physician":
        assert ama_max is not None  # checked in __post_init__
        out.append(accreditation)
        out.append(
            [
                (
                    f"{_the(provider)} designates this {FORMAT_WORDS[doc.activity_format]} for a maximum of "
                    f"{format_amount(ama_max)} ",
                    "",
                ),
                *_ama_runs(ama_max),
                (
                    ". Physicians should claim only the credit commensurate with the extent of their "
                    "participation in the activity.",
                    "",
                ),
            ]
        )
        if "ABIM" in doc.moc_boards:
            out.append(
                [
                    (
                        "Successful completion of this CME activity, which includes participation in the "
                        "evaluation component, enables the participant to earn up to "
                        f"{format_amount(ama_max)} MOC points in the American Board of Internal Medicine's "
                        "(ABIM) Maintenance of Certification (MOC) program. Participants will earn MOC points "
                        "equivalent to the amount of CME credits claimed for the activity. It is the CME "
                        "activity provider's responsibility to submit participant completion information to "
                        "ACCME for the purpose of granting ABIM MOC credit.",
                        "",
                    )
                ]
            )
    elif doc.kind == "nursing":
        if doc.jointly_accredited:
            out.append(ja)
        else:
            out.append(
                [
                    (
                        f"{provider} is accredited as a provider of nursing continuing professional development "
                        "by the American Nurses Credentialing Center's Commission on Accreditation.",
                        "",
                    )
                ]
            )
    else:  # participation
        out.append(accreditation)
        if ama_max is not None:
            designated: list[Run] = [
                (f"This activity was designated for {format_amount(ama_max)} ", ""),
                *_ama_runs(ama_max),
                (".", ""),
            ]
            hours = doc.hours_of_participation
            if hours is not None:
                designated.append((f" Hours of participation: {format_amount(hours)}.", ""))
            out.append(designated)
    if "ACPE" in doc.printed_credits:
        out.append([("ACPE credit is reported to NABP CPE Monitor.", "")])
    return out


def _plain(runs: Sequence[Run]) -> str:
    return "".join(text for text, _ in runs)


def statements(doc: CertificateDocument) -> list[str]:
    """The statements printed on the certificate, as plain text."""
    return [_plain(runs) for runs in _statement_runs(doc)]


def _claimed_runs(doc: CertificateDocument) -> list[list[Run]]:
    items = [
        _credit_runs(code, amount)
        for code, amount in ((c, doc.printed_credits[c]) for c in _ordered(doc.printed_credits))
        if code != "PARTICIPATION"
    ]
    hours = doc.hours_of_participation
    if hours is not None and (doc.kind == "participation" or "PARTICIPATION" in doc.credits_claimed):
        items.append(_credit_runs("PARTICIPATION", hours))
    if doc.kind == "physician" and doc.moc_points is not None and doc.moc_boards:
        boards = ", ".join(doc.moc_boards)
        items.append([(format_amount(doc.moc_points), "B"), (f"\u00a0MOC points ({boards})", "")])
    return items


# --------------------------------------------------------------------------------------------------
# Fonts: parsed once per process, cloned per document
# --------------------------------------------------------------------------------------------------

FAMILY = "dejavu"


@dataclass(frozen=True)
class FontFace:
    family: str
    style: Literal["", "B", "I", "BI"]
    filename: str


#: The faces text is set in: DejaVu Sans cut down to Latin, Greek, Cyrillic, punctuation and ™
#: (fonts/build_core_fonts.py). fpdf2 subsets each embedded face per document at a cost that grows
#: with the face's glyph count, so the 1,900-glyph cut renders about twice as fast as the original.
PRIMARY_FACES: tuple[FontFace, ...] = (
    FontFace(FAMILY, "", "DejaVuSans-Core.ttf"),
    FontFace(FAMILY, "B", "DejaVuSans-Core-Bold.ttf"),
    FontFace(FAMILY, "I", "DejaVuSans-Core-Oblique.ttf"),
)
#: Faces for characters the primary faces lack, tried family by family in order. A family is
#: attached to a document only when the document's text needs it (every attached face is embedded
#: and subsetted, used or not). Variable text (names, titles, places) is set in regular and bold
#: only, so a fallback family needs those two styles. To add CJK or Arabic, ship e.g. Noto Sans CJK
#: / Noto Naskh Arabic whole in ./fonts and append their faces here (Arabic also needs fpdf2's text
#: shaping: `pdf.set_text_shaping(True)`, which requires uharfbuzz).
FALLBACK_FACES: tuple[FontFace, ...] = (
    FontFace("dejavufull", "", "DejaVuSans.ttf"),
    FontFace("dejavufull", "B", "DejaVuSans-Bold.ttf"),
)

# Tables fpdf2 drops from every embedded subset anyway (output.py `_add_fonts`), plus `kern` (fpdf2
# positions glyphs itself). Removing them once per process saves the per-document subsetter from
# decompiling them. Text shaping (HarfBuzz) reads the font file from disk, not these bytes.
_DROPPED_TABLES = ("FFTM", "GDEF", "GPOS", "GSUB", "MATH", "hdmx", "kern", "meta")

# TTFFont slots that hold per-document state; every other slot is immutable after parsing (or, for
# `cw`, a defaultdict whose only mutation is inserting the same default width) and is shared.
_PER_DOCUMENT_SLOTS = frozenset({"i", "ttfont", "subset", "missing_glyphs", "biggest_size_pt"})
# The TTFFont slots of fpdf2 2.8.x this clone logic was checked against. If fpdf2 changes them,
# documents fall back to the uncached `add_font` (correct, slower) and a warning is logged.
KNOWN_TTFFONT_SLOTS = frozenset({
    "i", "type", "name", "desc", "glyph_ids", "_hbfont", "sp", "ss", "up", "ut", "cw", "ttffile",
    "fontkey", "emphasis", "scale", "subset", "cmap", "ttfont", "missing_glyphs", "biggest_size_pt",
    "color_font", "unicode_range", "palette_index", "is_compressed", "is_cff", "is_cid_keyed",
    "is_symbol", "cff_ros", "collection_font_number",
})  # fmt: skip


class _FontCache:
    """Each face read and parsed once; each document gets a clone with fresh per-document state.

    fpdf2's `add_font` re-reads and re-parses the TTF for every document (cmap, widths, glyph ids)
    and its output step subsets the font *in place*. So the parsed metrics are shared, and each
    document gets a fresh lazily-opened fontTools object over bytes already in memory.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._protos: dict[FontFace, Any] = {}
        self._bytes: dict[FontFace, bytes] = {}
        self._cloneable: bool | None = None

    def _load(self, face: FontFace) -> Any:
        proto = self._protos.get(face)
        if proto is not None:
            return proto
        with self._lock:
            proto = self._protos.get(face)
            if proto is None:
                from fontTools.ttLib import TTFont
                from fpdf import FPDF
                from fpdf.fonts import TTFFont

                path = FONT_DIR / face.filename
                raw = path.read_bytes()
                font = TTFont(io.BytesIO(raw), recalcTimestamp=False, lazy=True)
                for tag in _DROPPED_TABLES:
                    if tag in font:
                        del font[tag]
                # Keep the Windows Unicode subtables only (what fpdf2's getBestCmap picks): the
                # subsetter then decompiles two subtables instead of five.
                cmap = font["cmap"]
                cmap.tables = [t for t in cmap.tables if t.platformID == 3 and t.platEncID in (1, 10)]
                buf = io.BytesIO()
                font.save(buf)
                font.close()
                self._bytes[face] = buf.getvalue()
                proto = TTFFont(FPDF(), path, f"{face.family}{face.style}", face.style)
                proto.ttfont.close()
                proto.ttfont = None  # never used for output: each document opens its own
                self._protos[face] = proto
        return proto

    def cmap(self, face: FontFace) -> dict[int, str]:
        return self._load(face).cmap

    def _clone_ok(self, proto: Any) -> bool:
        if self._cloneable is None:
            from fpdf.fonts import TTFFont

            self._cloneable = frozenset(TTFFont.__slots__) == KNOWN_TTFFONT_SLOTS
            if not self._cloneable:
                LOG.warning("fpdf2's TTFFont changed: certificate fonts are parsed per document")
        return self._cloneable and proto.color_font is None

    def attach(self, pdf: FPDF, face: FontFace) -> None:
        """Make `face` available to `pdf` (as `pdf.add_font(family, style, file)` would)."""
        from fontTools.ttLib import TTFont
        from fpdf.fonts import SubsetMap, TTFFont

        proto = self._load(face)
        if not self._clone_ok(proto):
            pdf.add_font(face.family, face.style, str(FONT_DIR / face.filename))
            return
        font = TTFFont.__new__(TTFFont)
        for slot in KNOWN_TTFFONT_SLOTS - _PER_DOCUMENT_SLOTS:
            if hasattr(proto, slot):
                setattr(font, slot, getattr(proto, slot))
        font.i = len(pdf.fonts) + 1
        font.ttfont = TTFont(io.BytesIO(self._bytes[face]), recalcTimestamp=False, lazy=True)
        font.missing_glyphs = []
        font.biggest_size_pt = 0
        font.subset = SubsetMap(font)
        pdf.fonts[font.fontkey] = font


_FONTS = _FontCache()


def _text_of(doc: CertificateDocument) -> str:
    parts = [
        doc.learner_name, doc.degree, doc.provider_name, doc.joint_provider or "",
        doc.provider_address or "", doc.activity_title, doc.location, doc.certificate_id,
        doc.verify_url, *doc.moc_boards, *(s.title for s in doc.sessions), *statements(doc),
    ]  # fmt: skip
    return "".join(parts)


def _attach_fonts(pdf: FPDF, doc: CertificateDocument) -> None:
    for face in PRIMARY_FACES:
        _FONTS.attach(pdf, face)
    primary = _FONTS.cmap(PRIMARY_FACES[0])
    missing = {ord(ch) for ch in _text_of(doc) if ord(ch) not in primary and not ch.isspace()}
    families: list[str] = []
    for face in FALLBACK_FACES:
        if face.family in families or not missing:
            continue
        covered = missing & _FONTS.cmap(face).keys()
        if covered:
            families.append(face.family)
            missing -= covered
    for face in FALLBACK_FACES:
        if face.family in families:
            _FONTS.attach(pdf, face)
    if families:
        pdf.set_fallback_fonts(families, exact_match=False)
    if missing:
        LOG.warning("certificate %s: %d characters have no glyph", doc.certificate_id, len(missing))


def warm_up() -> None:
    """Import fpdf2 and segno and parse the primary faces now (call at Lambda init time).

    Fallback faces are parsed the first time a document needs one.
    """
    _pdf_class()
    import segno  # noqa: F401

    for face in PRIMARY_FACES:
        _FONTS.cmap(face)


# --------------------------------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------------------------------

INK = (33, 37, 41)
ACCENT = (22, 62, 114)
MUTED = (95, 99, 104)
RULE = (176, 141, 87)

PAGE_MARGIN = 18.0


@cache
def _producer() -> str:
    from fpdf import FPDF_VERSION

    return f"fpdf2 {FPDF_VERSION}"


@cache
def _pdf_class() -> type[FPDF]:
    from fpdf import FPDF

    class CertificatePDF(FPDF):
        footer_text = ""

        def footer(self) -> None:
            self.set_y(-(PAGE_MARGIN - 4))
            self.set_font(FAMILY, "", 7)
            self.set_text_color(*MUTED)
            self.cell(0, 4, self.footer_text, align="L")
            self.set_x(self.l_margin)
            self.cell(0, 4, f"Page {self.page_no()} of {{nb}}", align="R")

    return CertificatePDF


def render_certificate(doc: CertificateDocument) -> bytes:
    """The certificate as PDF bytes (page 1 certificate, then the transcript)."""
    pdf = _pdf_class()(orientation="L", unit="mm", format=doc.paper)
    pdf.set_margins(PAGE_MARGIN, PAGE_MARGIN, PAGE_MARGIN)
    pdf.set_creation_date(doc.issued_at)
    pdf.set_title(f"CME certificate: {doc.activity_title}")
    pdf.set_author(doc.provider_name)
    pdf.set_subject(
        f"{_TITLES[doc.kind][0]} for {doc.display_name}, certificate {doc.certificate_id} version {doc.version}"
    )
    pdf.set_creator(CREATOR)
    pdf.set_producer(_producer())
    pdf.set_keywords(f"CME certificate {doc.certificate_id} version {doc.version}")
    pdf.set_lang("en")
    pdf.footer_text = (  # type: ignore[attr-defined]
        f"Certificate {doc.certificate_id} · version {doc.version} · {doc.verify_url}"
    )
    _attach_fonts(pdf, doc)

    _certificate_page(pdf, doc)
    _transcript_pages(pdf, doc)
    return bytes(pdf.output())


_TITLES: dict[str, tuple[str, str | None]] = {
    "physician": ("Certificate of Completion", None),
    "nursing": ("Certificate of Attendance", "Nursing Continuing Professional Development"),
    "participation": ("Certificate of Participation", None),
}


def _center(
    pdf: FPDF, text: str, size: float, style: str = "", color: tuple[int, int, int] = INK, gap: float = 0.0
) -> None:
    pdf.set_font(FAMILY, style, size)
    pdf.set_text_color(*color)
    pdf.multi_cell(0, size * 0.45, text, align="C", new_x="LMARGIN", new_y="NEXT")
    if gap:
        pdf.ln(gap)


def _fit_size(pdf: FPDF, text: str, style: str, width: float, largest: float, smallest: float) -> float:
    """The largest size (1 pt steps) at which `text` fits `width` on one line, at least `smallest`."""
    size = largest
    pdf.set_font(FAMILY, style, size)
    while size > smallest and pdf.get_string_width(text) > width:
        size = max(size - 1, smallest)
        pdf.set_font(FAMILY, style, size)
    return size


def _lines(pdf: FPDF, text: str, style: str, size: float, width: float) -> int:
    """Lines a word-wrapped `text` takes (fpdf2's own dry run is quadratic in the line length)."""
    pdf.set_font(FAMILY, style, size)
    space = pdf.get_string_width(" ")
    lines, used = 1, 0.0
    for word in text.split():
        w = pdf.get_string_width(word)
        if used and used + space + w > width:
            lines, used = lines + 1, w
        else:
            used += (space if used else 0.0) + w
    return lines


def _rich(
    pdf: FPDF,
    paragraphs: Sequence[Sequence[Run]],
    *,
    size: float,
    align: str,
    x: float,
    width: float,
    line_height: float = 1.25,
    gap: float = 0.0,
    color: tuple[int, int, int] = INK,
) -> None:
    """Paragraphs of styled runs (italic credit name, superscript ™) in a column at x..x+width."""
    pdf.set_text_color(*color)
    pdf.set_font(FAMILY, "", size)
    with pdf.text_columns(text_align=align, line_height=line_height, l_margin=x, r_margin=pdf.w - x - width) as column:
        for runs in paragraphs:
            with column.paragraph(bottom_margin=gap) as par:
                for text, style in runs:
                    pdf.char_vpos = "SUP" if style == "SUP" else "LINE"
                    pdf.set_font(FAMILY, "" if style == "SUP" else style, size)
                    par.write(text)
                pdf.char_vpos = "LINE"
    pdf.set_font(FAMILY, "", size)
    pdf.char_vpos = "LINE"


def _frame(pdf: FPDF) -> None:
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(1.2)
    pdf.rect(8, 8, pdf.w - 16, pdf.h - 16)
    pdf.set_line_width(0.3)
    pdf.rect(10.5, 10.5, pdf.w - 21, pdf.h - 21)


def _certificate_page(pdf: FPDF, doc: CertificateDocument) -> None:
    from fpdf.enums import WrapMode

    pdf.set_auto_page_break(False)
    pdf.add_page()
    _frame(pdf)
    width = pdf.w - 2 * PAGE_MARGIN
    title, subtitle = _TITLES[doc.kind]

    pdf.set_y(PAGE_MARGIN + 2)
    provider_size = _fit_size(pdf, doc.provider_name, "B", width, 13, 9)
    _center(pdf, doc.provider_name, provider_size, "B", ACCENT)
    if doc.joint_provider:
        _center(pdf, f"in joint providership with {doc.joint_provider}", 9, "", MUTED)
    if doc.provider_address:
        _center(pdf, doc.provider_address, 8, "", MUTED)
    pdf.ln(4)

    _center(pdf, title, _fit_size(pdf, title, "B", width, 26, 18), "B", ACCENT)
    if subtitle:
        pdf.ln(1)
        _center(pdf, subtitle, 13, "", ACCENT)
    pdf.ln(4)
    _center(pdf, "This certifies that", 10.5, "", MUTED, gap=2)

    name = doc.display_name
    name_size = _fit_size(pdf, name, "B", width - 20, 28, 16)
    if pdf.get_string_width(name) <= width - 20 or not doc.degree:
        _center(pdf, name, name_size, "B", INK, gap=1)
    else:  # a long name: the degree goes on its own line rather than wrapping mid-list
        name_size = _fit_size(pdf, doc.learner_name, "B", width - 20, 22, 14)
        _center(pdf, doc.learner_name, name_size, "B", INK)
        _center(pdf, doc.degree, name_size * 0.75, "B", INK, gap=1)
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.3)
    pdf.line(pdf.w / 2 - 70, pdf.get_y() + 0.5, pdf.w / 2 + 70, pdf.get_y() + 0.5)
    pdf.ln(4)

    verb = "has participated in" if doc.kind == "participation" else "has completed"
    _center(pdf, f"{verb} the {FORMAT_WORDS[doc.activity_format]}", 10.5, "", MUTED, gap=2)

    title_size = 16.0
    while title_size > 11 and _lines(pdf, doc.activity_title, "B", title_size, width - 20) > 2:
        title_size -= 1
    pdf.set_x(PAGE_MARGIN + 10)
    pdf.set_font(FAMILY, "B", title_size)
    pdf.set_text_color(*INK)
    pdf.multi_cell(width - 20, title_size * 0.45, doc.activity_title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1.5)
    details = " · ".join(
        [FORMAT_WORDS[doc.activity_format].capitalize(), doc.location, format_dates(doc.starts_on, doc.ends_on)]
    )
    _center(pdf, details, 10.5, "", INK, gap=4)

    claimed = _claimed_runs(doc)
    if claimed:
        label = "Participation recorded" if doc.kind == "participation" else "Credit claimed"
        _center(pdf, label.upper(), 8, "B", MUTED, gap=1)
        line: list[Run] = []
        for index, runs in enumerate(claimed):
            if index:
                line.append(("   ·   ", ""))
            line.extend(runs)
        size = _fit_size(pdf, _plain(line), "B", width - 10, 13, 10)
        _rich(pdf, [line], size=size, align="C", x=PAGE_MARGIN, width=width)
        pdf.ln(3)

    # Bottom band: statements on the left, QR code and identifiers on the right.
    qr_size = 30.0
    band_bottom = pdf.h - PAGE_MARGIN - 3
    right_w = 52.0
    right_x = pdf.w - PAGE_MARGIN - right_w
    left_x = PAGE_MARGIN + 4
    left_w = right_x - left_x - 8
    top = max(pdf.get_y() + 2, band_bottom - 58)
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.2)
    pdf.line(left_x, top, pdf.w - PAGE_MARGIN - 4, top)

    paragraphs = _statement_runs(doc)
    available = band_bottom - (top + 3)
    size = 9.0
    while size > 6.5:
        lines = sum(_lines(pdf, _plain(p), "", size, left_w) for p in paragraphs)
        height = lines * size * 0.3528 * 1.25 + len(paragraphs) * 1.6
        if height <= available:
            break
        size -= 0.5
    pdf.set_y(top + 3)
    _rich(pdf, paragraphs, size=size, align="J", x=left_x, width=left_w, gap=1.6)
    if pdf.get_y() > band_bottom + 1:
        LOG.warning("certificate %s: the statements run into the page margin", doc.certificate_id)

    qr_x = pdf.w - PAGE_MARGIN - 4 - qr_size
    qr_y = top + 3
    pdf.image(_qr_png(doc.verify_url), x=qr_x, y=qr_y, w=qr_size, h=qr_size, link=doc.verify_url)
    pdf.set_xy(right_x, qr_y + qr_size + 1.5)
    info = [
        f"Issued {format_day(doc.issued_at.date())}",
        f"Certificate ID {doc.certificate_id}",
        f"Version {doc.version}" + (" (reissued)" if doc.version > 1 else ""),
    ]
    pdf.set_font(FAMILY, "", 7.5)
    pdf.set_text_color(*INK)
    for text in info:
        pdf.set_x(right_x)
        pdf.multi_cell(right_w - 4, 3.4, text, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(*ACCENT)
    url_w = right_w - 4
    pdf.set_font(FAMILY, "", _fit_size(pdf, doc.verify_url, "", url_w, 7, 5.5))
    url_lines = [doc.verify_url]
    if pdf.get_string_width(doc.verify_url) > url_w and "/" in doc.verify_url.rstrip("/"):
        cut = doc.verify_url.rstrip("/").rindex("/") + 1  # ".../verify/" + "CID?version=2"
        url_lines = [doc.verify_url[:cut], doc.verify_url[cut:]]
    for text in url_lines:
        pdf.set_x(right_x)
        pdf.multi_cell(
            url_w, 3, text, align="R", link=doc.verify_url, wrapmode=WrapMode.CHAR, new_x="LMARGIN", new_y="NEXT"
        )


def _qr_png(url: str) -> io.BytesIO:
    import segno

    buf = io.BytesIO()
    segno.make(url, error="m", micro=False).save(buf, kind="png", scale=8, border=0, dark="#16263e")
    buf.seek(0)
    return buf


def _transcript_pages(pdf: FPDF, doc: CertificateDocument) -> None:
    from fpdf.fonts import FontFace as Style

    pdf.set_auto_page_break(True, margin=PAGE_MARGIN + 2)
    pdf.add_page()
    pdf.set_y(PAGE_MARGIN)
    width = pdf.w - 2 * PAGE_MARGIN
    pdf.set_font(FAMILY, "B", 16)
    pdf.set_text_color(*ACCENT)
    pdf.cell(0, 8, "Transcript", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(*INK)
    pdf.set_font(FAMILY, "B", 11)
    pdf.multi_cell(width, 5.5, doc.display_name, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, "", 9.5)
    pdf.multi_cell(width, 4.6, doc.activity_title, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(*MUTED)
    about = (
        f"{doc.provider_name} · {FORMAT_WORDS[doc.activity_format].capitalize()} · {doc.location} · "
        f"{format_dates(doc.starts_on, doc.ends_on)}"
    )
    pdf.multi_cell(width, 4.6, about, align="L", new_x="LMARGIN", new_y="NEXT")
    codes = _ordered(doc.printed_credits)
    claimed = "; ".join(credit_label(c, doc.printed_credits[c]) for c in codes) or "none"
    pdf.ln(1.5)
    pdf.set_font(FAMILY, "", 8)
    pdf.multi_cell(
        width, 4,
        f"Credit claimed on this certificate: {claimed}. Minutes are the learner's recorded attendance, "
        "breaks excluded.",
        align="L", new_x="LMARGIN", new_y="NEXT",
    )  # fmt: skip
    pdf.ln(4)

    date_w, minutes_w = 26.0, 18.0
    credit_w = min(30.0, (width - date_w - minutes_w - 70.0) / max(len(codes), 1))
    col_widths = (date_w, width - date_w - minutes_w - credit_w * len(codes), minutes_w, *([credit_w] * len(codes)))
    heading_pt = 8 if len(codes) <= 4 else 7
    heading = Style(emphasis="BOLD", color=INK, fill_color=(234, 238, 244), size_pt=heading_pt)
    italic_heading = Style(emphasis="ITALICS", color=INK, fill_color=(234, 238, 244), size_pt=heading_pt)
    pdf.set_font(FAMILY, "", 8.5)
    pdf.set_text_color(*INK)
    pdf.set_draw_color(200, 200, 200)
    pdf.set_line_width(0.2)
    total_minutes = 0
    totals = dict.fromkeys(codes, Decimal(0))
    with pdf.table(
        col_widths=col_widths,
        width=sum(col_widths),
        text_align=("LEFT", "LEFT", "RIGHT", *["RIGHT"] * len(codes)),
        line_height=4.4,
        padding=(1.2, 1.5),
        borders_layout="HORIZONTAL_LINES",
        headings_style=heading,
    ) as table:
        head = table.row()
        for text in ("Date", "Session", "Minutes"):
            head.cell(text)
        for code in codes:
            name = credit_name(code, Decimal(2))
            head.cell(name[:1].upper() + name[1:], style=italic_heading if code == "AMA_PRA_1" else None)
        for line in sorted(doc.sessions, key=lambda s: s.day):  # stable: agenda order within a day
            row = table.row()
            row.cell(line.day.isoformat())
            row.cell(line.title)
            row.cell(str(line.minutes))
            total_minutes += line.minutes
            for code in codes:
                amount = line.credits.get(code)
                row.cell(format_amount(amount) if amount is not None else "–")
                if amount is not None:
                    totals[code] += amount
        bold = Style(emphasis="BOLD")
        row = table.row()
        row.cell("Total", style=bold)
        row.cell("", style=bold)
        row.cell(str(total_minutes), style=bold)
        for code in codes:
            row.cell(format_amount(totals[code]), style=bold)
