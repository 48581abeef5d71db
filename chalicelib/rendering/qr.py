"""QR rendering: standard QR symbols as module matrices, compact single-path SVGs and 1-bit PNGs."""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from operator import itemgetter

from qrcode import base as _qr_base
from qrcode import constants as _qr_constants
from qrcode import util as _qr_util

__all__ = [
    "EC_LEVELS",
    "MAX_PAYLOAD_CHARS",
    "MAX_PNG_PIXELS",
    "QRSymbol",
    "QRTemplate",
    "encode",
    "qr_matrix",
    "render_png",
    "render_svg",
    "template_for",
]

MAX_PAYLOAD_CHARS = 500
"""Longest payload accepted; a campaign URL is under 60 characters."""

MAX_PNG_PIXELS = 8192
"""Widest PNG rendered (pixels per side): bounds memory whatever scale is asked for."""

EC_LEVELS = ("L", "M", "Q", "H")

# qrcode's constants are the two-bit values the format information carries.
_EC_BITS = {
    "L": _qr_constants.ERROR_CORRECT_L,
    "M": _qr_constants.ERROR_CORRECT_M,
    "Q": _qr_constants.ERROR_CORRECT_Q,
    "H": _qr_constants.ERROR_CORRECT_H,
}

_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_ALNUM_VALUE = {ch: i for i, ch in enumerate(_ALNUM)}
_ALNUM_PAIR = {a + b: 45 * i + j for i, a in enumerate(_ALNUM) for j, b in enumerate(_ALNUM)}
_ALNUM_ONLY = re.compile(r"[0-9A-Z $%*+\-./:]+\Z")
# qrcode.make() splits 20+ digit runs into numeric segments (its optimize=20 default);
# such payloads take the generic path so every symbol is exactly what qrcode would make.
_LONG_DIGIT_RUN = re.compile(r"[0-9]{20}")
_OPTIMIZE_MIN = 20
_PAD = bytes((0xEC, 0x11)) * 1500  # alternating pad codewords, longer than any version needs
_SVG_NS = "http://www.w3.org/2000/svg"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_COMPRESSION = 2  # zlib levels 1-3 share the fast matcher; scaled QR lines compress well with it

# Where ISO/IEC 18004:2015 leaves room in choosing the mask, this module does what qrcode does:
# - masks are scored before the format and version information and the dark module are
#   placed, as the standard's encoding steps are ordered (7.1, steps 6 and 7); zxing, Nayuki's
#   library and libqrencode score the finished symbol instead;
# - N3 looks only inside the symbol (the quiet zone does not count as the light area), and a
#   1011101 with four light modules on both sides scores twice;
# - N4 counts full 5% steps away from 50% dark.
# Any of the eight masks gives a valid symbol (readers take the mask from the format
# information); matching qrcode exactly lets the tests check every module against it.


# --- encoding ----------------------------------------------------------------------------


def _ec_bits(ec: str) -> int:
    try:
        return _EC_BITS[ec.upper()]
    except (AttributeError, KeyError):
        raise ValueError(f"ec must be one of {', '.join(EC_LEVELS)}, got {ec!r}") from None


def _check_payload(payload: str) -> None:
    if not isinstance(payload, str):
        raise TypeError(f"payload must be str, got {type(payload).__name__}")
    if not payload:
        raise ValueError("payload is empty")
    if len(payload) > MAX_PAYLOAD_CHARS:
        raise ValueError(f"payload longer than {MAX_PAYLOAD_CHARS} characters")


def _is_fast_alnum(payload: str) -> bool:
    """True when qrcode itself would encode the payload as one alphanumeric segment."""
    return (
        _ALNUM_ONLY.match(payload) is not None
        and not payload.isdigit()
        and (len(payload) <= _OPTIMIZE_MIN or _LONG_DIGIT_RUN.search(payload) is None)
    )


def _count_bits(mode: int, version: int) -> int:
    return _qr_util.mode_sizes_for_version(version)[mode]


