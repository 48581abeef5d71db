"""QR rendering: decoded by zxing-cpp, compared module for module with the qrcode package."""

from __future__ import annotations

import io
import random
import re
import struct
import xml.etree.ElementTree as ET
import zlib

import pytest
import qrcode
import qrcode.image.svg
import zxingcpp
from PIL import Image
from qrcode import util as qr_util

from chalicelib.rendering import qr

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
BASE_URL = "HTTP://127.0.0.1:8000/S/"
SVG_NS = "{http://www.w3.org/2000/svg}"
EC_CONSTANTS = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}


def campaign_url(rng: random.Random) -> str:
    """A realistic scan URL: 20 Crockford symbols grouped by five, upper case."""
    symbols = "".join(rng.choice(CROCKFORD) for _ in range(20))
    return BASE_URL + "-".join(symbols[i : i + 5] for i in range(0, 20, 5))


@pytest.fixture(scope="module")
def batch() -> list[str]:
    rng = random.Random(18004)
    return [campaign_url(rng) for _ in range(1000)]


@pytest.fixture(scope="module")
def sample(batch) -> list[str]:
    return random.Random(7).sample(batch, 50)


def reference(payload: str, ec: str = "M", mask: int | None = None) -> qrcode.QRCode:
    """The qrcode package's own symbol, built exactly as qrcode.make() builds it."""
    code = qrcode.QRCode(error_correction=EC_CONSTANTS[ec], mask_pattern=mask)
    code.add_data(payload)
    code.make()
    return code


def decode_one(image: Image.Image):
    results = zxingcpp.read_barcodes(image.convert("L"))
    assert len(results) == 1, f"expected one symbol, zxing found {len(results)}"
    result = results[0]
    assert result.valid
    assert result.format == zxingcpp.BarcodeFormat.QRCode
    return result


def png_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


_PATH_COMMAND = re.compile(r"([MmHh])([^MmHh]*)")


def svg_modules(svg: str) -> tuple[int, list[list[bool]]]:
    """Parse our SVG back into a module grid (quiet zone included), checking its structure.

    Every run is a horizontal segment stroked 1 module wide on a row's centre line, so a
    segment from x to x+len at y = row + 0.5 covers modules x .. x+len-1 of that row.
    """
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    assert root.get("shape-rendering") == "crispEdges"
    left, top, width, height = (float(v) for v in root.get("viewBox").split())
    assert (left, top) == (0, 0) and width == height and width.is_integer()
    width = int(width)
    children = list(root)
    assert [child.tag for child in children] == [f"{SVG_NS}rect", f"{SVG_NS}path"]
    background, path = children
    assert background.get("fill") == "#fff"
    assert (background.get("width"), background.get("height")) == (str(width), str(width))
    assert path.get("stroke") == "#000" and path.get("fill") == "none"
    assert path.get("stroke-width") in (None, "1")
    grid = [[False] * width for _ in range(width)]
    x = y = 0.0
    for command, args in _PATH_COMMAND.findall(path.get("d")):
        numbers = [float(v) for v in args.split()]
        if command == "M":
            x, y = numbers
        elif command == "m":
            x, y = x + numbers[0], y + numbers[1]
        else:
            (length,) = numbers
            assert command == "h" and length > 0 and (y - 0.5).is_integer() and x.is_integer()
            for column in range(int(x), int(x + length)):
                assert not grid[int(y)][column], "segments overlap"
                grid[int(y)][column] = True
            x += length
    return width, grid


def grid_image(grid: list[list[bool]], px: int) -> Image.Image:
    size = len(grid)
    image = Image.new("L", (size, size), 255)
    image.putdata([0 if dark else 255 for row in grid for dark in row])
    return image.resize((size * px, size * px), Image.NEAREST)


def with_border(matrix: list[list[bool]], border: int) -> list[list[bool]]:
    width = len(matrix) + 2 * border
    light = [[False] * width for _ in range(border)]
    return light + [[False] * border + row + [False] * border for row in matrix] + light


