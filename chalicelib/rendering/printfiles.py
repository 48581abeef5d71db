"""Print-file formats written as independent chunks and joined by one finishing step: CSV, ZIP, PDF."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from chalicelib.domain import codes
from chalicelib.domain.codes import Keyring
from chalicelib.rendering import qr

__all__ = [
    "CSV_HEADER",
    "Span",
    "LABELS_PER_PAGE",
    "PDF_FIRST_CHUNK_OBJECT",
    "ZipDirectory",
    "csv_rows",
    "dos_stamp",
    "image_entries",
    "image_name",
    "pdf_chunk",
    "pdf_chunk_objects",
    "pdf_header",
    "pdf_tail",
    "zip_entry",
]


@dataclass(frozen=True)
class Span:
    """A run of one batch's codes (serials start <= serial < stop) and the base URL they print with."""

    keyring: Keyring
    batch_number: int
    key_version: int
    base_url: str
    start: int
    stop: int

    @property
    def url_prefix(self) -> str:
        """What every code's QR payload starts with: the landing URL up to the code."""
        return codes.code_url(self.base_url, "")

    def codes(self) -> Iterator[tuple[int, str]]:
        """`(serial, code)` for every serial of the span, in order."""
        return codes.iter_codes(self.keyring, self.batch_number, self.start, self.stop, key_version=self.key_version)


# --- CSV --------------------------------------------------------------------------------

CSV_HEADER = b"serial,code,url\n"
_ROWS_PER_BLOCK = 4096


def csv_rows(span: Span) -> Iterator[bytes]:
    """`serial,code,url` lines of a span's codes, without the header, in blocks.

    Byte for byte what `batches.csv_lines` yields, at about twice its rate: the URL prefix
    is built once, and codes are already upper case.
    """
    prefix, pairs = span.url_prefix, span.codes()
    while True:
        block = "".join([f"{serial},{code},{prefix}{code}\n" for serial, code in islice(pairs, _ROWS_PER_BLOCK)])
        if not block:
            return
        yield block.encode("ascii")


# --- ZIP (APPNOTE 6.3.x; zip64 only where the archive needs it) ------------------------

_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_ZIP64_EXTRA = struct.Struct("<HHQ")
_ZIP64_END = struct.Struct("<IQHHIIQQQQ")
_ZIP64_LOCATOR = struct.Struct("<IIQI")
_END = struct.Struct("<IHHHHIIH")
# Per file, what the central directory needs and only the chunk's writer knows:
# crc32, compressed size, size, method, name length; then the name.
_RECORD = struct.Struct("<IIIBH")
_MADE_BY = (3 << 8) | 45  # Unix, spec 4.5
_EXTERNAL_ATTR = 0o100644 << 16  # a regular file, rw-r--r--
_U32 = 0xFFFFFFFF
_U16 = 0xFFFF


