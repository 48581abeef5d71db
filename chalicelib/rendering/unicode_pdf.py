"""A small PDF writer for documents people file: text in a TrueType font embedded whole, so any script prints.

Why not a PDF library: fpdf2 needs fonttools to embed a font, and the two add about 10 MB to the Lambda
package (over its 15 MB bound, tests/functional/test_deploy_package.py); a filed document needs text,
rules and tables only. The font is a Type 0 font with Identity-H encoding over a CIDFontType2
(ISO 32000-1, 9.7), its glyph widths in /W and a ToUnicode CMap (9.10.3), so text copied or extracted
from the PDF is the text written. The font file is embedded whole and compressed (FontFile2).
"""

from __future__ import annotations

import functools
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Font", "font", "Document", "A4_LANDSCAPE"]

A4_LANDSCAPE = (841.89, 595.28)  # points


@dataclass(frozen=True)
class Font:
    """What a TrueType file says about its glyphs: which glyph draws a character, and how wide it is."""

    data: bytes
    name: str
    units_per_em: int
    ascent: int
    descent: int
    bbox: tuple[int, int, int, int]
    glyph_of: dict[int, int]
    advances: tuple[int, ...]

    def glyph(self, char: str) -> int:
        return self.glyph_of.get(ord(char), 0)

    def advance(self, glyph: int) -> int:
        return self.advances[min(glyph, len(self.advances) - 1)]

    def width(self, text: str, size: float) -> float:
        """The width of `text` set at `size` points."""
        return sum(self.advance(self.glyph(c)) for c in text) * size / self.units_per_em


def _tables(data: bytes) -> dict[bytes, bytes]:
    (count,) = struct.unpack_from(">H", data, 4)
    tables = {}
    for index in range(count):
        tag, _, offset, length = struct.unpack_from(">4sIII", data, 12 + 16 * index)
        tables[tag] = data[offset : offset + length]
    return tables


def _cmap_format_4(table: bytes) -> dict[int, int]:
    (segments,) = struct.unpack_from(">H", table, 6)
    segments //= 2
    ends = struct.unpack_from(f">{segments}H", table, 14)
    starts = struct.unpack_from(f">{segments}H", table, 16 + 2 * segments)
    deltas = struct.unpack_from(f">{segments}h", table, 16 + 4 * segments)
    range_at = 16 + 6 * segments
    ranges = struct.unpack_from(f">{segments}H", table, range_at)
    glyphs = {}
    for seg, (start, end, delta, offset) in enumerate(zip(starts, ends, deltas, ranges, strict=True)):
        for code in range(start, min(end, 0xFFFE) + 1):
            if offset == 0:
                glyph = (code + delta) & 0xFFFF
            else:
                at = range_at + 2 * seg + offset + 2 * (code - start)
                (glyph,) = struct.unpack_from(">H", table, at)
                glyph = (glyph + delta) & 0xFFFF if glyph else 0
            if glyph:
                glyphs[code] = glyph
    return glyphs


def _unicode_cmap(table: bytes) -> dict[int, int]:
    """The Windows Unicode BMP subtable (platform 3, encoding 1, format 4): every script a filed paper uses."""
    (count,) = struct.unpack_from(">H", table, 2)
    for index in range(count):
        platform, encoding, offset = struct.unpack_from(">HHI", table, 4 + 8 * index)
        if (platform, encoding) == (3, 1) and struct.unpack_from(">H", table, offset)[0] == 4:
            return _cmap_format_4(table[offset:])
    raise ValueError("the font has no Unicode (3, 1) format 4 character map")


@functools.lru_cache(maxsize=2)
def font(path: Path) -> Font:
    """A TrueType font read once per container."""
    data = path.read_bytes()
    tables = _tables(data)
    head, hhea, hmtx = tables[b"head"], tables[b"hhea"], tables[b"hmtx"]
    (units,) = struct.unpack_from(">H", head, 18)
    bbox = struct.unpack_from(">4h", head, 36)
    ascent, descent = struct.unpack_from(">hh", hhea, 4)
    (metrics,) = struct.unpack_from(">H", hhea, 34)
    advances = struct.unpack_from(f">{metrics}H", b"".join(hmtx[i : i + 2] for i in range(0, 4 * metrics, 4)))
    return Font(data, path.stem, units, ascent, descent, bbox, _unicode_cmap(tables[b"cmap"]), advances)


def _text_string(value: str) -> str:
    """A PDF literal string of ASCII text (document information), escaped."""
    return "(" + value.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


