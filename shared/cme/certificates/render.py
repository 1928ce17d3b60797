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
Greek, Cyrillic, punctuation and ™. Characters outside it come from fallback faces (`FALLBACK_FACES`),
attached to a document only when its text needs them and only in the styles it needs: Noto Sans
Arabic and Noto Sans Hebrew; Noto Sans CJK SC cut to GB 2312, Big5 level 1, JIS X 0208 kanji, kana
and KS X 1001 Hangul (regular and bold); Droid Sans Fallback for the remaining CJK Unified
Ideographs, Extension A and Hangul, and Noto's supplementary-plane ideographs (regular only: bold
text uses them as they are); then the full DejaVu Sans (Armenian, Georgian, IPA, ...). A
character none of them has prints as U+FFFD "�" and is counted in a warning. Each face is read
from disk and parsed once per process; every document gets a light clone of the parsed face (see
`_FontCache`).

Font fallback and text shaping are switched on per text run, only for text that needs them
(`_prepare`): fpdf2 examines text character by character once fallback fonts are set, and text
shaping (HarfBuzz, via `uharfbuzz`) is several times slower still, so a Latin document is laid out
exactly as without them. Right-to-left text (Arabic, Hebrew) is shaped; a field standing alone is
laid out in its own direction, English lines embedding one ("{name}, MD") left to right.

Layout: text the primary faces set alone (all of a Latin, Greek or Cyrillic certificate, and the fixed
wording of every other) is measured, broken into lines and placed by this module, on the lines and at
the positions fpdf2 would give it, with the text operators fpdf2 would write: fpdf2's own line
breaking is quadratic in the line's length. The transcript table is drawn here too. fpdf2 lays out
whatever needs a fallback face or shaping.

Branding (optional, per activity): `logo_png` at the top of page 1, `signature_png` over a line with
`signer_name` and `signer_title` at the bottom (next to the statements, which narrow to make room),
`accent_rgb` for the frame, rules and headings (darkened for text when too light to read on white).
Without them the certificate is exactly the unbranded design.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

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
    "location", "signer_name", "signer_title",
)  # fmt: skip
#: Branding images: PNG or JPEG, at most this many bytes and pixels.
MAX_IMAGE_BYTES = 5_000_000
MAX_IMAGE_PIXELS = 25_000_000
_IMAGE_MAGIC = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG"}


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
    #: Optional provider branding. The logo (PNG or JPEG bytes) is printed at the top, fitted into a
    #: box with its aspect kept; the signature image above a line with the signer's name and title
    #: near the bottom of page 1.
    logo_png: bytes | None = None
    signature_png: bytes | None = None
    signer_name: str | None = None
    signer_title: str | None = None
    #: Optional: the provider's colour (0-255 RGB) for the frame, headings and rules, instead of the
    #: default navy headings and gold frame and rules.
    accent_rgb: tuple[int, int, int] | None = None

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
        for name in ("logo_png", "signature_png"):
            image = getattr(self, name)
            _check_image(name, image)
            if image is not None and not isinstance(image, bytes):
                object.__setattr__(self, name, bytes(image))
        if self.accent_rgb is not None:
            rgb = self.accent_rgb
            if (
                not isinstance(rgb, tuple | list)
                or len(rgb) != 3
                or not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in rgb)
            ):
                raise ValueError(f"accent_rgb: {rgb!r} is not three integers from 0 to 255")
            object.__setattr__(self, "accent_rgb", tuple(rgb))

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


def _check_image(name: str, data: object) -> None:
    """PNG or JPEG bytes that decode, within the size limits; ValueError naming the field otherwise."""
    if data is None:
        return
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ValueError(f"{name}: expected PNG or JPEG bytes, got {type(data).__name__}")
    data = bytes(data)
    kind = next((kind for magic, kind in _IMAGE_MAGIC.items() if data.startswith(magic)), None)
    if kind is None:
        raise ValueError(f"{name}: not a PNG or JPEG image")
    if len(data) > MAX_IMAGE_BYTES:
        raise ValueError(f"{name}: {len(data)} bytes, at most {MAX_IMAGE_BYTES} allowed")
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with fpdf2; the magic bytes were checked
        return
    try:
        with Image.open(io.BytesIO(data)) as image:
            found, (width, height) = image.format, image.size
            if found == kind and 0 < width * height <= MAX_IMAGE_PIXELS:
                image.load()  # decodes the whole image: truncated or corrupt data fails here
    except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError, DecompressionBombError, ...
        raise ValueError(f"{name}: the {kind} image cannot be decoded ({type(exc).__name__})") from exc
    if found != kind:
        raise ValueError(f"{name}: not a PNG or JPEG image")
    if not 0 < width * height <= MAX_IMAGE_PIXELS:
        raise ValueError(f"{name}: {width}x{height} pixels, at most {MAX_IMAGE_PIXELS} allowed")


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
    #: Unicode ranges the face is meant for (None: any). A document's missing characters are checked
    #: against a face's cmap only if one falls in these ranges, so that a face is not read and parsed
    #: for a document it cannot serve.
    ranges: tuple[tuple[int, int], ...] | None = None

    def may_cover(self, codepoints: Iterable[int]) -> bool:
        if self.ranges is None:
            return True
        return any(low <= cp <= high for cp in codepoints for low, high in self.ranges)


#: The faces text is set in: DejaVu Sans cut down to Latin, Greek, Cyrillic, punctuation and ™
#: (fonts/build_core_fonts.py). fpdf2 subsets each embedded face per document at a cost that grows
#: with the face's glyph count, so the 1,900-glyph cut renders about twice as fast as the original.
PRIMARY_FACES: tuple[FontFace, ...] = (
    FontFace(FAMILY, "", "DejaVuSans-Core.ttf"),
    FontFace(FAMILY, "B", "DejaVuSans-Core-Bold.ttf"),
    FontFace(FAMILY, "I", "DejaVuSans-Core-Oblique.ttf"),
)
#: Faces for characters the primary faces lack (README.md in ./fonts says where each comes from).
#: For every character the primary faces lack, a document takes the first family below that has it,
#: attaching that family's faces in the styles the document sets such characters in (every attached
#: face is subsetted and embedded, used or not); fpdf2's fallback (`FPDF.set_fallback_fonts`) then
#: picks, character by character, the first attached face with the glyph, preferring the text's own
#: style and else taking any. Names, titles and places are set in regular and bold only; the rare
#: CJK tiers have a regular face only, which bold text then uses too. Order matters where families
#: overlap: the full DejaVu Sans also has Arabic and Hebrew (without the Noto faces' shaping
#: quality), so the Noto faces come first.
_ARABIC = ((0x0600, 0x06FF), (0x0750, 0x077F), (0x0870, 0x08FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF))
_HEBREW = ((0x0590, 0x05FF), (0xFB1D, 0xFB4F))
_CJK = (
    (0x1100, 0x11FF), (0x2E80, 0x9FFF), (0xA960, 0xA97F), (0xAC00, 0xD7FF), (0xF900, 0xFAFF),
    (0xFE30, 0xFE4F), (0xFF00, 0xFFEF), (0x20000, 0x3FFFF),
)  # fmt: skip
FALLBACK_FACES: tuple[FontFace, ...] = (
    FontFace("notoarabic", "", "NotoSansArabic-Regular.ttf", _ARABIC),
    FontFace("notoarabic", "B", "NotoSansArabic-Bold.ttf", _ARABIC),
    FontFace("notohebrew", "", "NotoSansHebrew-Regular.ttf", _HEBREW),
    FontFace("notohebrew", "B", "NotoSansHebrew-Bold.ttf", _HEBREW),
    # Noto Sans CJK SC cut to GB 2312 + Big5 level 1 + JIS X 0208 kanji + kana + KS X 1001 Hangul.
    FontFace("notocjk", "", "NotoSansCJKsc-Cert-Regular.otf", _CJK),
    FontFace("notocjk", "B", "NotoSansCJKsc-Cert-Bold.otf", _CJK),
    # The rest of the CJK Unified Ideographs, Extension A, compatibility ideographs and Hangul.
    FontFace("cjkrare", "", "DroidSansFallback-Cert.ttf", _CJK),
    # Noto's 2,590 ideographs beyond the BMP (Extension B and later).
    FontFace("cjksip", "", "NotoSansCJKsc-Cert-SIP.otf", ((0x20000, 0x3FFFF),)),
    FontFace("dejavufull", "", "DejaVuSans.ttf"),
    FontFace("dejavufull", "B", "DejaVuSans-Bold.ttf"),
)