def dos_stamp(moment: datetime) -> tuple[int, int]:
    """(time, date) in MS-DOS form, as ZIP headers carry them."""
    year = min(max(moment.year, 1980), 2107)
    return (
        (moment.hour << 11) | (moment.minute << 5) | (moment.second // 2),
        ((year - 1980) << 9) | (moment.month << 5) | moment.day,
    )


def image_name(serial: int, code: str, extension: str) -> bytes:
    """The file name of one code's image: serial first, so the archive lists in print order."""
    return f"{serial:08d}_{code}.{extension}".encode("ascii")


def zip_entry(name: bytes, data: bytes, *, deflate: bool, stamp: tuple[int, int]) -> tuple[bytes, bytes]:
    """One file's local header and data, and its record for the central directory.

    Sizes and CRC are known before the header is written, so no data descriptor is
    needed and an entry can be written anywhere in the archive by anyone.
    """
    crc = zlib.crc32(data)
    if deflate:
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        body, method = compressor.compress(data) + compressor.flush(), 8
    else:
        body, method = data, 0
    header = _LOCAL.pack(0x04034B50, 20, 0, method, stamp[0], stamp[1], crc, len(body), len(data), len(name), 0)
    return header + name + body, _RECORD.pack(crc, len(body), len(data), method, len(name)) + name


class ZipDirectory:
    """The central directory and end records of an archive whose entries were written by chunks.

    Feed each chunk's records in archive order with the offset where the chunk starts;
    local header offsets follow from the records alone (30 bytes + name + data each).
    """

    def __init__(self, stamp: tuple[int, int]) -> None:
        self._stamp = stamp
        self.entries = 0
        self.size = 0

    def add_chunk(self, chunk_offset: int, records: bytes) -> bytes:
        """Central directory entries for one chunk's records."""
        out = []
        offset, pos, end = chunk_offset, 0, len(records)
        time, date = self._stamp
        while pos < end:
            crc, compressed, size, method, name_length = _RECORD.unpack_from(records, pos)
            pos += _RECORD.size
            name = records[pos : pos + name_length]
            pos += name_length
            if offset >= _U32:
                extra, field, needed = _ZIP64_EXTRA.pack(1, 8, offset), _U32, 45
            else:
                extra, field, needed = b"", offset, 20
            out.append(
                _CENTRAL.pack(
                    0x02014B50,
                    _MADE_BY,
                    needed,
                    0,
                    method,
                    time,
                    date,
                    crc,
                    compressed,
                    size,
                    name_length,
                    len(extra),
                    0,
                    0,
                    0,
                    _EXTERNAL_ATTR,
                    field,
                )
            )
            out.append(name)
            out.append(extra)
            offset += _LOCAL.size + name_length + compressed
            self.entries += 1
        data = b"".join(out)
        self.size += len(data)
        return data

    def end(self, directory_offset: int) -> bytes:
        """The end records, zip64 ones too when counts or offsets overflow the classic fields."""
        if self.entries < _U16 and self.size < _U32 and directory_offset < _U32:
            return _END.pack(0x06054B50, 0, 0, self.entries, self.entries, self.size, directory_offset, 0)
        zip64_at = directory_offset + self.size
        return b"".join(
            (
                _ZIP64_END.pack(
                    0x06064B50,
                    _ZIP64_END.size - 12,
                    _MADE_BY,
                    45,
                    0,
                    0,
                    self.entries,
                    self.entries,
                    self.size,
                    directory_offset,
                ),
                _ZIP64_LOCATOR.pack(0x07064B50, 0, zip64_at, 1),
                _END.pack(0x06054B50, 0, 0, _U16, _U16, _U32, _U32, 0),
            )
        )


def image_entries(span: Span, *, kind: str, stamp: tuple[int, int]) -> Iterator[tuple[bytes, bytes]]:
    """ZIP entries (entry bytes, record) of one QR image per code of a span: `kind` is "svg" or "png".

    SVG text is deflated; PNG is already compressed, so it is stored.
    """
    prefix = span.url_prefix
    template = None
    for serial, code in span.codes():
        payload = prefix + code
        # Every URL of a batch has the same length, hence the same QR version.
        template = template or qr.template_for(len(payload))
        symbol = template.encode(payload)
        if kind == "svg":
            data, deflate = symbol.svg().encode("ascii"), True
        else:
            data, deflate = symbol.png(), False
        yield zip_entry(image_name(serial, code, kind), data, deflate=deflate, stamp=stamp)


# --- PDF label sheets (ISO 32000-1; A4, 5 x 8 labels per page) --------------------------

_MM = 72 / 25.4
_PAGE_W, _PAGE_H = 595.276, 841.89
_COLUMNS, _ROWS = 5, 8
LABELS_PER_PAGE = _COLUMNS * _ROWS
_MARGIN = 10 * _MM
_CELL_W = (_PAGE_W - 2 * _MARGIN) / _COLUMNS  # 38 mm
_CELL_H = (_PAGE_H - 2 * _MARGIN) / _ROWS  # 34.6 mm
# The symbol with its 4-module quiet zone: a version-3 symbol gets 0.73 mm modules, well
# above the 0.33 mm phones read reliably from a pack.
_QR_BOX = 27 * _MM
_FONT_SIZE = 7.0
_CAP_HEIGHT = 0.6 * _FONT_SIZE
_TEXT_GAP = 1.2 * _MM
_PAD = (_CELL_H - _QR_BOX - _TEXT_GAP - _CAP_HEIGHT) / 2
_CHAR_W = 0.6 * _FONT_SIZE  # Courier: every glyph 600/1000 em
# Objects 1-4 are written last (catalog, page tree root, font, info); chunks number theirs
# from 5 on, each chunk a fixed-size block, so no chunk needs to know another's output.
PDF_FIRST_CHUNK_OBJECT = 5
_OFFSET = struct.Struct("<I")
_HEADER = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"


def pdf_header() -> bytes:
    """The file header: written first by the first chunk."""
    return _HEADER


def pdf_chunk_objects(pages_per_chunk: int) -> int:
    """Objects in a full chunk: its page-tree node, then a page and its content per page."""
    return 1 + 2 * pages_per_chunk


def _chunk_base(chunk: int, pages_per_chunk: int) -> int:
    return PDF_FIRST_CHUNK_OBJECT + chunk * pdf_chunk_objects(pages_per_chunk)


def _obj(number: int, body: bytes) -> bytes:
    return b"%d 0 obj\n%s\nendobj\n" % (number, body)


def _stream(number: int, data: bytes) -> bytes:
    packed = zlib.compress(data, 6)
    return b"%d 0 obj\n<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream\nendobj\n" % (
        number,
        len(packed),
        packed,
    )


def _mask_hex(symbol: qr.QRSymbol) -> str:
    # One bit per module, rows padded to whole bytes, 1 = dark: an image mask painted
    # in black. Drawn unsmoothed at any scale, so every module stays a crisp square.
    pad = "0" * (-symbol.size % 8)
    bits = "".join("".join(["1" if dark else "0" for dark in row]) + pad for row in symbol.matrix())
    return format(int(bits, 2), f"0{len(bits) // 4}x")


def _label(symbol: qr.QRSymbol, code: str, slot: int) -> str:
    row, column = divmod(slot, _COLUMNS)
    cell_x = _MARGIN + column * _CELL_W
    box_top = _PAGE_H - _MARGIN - row * _CELL_H - _PAD
    box_x = cell_x + (_CELL_W - _QR_BOX) / 2
    box_y = box_top - _QR_BOX
    n = symbol.size
    module = _QR_BOX / (n + 8)
    side = n * module
    text_x = cell_x + (_CELL_W - _CHAR_W * len(code)) / 2
    text_y = box_y - _TEXT_GAP - _CAP_HEIGHT
    return (
        f"q {side:.3f} 0 0 {side:.3f} {box_x + 4 * module:.3f} {box_y + 4 * module:.3f} cm\n"
        f"BI /W {n} /H {n} /IM true /D [1 0] /F /AHx ID\n{_mask_hex(symbol)}>\nEI Q\n"
        f"BT /F1 {_FONT_SIZE:g} Tf {text_x:.3f} {text_y:.3f} Td ({code}) Tj ET\n"
    )


def pdf_chunk(span: Span, *, chunk: int, pages_per_chunk: int) -> Iterator[bytes]:
    """The objects of one chunk's pages, one object per item, for the codes of a span.

    The chunk's pages hang under their own page-tree node, so the finishing step only lists
    chunk nodes. The caller records where each object lands (the xref needs it).
    """
    pages = -(-(span.stop - span.start) // LABELS_PER_PAGE)
    if pages > pages_per_chunk:
        raise ValueError("more labels than the chunk's pages hold")
    base = _chunk_base(chunk, pages_per_chunk)
    kids = " ".join(f"{base + 1 + 2 * page} 0 R" for page in range(pages))
    yield _obj(base, f"<< /Type /Pages /Parent 2 0 R /Kids [{kids}] /Count {pages} >>".encode())
    prefix, pairs = span.url_prefix, span.codes()
    template = None
    for page in range(pages):
        parts = ["0 g\n"]
        for slot, (_, code) in enumerate(islice(pairs, LABELS_PER_PAGE)):
            payload = prefix + code
            template = template or qr.template_for(len(payload))
            parts.append(_label(template.encode(payload), code, slot))
        page_number = base + 1 + 2 * page
        yield _obj(page_number, f"<< /Type /Page /Parent {base} 0 R /Contents {page_number + 1} 0 R >>".encode())
        yield _stream(page_number + 1, "".join(parts).encode("ascii"))


def pdf_tail(
    *,
    title: str,
    created: datetime,
    chunk_pages: list[int],
    pages_per_chunk: int,
    body_size: int,
    chunk_offsets: Iterable[tuple[int, bytes]],
) -> Iterator[bytes]:
    """Catalog, page-tree root, font, info, the cross-reference table and the trailer.

    `chunk_pages` is the page count of every chunk; `chunk_offsets` yields, per chunk in
    order, where the chunk starts in the file and its objects' offsets inside it
    (little-endian uint32s), so the xref streams through without holding every offset.
    """
    kids = " ".join(f"{_chunk_base(c, pages_per_chunk)} 0 R" for c in range(len(chunk_pages)))
    safe_title = "".join(ch for ch in title if ch.isascii() and ch.isprintable() and ch not in "()\\")
    stamp = created.strftime("D:%Y%m%d%H%M%SZ")
    own = [
        _obj(1, b"<< /Type /Catalog /Pages 2 0 R >>"),
        _obj(
            2,
            (
                f"<< /Type /Pages /Kids [{kids}] /Count {sum(chunk_pages)} "
                f"/MediaBox [0 0 {_PAGE_W} {_PAGE_H}] "
                f"/Resources << /Font << /F1 3 0 R >> /ProcSet [/PDF /Text /ImageB] >> >>"
            ).encode(),
        ),
        _obj(3, b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier-Bold >>"),
        _obj(4, f"<< /Title ({safe_title}) /Producer (QR Campaigns) /CreationDate ({stamp}) >>".encode()),
    ]
    offsets, position = [], body_size
    for data in own:
        offsets.append(position)
        position += len(data)
        yield data
    count = PDF_FIRST_CHUNK_OBJECT + sum(1 + 2 * pages for pages in chunk_pages)
    yield (f"xref\n0 {count}\n0000000000 65535 f \n" + "".join(f"{o:010d} 00000 n \n" for o in offsets)).encode()
    for chunk_start, packed in chunk_offsets:
        yield "".join([f"{chunk_start + o:010d} 00000 n \n" for (o,) in _OFFSET.iter_unpack(packed)]).encode()
    yield f"trailer\n<< /Size {count} /Root 1 0 R /Info 4 0 R >>\nstartxref\n{position}\n%%EOF\n".encode()
