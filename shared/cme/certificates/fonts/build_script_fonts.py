"""Build the fallback faces for the scripts DejaVu lacks (CJK, Arabic, Hebrew) from Debian packages.

    .venv/bin/python shared/cme/certificates/fonts/build_script_fonts.py [--debs DIR]

Without `--debs`, the pinned packages are fetched with `apt-get download` into a temporary folder
(Debian's archive must be reachable; nothing is installed). With `--debs DIR`, the .deb files already
in DIR are used. Either way each package's version and each source font's SHA-256 are checked
against the pins below, so the output is the same on every machine (fontTools subsetting is
deterministic and no timestamps are recalculated). fontTools is the only Python requirement (it
comes with fpdf2; the dev extra pins it too). See README.md for what each file is for.

What is built:

- `NotoSansCJKsc-Cert-Regular.otf`, `NotoSansCJKsc-Cert-Bold.otf`: Noto Sans CJK SC cut down to
  `common_cjk()` (GB 2312 hanzi, Big5 level-1 hanzi, JIS X 0208 kanji, kana, the 2,350 KS X 1001
  Hangul syllables, Hangul Jamo, CJK punctuation and full-width forms), without OpenType layout
  tables, vertical metrics or hints (fpdf2 sets CJK unshaped and horizontal; hints matter to
  screens at small sizes only, and dropping them saves a fifth of the size).
- `DroidSansFallback-Cert.ttf`: the "rare" tier, regular only: every other CJK Unified Ideograph
  (U+4E00-9FFF), Extension A, the CJK Compatibility Ideographs and the remaining 8,822 Hangul
  syllables, from Droid Sans Fallback (its 256-unit em makes it about 60% the size of Noto for the
  same characters). The Hangul comes from DroidSansFallback.ttf, the rest from
  DroidSansFallbackFull.ttf (Debian ships both; the Full face lacks Hangul).
- `NotoSansCJKsc-Cert-SIP.otf`: regular only, the 2,590 characters of the Supplementary
  Ideographic Plane (Extension B and later: e.g. the 𠮷 of Japanese family names, Hong Kong
  HKSCS characters) that Noto Sans CJK has.
- `NotoSansArabic-Regular.ttf`, `NotoSansArabic-Bold.ttf`, `NotoSansHebrew-Regular.ttf`,
  `NotoSansHebrew-Bold.ttf`: copied unmodified (they hold their script and a few neutral
  characters only, and text shaping needs their GSUB/GPOS tables).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from fontTools.ttLib import TTFont

HERE = Path(__file__).resolve().parent

#: package -> pinned version (Debian 12 "bookworm").
PACKAGES = {
    "fonts-noto-cjk": "1:20220127+repack1-1",
    "fonts-noto-core": "20201225-1",
    "fonts-droid-fallback": "1:6.0.1r16-1.1",
}

#: Source files inside the packages and their SHA-256.
SOURCES = {
    "usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc": (
        "b76b0433203017ca80401b2ee0dd69350349871c4b19d504c34dbdd80541690a"
    ),
    "usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc": (
        "faa5f3656a78b2e2d450d27fe8382c778bc2b6bb5ea29c986664a6a435056ceb"
    ),
    "usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf": (
        "504d7407d86875acf7d04dfaa0fd7524d0b8797723bc4aa18022f29db25b0b6e"
    ),
    "usr/share/fonts/truetype/noto/NotoSansArabic-Bold.ttf": (
        "ded6fc7359ca36d15d7aab9ef0c066e21ce48b26a069994d6602fa2cb9a1b952"
    ),
    "usr/share/fonts/truetype/noto/NotoSansHebrew-Regular.ttf": (
        "436900d5ad77d33e4234247f3076eaecd25b92b9bea0519514f684140e3566a7"
    ),
    "usr/share/fonts/truetype/noto/NotoSansHebrew-Bold.ttf": (
        "d3b01343f71e8a93fffb84c345a1aecbaf4694b98d0eaace916cb9eac9e6dcd3"
    ),
    "usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf": (
        "acb6440a713d880a13a21b468ba7cd43f5a2b2934972e51be791c880730777b8"
    ),
    "usr/share/fonts-droid-fallback/truetype/DroidSansFallback.ttf": (
        "56d3edfb377a8bc3c4b77f4476405c770173c0e31221ad7c77d0a8e1f3039a3e"
    ),
}

#: The face of the NotoSansCJK .ttc collections used: Simplified Chinese (see README.md for why).
CJK_FACE = "Noto Sans CJK SC"

COPIED = {
    "usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf": "NotoSansArabic-Regular.ttf",
    "usr/share/fonts/truetype/noto/NotoSansArabic-Bold.ttf": "NotoSansArabic-Bold.ttf",
    "usr/share/fonts/truetype/noto/NotoSansHebrew-Regular.ttf": "NotoSansHebrew-Regular.ttf",
    "usr/share/fonts/truetype/noto/NotoSansHebrew-Bold.ttf": "NotoSansHebrew-Bold.ttf",
}

DROID_FULL = "usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"
DROID = "usr/share/fonts-droid-fallback/truetype/DroidSansFallback.ttf"

HAN_BLOCKS = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0xF900, 0xFAFF))  # URO, Extension A, compatibility
HANGUL_SYLLABLES = (0xAC00, 0xD7A3)


def _decode_pairs(codec: str, leads: range, trails: list[int]) -> set[int]:
    """The characters a double-byte codec maps the given lead/trail byte pairs to."""
    out = set()
    for lead in leads:
        for trail in trails:
            try:
                text = bytes((lead, trail)).decode(codec)
            except UnicodeDecodeError:
                continue
            if len(text) == 1:
                out.add(ord(text))
    return out


def _is_han(cp: int) -> bool:
    return any(low <= cp <= high for low, high in HAN_BLOCKS)


def common_cjk() -> set[int]:
    """The repertoire of the Noto CJK cut (13,000-odd characters)."""
    euc = list(range(0xA1, 0xFF))
    gb2312 = _decode_pairs("gb2312", range(0xB0, 0xF8), euc)  # rows 16-87: 6,763 hanzi
    big5_level1 = _decode_pairs("big5", range(0xA4, 0xC7), [*range(0x40, 0x7F), *euc])  # 0xA440-0xC67E
    jis_kanji = _decode_pairs("euc_jp", range(0xB0, 0xF5), euc)  # JIS X 0208 rows 16-84: 6,355 kanji
    ks_hangul = _decode_pairs("euc_kr", range(0xB0, 0xC9), euc)  # KS X 1001: 2,350 syllables
    han = {cp for cp in gb2312 | big5_level1 | jis_kanji if _is_han(cp)}
    blocks = (
        (0x1100, 0x11FF),  # Hangul Jamo
        (0x3000, 0x303F),  # CJK Symbols and Punctuation
        (0x3040, 0x309F),  # Hiragana
        (0x30A0, 0x30FF),  # Katakana
        (0x3130, 0x318F),  # Hangul Compatibility Jamo
        (0x31F0, 0x31FF),  # Katakana Phonetic Extensions
        (0xFF01, 0xFF60),  # full-width ASCII and brackets
        (0xFF61, 0xFF9F),  # half-width katakana
        (0xFFE0, 0xFFE6),  # full-width signs
    )
    return han | ks_hangul | {cp for low, high in blocks for cp in range(low, high + 1)}


def rare_cjk(common: set[int]) -> tuple[set[int], set[int]]:
    """(Han, Hangul) characters of the rare tier: what `common` leaves out."""
    han = {cp for low, high in HAN_BLOCKS for cp in range(low, high + 1)} - common
    hangul = set(range(HANGUL_SYLLABLES[0], HANGUL_SYLLABLES[1] + 1)) - common
    return han, hangul


def _options() -> Any:
    from fontTools import subset

    options = subset.Options()
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "VORG", "vhea", "vmtx", "DSIG"]
    options.layout_features = []
    options.name_IDs = ["*"]  # keep copyright, licence and version strings
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.recommended_glyphs = True
    options.glyph_names = False
    options.hinting = False
    return options


def _subset(font: TTFont, unicodes: set[int]) -> TTFont:
    from fontTools import subset

    subsetter = subset.Subsetter(_options())
    subsetter.populate(unicodes=sorted(unicodes))
    subsetter.subset(font)
    return font


def _collection_face(path: Path, family: str) -> TTFont:
    from fontTools.ttLib import TTCollection

    collection = TTCollection(str(path), lazy=False)
    for font in collection.fonts:
        if font["name"].getDebugName(1) == family or font["name"].getDebugName(16) == family:
            font.recalcTimestamp = False  # keep the source's head.modified: same input, same bytes
            return font
    raise SystemExit(f"{path.name}: no face named {family!r}")


def build_cjk(root: Path, weight: str, target: Path, common: set[int]) -> int:
    font = _collection_face(root / f"usr/share/fonts/opentype/noto/NotoSansCJK-{weight}.ttc", CJK_FACE)
    _subset(font, common).save(target)
    return len(font.getGlyphOrder())


def build_sip(root: Path, target: Path) -> int:
    font = _collection_face(root / "usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", CJK_FACE)
    _subset(font, {cp for cp in font.getBestCmap() if cp > 0xFFFF}).save(target)
    return len(font.getGlyphOrder())


def build_rare(root: Path, target: Path, common: set[int]) -> int:
    from fontTools import merge
    from fontTools.ttLib import TTFont

    han, hangul = rare_cjk(common)
    with tempfile.TemporaryDirectory() as tmp:
        parts: list[str] = []
        for source, unicodes in ((DROID_FULL, han), (DROID, hangul)):
            font = TTFont(root / source, recalcTimestamp=False)
            part = Path(tmp) / f"part{len(parts)}.ttf"
            _subset(font, unicodes).save(part)
            parts.append(str(part))
        merged = merge.Merger().merge(parts)
    merged["post"].formatType = 3.0  # no glyph names (the merger renamed duplicates)
    source_head = TTFont(root / DROID_FULL, lazy=True)["head"]
    merged["head"].created = source_head.created  # the merger stamps the build time: keep the source's
    merged["head"].modified = source_head.modified
    merged.recalcTimestamp = False
    merged.save(target)
    return len(merged.getGlyphOrder())


def fetch(debs: Path | None, work: Path) -> Path:
    """Extract the pinned packages into work/root and check versions and checksums."""
    if debs is None:
        debs = work / "debs"
        debs.mkdir()
        wanted = [f"{name}={version}" for name, version in PACKAGES.items()]
        subprocess.run(["apt-get", "download", *wanted], cwd=debs, check=True)  # noqa: S603, S607
    root = work / "root"
    for name, version in PACKAGES.items():
        candidates = sorted(debs.glob(f"{name}_*.deb"))
        if not candidates:
            raise SystemExit(f"{name}: no .deb in {debs}")
        deb = candidates[-1]
        command = ["dpkg-deb", "-f", str(deb), "Version"]
        found = subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()  # noqa: S603
        if found != version:
            raise SystemExit(f"{deb.name}: version {found}, expected {version}")
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)  # noqa: S603, S607
    for path, digest in SOURCES.items():
        actual = hashlib.sha256((root / path).read_bytes()).hexdigest()
        if actual != digest:
            raise SystemExit(f"{path}: SHA-256 {actual}, expected {digest}")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debs", type=Path, help="folder holding the pinned .deb files (default: apt-get download)")
    args = parser.parse_args()
    common = common_cjk()
    with tempfile.TemporaryDirectory() as tmp:
        root = fetch(args.debs, Path(tmp))
        built: dict[str, int] = {}
        for weight in ("Regular", "Bold"):
            name = f"NotoSansCJKsc-Cert-{weight}.otf"
            built[name] = build_cjk(root, weight, HERE / name, common)
        built["DroidSansFallback-Cert.ttf"] = build_rare(root, HERE / "DroidSansFallback-Cert.ttf", common)
        built["NotoSansCJKsc-Cert-SIP.otf"] = build_sip(root, HERE / "NotoSansCJKsc-Cert-SIP.otf")
        for source, name in COPIED.items():
            shutil.copyfile(root / source, HERE / name)
            built[name] = 0
    for name, glyphs in built.items():
        what = f"{glyphs} glyphs" if glyphs else "copied"
        print(f"{name}: {what}, {(HERE / name).stat().st_size} bytes")


if __name__ == "__main__":
    main()