#: Right-to-left scripts (Hebrew, Arabic, Syriac, Thaana, N'Ko, ... and their presentation forms):
#: text containing them is set with fpdf2's text shaping (HarfBuzz: joining, marks, bidi order).
#: Nothing else is shaped: shaping is several times slower than fpdf2's plain glyph mapping.
_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff\U00010800-\U00010fff\U0001e800-\U0001efff]")
_LAYOUT_TABLES = ("GSUB", "GPOS", "GDEF", "kern")
REPLACEMENT = "\ufffd"

# Tables fpdf2 drops from every embedded subset anyway (output.py `_add_fonts`), plus `kern` (fpdf2
# positions glyphs itself). Removing them once per process saves the per-document subsetter from
# decompiling them. Text shaping (HarfBuzz) gets the file's bytes as read, layout tables and all.
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


@cache
def _cached_subset_font_class() -> type:
    from fontTools.ttLib import TTFont

    class CachedSubsetFont(TTFont):
        """A document's face: once subsetted from the cache, `save` writes the cached bytes."""

        def save(self, file: Any, reorderTables: bool | None = True) -> None:
            saved = vars(self).get("cme_saved")
            if saved is None:
                super().save(file, reorderTables)
            else:
                file.write(saved)

    return CachedSubsetFont


#: face file -> text -> width in font units (1/1000 em): line breaking measures the same prefixes
#: of the same fixed wording for every certificate, so each is summed once per process.
_TEXT_WIDTHS: dict[str, dict[str, float]] = {}
_TEXT_WIDTHS_LIMIT = 50_000  # per face; a certificate measures about 5,000 strings


@cache
def _width_caching_font_class() -> type:
    from fpdf.fonts import TTFFont

    class WidthCachingTTFFont(TTFFont):
        """fpdf2's TTF font, with unshaped text widths remembered across documents."""

        __slots__ = ()

        def get_text_width(
            self, text: str, font_size_pt: float, text_shaping_params: dict[str, Any] | None
        ) -> tuple[int, float]:
            if text_shaping_params or self.is_symbol:
                return super().get_text_width(text, font_size_pt, text_shaping_params)
            if font_size_pt > self.biggest_size_pt:
                self.biggest_size_pt = font_size_pt
            widths = _TEXT_WIDTHS.get(str(self.ttffile))
            if widths is None:
                widths = _TEXT_WIDTHS.setdefault(str(self.ttffile), {})
            units: float | None = widths.get(text)
            if units is None:
                cw = self.cw
                units = sum(cw[ord(c)] for c in text)
                if len(widths) > _TEXT_WIDTHS_LIMIT:
                    widths.clear()
                widths[text] = units
            return len(text), units * font_size_pt * 0.001

    return WidthCachingTTFFont


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
        # The file as read, for HarfBuzz, when it differs from `_bytes` in what shaping uses.
        self._shaping_bytes: dict[FontFace, bytes] = {}
        self._hb_faces: dict[FontFace, Any] = {}
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
                font = TTFont(io.BytesIO(raw), recalcTimestamp=False, recalcBBoxes=False, lazy=True)
                if any(tag in font for tag in _LAYOUT_TABLES):
                    self._shaping_bytes[face] = raw
                dropped = [tag for tag in _DROPPED_TABLES if tag in font]
                for tag in dropped:
                    del font[tag]
                # Keep the Windows Unicode subtables only (what fpdf2's getBestCmap picks): the
                # subsetter then decompiles two subtables instead of five.
                cmap = font["cmap"]
                kept = [t for t in cmap.tables if t.platformID == 3 and t.platEncID in (1, 10)]
                if dropped or len(kept) < len(cmap.tables):
                    cmap.tables = kept
                    buf = io.BytesIO()
                    font.save(buf)
                    raw = buf.getvalue()
                # else the file is already cut so (the primary faces, by build_core_fonts.py): compiling
                # it again would give the same tables, and costs a cold start 10 ms per face.
                font.close()
                self._bytes[face] = raw
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

    def _hb_face(self, face: FontFace) -> Any:
        """The HarfBuzz face of `face`, made once per process from the bytes already read."""
        hb_face = self._hb_faces.get(face)
        if hb_face is None:
            import uharfbuzz as hb

            self._load(face)
            data = self._shaping_bytes.get(face) or self._bytes[face]
            with self._lock:
                hb_face = self._hb_faces.setdefault(face, hb.Face(hb.Blob(data)))
        return hb_face

    def attach(self, pdf: FPDF, face: FontFace, *, shaping: bool = False) -> None:
        """Make `face` available to `pdf` (as `pdf.add_font(family, style, file)` would).

        With `shaping`, the face also gets its HarfBuzz font (fpdf2 would otherwise open the file
        again for every document that shapes text).
        """
        from fpdf.fonts import SubsetMap

        proto = self._load(face)
        if not self._clone_ok(proto):
            pdf.add_font(face.family, face.style, str(FONT_DIR / face.filename))
            return
        width_class: Any = _width_caching_font_class()
        font = width_class.__new__(width_class)
        for slot in KNOWN_TTFFONT_SLOTS - _PER_DOCUMENT_SLOTS:
            if hasattr(proto, slot):
                setattr(font, slot, getattr(proto, slot))
        font.i = len(pdf.fonts) + 1
        font.ttfont = _subset_cache.document_font(face, self._bytes[face], self.cmap(face))
        font.missing_glyphs = []
        font.biggest_size_pt = 0
        font.subset = SubsetMap(font)
        if shaping:
            from fpdf.fonts import HarfBuzzFont

            font._hbfont = HarfBuzzFont(self._hb_face(face))  # per document: fpdf2 sets its size
        pdf.fonts[font.fontkey] = font