def format_info(matrix: list[list[bool]]) -> tuple[int, int]:
    """The two 15-bit format information copies, read back from their ISO 18004 positions."""
    n = len(matrix)
    first = second = 0
    for i in range(15):
        r1, c1 = (i, 8) if i < 6 else (i + 1, 8) if i < 8 else (n - 15 + i, 8)
        r2, c2 = (8, n - i - 1) if i < 8 else (8, 7) if i == 8 else (8, 14 - i)
        first |= matrix[r1][c1] << i
        second |= matrix[r2][c2] << i
    return first, second


# --- decoding --------------------------------------------------------------------------


def test_svg_decodes_to_payload(batch):
    payload = batch[0]
    symbol = qr.encode(payload)
    width, grid = svg_modules(qr.render_svg(payload))
    assert grid == with_border(symbol.matrix(), 4)
    result = decode_one(grid_image(grid, 6))
    assert result.text == payload
    assert result.ec_level == "M"


def test_png_decodes_to_payload(batch):
    payload = batch[1]
    symbol = qr.encode(payload)
    data = qr.render_png(payload)
    image = png_image(data)
    assert image.mode == "1"
    assert image.size == ((symbol.size + 8) * 8,) * 2
    # Pixel for pixel: every module is an 8x8 block of its colour.
    expected = grid_image(with_border(symbol.matrix(), 4), 8)
    assert image.convert("L").tobytes() == expected.tobytes()
    result = decode_one(image)
    assert result.text == payload
    assert result.ec_level == "M"


def test_png_is_one_bit_greyscale():
    data = qr.render_png("HTTP://127.0.0.1:8000/S/1ABCD-EFGHJ-KMNPQ-RSTV0", scale=3)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", data[16:29])
    assert (width, height, depth, colour, interlace) == (111, 111, 1, 0, 0)
    assert zlib.crc32(data[12:29]) == struct.unpack(">I", data[29:33])[0]


def test_batch_sample_decodes_in_both_formats(batch, sample):
    """50 codes drawn from a 1,000-code batch: one template, each decodes to its own URL."""
    template = qr.template_for(len(batch[0]))
    assert all(qr.template_for(len(p)) is template for p in batch)
    masks = set()
    for payload in sample:
        symbol = qr.encode(payload)
        assert symbol.template is template
        masks.add(symbol.mask)
        _, grid = svg_modules(qr.render_svg(payload))
        for image in (grid_image(grid, 4), png_image(qr.render_png(payload, scale=4))):
            result = decode_one(image)
            assert result.text == payload
            assert result.ec_level == "M"
            assert result.extra["Version"] == str(template.version)
            assert result.extra["DataMask"] == symbol.mask
    # The mask follows the penalty rule per code, so a batch shows many of the eight.
    assert len(masks) >= 4


def test_svg_renders_the_same_in_a_real_svg_engine(batch):
    resvg = pytest.importorskip("resvg_py", reason="resvg-py (requirements-dev.txt) renders SVG independently")
    payload = batch[2]
    rendered = png_image(bytes(resvg.svg_to_bytes(svg_string=qr.render_svg(payload, module_px=8))))
    ours = png_image(qr.render_png(payload, scale=8))
    assert rendered.size == ours.size
    assert rendered.convert("L").tobytes() == ours.convert("L").tobytes()
    assert decode_one(rendered).text == payload


@pytest.mark.parametrize("ec", ["L", "M", "Q", "H"])
def test_each_error_correction_level_decodes(ec, batch):
    payload = batch[3]
    result = decode_one(png_image(qr.render_png(payload, ec=ec, scale=4)))
    assert result.text == payload
    assert result.ec_level == ec