@cache
def _bit_limits(ec_bits: int) -> tuple[int, ...]:
    return tuple(_qr_util.BIT_LIMIT_TABLE[ec_bits])


def _min_version(segment_bits: int, modes_and_lengths: tuple[tuple[int, int], ...], ec_bits: int) -> int:
    """Smallest version whose data capacity holds the segments (qrcode's best_fit)."""
    limits = _bit_limits(ec_bits)
    for version in range(1, 41):
        needed = segment_bits + sum(4 + _count_bits(mode, version) for mode, _ in modes_and_lengths)
        if needed <= limits[version]:
            return version
    raise ValueError("payload does not fit in a QR symbol at this error correction level")


@lru_cache(maxsize=1024)
def _alnum_version(length: int, ec_bits: int) -> int:
    data_bits = 11 * (length // 2) + 6 * (length % 2)
    return _min_version(data_bits, ((_qr_util.MODE_ALPHA_NUM, length),), ec_bits)


def _alnum_stream(payload: str, version: int) -> tuple[int, int]:
    """Bit stream (value, length) of one alphanumeric segment: mode, count, character pairs."""
    length = len(payload)
    count_bits = _count_bits(_qr_util.MODE_ALPHA_NUM, version)
    acc = (_qr_util.MODE_ALPHA_NUM << count_bits) | length
    pair = _ALNUM_PAIR
    for i in range(0, length - 1, 2):
        acc = (acc << 11) | pair[payload[i : i + 2]]
    if length & 1:
        acc = (acc << 6) | _ALNUM_VALUE[payload[-1]]
    return acc, 4 + count_bits + 11 * (length // 2) + 6 * (length & 1)


def _generic_stream(payload: str, ec_bits: int) -> tuple[int, int, int]:
    """Version and bit stream for any payload, segmented exactly as qrcode.make() does."""
    segments = list(_qr_util.optimal_data_chunks(payload, minimum=_OPTIMIZE_MIN))
    probe = _qr_util.BitBuffer()
    for segment in segments:
        segment.write(probe)
    version = _min_version(len(probe), tuple((s.mode, len(s)) for s in segments), ec_bits)
    buffer = _qr_util.BitBuffer()
    for segment in segments:
        buffer.put(segment.mode, 4)
        buffer.put(len(segment), _count_bits(segment.mode, version))
        segment.write(buffer)
    nbits = len(buffer)
    value = int.from_bytes(bytes(buffer.buffer), "big") >> (8 * len(buffer.buffer) - nbits)
    return version, value, nbits


def _payload_stream(payload: str, ec_bits: int) -> tuple[int, int, int]:
    """Minimal version and segment bit stream (value, length) for a payload."""
    if _is_fast_alnum(payload):
        version = _alnum_version(len(payload), ec_bits)
        return (version, *_alnum_stream(payload, version))
    return _generic_stream(payload, ec_bits)


def _data_codewords(bits: int, nbits: int, data_count: int) -> bytes:
    """Terminator, byte alignment and alternating pad codewords, as ISO 18004 7.4.9-7.4.10."""
    capacity = 8 * data_count
    if nbits > capacity:
        raise ValueError("payload does not fit in this QR version")
    tail = min(4, capacity - nbits)
    tail += (-(nbits + tail)) % 8
    nbytes = (nbits + tail) // 8
    return (bits << tail).to_bytes(nbytes, "big") + _PAD[: data_count - nbytes]


def _gf_mul(a: int, b: int) -> int:
    if a == 0 or b == 0:
        return 0
    return _qr_base.EXP_TABLE[(_qr_base.LOG_TABLE[a] + _qr_base.LOG_TABLE[b]) % 255]


@cache
def _rs_products(ec_count: int) -> tuple[int, ...]:
    """f * g(x) without its leading term, packed big-endian, for every byte f.

    g(x) is the generator polynomial prod(x + a^i, i < ec_count); with these products one
    step of the division LFSR is a shift, a lookup and an XOR on a Python int.
    """
    generator = [1]
    for i in range(ec_count):
        root = _qr_base.EXP_TABLE[i]
        product = generator + [0]
        for j, coefficient in enumerate(generator):
            product[j + 1] ^= _gf_mul(coefficient, root)
        generator = product
    table = []
    for factor in range(256):
        packed = 0
        for coefficient in generator[1:]:
            packed = (packed << 8) | _gf_mul(coefficient, factor)
        table.append(packed)
    return tuple(table)


def _rs_remainder(data: bytes, ec_count: int) -> bytes:
    products = _rs_products(ec_count)
    top = 8 * (ec_count - 1)
    keep = (1 << (8 * ec_count)) - 1
    remainder = 0
    for byte in data:
        remainder = ((remainder << 8) & keep) ^ products[byte ^ (remainder >> top)]
    return remainder.to_bytes(ec_count, "big")


# --- symbol geometry ---------------------------------------------------------------------


def _function_patterns(version: int, size: int) -> dict[tuple[int, int], bool]:
    """Finder patterns with separators, alignment patterns and timing patterns."""
    modules: dict[tuple[int, int], bool] = {}
    for top, left in ((0, 0), (size - 7, 0), (0, size - 7)):
        _add_finder(modules, top, left, size)
    centres = _qr_util.pattern_position(version)
    for row in centres:
        for col in centres:
            if (row, col) not in modules:  # else it would overlap a finder pattern
                _add_alignment(modules, row, col)
    for i in range(8, size - 8):
        modules.setdefault((i, 6), i % 2 == 0)
        modules.setdefault((6, i), i % 2 == 0)
    return modules


def _add_finder(modules: dict[tuple[int, int], bool], top: int, left: int, size: int) -> None:
    """A 7x7 finder pattern at (top, left) with its light separator, clipped to the symbol."""
    for r in range(-1, 8):
        for c in range(-1, 8):
            if 0 <= top + r < size and 0 <= left + c < size:
                modules[top + r, left + c] = (
                    (0 <= r <= 6 and c in (0, 6)) or (0 <= c <= 6 and r in (0, 6)) or (2 <= r <= 4 and 2 <= c <= 4)
                )


def _add_alignment(modules: dict[tuple[int, int], bool], row: int, col: int) -> None:
    """A 5x5 alignment pattern centred on (row, col)."""
    for r in range(-2, 3):
        for c in range(-2, 3):
            modules[row + r, col + c] = max(abs(r), abs(c)) != 1


def _format_modules(ec_bits: int, mask: int, size: int) -> dict[tuple[int, int], bool]:
    """Both copies of the 15 BCH-coded format bits, placed as ISO 18004 7.9.1."""
    bits = _qr_util.BCH_type_info((ec_bits << 3) | mask)
    modules = {}
    for i in range(15):
        dark = (bits >> i) & 1 == 1
        if i < 6:
            modules[i, 8] = dark
        elif i < 8:
            modules[i + 1, 8] = dark
        else:
            modules[size - 15 + i, 8] = dark
        if i < 8:
            modules[8, size - i - 1] = dark
        elif i == 8:
            modules[8, 7] = dark
        else:
            modules[8, 14 - i] = dark
    return modules


def _version_modules(version: int, size: int) -> dict[tuple[int, int], bool]:
    if version < 7:
        return {}
    bits = _qr_util.BCH_type_number(version)
    modules = {}
    for i in range(18):
        dark = (bits >> i) & 1 == 1
        modules[i // 3, i % 3 + size - 11] = dark
        modules[i % 3 + size - 11, i // 3] = dark
    return modules


def _placement_order(size: int, is_data: Callable[[int, int], bool]) -> list[tuple[int, int]]:
    """Data module positions in codeword bit order: two-column zigzag from the bottom right."""
    order = []
    row, step = size - 1, -1
    for col in range(size - 1, 0, -2):
        if col <= 6:  # skip the vertical timing pattern
            col -= 1
        while True:
            for c in (col, col - 1):
                if is_data(row, c):
                    order.append((row, c))
            row += step
            if row < 0 or row >= size:
                row -= step
                step = -step
                break
    return order


class _PathFragments(dict):
    """SVG path text for each piece of a symbol's rows joined by newlines and split at dark runs.

    A piece is a dark run or the light gap before one, which may span row ends. The pen
    strokes each run and stays at its end, so every fragment is a relative move or line that
    does not depend on where the piece is: one cache serves every symbol of a size.
    """

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def __missing__(self, piece: str) -> str:
        if piece.startswith("1"):
            fragment = f"h{len(piece)}"
        elif "\n" in piece:  # from a run's end, past the row's right edge, into a later row
            lines = piece.split("\n")
            fragment = f"m{len(lines[0]) + len(lines[-1]) - self.size} {len(lines) - 1}"
        else:
            fragment = f"m{len(piece)} 0" if piece else ""
        self[piece] = fragment
        return fragment


_DARK_RUNS = re.compile(r"(1+)")


@lru_cache(maxsize=16)
def _path_fragments(size: int) -> _PathFragments:
    return _PathFragments(size)


@lru_cache(maxsize=256)
def _png_layout(size: int, border: int, scale: int) -> tuple[int, int, str, str, str, bytes, bytes]:
    """Sizes and constant pieces of a PNG image of a given symbol size, border and scale."""
    width_px = (size + 2 * border) * scale
    row_bytes = (width_px + 7) // 8
    pad = "z" * (8 * row_bytes - width_px)  # pixel bits, not modules: never widened
    edge = "0" * border
    repeat = b"\x02" + bytes(row_bytes)  # filter Up on a copy of the line above: all zero
    white = b"\x00" + b"\xff" * row_bytes
    border_lines = white + repeat * (border * scale - 1) if border else b""
    return width_px, row_bytes, edge, edge + pad + edge, edge + pad, repeat * (scale - 1) + b"\x00", border_lines


def _codeword_sequence(blocks: list[tuple[int, int]]) -> list[int]:
    """Codeword order as ISO 18004 7.6: data codewords interleaved across blocks, then EC
    codewords likewise. Indexes the stream data || ec(block 0) || ec(block 1)..."""
    data_starts, ec_starts, offset = [], [], 0
    for data_len, _ in blocks:
        data_starts.append(offset)
        offset += data_len
    for _, ec_len in blocks:
        ec_starts.append(offset)
        offset += ec_len
    sequence = []
    for i in range(max(d for d, _ in blocks)):
        sequence += [start + i for start, (d, _) in zip(data_starts, blocks) if i < d]
    for i in range(max(e for _, e in blocks)):
        sequence += [start + i for start, (_, e) in zip(ec_starts, blocks) if i < e]
    return sequence


class QRTemplate:
    """Everything about a QR symbol that depends only on its version and EC level.

    A symbol is held as one Python int: module (r, c) is bit `size*(size+1) - 1 - (r*(size+1) + c)`,
    so `format(bits, "0Nb")` reads row by row with one light guard column after each row.
    Data placement is a fixed permutation of the codeword bits, each mask is one XOR, and the
    penalty of ISO 18004 7.8.3 is scored on all rows and columns at once with shifts and
    popcounts. Build once per batch via `template_for()` and reuse for every code.
    """

    def __init__(self, version: int, ec: str = "M") -> None:
        _qr_util.check_version(version)
        self.ec_bits = _ec_bits(ec)
        self.ec = ec.upper()
        self.version = version
        self.size = size = 4 * version + 17
        self._stride = stride = size + 1
        self._nbits = nbits = size * stride
        self._layout_format = f"0{nbits}b"
        self._row_slices = tuple(slice(start, start + size) for start in range(0, nbits, stride))

        blocks = _qr_base.rs_blocks(version, self.ec_bits)
        self.data_count = sum(b.data_count for b in blocks)
        self._blocks = [(b.data_count, b.total_count - b.data_count) for b in blocks]
        total = sum(b.total_count for b in blocks)
        self._source_format = f"0{8 * total}b"

        functions = _function_patterns(version, size)
        reserved = dict.fromkeys(_format_modules(self.ec_bits, 0, size), False)
        reserved.update(dict.fromkeys(_version_modules(version, size), False))
        reserved[size - 8, 8] = True  # the dark module

        def is_data(r: int, c: int) -> bool:
            return (r, c) not in functions and (r, c) not in reserved

        order = _placement_order(size, is_data)
        self._gather = itemgetter(*self._permutation(order, _codeword_sequence(self._blocks), total))
        self._mask_bases([position for position, dark in functions.items() if dark], order)

        self._all = self._region(0, 0)
        self._from_col1 = self._region(0, 1)
        self._from_row1 = self._region(1, 0)
        self._from_col10 = self._region(0, 10)
        self._from_row10 = self._region(10, 0)

    def _bits_at(self, positions: Iterable[tuple[int, int]]) -> int:
        """The symbol with exactly these modules dark."""
        chars = bytearray(b"0" * self._nbits)
        for r, c in positions:
            chars[r * self._stride + c] = 49  # "1"
        return int(chars, 2)

    def _permutation(self, order: list[tuple[int, int]], sequence: list[int], total: int) -> list[int]:
        """For each bit of the layout, the index of its bit in the codeword stream (+ a trailing '0')."""
        zero = 8 * total  # index of a '0' appended to the source bit string
        permutation = [zero] * self._nbits
        for t, (r, c) in enumerate(order):
            if t < 8 * total:  # the remainder bits after the last codeword stay 0
                permutation[r * self._stride + c] = 8 * sequence[t // 8] + t % 8
        return permutation

    def _mask_bases(self, dark_functions: list[tuple[int, int]], order: list[tuple[int, int]]) -> None:
        """Per mask: the constant dark modules to score with, and those of the finished symbol."""
        # Masks are scored on the symbol before the format and version information and the
        # dark module are written, so those areas count as light: ISO 18004 7.1 orders it so
        # (step 6 masks, step 7 adds format and version) and qrcode does the same.
        size = self.size
        self._score_base = []
        self._final_base = []
        for mask in range(8):
            flip = _qr_util.mask_func(mask)
            flipped = [(r, c) for r, c in order if flip(r, c)]
            info = {
                (size - 8, 8): True,
                **_format_modules(self.ec_bits, mask, size),
                **_version_modules(self.version, size),
            }
            self._score_base.append(self._bits_at(dark_functions + flipped))
            self._final_base.append(self._bits_at(dark_functions + flipped + [p for p, dark in info.items() if dark]))

    def _region(self, first_row: int, first_col: int) -> int:
        """Modules at or below first_row and at or right of first_col."""
        size = self.size
        line = "0" * first_col + "1" * (size - first_col) + "0"
        return int("0" * (self._stride * first_row) + line * (size - first_row), 2)

    def __repr__(self) -> str:
        return f"QRTemplate(version={self.version}, ec={self.ec!r})"

    # -- encoding --

    def _codewords(self, payload: str) -> bytes:
        """Data codewords for a payload whose smallest version is this template's."""
        version, bits, nbits = _payload_stream(payload, self.ec_bits)
        if version != self.version:
            raise ValueError(f"payload needs QR version {version}, this template is version {self.version}")
        return _data_codewords(bits, nbits, self.data_count)

    def _layout(self, data: bytes) -> int:
        """Unmasked data modules for the data codewords, error correction added."""
        stream = [data]
        offset = 0
        for data_len, ec_len in self._blocks:
            stream.append(_rs_remainder(data[offset : offset + data_len], ec_len))
            offset += data_len
        source = format(int.from_bytes(b"".join(stream), "big"), self._source_format) + "0"
        return int("".join(self._gather(source)), 2)

    def _penalty(self, x: int) -> int:
        """ISO 18004 7.8.3 penalty N1 + N2 + N3 + N4 of symbol `x`, equal to qrcode's lost_point.

        Where the standard leaves room (see the module notes) this follows qrcode, so the
        mask chosen is always the one qrcode.make() chooses. Shifting by 1 looks one column
        left, by `stride` one row up; the region masks drop every position whose window
        would leave the row or the symbol.
        """
        s = self._stride
        light = self._all ^ x
        # N1: each run of k >= 5 same-coloured modules scores k - 2. With e marking "same as
        # the previous module", a run of k has k - 4 windows of four e's, in one block.
        e = ~(x ^ (x >> 1)) & self._from_col1
        w = e & (e >> 1)
        w &= w >> 2
        penalty = w.bit_count() + 2 * (w & ~(w >> 1)).bit_count()
        ev = ~(x ^ (x >> s)) & self._from_row1
        wv = ev & (ev >> s)
        wv &= wv >> (2 * s)
        penalty += wv.bit_count() + 2 * (wv & ~(wv >> s)).bit_count()
        # N2: 3 for every 2x2 block of one colour (counted by its bottom-right module).
        penalty += 3 * (e & (e >> s) & ev).bit_count()
        # N3: 40 for every 1011101 with four light modules before or after it, in rows and
        # columns, within the symbol.
        for step, valid in ((1, self._from_col10), (s, self._from_row10)):
            dark3 = x & (x >> step) & (x >> (2 * step))
            core = dark3 >> (2 * step) & x & (x >> (6 * step)) & (light >> step) & (light >> (5 * step))
            light2 = light & (light >> step)
            light4 = light2 & (light2 >> (2 * step))
            penalty += 40 * (((core >> (4 * step)) & light4 | core & (light4 >> (7 * step))) & valid).bit_count()
        # N4: 10 for every full 5% the dark proportion departs from 50% (odd sizes never
        # land on a boundary, so this integer form equals qrcode's float one).
        total = self.size * self.size
        penalty += 10 * (abs(20 * x.bit_count() - 10 * total) // total)
        return penalty

    def _masked(self, data: bytes) -> tuple[int, int]:
        layout = self._layout(data)
        best_mask, best_penalty = 0, -1
        for mask, base in enumerate(self._score_base):
            penalty = self._penalty(layout ^ base)
            if best_penalty < 0 or penalty < best_penalty:
                best_mask, best_penalty = mask, penalty
        return layout ^ self._final_base[best_mask], best_mask

    def encode(self, payload: str) -> QRSymbol:
        """The symbol for `payload`, which must need exactly this version at this EC level."""
        _check_payload(payload)
        bits, mask = self._masked(self._codewords(payload))
        return QRSymbol(self, bits, mask)

    def matrix(self, payload: str) -> list[list[bool]]:
        """Modules of `payload`'s symbol, row by row, True = dark, without quiet zone."""
        return self.encode(payload).matrix()

    # -- output --

    def _rows(self, bits: int) -> list[str]:
        return list(map(format(bits, self._layout_format).__getitem__, self._row_slices))

    def _svg(self, bits: int, border: int, module_px: int | None) -> str:
        # The dark runs are stroked 1 module wide along each row's centre line (butt caps):
        # "M4 4.5h7m3 0h2...m-29 1h1..." is a third the size of one rectangle per run.
        fragments = _path_fragments(self.size)
        pieces = _DARK_RUNS.split("\n".join(self._rows(bits)))
        path = f"M{border} {border}.5" + "".join(map(fragments.__getitem__, pieces[:-1]))
        width = self.size + 2 * border
        size_attrs = ""
        if module_px is not None:
            size_attrs = f' width="{width * module_px}" height="{width * module_px}"'
        return (
            f'<svg xmlns="{_SVG_NS}" viewBox="0 0 {width} {width}"{size_attrs} shape-rendering="crispEdges">'
            f'<rect width="{width}" height="{width}" fill="#fff"/>'
            f'<path fill="none" stroke="#000" d="{path}"/></svg>'
        )

    def _png(self, bits: int, border: int, scale: int) -> bytes:
        width_px, row_bytes, edge, between, last, next_row, border_lines = _png_layout(self.size, border, scale)
        # Lay the module rows out as one bit string with their quiet zone and line padding,
        # widen every module to `scale` bits in two C-level passes, and invert: 1 is white.
        modules = edge + between.join(self._rows(bits)) + last
        pixels = modules.replace("1", "1" * scale).replace("0", "0" * scale).replace("z", "0")
        nbytes = self.size * row_bytes
        lines = (int(pixels, 2) ^ ((1 << (8 * nbytes)) - 1)).to_bytes(nbytes, "big")
        image = b"".join(
            (
                border_lines,
                b"\x00",
                next_row.join([lines[i : i + row_bytes] for i in range(0, nbytes, row_bytes)]),
                next_row[:-1],
                border_lines,
            )
        )
        header = struct.pack(">IIBBBBB", width_px, width_px, 1, 0, 0, 0, 0)
        return b"".join(
            (
                _PNG_SIGNATURE,
                _chunk(b"IHDR", header),
                _chunk(b"IDAT", zlib.compress(image, _PNG_COMPRESSION)),
                _chunk(b"IEND", b""),
            )
        )


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@dataclass(frozen=True, slots=True)
class QRSymbol:
    """One encoded QR symbol; render it as a matrix, SVG or PNG."""

    template: QRTemplate
    bits: int
    mask: int

    @property
    def version(self) -> int:
        return self.template.version

    @property
    def ec(self) -> str:
        return self.template.ec

    @property
    def size(self) -> int:
        return self.template.size

    def matrix(self) -> list[list[bool]]:
        """Modules row by row, True = dark, without quiet zone."""
        return [[module == "1" for module in row] for row in self.template._rows(self.bits)]

    def svg(self, *, border: int = 4, module_px: int | None = None) -> str:
        _check_border(border)
        if module_px is not None and (not isinstance(module_px, int) or module_px < 1):
            raise ValueError("module_px must be a positive int or None")
        return self.template._svg(self.bits, border, module_px)

    def png(self, *, border: int = 4, scale: int = 8) -> bytes:
        _check_border(border)
        if not isinstance(scale, int) or scale < 1:
            raise ValueError("scale must be a positive int")
        if (self.size + 2 * border) * scale > MAX_PNG_PIXELS:
            raise ValueError(f"PNG would be wider than {MAX_PNG_PIXELS} pixels")
        return self.template._png(self.bits, border, scale)


def _check_border(border: int) -> None:
    if not isinstance(border, int) or border < 0:
        raise ValueError("border must be a non-negative int")


# --- public entry points ----------------------------------------------------------------


@lru_cache(maxsize=64)
def _template(version: int, ec: str) -> QRTemplate:
    return QRTemplate(version, ec)


def template_for(length: int, ec: str = "M") -> QRTemplate:
    """The shared template for alphanumeric payloads of `length` characters (a batch's URLs)."""
    if not isinstance(length, int) or not 1 <= length <= MAX_PAYLOAD_CHARS:
        raise ValueError(f"length must be 1..{MAX_PAYLOAD_CHARS}")
    ec_bits = _ec_bits(ec)
    return _template(_alnum_version(length, ec_bits), ec.upper())


def encode(payload: str, *, ec: str = "M") -> QRSymbol:
    """Encode any payload in its smallest version at level `ec`, mask chosen by penalty."""
    _check_payload(payload)
    ec_bits = _ec_bits(ec)
    version, bits, nbits = _payload_stream(payload, ec_bits)
    template = _template(version, ec.upper())
    symbol, mask = template._masked(_data_codewords(bits, nbits, template.data_count))
    return QRSymbol(template, symbol, mask)


def qr_matrix(payload: str, *, ec: str = "M") -> list[list[bool]]:
    """Modules of the payload's symbol, row by row, True = dark, without quiet zone."""
    return encode(payload, ec=ec).matrix()


def render_svg(payload: str, *, ec: str = "M", border: int = 4, module_px: int | None = None) -> str:
    """Single-path SVG in module units; `module_px` sets width/height in px, else it scales."""
    return encode(payload, ec=ec).svg(border=border, module_px=module_px)


def render_png(payload: str, *, ec: str = "M", border: int = 4, scale: int = 8) -> bytes:
    """1-bit greyscale PNG with `scale` pixels per module."""
    return encode(payload, ec=ec).png(border=border, scale=scale)