class _SubsetCache:
    """fpdf2 subsets every embedded face for every PDF (fontTools: prune, then compile), which is
    most of a certificate's render time. The subset of a face depends only on the set of glyphs
    kept, so it is made once per set and reused, and every subset also keeps a base repertoire
    (ASCII, Latin-1, the typographic punctuation): certificates whose text stays within the base and
    the fixed wording share one subset per face, whatever the learner's name. A name outside it
    (Ł, Greek, CJK, ...) adds a subset of its own, kept as long as it is among the latest used.
    """

    #: What every subset keeps: the fixed wording's characters and most Latin names.
    BASE = frozenset(range(0x20, 0x7F)) | frozenset(range(0xA0, 0x100)) | frozenset(map(ord, "–—‘’“”•…™€"))
    SIZE = 64

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subsets: dict[tuple[FontFace, frozenset[str]], tuple[bytes, list[str]]] = {}
        self._base_names: dict[FontFace, frozenset[str]] = {}
        self.enabled = True
        self.misses = 0

    def document_font(self, face: FontFace, data: bytes, cmap: dict[int, str]) -> Any:
        font = _cached_subset_font_class()(io.BytesIO(data), recalcTimestamp=False, lazy=True)
        if self.enabled:
            names = self._base_names.get(face)
            if names is None:
                names = self._base_names.setdefault(face, frozenset(cmap[c] for c in self.BASE if c in cmap))
            font.cme_face, font.cme_base = face, names
        return font

    def subset(self, font: Any, glyphs: frozenset[str], options: Any, subsetter: Any) -> None:
        """Subset `font` in place to `glyphs` (and its face's base), from the cache when it can."""
        key = (font.cme_face, glyphs | font.cme_base)
        entry = self._subsets.get(key)
        if entry is None:
            real = subsetter(options)
            real.populate(glyphs=sorted(key[1]))
            real.subset(font)
            out = io.BytesIO()
            font.save(out)  # not cached yet: fontTools compiles the subset
            # The glyph names as the subsetter left them (a reloaded `post` table may name them otherwise).
            entry = (out.getvalue(), list(font.getGlyphOrder()))
            with self._lock:
                self.misses += 1
                self._subsets[key] = entry
                while len(self._subsets) > self.SIZE:
                    self._subsets.pop(next(iter(self._subsets)))
        else:
            with self._lock:  # most recently used last
                self._subsets[key] = self._subsets.pop(key, entry)
        from fontTools.ttLib import TTFont

        data, glyph_order = entry
        fresh = TTFont(io.BytesIO(data), recalcTimestamp=False, lazy=True)
        fresh.setGlyphOrder(list(glyph_order))
        vars(font).clear()
        vars(font).update(vars(fresh))
        font.cme_saved = data


_subset_cache = _SubsetCache()


def _install_subset_cache() -> None:
    """Route fpdf2's output-time subsetting of our faces through `_subset_cache` (once per process).
    Faces opened elsewhere (not made by `_SubsetCache.document_font`) are subsetted by fontTools as before."""
    import fpdf.output as output
    from fontTools import subset as ftsubset

    if getattr(output.ftsubset, "cme_cached", False):
        return

    class Subsetter:
        def __init__(self, options: Any) -> None:
            self._options = options
            self._glyphs: frozenset[str] = frozenset()

        def populate(self, glyphs: Iterable[str] = (), **others: Any) -> None:
            if others:
                raise TypeError("only glyph names are expected from fpdf2")
            self._glyphs = frozenset(glyphs)

        def subset(self, font: Any) -> None:
            if isinstance(font, _cached_subset_font_class()) and getattr(font, "cme_face", None) is not None:
                _subset_cache.subset(font, self._glyphs, self._options, ftsubset.Subsetter)
                return
            real = ftsubset.Subsetter(self._options)
            real.populate(glyphs=sorted(self._glyphs))
            real.subset(font)

    class Shim:
        cme_cached = True
        Options = ftsubset.Options

    Shim.Subsetter = Subsetter  # type: ignore[attr-defined]
    output.ftsubset = Shim
    _install_compression_cache()


class _CompressionCache:
    """zlib as fpdf2's PDF streams use it, remembering what it made of large inputs.

    Every certificate embeds the same few font subsets (see `_SubsetCache`) with the same glyph maps
    (CIDToGIDMap, 128 KB each), and fpdf2 compresses each again for every document: about as long as
    laying out both pages. A large input is recognised by its SHA-1 digest and compressed once per
    process (the latest `SIZE` kept); a small one (a page's content, under 10 KB) is compressed as it
    comes. Same input, same output: the PDF bytes do not change.
    """

    LARGE = 16384
    SIZE = 64

    def __init__(self, zlib: Any) -> None:
        self._zlib = zlib
        self._lock = threading.Lock()
        self._compressed: dict[tuple[bytes, int], bytes] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._zlib, name)

    def compress(self, data: bytes, /, level: int = -1, **kwargs: Any) -> bytes:
        if len(data) < self.LARGE or kwargs:
            return bytes(self._zlib.compress(data, level, **kwargs))
        key = (hashlib.sha1(data, usedforsecurity=False).digest(), level)
        compressed = self._compressed.get(key)
        if compressed is None:
            compressed = bytes(self._zlib.compress(data, level))
        with self._lock:  # most recently used last
            self._compressed.pop(key, None)
            self._compressed[key] = compressed
            while len(self._compressed) > self.SIZE:
                self._compressed.pop(next(iter(self._compressed)))
        return compressed


def _install_compression_cache() -> None:
    import fpdf.syntax as syntax

    if not isinstance(syntax.zlib, _CompressionCache):
        syntax.zlib = _CompressionCache(syntax.zlib)  # type: ignore[assignment]


_FONTS = _FontCache()


def _texts_by_style(doc: CertificateDocument) -> dict[str, str]:
    """The document's variable text by the style it is set in: "" regular, "B" bold (italic and
    superscript runs are fixed wording, covered by the primary faces)."""
    bold = [doc.learner_name, doc.degree, doc.provider_name, doc.activity_title, doc.signer_name or ""]
    regular = [
        doc.provider_name, doc.joint_provider or "", doc.provider_address or "", doc.activity_title,
        doc.location, doc.certificate_id, doc.verify_url, doc.signer_title or "", *doc.moc_boards,
        *(s.title for s in doc.sessions), *statements(doc),
    ]  # fmt: skip
    return {"": "".join(regular), "B": "".join(bold)}


@cache
def _core_chars() -> frozenset[int]:
    """Code points every primary face has."""
    return frozenset.intersection(*(frozenset(_FONTS.cmap(face)) for face in PRIMARY_FACES))


def _fallback_families(missing: set[int], assigned: dict[str, set[int]]) -> set[int]:
    """Assign `missing` characters to the first family having them, in FALLBACK_FACES order (adding
    to `assigned`, family -> characters); return the characters no family has."""
    for face in FALLBACK_FACES:
        if not missing or not face.may_cover(missing):
            continue
        covered = missing & _FONTS.cmap(face).keys()
        if covered:
            assigned.setdefault(face.family, set()).update(covered)
            missing = missing - covered
    return missing


def _attach_fonts(pdf: FPDF, doc: CertificateDocument) -> None:
    attach_fonts(pdf, _texts_by_style(doc), f"certificate {doc.certificate_id}")


def attach_fonts(pdf: FPDF, texts: dict[str, str], label: str) -> None:
    """Attach the primary faces and the fallback faces a document's text needs: `texts` is its
    variable text by style ("" regular, "B" bold), `label` names the document in a warning.

    Of a fallback family, only the faces printing some of the document's characters in their style
    are attached (each attached face is subsetted and embedded, used or not), plus the other style
    for characters the style's own face lacks (bold text falls back on the regular face). A
    character no shipped face has (beyond the CJK tiers: a Unicode 15 ideograph, a script with no
    face here such as Devanagari or Thai) is printed as U+FFFD "�" (from the full DejaVu Sans)
    rather than silently dropped, and counted in a warning (the count only: the characters are
    pieces of a learner's name).
    """
    texts = {"": "", "B": "", **texts}
    shaping = any(_RTL.search(text) for text in texts.values())
    pdf.shapes_rtl = shaping  # type: ignore[attr-defined]
    for face in PRIMARY_FACES:
        _FONTS.attach(pdf, face, shaping=shaping)
    core = _core_chars()
    needs = {
        style: {ord(ch) for ch in text if ord(ch) not in core and not ch.isspace()} for style, text in texts.items()
    }
    assigned: dict[str, set[int]] = {}
    missing = _fallback_families(needs[""] | needs["B"], assigned)
    if missing:
        LOG.warning("%s: %d characters have no glyph", label, len(missing))
        pdf.unprintable = frozenset(missing)  # type: ignore[attr-defined]
        _fallback_families({ord(REPLACEMENT)}, assigned)
        for chars in needs.values():
            chars.add(ord(REPLACEMENT))
    for family, chars in assigned.items():
        faces = [face for face in FALLBACK_FACES if face.family == family]
        wanted: set[FontFace] = set()
        for style, needed in needs.items():
            rest = needed & chars
            for face in sorted(faces, key=lambda f: f.style != style):  # the style's own face first
                covered = rest & _FONTS.cmap(face).keys()
                if covered:
                    wanted.add(face)
                    rest -= covered
        for face in faces:
            if face in wanted:
                _FONTS.attach(pdf, face, shaping=shaping)
    pdf.fallback_families = list(assigned)  # type: ignore[attr-defined]


