"""Rebuild the DejaVuSans-Core*.ttf subsets from the full DejaVu Sans faces in this folder.

    .venv/bin/python shared/cme/certificates/fonts/build_core_fonts.py

The certificate renderer sets text in the core subsets (Latin, Greek, Cyrillic, punctuation, ™):
fpdf2 subsets every font it embeds once per document, and that costs in proportion to the font's
glyph count, so a 1,900-glyph face renders about twice as fast as the 6,000-glyph original. The
full faces stay in this folder as the first fallback for any character outside the core ranges.
The output is deterministic (no timestamps), so rebuilding without changes gives identical files.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from fontTools.ttLib import TTFont

HERE = Path(__file__).resolve().parent

FACES = {
    "DejaVuSans.ttf": "DejaVuSans-Core.ttf",
    "DejaVuSans-Bold.ttf": "DejaVuSans-Core-Bold.ttf",
    "DejaVuSans-Oblique.ttf": "DejaVuSans-Core-Oblique.ttf",
}

#: Unicode blocks kept in the core faces.
CORE_RANGES: tuple[tuple[int, int], ...] = (
    (0x0020, 0x007E),  # Basic Latin
    (0x00A0, 0x00FF),  # Latin-1 Supplement
    (0x0100, 0x017F),  # Latin Extended-A
    (0x0180, 0x024F),  # Latin Extended-B
    (0x02B0, 0x02FF),  # Spacing Modifier Letters
    (0x0300, 0x036F),  # Combining Diacritical Marks
    (0x0370, 0x03FF),  # Greek and Coptic
    (0x0400, 0x04FF),  # Cyrillic
    (0x0500, 0x052F),  # Cyrillic Supplement
    (0x1E00, 0x1EFF),  # Latin Extended Additional (Vietnamese, Welsh, ...)
    (0x1F00, 0x1FFF),  # Greek Extended (polytonic)
    (0x2000, 0x206F),  # General Punctuation (dashes, quotes, bullet, ellipsis)
    (0x20A0, 0x20CF),  # Currency Symbols
    (0x2100, 0x214F),  # Letterlike Symbols (™, №, ℃)
    (0xFB00, 0xFB06),  # Latin ligatures
)

# fpdf2 drops these from every embedded subset anyway; kern is unused (fpdf2 positions glyphs).
DROP_TABLES = ["FFTM", "GDEF", "GPOS", "GSUB", "MATH", "hdmx", "kern", "meta"]


def build(source: Path, target: Path) -> int:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.drop_tables += DROP_TABLES
    options.layout_features = []
    options.name_IDs = ["*"]  # keep copyright, licence and version strings
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.recommended_glyphs = True
    options.glyph_names = True
    font = TTFont(source, recalcTimestamp=False)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[cp for low, high in CORE_RANGES for cp in range(low, high + 1)])
    subsetter.subset(font)
    rename(font)
    # The Windows Unicode subtable only (what fpdf2 picks): the renderer then uses the file as it is,
    # without compiling it again at every cold start.
    cmap = font["cmap"]
    cmap.tables = [t for t in cmap.tables if t.platformID == 3 and t.platEncID in (1, 10)]
    font.save(target)
    return len(font.getGlyphOrder())


def rename(font: TTFont) -> None:
    """Name the cut "DejaVu Sans Core": a PDF that embeds both a core and a full face (the
    fallback) must not carry two different fonts under one name. (The licence allows modified
    copies under any name without "Bitstream", "Vera", "Arev" or "Tavmjong Bah".)"""
    for record in font["name"].names:
        if record.nameID in (1, 3, 4, 16, 18):
            record.string = record.toUnicode().replace("DejaVu Sans", "DejaVu Sans Core")
        elif record.nameID == 6:
            record.string = record.toUnicode().replace("DejaVuSans", "DejaVuSansCore")


def main() -> None:
    for source, target in FACES.items():
        glyphs = build(HERE / source, HERE / target)
        print(f"{target}: {glyphs} glyphs, {(HERE / target).stat().st_size} bytes")


if __name__ == "__main__":
    main()
