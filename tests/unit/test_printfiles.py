"""Print-file formats assembled from independent chunks: CSV rows, ZIP (and zip64) archives, PDF xref."""

from __future__ import annotations

import io
import re
import struct
import zipfile
from datetime import UTC, datetime
from types import SimpleNamespace

import pypdfium2 as pdfium
import pytest

from chalicelib.config import LOCAL_CODE_KEYRING
from chalicelib.domain.codes import Keyring
from chalicelib.rendering import printfiles
from chalicelib.services import batches

KEYRING = Keyring.from_config(LOCAL_CODE_KEYRING)
BASE_URL = "https://qr.example.com"
STAMP = printfiles.dos_stamp(datetime(2026, 11, 23, 13, 37, 42, tzinfo=UTC))


def test_csv_rows_are_the_bytes_of_csv_lines(monkeypatch):
    monkeypatch.setattr(batches, "get_keyring", lambda: KEYRING)
    monkeypatch.setattr(batches, "get_settings", lambda: SimpleNamespace(public_base_url=BASE_URL))
    batch = SimpleNamespace(batch_number=42, key_version=1)
    ours = b"".join(printfiles.csv_rows(printfiles.Span(KEYRING, 42, 1, BASE_URL, 5, 9_000)))
    header, *lines = batches.csv_lines(batch, 5, 9_000)
    assert header.encode() == printfiles.CSV_HEADER
    assert ours == "".join(lines).encode()


def _archive(chunks: list[list[tuple[bytes, bytes, bool]]]) -> bytes:
    """An archive written as independent chunks and joined as the finisher joins them."""
    body, offsets, records = b"", [], []
    for chunk in chunks:
        data, index = b"", b""
        for name, content, deflate in chunk:
            entry, record = printfiles.zip_entry(name, content, deflate=deflate, stamp=STAMP)
            data += entry
            index += record
        offsets.append(len(body))
        records.append(index)
        body += data
    directory = printfiles.ZipDirectory(STAMP)
    tail = b"".join(directory.add_chunk(o, r) for o, r in zip(offsets, records))
    return body + tail + directory.end(len(body))


def test_zip_from_chunks_reads_back_with_zipfile():
    files = [
        (printfiles.image_name(i, f"CODE-{i}", "svg"), (b"<svg>%d</svg>" % i) * (i + 1), i % 2 == 0) for i in range(7)
    ]
    archive = zipfile.ZipFile(io.BytesIO(_archive([files[:3], files[3:5], files[5:]])))
    assert archive.testzip() is None
    assert archive.namelist() == [name.decode() for name, _, _ in files]
    for (_, content, deflate), info in zip(files, archive.infolist()):
        assert archive.read(info) == content
        assert info.compress_type == (zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED)
        assert info.date_time == (2026, 11, 23, 13, 37, 42)


def test_zip_with_more_than_65535_entries_uses_zip64_end_records():
    entries = [(b"%08d.png" % i, b"x", False) for i in range(70_000)]
    data = _archive([entries[:40_000], entries[40_000:]])
    assert struct.pack("<I", 0x06064B50) in data
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert len(archive.infolist()) == 70_000
    assert archive.read("00069999.png") == b"x"


def test_zip_entries_past_4_gib_carry_their_offset_in_a_zip64_extra():
    _, record = printfiles.zip_entry(b"a.png", b"data", deflate=False, stamp=STAMP)
    central = printfiles.ZipDirectory(STAMP).add_chunk(5 * 2**30, record)
    assert struct.unpack_from("<H", central, 6)[0] == 45  # version needed: zip64
    assert struct.unpack_from("<I", central, 42)[0] == 0xFFFFFFFF
    assert central[46 + 5 :] == struct.pack("<HHQ", 1, 8, 5 * 2**30)


def _pdf(quantity: int, pages_per_chunk: int) -> bytes:
    chunks, starts, records, pages, position = [], [], [], [], 0
    per_chunk = pages_per_chunk * printfiles.LABELS_PER_PAGE
    for number, start in enumerate(range(0, quantity, per_chunk)):
        stop = min(quantity, start + per_chunk)
        data = printfiles.pdf_header() if number == 0 else b""
        offsets = b""
        span = printfiles.Span(KEYRING, 9, 1, BASE_URL, start, stop)
        for obj in printfiles.pdf_chunk(span, chunk=number, pages_per_chunk=pages_per_chunk):
            offsets += struct.pack("<I", len(data))
            data += obj
        chunks.append(data)
        starts.append(position)
        records.append(offsets)
        pages.append(-(-(stop - start) // printfiles.LABELS_PER_PAGE))
        position += len(data)
    tail = b"".join(
        printfiles.pdf_tail(
            title="bat_X (labels)",
            created=datetime(2026, 11, 23, tzinfo=UTC),
            chunk_pages=pages,
            pages_per_chunk=pages_per_chunk,
            body_size=position,
            chunk_offsets=zip(starts, records),
        )
    )
    return b"".join(chunks) + tail


def test_pdf_xref_points_at_every_object_of_every_chunk():
    pdf = _pdf(quantity=210, pages_per_chunk=2)  # chunks of 2, 2 and 2 pages (the last one part-full)
    xref_at = int(re.search(rb"startxref\n(\d+)\n%%EOF\n$", pdf).group(1))
    assert pdf[xref_at:].startswith(b"xref\n0 ")
    count = int(re.match(rb"xref\n0 (\d+)\n", pdf[xref_at:]).group(1))
    entries = pdf[xref_at:].split(b"\n", 2)[2][: 20 * count]
    assert entries[:20] == b"0000000000 65535 f \n"
    for number in range(1, count):
        offset = int(entries[20 * number : 20 * number + 10])
        assert pdf[offset:].startswith(b"%d 0 obj\n" % number), number
    assert re.search(rb"/Type /Pages /Kids \[[^]]*\] /Count 6 ", pdf)
    assert b"/Title (bat_X labels)" in pdf  # brackets dropped, not left to break the string


def test_pdf_renders_forty_labels_per_a4_page():
    document = pdfium.PdfDocument(_pdf(quantity=90, pages_per_chunk=1))
    assert len(document) == 3
    text = document[2].get_textpage().get_text_range()
    assert len(re.findall(r"[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}", text)) == 10


def test_pdf_chunk_refuses_more_labels_than_its_pages_hold():
    with pytest.raises(ValueError):
        list(printfiles.pdf_chunk(printfiles.Span(KEYRING, 9, 1, BASE_URL, 0, 81), chunk=0, pages_per_chunk=2))