def _prepare(pdf: FPDF, text: str, *, ltr: bool = False) -> None:
    """Set fpdf2 up for laying out `text` (call right before measuring or writing it).

    Font fallback is on only if `text` has characters the primary faces lack: with fallback on,
    fpdf2 examines every character of every text one by one. Text shaping is on only if `text` has
    right-to-left script (see `_shape`).
    """
    families = getattr(pdf, "fallback_families", None)
    if families:
        core = _core_chars()
        wanted = families if any(ord(ch) not in core for ch in text) else []
        if (wanted and not pdf._fallback_font_ids) or (not wanted and pdf._fallback_font_ids):
            pdf.set_fallback_fonts(wanted, exact_match=False)
    _shape(pdf, text, ltr=ltr)


def _shape(pdf: FPDF, text: str, *, ltr: bool = False) -> None:
    """Turn fpdf2's text shaping on for `text` if it has right-to-left script, off otherwise.

    Text is laid out when it is measured or written, so call this right before. The paragraph
    direction is that of the first strong character (one field in Arabic or Hebrew reads right to
    left as a whole, numbers in it included), or left to right with `ltr`, for English lines that
    embed a field ("{name}, MD"). fpdf2's bidi orders the directional runs of a line by the
    paragraph direction only, so a number inside an RTL run of an LTR paragraph lands out of place:
    fields are therefore laid out in their own direction wherever they stand alone. Documents
    without RTL text never turn shaping on.
    """
    if getattr(pdf, "shapes_rtl", False) and _RTL.search(text):
        # A fresh state each time: fpdf2 records the directions it finds in it while laying out.
        pdf.set_text_shaping(True, direction="ltr" if ltr else None)
    elif pdf.text_shaping:
        pdf.set_text_shaping(False)


def _strong(word: str, classes: tuple[str, ...]) -> bool:
    return any(unicodedata.bidirectional(ch) in classes for ch in word)


def _visual_words(text: str) -> str:
    """`text` for fpdf2's text regions (`text_columns`), which shape but apply no bidi: the words of
    each right-to-left stretch (from an RTL word to the last RTL word or number before the next word
    with left-to-right letters) in reverse order, so that words laid out left to right, each shaped
    right to left by HarfBuzz, read correctly. A stretch that wraps across lines still reads in the
    wrong line order: only provider names land here, and they rarely wrap."""
    words = text.split(" ")
    out: list[str] = []
    i = 0
    while i < len(words):
        if not _strong(words[i], ("R", "AL")):
            out.append(words[i])
            i += 1
            continue
        end = k = i
        while k + 1 < len(words) and not _strong(words[k + 1], ("L",)):
            k += 1
            if _strong(words[k], ("R", "AL", "EN", "AN")):  # numbers after RTL words belong to them
                end = k
        out.extend(reversed(words[i : end + 1]))
        i = end + 1
    return " ".join(out)


def warm_up() -> None:
    """Import fpdf2 and segno and parse the primary faces now (call at Lambda init time).

    Fallback faces (and uharfbuzz, for right-to-left text) are loaded the first time a document
    needs them: the first CJK document in a process takes about half a second longer.
    """
    _pdf_class()
    import segno  # noqa: F401

    for face in PRIMARY_FACES:
        _FONTS.cmap(face)
    _core_chars()


# --------------------------------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------------------------------

RGB = tuple[int, int, int]
INK: RGB = (33, 37, 41)
ACCENT: RGB = (22, 62, 114)
MUTED: RGB = (95, 99, 104)
RULE: RGB = (176, 141, 87)
HEADING_FILL: RGB = (234, 238, 244)
WHITE: RGB = (255, 255, 255)

PAGE_MARGIN = 18.0
#: The logo is fitted into this box (mm), centred at the top of page 1.
LOGO_BOX = (70.0, 15.0)
#: The signature image is fitted into this box (mm), above the signature line.
SIGNATURE_BOX = (50.0, 14.0)
SIGNATURE_COLUMN = 58.0


@dataclass(frozen=True)
class _Palette:
    heading: RGB  # provider name, certificate title, "Transcript", verification link
    rule: RGB  # frame and rules
    fill: RGB  # transcript table heading background


DEFAULT_PALETTE = _Palette(ACCENT, RULE, HEADING_FILL)


def _luminance(rgb: RGB) -> float:
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _readable_on_white(rgb: RGB, ratio: float = 4.5) -> RGB:
    """`rgb`, darkened as little as needed for text on white to reach the WCAG contrast `ratio`."""
    color = rgb
    while 1.05 / (_luminance(color) + 0.05) < ratio:
        color = (int(color[0] * 0.95), int(color[1] * 0.95), int(color[2] * 0.95))
    return color


def _palette(accent: RGB | None) -> _Palette:
    """The default colours, or the provider's colour for the frame, rules and headings (darkened for
    the headings if it is too light to read as text on white)."""
    if accent is None:
        return DEFAULT_PALETTE
    r, g, b = (round(255 - (255 - c) * 0.12) for c in accent)
    return _Palette(_readable_on_white(accent), accent, (r, g, b))


@cache
def _producer() -> str:
    from fpdf import FPDF_VERSION

    return f"fpdf2 {FPDF_VERSION}"


@cache
def _pdf_class() -> type[FPDF]:
    from fpdf import FPDF

    _install_subset_cache()

    class CertificatePDF(FPDF):
        footer_text = ""
        shapes_rtl = False
        unprintable: frozenset[int] = frozenset()  # characters no attached face has

        def normalize_text(self, text: str) -> str:
            # fpdf2 drops a character no font has: print U+FFFD in its place instead.
            text = super().normalize_text(text)
            if self.unprintable and any(ord(ch) in self.unprintable for ch in text):
                text = "".join(REPLACEMENT if ord(ch) in self.unprintable else ch for ch in text)
            return text

        def footer(self) -> None:
            # A table breaking across pages calls this mid-way: it goes on as it was set up.
            shaping, fallback = self.text_shaping, self._fallback_font_ids
            laid_out_here = _laid_out_here(self.footer_text)
            _prepare(self, "" if laid_out_here else self.footer_text)
            self.text_shaping = None  # fpdf2 cannot shape the {nb} page-count alias
            self.set_y(-(PAGE_MARGIN - 4))
            self.set_font(FAMILY, "", 7)
            self.set_text_color(*MUTED)
            if laid_out_here:
                _cell(self, 0, 4, self.footer_text)
            else:
                self.cell(0, 4, self.footer_text, align="L")
            self.set_x(self.l_margin)
            self.cell(0, 4, f"Page {self.page_no()} of {{nb}}", align="R")
            self.text_shaping, self._fallback_font_ids = shaping, fallback

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

    palette = _palette(doc.accent_rgb)
    _certificate_page(pdf, doc, palette)
    _transcript_pages(pdf, doc, palette)
    return bytes(pdf.output())


_TITLES: dict[str, tuple[str, str | None]] = {
    "physician": ("Certificate of Completion", None),
    "nursing": ("Certificate of Attendance", "Nursing Continuing Professional Development"),
    "participation": ("Certificate of Participation", None),
}