@dataclass
class Document:
    """Pages of text and rules in one embedded font; positions in points from the page's bottom left."""

    face: Font
    title: str
    size: tuple[float, float] = A4_LANDSCAPE
    pages: list[list[str]] = field(default_factory=list)
    used: dict[int, str] = field(default_factory=dict)

    def new_page(self) -> None:
        self.pages.append([])

    def text(self, x: float, y: float, size: float, value: str) -> None:
        glyphs = []
        for char in value:
            glyph = self.face.glyph(char)
            self.used.setdefault(glyph, char)
            glyphs.append(glyph)
        hex_glyphs = "".join(f"{g:04X}" for g in glyphs)
        self.pages[-1].append(f"BT /F1 {size:g} Tf {x:.2f} {y:.2f} Td <{hex_glyphs}> Tj ET")

    def box(self, x: float, y: float, width: float, height: float, *, fill: float | None = None) -> None:
        """A rectangle ruled in grey, filled with a grey level first when `fill` is given."""
        if fill is not None:
            self.pages[-1].append(f"{fill:g} g {x:.2f} {y:.2f} {width:.2f} {height:.2f} re f 0 g")
        self.pages[-1].append(f"0.6 G 0.4 w {x:.2f} {y:.2f} {width:.2f} {height:.2f} re S 0 G")

    def _font_objects(self, first: int) -> list[bytes]:
        """The Type 0 font, its CIDFont, descriptor, font file and ToUnicode map, numbered from `first`."""
        face, scale = self.face, 1000 / self.face.units_per_em
        widths = " ".join(f"{g} [{round(face.advance(g) * scale)}]" for g in sorted(self.used))
        x0, y0, x1, y1 = (round(v * scale) for v in face.bbox)
        compressed = zlib.compress(face.data, 6)
        pairs = sorted((g, c) for g, c in self.used.items() if g)
        chunks = [pairs[i : i + 100] for i in range(0, len(pairs), 100)]
        maps = "".join(
            f"{len(chunk)} beginbfchar\n"
            + "".join(f"<{g:04X}> <{c.encode('utf-16-be').hex().upper()}>\n" for g, c in chunk)
            + "endbfchar\n"
            for chunk in chunks
        )
        cmap = (
            "/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
            "/CMapName /Adobe-Identity-UCS def /CMapType 2 def\n"
            "1 begincodespacerange <0000> <FFFF> endcodespacerange\n"
            f"{maps}endcmap CMapName currentdict /CMap defineresource pop end end\n"
        ).encode()
        name = face.name
        return [
            f"<< /Type /Font /Subtype /Type0 /BaseFont /{name} /Encoding /Identity-H "
            f"/DescendantFonts [{first + 1} 0 R] /ToUnicode {first + 4} 0 R >>".encode(),
            f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{name} "
            f"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
            f"/FontDescriptor {first + 2} 0 R /CIDToGIDMap /Identity /DW 600 /W [{widths}] >>".encode(),
            f"<< /Type /FontDescriptor /FontName /{name} /Flags 32 /FontBBox [{x0} {y0} {x1} {y1}] "
            f"/ItalicAngle 0 /Ascent {round(face.ascent * scale)} /Descent {round(face.descent * scale)} "
            f"/CapHeight {round(face.ascent * scale)} /StemV 80 /FontFile2 {first + 3} 0 R >>".encode(),
            _stream(compressed, f"/Length1 {len(face.data)} /Filter /FlateDecode"),
            _stream(zlib.compress(cmap), "/Filter /FlateDecode"),
        ]

    def output(self) -> bytes:
        """The PDF file: catalogue, page tree, the font's five objects, then each page and its content."""
        width, height = self.size
        font_first = 4
        page_first = font_first + 5
        kids = " ".join(f"{page_first + 2 * i} 0 R" for i in range(len(self.pages)))
        objects = [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            f"<< /Type /Pages /Kids [{kids}] /Count {len(self.pages)} >>".encode(),
            f"<< /Title {_text_string(self.title)} /Producer (QR Campaigns) >>".encode(),
            *self._font_objects(font_first),
        ]
        for index, page in enumerate(self.pages):
            content = zlib.compress("\n".join(page).encode("ascii"))
            objects.append(
                f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width:g} {height:g}] "
                f"/Resources << /Font << /F1 {font_first} 0 R >> >> /Contents {page_first + 2 * index + 1} 0 R >>".encode()
            )
            objects.append(_stream(content, "/Filter /FlateDecode"))
        return _file(objects)


def _stream(data: bytes, extra: str) -> bytes:
    return f"<< /Length {len(data)} {extra} >>\nstream\n".encode() + data + b"\nendstream"


def _file(objects: Sequence[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 3 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
