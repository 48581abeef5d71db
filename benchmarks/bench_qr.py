"""QR rendering rate: chalicelib.rendering.qr against qrcode.make() on one batch's URLs, outputs decoded."""

from __future__ import annotations

import argparse
import importlib.metadata
import io
import random
import sys
import time
import xml.etree.ElementTree as ET

import qrcode
import qrcode.image.svg
import resvg_py
import zxingcpp
from PIL import Image

from chalicelib.rendering import qr

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
BASE_URL = "HTTP://127.0.0.1:8000/S/"
PNG_SCALE = 10  # qrcode's default box_size, so both PNGs have the same pixel size


def batch_urls(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    urls = []
    for _ in range(n):
        symbols = "".join(rng.choice(CROCKFORD) for _ in range(20))
        urls.append(BASE_URL + "-".join(symbols[i : i + 5] for i in range(0, 20, 5)))
    return urls


def baseline_svg(url: str) -> bytes:
    return qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage).to_string()


def baseline_png(url: str) -> bytes:
    buffer = io.BytesIO()
    qrcode.make(url).save(buffer, format="PNG")
    return buffer.getvalue()


def ours_svg(url: str) -> str:
    return qr.render_svg(url)


def ours_png(url: str) -> bytes:
    return qr.render_png(url, scale=PNG_SCALE)


def timed(baseline, ours, urls: list[str], rounds: int) -> tuple[float, float, list]:
    """Seconds for each over all urls, interleaved in rounds so machine noise hits both alike."""
    chunk = -(-len(urls) // rounds)
    spent_baseline = spent_ours = 0.0
    outputs: list = []
    for start in range(0, len(urls), chunk):
        part = urls[start : start + chunk]
        t0 = time.perf_counter()
        for url in part:
            baseline(url)
        t1 = time.perf_counter()
        outputs += [ours(url) for url in part]
        t2 = time.perf_counter()
        spent_baseline += t1 - t0
        spent_ours += t2 - t1
    return spent_baseline, spent_ours, outputs


def svg_image(svg: str, px: int = 4) -> Image.Image:
    """Rasterise with resvg, an SVG engine independent of ours, at `px` pixels per module."""
    width = int(float(ET.fromstring(svg).get("viewBox").split()[2]))
    sized = svg.replace("<svg ", f'<svg width="{width * px}" height="{width * px}" ', 1)
    return Image.open(io.BytesIO(bytes(resvg_py.svg_to_bytes(svg_string=sized))))


def decodes_to(image: Image.Image, url: str) -> bool:
    results = zxingcpp.read_barcodes(image.convert("L"))
    return (
        len(results) == 1
        and results[0].format == zxingcpp.BarcodeFormat.QRCode
        and results[0].text == url
        and results[0].ec_level == "M"
    )


def same_as_qrcode(url: str) -> bool:
    """Same version, mask (qrcode's penalty choice) and every module as qrcode's own symbol."""
    reference = qrcode.QRCode()
    reference.add_data(url)
    reference.make()
    return qr.qr_matrix(url) == reference.modules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000, help="codes in the batch (default 2000)")
    parser.add_argument("--sample", type=int, default=50, help="outputs decoded per format (default 50)")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved timing rounds (default 10)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    urls = batch_urls(args.n, args.seed)
    step = max(1, len(urls) // args.sample)
    picked = list(range(0, len(urls), step))[: args.sample]
    template = qr.template_for(len(urls[0]))
    print(f"batch: {len(urls)} URLs like {urls[0]} ({len(urls[0])} chars)")
    print(f"symbol: version {template.version}, EC M, {template.size}x{template.size} modules, quiet zone 4")
    print(f"python {sys.version.split()[0]}, qrcode {importlib.metadata.version('qrcode')}")
    print()

    rows = []
    for label, baseline, ours, to_image in (
        ("SVG", baseline_svg, ours_svg, svg_image),
        (f"PNG {PNG_SCALE}px/module", baseline_png, ours_png, lambda data: Image.open(io.BytesIO(data))),
    ):
        spent_baseline, spent_ours, outputs = timed(baseline, ours, urls, args.rounds)
        decoded = sum(decodes_to(to_image(outputs[i]), urls[i]) for i in picked)
        rows.append((label, len(urls) / spent_baseline, len(urls) / spent_ours, spent_baseline / spent_ours, decoded))
    identical = sum(same_as_qrcode(urls[i]) for i in picked)

    header = f"{'format':<18}{'qrcode.make /s':>16}{'chalicelib.rendering.qr /s':>18}{'ratio':>9}   decoded OK"
    print(header)
    print("-" * len(header))
    for label, base_rate, our_rate, ratio, decoded in rows:
        print(f"{label:<18}{base_rate:>16,.0f}{our_rate:>18,.0f}{ratio:>8.1f}x   {decoded}/{len(picked)}")
    print()
    print(f"symbols identical to qrcode's (version, penalty-chosen mask, every module): {identical}/{len(picked)}")
    failed = any(decoded != len(picked) for *_, decoded in rows) or identical != len(picked)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