# --------------------------------------------------------------------------------------------------
# Text laid out here
# --------------------------------------------------------------------------------------------------
#
# fpdf2 lays text out character by character through generic fragments (summing the line's width
# again for every character added, so quadratic in the line's length), and its table engine lays
# every cell out twice. Text the primary faces set on their own, with no fallback face and no
# shaping (all of a Latin, Greek or Cyrillic certificate, and the fixed wording of every other), is
# therefore measured here with the faces' cached width tables, broken into lines by fpdf2's own rule
# (`_wrap`) and written as the text operators fpdf2 writes, where fpdf2 would place them (`_put`).
# Any other text (fallback faces, right-to-left shaping, soft hyphens, line feeds) is left to fpdf2.

_SUP_SCALE = 0.7  # fpdf2's superscript: 70 % of the size, raised by 40 % of the size
_SUP_LIFT = 0.4
_TOLERANCE = 1e-9  # fpdf2's FloatTolerance: a line overflows when wider by more than this
#: fpdf2's breaking spaces (`fpdf.line_break.BREAKING_SPACE_SYMBOLS`): a line breaks at one and drops
#: it. A no-break space is no break, but fpdf2 prints it as a space and justifies at it.
_BREAKING = " \u200b\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2008\u2009\u200a\u205f\u3000\t"
_BREAKS = frozenset(_BREAKING)
_BREAK = re.compile(f"[{_BREAKING}]")
_TOKENS = re.compile(f"[{_BREAKING}]|[^{_BREAKING}]+")
_LEFT_TO_FPDF2 = re.compile("[\n\r\f\u00ad]")  # line and page breaks, soft hyphens


class _Line(NamedTuple):
    parts: list[Run]  # the line's text by style ("", "B", "I", "SUP"), one part per change of style
    width: float  # mm, as fpdf2 measures it
    spaces: int  # the spaces a justified line widens


_NO_LINE = _Line([], 0.0, 0)


@cache
def _core_text() -> frozenset[str]:
    return frozenset(map(chr, _core_chars()))


def _laid_out_here(text: str) -> bool:
    """Whether `text` is laid out here: the primary faces have every character of it (so fpdf2 would
    neither fall back nor shape) and it breaks at spaces only."""
    return _core_text().issuperset(text) and not _LEFT_TO_FPDF2.search(text)


def _face(pdf: FPDF, style: str) -> Any:
    return pdf.fonts[FAMILY + ("" if style == "SUP" else style)]


def _width(pdf: FPDF, text: str, style: str, size: float) -> float:
    """The width (mm) of `text` in the primary face of `style` at `size` pt, unshaped: fpdf2's figure."""
    return float(_face(pdf, style).get_text_width(text, size * _SUP_SCALE if style == "SUP" else size, None)[1]) / pdf.k


def _string_width(pdf: FPDF, text: str) -> float:
    """`pdf.get_string_width(text)` in the current font (measured here when `_laid_out_here`)."""
    if _laid_out_here(text):
        return _width(pdf, text, pdf.font_style, pdf.font_size_pt)
    _prepare(pdf, text)
    return float(pdf.get_string_width(text))


def _wrap(pdf: FPDF, runs: Sequence[Run], size: float, max_width: float, *, by_char: bool = False) -> list[_Line]:
    """`runs` at `size` pt broken into lines at most `max_width` mm wide, as fpdf2's line breaking
    (`MultiLineBreak`) breaks them: greedily; a breaking space that overflows ends the line and is
    dropped; a word that overflows goes to the next line whole, the line ending before the last
    breaking space on it (spaces before that one stay); a word with no breaking space before it on its
    line (one longer than a line: CJK-like text, URLs) breaks between characters. With `by_char`
    (fpdf2's `WrapMode.CHAR`) every overflow breaks between characters, trailing spaces dropped.

    Words are measured whole, not character by character, through the faces' width caches.
    """
    limit = max_width + _TOLERANCE
    # Tokens: a breaking space, or a word (a run of other characters, possibly across styles).
    tokens: list[tuple[bool, list[tuple[str, str, float]], float]] = []
    word: list[tuple[str, str, float]] = []
    for text, style in runs:
        for piece in _TOKENS.findall(text):
            w = _width(pdf, piece, style, size)
            if piece in _BREAKS:
                if word:
                    tokens.append((False, word, sum(p[2] for p in word)))
                    word = []
                tokens.append((True, [(piece, style, w)], w))
            else:
                word.append((piece, style, w))
    if word:
        tokens.append((False, word, sum(p[2] for p in word)))

    lines: list[_Line] = []
    items: list[tuple[str, str, float]] = []  # the current line
    used = 0.0
    last_space = -1  # index in `items` of the line's last breaking space

    def end_line(upto: int) -> None:
        nonlocal items, used, last_space
        parts: list[Run] = []
        for text, style, _ in items[:upto]:
            text = text.replace("\u00a0", " ")  # as fpdf2 prints a no-break space on a wrapped line
            if parts and parts[-1][1] == style:
                parts[-1] = (parts[-1][0] + text, style)
            else:
                parts.append((text, style))
        width = 0.0  # summed by part, as fpdf2 sums its line's fragments: the same float to the last bit
        for text, style in parts:
            width += _width(pdf, text, style, size)
        spaces = sum(len(_BREAK.findall(text)) for text, _ in parts)
        lines.append(_Line(parts, width, spaces))
        items = items[upto + 1 :] if upto < len(items) else []
        used = sum(item[2] for item in items)
        last_space = -1

    for is_space, pieces, w in tokens:
        if is_space:
            if used + w > limit:
                end_line(len(items))
            else:
                items.append(pieces[0])
                last_space = len(items) - 1
                used += w
            continue
        if used + w <= limit:
            items.extend(pieces)
            used += w
            continue
        if not by_char and last_space >= 0:
            end_line(last_space)
            if used + w <= limit:
                items.extend(pieces)
                used += w
                continue
        for text, style, _ in pieces:  # between characters
            for ch in text:
                cw = _width(pdf, ch, style, size)
                if items and used + cw > limit:
                    while by_char and items and items[-1][0][-1] in " \u00a0":  # fpdf2 trims them
                        kept, kept_style, _ = items.pop()
                        kept = kept.rstrip(" \u00a0")
                        if kept:
                            items.append((kept, kept_style, _width(pdf, kept, kept_style, size)))
                    end_line(len(items))
                items.append((ch, style, cw))
                used += cw
    if used:
        end_line(len(items))
    return lines


class _GlyphCodes(dict[int, str]):
    """A face's glyph codes in one document, character to code (as a character), each asked of
    fpdf2's subset map on first use (it numbers glyphs in the order a document first uses them)."""

    def __init__(self, pick: Any) -> None:
        super().__init__()
        self.pick = pick

    def __missing__(self, char: int) -> str:
        code = self.pick(char)
        self[char] = chr(code) if code else ""  # fpdf2 prints nothing for a glyph the face lacks
        return self[char]


def _encoded(font: Any, text: str, adjust: float) -> str:
    """`text` as the show-text operator fpdf2 writes for an unshaped TrueType fragment: the glyph
    codes of the document's subset, and with `adjust` (thousandths of an em) a TJ array widening
    every space, as fpdf2 justifies."""
    subset = font.subset
    table = getattr(subset, "cme_codes", None)
    if table is None:
        table = subset.cme_codes = _GlyphCodes(subset.pick)
    codes = text.translate(table)
    if not adjust:
        return f"({font.escape_text(codes)}) Tj"
    space = table[32]
    first, *rest = codes.split(space)
    words = [f"({font.escape_text(first)})"]
    words.extend(f"{adjust:.3f}({font.escape_text(space + word)})" for word in rest)
    return f"[{' '.join(words)}] TJ"