@pytest.mark.parametrize(
    "payload",
    [
        "https://example.com/s/1abcd-efghj-kmnpq-rstv0",  # lower case: byte mode, larger version
        "HTTP://127.0.0.1:8000/S/1ABCD?ref=Mail",  # mixed segments
        "12345678901234567890123456789",  # numeric mode
        "Grüße, 世界",  # UTF-8 bytes
        "x" * qr.MAX_PAYLOAD_CHARS,
    ],
)
def test_any_payload_renders_and_decodes(payload):
    assert decode_one(png_image(qr.render_png(payload, scale=3))).text == payload
    _, grid = svg_modules(qr.render_svg(payload))
    assert decode_one(grid_image(grid, 3)).text == payload


# --- symbol properties -----------------------------------------------------------------


def test_batch_urls_use_alphanumeric_mode_and_minimal_version(sample):
    for payload in sample:
        ref = reference(payload)
        assert [segment.mode for segment in ref.data_list] == [qr_util.MODE_ALPHA_NUM]
        symbol = qr.encode(payload)
        assert symbol.version == ref.version == 3
        # Our own data stream starts with the alphanumeric mode indicator 0010 ...
        assert symbol.template._codewords(payload)[0] >> 4 == qr_util.MODE_ALPHA_NUM
        # ... and the next smaller version cannot hold it at level M.
        bits = 4 + 9 + 11 * (len(payload) // 2) + 6 * (len(payload) % 2)
        assert bits > qr_util.BIT_LIMIT_TABLE[EC_CONSTANTS["M"]][symbol.version - 1]


def test_quiet_zone_is_four_light_modules(sample):
    payload = sample[0]
    n = qr.encode(payload).size
    width, grid = svg_modules(qr.render_svg(payload))
    assert width == n + 8
    for i, row in enumerate(grid):
        assert not any(row[:4]) and not any(row[-4:])
        if i < 4 or i >= n + 4:
            assert not any(row)
    pixels = png_image(qr.render_png(payload, scale=5)).convert("L")
    side = pixels.size[0]
    for box in ((0, 0, side, 20), (0, side - 20, side, side), (0, 0, 20, side), (side - 20, 0, side, side)):
        assert pixels.crop(box).getextrema() == (255, 255)
    # The symbol itself reaches its edge: the finder patterns start right after the zone.
    assert grid[4][4] and grid[4][n + 3] and grid[n + 3][4]


@pytest.mark.parametrize("ec", ["L", "M", "Q", "H"])
def test_format_information_carries_ec_level_and_mask(ec, sample):
    symbol = qr.encode(sample[0], ec=ec)
    first, second = format_info(symbol.matrix())
    assert first == second
    data = (EC_CONSTANTS[ec] << 3) | symbol.mask
    assert first == qr_util.BCH_type_info(data)  # valid BCH code word, masked with 0x5412
    assert (first ^ 0x5412) >> 13 == {"L": 0b01, "M": 0b00, "Q": 0b11, "H": 0b10}[ec]
    assert symbol.matrix()[symbol.size - 8][8]  # the dark module


def test_matrix_equals_qrcode_for_200_payloads(batch):
    rng = random.Random(42)
    alphabet = qr_util.ALPHA_NUM.decode() + "abcxyz?&=_é"
    payloads = batch[:150]
    payloads += [BASE_URL + "X" * k for k in range(1, 31)]  # lengths across versions 2-4
    payloads += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 160))) for _ in range(20)]
    assert len(payloads) == 200
    versions = set()
    for i, payload in enumerate(payloads):
        ec = "M" if i < 180 else "LMQH"[i % 4]
        ref = reference(payload, ec)
        symbol = qr.encode(payload, ec=ec)
        versions.add(symbol.version)
        assert (symbol.version, symbol.mask) == (ref.version, _mask_of(ref)), payload
        assert symbol.matrix() == ref.modules, payload
    assert len(versions) >= 5  # generic path and version information (v7+) covered too