def _put(
    pdf: FPDF,
    line: _Line,
    x: float,
    y: float,
    w: float,
    h: float,
    size: float,
    align: str,
    *,
    margin: float | None = None,
    link: str | None = None,
) -> None:
    """Print `line` (at `size` pt, in the current text colour) in the box x, y, w, h as fpdf2 prints a
    text line there: `margin` (default the cell margin) inside the box's sides, the baseline at
    0.5 h + 0.3 font size, justified by widening each space (the `line.spaces` of it)."""
    from fpdf.enums import PDFResourceType

    k = pdf.k
    if margin is None:
        margin = pdf.c_margin
    if align == "R":
        dx = w - margin - line.width
    elif align == "C":
        dx = (w - line.width) / 2
    else:
        dx = margin
    spacing = (w - 2 * margin - line.width) / line.spaces if align == "J" and line.spaces else 0.0
    if not line.parts:
        return
    baseline = pdf.h - y - 0.5 * h - 0.3 * size / k
    assert pdf.text_color is not None  # fpdf2 starts every document black
    ops = [f"q {pdf.text_color.serialize().lower()} BT {(x + dx) * k:.2f} {baseline * k:.2f} Td"]
    current: tuple[Any, float] | None = None
    lift = 0.0
    for text, style in line.parts:
        font = _face(pdf, style)
        pt = size * _SUP_SCALE if style == "SUP" else size
        if current != (font, pt):
            ops.append(f"/F{font.i} {pt:.2f} Tf")
            pdf._resource_catalog.add(PDFResourceType.FONT, font.i, pdf.page)
            current = (font, pt)
        rise = size * _SUP_LIFT if style == "SUP" else 0.0
        if rise != lift:
            ops.append(f"{rise:.2f} Ts")
            lift = rise
        ops.append(_encoded(font, text, -spacing * k * 1000 / pt))
    ops.append("ET Q")  # the graphics state restored: fpdf2's idea of the page's font and colours holds
    pdf._out(" ".join(ops))
    if link:
        pdf.link(x + dx, y + 0.5 * h - 0.5 * size / k, line.width, size / k, link)


def _multi_cell(
    pdf: FPDF,
    w: float,
    h: float,
    text: str,
    align: str = "L",
    *,
    link: str | None = None,
    by_char: bool = False,
    ltr: bool = False,
) -> None:
    """`pdf.multi_cell(w, h, text, align=align, new_x="LMARGIN", new_y="NEXT")` in the current font
    and text colour (`by_char`: `wrapmode=WrapMode.CHAR`), laid out here when it can be."""
    if not _laid_out_here(text):
        from fpdf.enums import WrapMode

        _prepare(pdf, text, ltr=ltr)
        wrapmode = WrapMode.CHAR if by_char else WrapMode.WORD
        pdf.multi_cell(w, h, text, align=align, link=link or "", wrapmode=wrapmode, new_x="LMARGIN", new_y="NEXT")
        return
    if w == 0:
        w = pdf.w - pdf.r_margin - pdf.x
    size = pdf.font_size_pt
    x, y = pdf.x, pdf.y
    for line in _wrap(pdf, [(text, pdf.font_style)], size, w - 2 * pdf.c_margin, by_char=by_char) or [_NO_LINE]:
        _put(pdf, line, x, y, w, h, size, align, link=link)
        y += h
    pdf.x, pdf.y = pdf.l_margin, y


def _cell(pdf: FPDF, w: float, h: float, text: str, align: str = "L") -> None:
    """`pdf.cell(w, h, text, align=align)` in the current font and text colour, the position left
    where it was; laid out here when it can be."""
    if not _laid_out_here(text):
        x, y = pdf.x, pdf.y
        _prepare(pdf, text)
        pdf.cell(w, h, text, align=align)
        pdf.x, pdf.y = x, y
        return
    style, size = pdf.font_style, pdf.font_size_pt
    line = _Line([(text, style)], _width(pdf, text, style, size), 0)
    _put(pdf, line, pdf.x, pdf.y, w or pdf.w - pdf.r_margin - pdf.x, h, size, align)


def _center(
    pdf: FPDF, text: str, size: float, style: str = "", color: RGB = INK, gap: float = 0.0, *, ltr: bool = False
) -> None:
    pdf.set_font(FAMILY, style, size)
    pdf.set_text_color(*color)
    _multi_cell(pdf, 0, size * 0.45, text, "C", ltr=ltr)
    if gap:
        pdf.ln(gap)


def _fit_size(pdf: FPDF, text: str, style: str, width: float, largest: float, smallest: float) -> float:
    """The largest size (1 pt steps) at which `text` fits `width` on one line, at least `smallest`."""
    size = largest
    pdf.set_font(FAMILY, style, size)
    if _laid_out_here(text):
        while size > smallest and _width(pdf, text, style, size) > width:
            size = max(size - 1, smallest)
        pdf.set_font(FAMILY, style, size)
        return size
    _prepare(pdf, text)
    while size > smallest and pdf.get_string_width(text) > width:
        size = max(size - 1, smallest)
        pdf.set_font(FAMILY, style, size)
    return size


def _lines(pdf: FPDF, text: str, style: str, size: float, width: float) -> int:
    """Lines a word-wrapped `text` takes (fpdf2's own dry run is quadratic in the line length).

    A "word" wider than the line (CJK text has no spaces) wraps character by character."""
    pdf.set_font(FAMILY, style, size)
    if _laid_out_here(text):

        def measure(s: str) -> float:
            return _width(pdf, s, style, size)
    else:
        _prepare(pdf, text)
        measure = pdf.get_string_width
    space = measure(" ")
    lines, used = 1, 0.0
    for word in text.split():
        w = measure(word)
        if used and used + space + w > width:
            lines, used = lines + 1, 0.0
        while w > width:
            lines, w = lines + 1, w - width
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
    color: RGB = INK,
) -> None:
    """Paragraphs of styled runs (italic credit name, superscript ™) in a column at x..x+width, as
    fpdf2's `text_columns` sets them (a justified paragraph's last line flush left), then the
    position under them."""
    pdf.set_text_color(*color)
    if not all(_laid_out_here(text) for runs in paragraphs for text, _ in runs):
        _rich_by_fpdf2(pdf, paragraphs, size=size, align=align, x=x, width=width, line_height=line_height, gap=gap)
        return
    h = size / pdf.k * line_height
    bottom = pdf.h - pdf.b_margin
    y = max(pdf.t_margin, pdf.y)
    for runs in paragraphs:
        lines = _wrap(pdf, runs, size, width - 2 * pdf.c_margin)
        for index, line in enumerate(lines):
            last = index == len(lines) - 1
            _put(pdf, line, x, y, width, h, size, "L" if last and align == "J" else align)
            y += h
        if gap and lines and lines[-1].parts and y + gap < bottom:
            y += gap
    pdf.x, pdf.y = x, y
    pdf.set_font(FAMILY, "", size)


def _rich_by_fpdf2(
    pdf: FPDF,
    paragraphs: Sequence[Sequence[Run]],
    *,
    size: float,
    align: str,
    x: float,
    width: float,
    line_height: float,
    gap: float,
) -> None:
    """`_rich` for text the primary faces cannot set alone: fpdf2's text regions, with font fallback
    and shaping."""
    pdf.set_font(FAMILY, "", size)
    _prepare(pdf, "")
    with pdf.text_columns(text_align=align, line_height=line_height, l_margin=x, r_margin=pdf.w - x - width) as column:
        for runs in paragraphs:
            with column.paragraph(bottom_margin=gap) as par:
                for text, style in runs:
                    pdf.char_vpos = "SUP" if style == "SUP" else "LINE"
                    pdf.set_font(FAMILY, "" if style == "SUP" else style, size)
                    _prepare(pdf, text)  # shaping without bidi here: each fragment's direction from its script
                    par.write(_visual_words(text) if pdf.text_shaping else text)
                pdf.char_vpos = "LINE"
    pdf.set_font(FAMILY, "", size)
    pdf.char_vpos = "LINE"


def _frame(pdf: FPDF, palette: _Palette) -> None:
    pdf.set_draw_color(*palette.rule)
    pdf.set_line_width(1.2)
    pdf.rect(8, 8, pdf.w - 16, pdf.h - 16)
    pdf.set_line_width(0.3)
    pdf.rect(10.5, 10.5, pdf.w - 21, pdf.h - 21)


def _image_size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return image.size


def _fit_image(
    pdf: FPDF, data: bytes, box_x: float, box_y: float, box_w: float, box_h: float, *, valign: str = "T"
) -> tuple[float, float]:
    """Place the image centred horizontally in the box, at its top ("T") or bottom ("B"), as large as
    the box allows with its aspect kept; return its (width, height)."""
    px_w, px_h = _image_size(data)
    scale = min(box_w / px_w, box_h / px_h)
    w, h = px_w * scale, px_h * scale
    y = box_y if valign == "T" else box_y + box_h - h
    pdf.image(io.BytesIO(data), x=box_x + (box_w - w) / 2, y=y, w=w, h=h)
    return w, h


def _signature_block(pdf: FPDF, doc: CertificateDocument, x: float, width: float, bottom: float) -> None:
    """Signature image over a line, the signer's name and title under it, ending at `bottom`."""
    lines: list[tuple[str, str, float, RGB]] = []
    if doc.signer_name:
        lines.append((doc.signer_name, "B", _fit_size(pdf, doc.signer_name, "B", width, 9, 6), INK))
    if doc.signer_title:
        lines.append((doc.signer_title, "", _fit_size(pdf, doc.signer_title, "", width, 7.5, 6), MUTED))
    heights = [size / pdf.k * 1.3 for _, _, size, _ in lines]
    rule_y = bottom - sum(heights) - 1.2
    if doc.signature_png:
        box_w, box_h = SIGNATURE_BOX
        _fit_image(pdf, doc.signature_png, x + (width - box_w) / 2, rule_y - 0.8 - box_h, box_w, box_h, valign="B")
    pdf.set_draw_color(*INK)
    pdf.set_line_width(0.25)
    pdf.line(x + 2, rule_y, x + width - 2, rule_y)
    y = rule_y + 1.2
    for (text, style, size, color), height in zip(lines, heights, strict=True):  # top down: reading order
        pdf.set_font(FAMILY, style, size)
        pdf.set_text_color(*color)
        pdf.set_xy(x, y)
        _cell(pdf, width, height, text, "C")
        y += height


def _certificate_page(pdf: FPDF, doc: CertificateDocument, palette: _Palette = DEFAULT_PALETTE) -> None:
    pdf.set_auto_page_break(False)
    pdf.add_page()
    _frame(pdf, palette)
    width = pdf.w - 2 * PAGE_MARGIN
    title, subtitle = _TITLES[doc.kind]

    pdf.set_y(PAGE_MARGIN + 2)
    if doc.logo_png:
        box_w, box_h = LOGO_BOX
        _, logo_h = _fit_image(pdf, doc.logo_png, (pdf.w - box_w) / 2, PAGE_MARGIN - 3, box_w, box_h)
        pdf.set_y(PAGE_MARGIN - 3 + logo_h + 3)
    provider_size = _fit_size(pdf, doc.provider_name, "B", width, 13, 9)
    _center(pdf, doc.provider_name, provider_size, "B", palette.heading)
    if doc.joint_provider:
        _center(pdf, f"in joint providership with {doc.joint_provider}", 9, "", MUTED, ltr=True)
    if doc.provider_address:
        _center(pdf, doc.provider_address, 8, "", MUTED)
    pdf.ln(4 if not doc.logo_png else 2.5)

    _center(pdf, title, _fit_size(pdf, title, "B", width, 26, 18), "B", palette.heading)
    if subtitle:
        pdf.ln(1)
        _center(pdf, subtitle, 13, "", palette.heading)
    pdf.ln(4 if not doc.logo_png else 2.5)
    _center(pdf, "This certifies that", 10.5, "", MUTED, gap=2)

    name = doc.display_name
    name_size = _fit_size(pdf, name, "B", width - 20, 28, 16)
    if _string_width(pdf, name) <= width - 20 or not doc.degree:
        _center(pdf, name, name_size, "B", INK, gap=1, ltr=True)
    else:  # a long name: the degree goes on its own line rather than wrapping mid-list
        name_size = _fit_size(pdf, doc.learner_name, "B", width - 20, 22, 14)
        _center(pdf, doc.learner_name, name_size, "B", INK)
        _center(pdf, doc.degree, name_size * 0.75, "B", INK, gap=1)
    pdf.set_draw_color(*palette.rule)
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
    _multi_cell(pdf, width - 20, title_size * 0.45, doc.activity_title, "C")
    pdf.ln(1.5)
    details = " · ".join(
        [FORMAT_WORDS[doc.activity_format].capitalize(), doc.location, format_dates(doc.starts_on, doc.ends_on)]
    )
    _center(pdf, details, 10.5, "", INK, gap=4, ltr=True)

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

    # Bottom band: statements on the left, the signature (if any) and the QR code and identifiers on
    # the right.
    qr_size = 30.0
    band_bottom = pdf.h - PAGE_MARGIN - 3
    right_w = 52.0
    right_x = pdf.w - PAGE_MARGIN - right_w
    left_x = PAGE_MARGIN + 4
    signed = bool(doc.signature_png or doc.signer_name or doc.signer_title)
    sign_x = right_x - 4 - SIGNATURE_COLUMN
    left_w = (sign_x - 4 if signed else right_x - 8) - left_x
    # A signature column narrows the statements: the band may then reach further up the page.
    top = max(pdf.get_y() + 2, band_bottom - (70 if signed else 58))
    pdf.set_draw_color(*palette.rule)
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
    if signed:
        _signature_block(pdf, doc, sign_x, SIGNATURE_COLUMN, band_bottom)

    qr_x = pdf.w - PAGE_MARGIN - 4 - qr_size
    qr_y = max(top + 3, band_bottom - 55)
    pdf.image(_qr_image(doc.verify_url), x=qr_x, y=qr_y, w=qr_size, h=qr_size, link=doc.verify_url)
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
        _multi_cell(pdf, right_w - 4, 3.4, text, "R")
    pdf.set_text_color(*palette.heading)
    url_w = right_w - 4
    pdf.set_font(FAMILY, "", _fit_size(pdf, doc.verify_url, "", url_w, 7, 5.5))
    url_lines = [doc.verify_url]
    if _string_width(pdf, doc.verify_url) > url_w and "/" in doc.verify_url.rstrip("/"):
        cut = doc.verify_url.rstrip("/").rindex("/") + 1  # ".../verify/" + "CID?version=2"
        url_lines = [doc.verify_url[:cut], doc.verify_url[cut:]]
    for text in url_lines:
        pdf.set_x(right_x)
        _multi_cell(pdf, url_w, 3, text, "R", link=doc.verify_url, by_char=True)


#: The QR code: error correction level M, 8 pixels a module, no quiet zone (the page is white), dark
#: modules in this colour.
QR_SCALE = 8
QR_DARK = (0x16, 0x26, 0x3E)
_QR_PALETTE_INDEX = bytes.maketrans(b"\x00\x01", b"\x01\x00")  # segno's 1 (dark) to palette entry 0