def _mask_of(code: qrcode.QRCode) -> int:
    """The mask qrcode chose, read from its format information."""
    first, _ = format_info(code.modules)
    return ((first ^ 0x5412) >> 10) & 0b111


def test_penalty_equals_qrcode_lost_point_for_every_mask(batch):
    """The bit-parallel penalty scores each mask exactly as qrcode's util.lost_point."""
    for payload in [*batch[:6], "https://example.com/" + "q" * 150]:
        symbol = qr.encode(payload)
        template = symbol.template
        layout = template._layout(template._codewords(payload))
        ref = reference(payload)
        for mask in range(8):
            ref.makeImpl(True, mask)  # qrcode's scoring form of the symbol
            assert template._penalty(layout ^ template._score_base[mask]) == qr_util.lost_point(ref.modules)


@pytest.mark.parametrize("version", [1, 3, 7])
def test_penalty_equals_lost_point_on_random_matrices(version):
    """Dense, sparse and striped module patterns, so every rule (N4 too) scores points."""
    template = qr.QRTemplate(version)
    n = template.size
    rng = random.Random(version)
    for trial in range(12):
        density = (trial + 1) / 13
        matrix = [[rng.random() < density for _ in range(n)] for _ in range(n)]
        if trial % 4 == 3:  # long runs and finder-like 1011101 patterns
            matrix = [[(c // (r % 5 + 1)) % 2 == 0 for c in range(n)] for r in range(n)]
        bits = int("".join("".join("1" if m else "0" for m in row) + "0" for row in matrix), 2)
        assert template._penalty(bits) == qr_util.lost_point(matrix)


def test_template_matrix_for_print_sheets(batch):
    template = qr.template_for(len(batch[0]))
    assert template is qr.template_for(len(batch[0]), "m")
    matrix = template.matrix(batch[5])
    assert matrix == qr.qr_matrix(batch[5])
    assert len(matrix) == template.size == 29 and all(len(row) == 29 for row in matrix)
    with pytest.raises(ValueError, match="version"):
        template.matrix(batch[5] + "-ABCDE" * 4)  # longer payload: needs a larger version


def test_svg_is_compact_one_segment_per_run(batch):
    payload = batch[4]
    symbol = qr.encode(payload)
    svg = qr.render_svg(payload, module_px=5)
    root = ET.fromstring(svg)
    assert root.get("width") == root.get("height") == str((symbol.size + 8) * 5)
    runs = sum(len(re.findall(r"1+", "".join("1" if m else "0" for m in row))) for row in symbol.matrix())
    assert root[1].get("d").count("h") == runs
    baseline = qrcode.make(payload, image_factory=qrcode.image.svg.SvgPathImage).to_string()
    assert len(svg) * 3 < len(baseline)


def test_border_and_scale_options(batch):
    payload = batch[6]
    n = qr.encode(payload).size
    assert png_image(qr.render_png(payload, border=0, scale=1)).size == (n, n)
    assert png_image(qr.render_png(payload, border=2, scale=3)).size == ((n + 4) * 3,) * 2
    width, grid = svg_modules(qr.render_svg(payload, border=1))
    assert width == n + 2 and grid == with_border(qr.qr_matrix(payload), 1)


@pytest.mark.parametrize(
    "call",
    [
        lambda: qr.render_svg(""),
        lambda: qr.render_svg("A" * (qr.MAX_PAYLOAD_CHARS + 1)),
        lambda: qr.render_svg("A", ec="X"),
        lambda: qr.render_svg("A", border=-1),
        lambda: qr.render_svg("A", module_px=0),
        lambda: qr.render_png("A", scale=0),
        lambda: qr.render_png("A", scale=qr.MAX_PNG_PIXELS),
        lambda: qr.template_for(0),
    ],
)
def test_bad_arguments_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_non_string_payload_raises_type_error():
    with pytest.raises(TypeError):
        qr.render_png(b"HTTP://X")  # type: ignore[arg-type]