def _qr_image(url: str) -> Any:
    """The QR code of `url` as a two-colour palette image, the pixels segno's PNG of it would decode to.

    Made straight from segno's module matrix: writing a PNG only for fpdf2 to decode it again costs
    more than drawing the code."""
    import segno
    from PIL import Image

    matrix = segno.make(url, error="m", micro=False).matrix
    modules = len(matrix)
    image = Image.frombytes("P", (modules, modules), b"".join(matrix).translate(_QR_PALETTE_INDEX))
    image.putpalette(bytes((*QR_DARK, 255, 255, 255)))
    return image.resize((modules * QR_SCALE, modules * QR_SCALE), Image.Resampling.NEAREST)


def _transcript_pages(pdf: FPDF, doc: CertificateDocument, palette: _Palette = DEFAULT_PALETTE) -> None:
    pdf.set_auto_page_break(True, margin=PAGE_MARGIN + 2)
    _prepare(pdf, "")
    pdf.add_page()
    pdf.set_y(PAGE_MARGIN)
    width = pdf.w - 2 * PAGE_MARGIN
    pdf.set_font(FAMILY, "B", 16)
    pdf.set_text_color(*palette.heading)
    _multi_cell(pdf, 0, 8, "Transcript")
    pdf.set_text_color(*INK)
    pdf.set_font(FAMILY, "B", 11)
    _multi_cell(pdf, width, 5.5, doc.display_name, ltr=True)
    pdf.set_font(FAMILY, "", 9.5)
    _multi_cell(pdf, width, 4.6, doc.activity_title)
    pdf.set_text_color(*MUTED)
    about = (
        f"{doc.provider_name} · {FORMAT_WORDS[doc.activity_format].capitalize()} · {doc.location} · "
        f"{format_dates(doc.starts_on, doc.ends_on)}"
    )
    _multi_cell(pdf, width, 4.6, about, ltr=True)
    codes = _ordered(doc.printed_credits)
    claimed = "; ".join(credit_label(c, doc.printed_credits[c]) for c in codes) or "none"
    pdf.ln(1.5)
    pdf.set_font(FAMILY, "", 8)
    _multi_cell(
        pdf, width, 4,
        f"Credit claimed on this certificate: {claimed}. Minutes are the learner's recorded attendance, "
        "breaks excluded.",
    )  # fmt: skip
    pdf.ln(4)

    date_w, minutes_w = 26.0, 18.0
    credit_w = min(30.0, (width - date_w - minutes_w - 70.0) / max(len(codes), 1))
    col_widths = (date_w, width - date_w - minutes_w - credit_w * len(codes), minutes_w, *([credit_w] * len(codes)))
    headings: list[Run] = [("Date", "B"), ("Session", "B"), ("Minutes", "B")]
    for code in codes:
        name = credit_name(code, Decimal(2))
        headings.append((name[:1].upper() + name[1:], "I" if code == "AMA_PRA_1" else "B"))
    rows: list[tuple[float, list[Run]]] = [(8 if len(codes) <= 4 else 7, headings)]
    total_minutes = 0
    totals = dict.fromkeys(codes, Decimal(0))
    for line in sorted(doc.sessions, key=lambda s: s.day):  # stable: agenda order within a day
        cells: list[Run] = [(line.day.isoformat(), ""), (line.title, ""), (str(line.minutes), "")]
        total_minutes += line.minutes
        for code in codes:
            amount = line.credits.get(code)
            cells.append((format_amount(amount) if amount is not None else "–", ""))
            if amount is not None:
                totals[code] += amount
        rows.append((8.5, cells))
    total: list[Run] = [("Total", "B"), ("", "B"), (str(total_minutes), "B")]
    rows.append((8.5, total + [(format_amount(totals[code]), "B") for code in codes]))
    pdf.set_font(FAMILY, "", 8.5)
    pdf.set_text_color(*INK)
    pdf.set_draw_color(200, 200, 200)
    pdf.set_line_width(0.2)
    _table(pdf, rows, col_widths, ("L", "L", "R", *["R"] * len(codes)), palette.fill)


#: Transcript table cells: padding above and below, left and right of the text; line height (mm).
_CELL_PAD_V, _CELL_PAD_H, _CELL_LINE = 1.2, 1.5, 4.4


def _table(
    pdf: FPDF,
    rows: Sequence[tuple[float, Sequence[Run]]],
    col_widths: Sequence[float],
    aligns: Sequence[str],
    fill: RGB,
) -> None:
    """The transcript table, centred on the page: `rows` of (size, cells), a cell being (text,
    style), the first row the headings (on `fill`, repeated at the top of every page the table goes
    on to), a rule between rows. Each cell's text is wrapped within its column and centred vertically
    in its row, all laid out as fpdf2's `table` lays it out (HORIZONTAL_LINES borders, padding
    (1.2, 1.5), line height 4.4 mm), in one pass: fpdf2's table lays every cell out twice through its
    generic line breaking. Cells the primary faces cannot set alone are left to fpdf2's `multi_cell`."""
    from fpdf.util import Padding

    padding = Padding(_CELL_PAD_V, _CELL_PAD_H, _CELL_PAD_V, _CELL_PAD_H)
    width = sum(col_widths)
    widths = [w / sum(col_widths) * width for w in col_widths]  # fpdf2's arithmetic, to the last bit
    left = (pdf.w - width) / 2
    xs = [left]
    for w in widths[:-1]:
        xs.append(xs[-1] + w)

    # Each row: its height, and each cell's lines (None: fpdf2 sets it) and height (0: empty).
    laid: list[tuple[float, list[tuple[list[_Line] | None, float]]]] = []
    for size, cells in rows:
        out: list[tuple[list[_Line] | None, float]] = []
        for (text, style), w, align in zip(cells, widths, aligns, strict=True):
            lines: list[_Line] | None = None
            if not text:
                out.append((None, 0.0))
                continue
            if _laid_out_here(text):
                lines = _wrap(pdf, [(text, style)], size, w - 2 * _CELL_PAD_H) or [_NO_LINE]
                count = len(lines)
            else:
                pdf.set_font(FAMILY, style, size)
                _prepare(pdf, text)
                wrapped = pdf.multi_cell(
                    w, _CELL_LINE, text, align=align, padding=padding, dry_run=True, output="LINES"
                )
                assert isinstance(wrapped, list)
                count = len(wrapped)
            out.append((lines, count * _CELL_LINE + 2 * _CELL_PAD_V))
        laid.append((max(height for _, height in out) or _CELL_LINE, out))

    def draw(index: int) -> None:
        size, cells = rows[index]
        height, cells_laid = laid[index]
        y = pdf.y
        if index == 0:
            with pdf.local_context(fill_color=fill):
                pdf.rect(left, y, width, height, style="F")
        if index > 0:
            pdf.line(left, y, left + width, y)
        if index < len(rows) - 1:
            pdf.line(left, y + height, left + width, y + height)
        pdf.set_text_color(*INK)
        for (text, style), (lines, cell_h), x, w, align in zip(cells, cells_laid, xs, widths, aligns, strict=True):
            if not cell_h:
                continue
            top = y + (height - cell_h) / 2
            if lines is None:
                pdf.set_font(FAMILY, style, size)
                _prepare(pdf, text)
                pdf.set_xy(x, top)
                pdf.multi_cell(w, _CELL_LINE, text, align=align, padding=padding, new_x="RIGHT", new_y="TOP")
                continue
            top += _CELL_PAD_V
            for line in lines:
                _put(pdf, line, x + _CELL_PAD_H, top, w - 2 * _CELL_PAD_H, _CELL_LINE, size, align, margin=0)
                top += _CELL_LINE
        pdf.set_xy(left, y + height)

    if len(rows) > 1 and pdf.will_page_break(laid[0][0] + laid[1][0]):  # never the headings alone on a page
        pdf._perform_page_break()
    for index in range(len(rows)):
        if pdf.will_page_break(laid[index][0]):
            pdf._perform_page_break()
            if index:
                draw(0)
        draw(index)
    pdf.x = pdf.l_margin
