"""Batches: minting, lifecycle, print CSV slices, QR images decoded, voiding codes, brand scoping."""

from __future__ import annotations

import csv
import io
import random

import pytest
import resvg_py
import zxingcpp
from botocore.client import BaseClient
from PIL import Image

from chalicelib.adapters.models import Batch, CodeState, Counter
from chalicelib.adapters.secrets import get_keyring
from chalicelib.config import get_settings
from chalicelib.domain import codes
from chalicelib.domain.errors import CodeInvalid
from chalicelib.services import batches
from tests.support import VALID_CAMPAIGN, assert_safe_csv


@pytest.fixture
def mint(api, campaign):
    def _mint(quantity=1000, sku="NOODLE-90G", label="Pallet 7", brand="brand-a", expect=201, **kwargs):
        body = {"sku": sku, "quantity": quantity, "label": label, **kwargs}
        return api.json("POST", f"/v1/campaigns/{campaign['campaign_id']}/batches", body, brand=brand, expect=expect)

    return _mint


def _csv(api, batch_id, query="", **kwargs):
    response = api.call("GET", f"/v1/batches/{batch_id}/codes.csv{query}", **kwargs)
    return response


def test_mint_is_one_inactive_record(api, mint, campaign):
    batch = mint(quantity=10_000_000)
    assert batch["status"] == "inactive"
    assert batch["quantity"] == 10_000_000
    assert batch["serials"] == {"first": 0, "last": 9_999_999}
    assert batch["campaign_id"] == campaign["campaign_id"]
    assert batch["sku"] == "NOODLE-90G" and batch["label"] == "Pallet 7"
    # Ten million codes, one row: codes are derived from the batch number, never stored.
    assert Batch.count() == 1
    assert CodeState.count() == 0
    assert api.json("GET", f"/v1/batches/{batch['batch_id']}") == batch


def test_batch_numbers_never_repeat(mint):
    numbers = [mint(quantity=1)["batch_number"] for _ in range(5)]
    assert len(set(numbers)) == 5
    assert numbers == sorted(numbers)


def test_list_batches_pages_in_minting_order(api, mint, campaign):
    ids = [mint(quantity=i + 1)["batch_id"] for i in range(5)]
    seen, cursor = [], None
    while True:
        page = api.json(
            "GET", f"/v1/campaigns/{campaign['campaign_id']}/batches?limit=2" + (f"&cursor={cursor}" if cursor else "")
        )
        seen += [b["batch_id"] for b in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids


def test_another_brand_sees_nothing(api, mint, campaign):
    batch = mint()
    for method, path, body in (
        ("GET", f"/v1/batches/{batch['batch_id']}", None),
        ("POST", f"/v1/batches/{batch['batch_id']}/status", {"status": "active"}),
        ("GET", f"/v1/batches/{batch['batch_id']}/codes.csv", None),
        ("GET", f"/v1/campaigns/{campaign['campaign_id']}/batches", None),
        ("POST", f"/v1/campaigns/{campaign['campaign_id']}/batches", {"sku": "X", "quantity": 1}),
    ):
        response = api.call(method, path, body, brand="brand-b")
        assert response.status_code == 404, (method, path)
    assert api.json("GET", f"/v1/batches/{batch['batch_id']}")["status"] == "inactive"


@pytest.mark.parametrize(
    "steps",
    [
        [("active", 200), ("void", 200), ("active", 409), ("void", 200)],
        [("void", 200), ("active", 409)],
    ],
)
def test_batch_lifecycle(api, mint, steps):
    batch = mint()
    for target, code in steps:
        response = api.call("POST", f"/v1/batches/{batch['batch_id']}/status", {"status": target})
        assert response.status_code == code, response.body
        if code == 409:
            assert response.json_body["error"]["field"] == "status"


def test_ended_campaign_mints_nothing(api, campaign):
    api.json("POST", f"/v1/campaigns/{campaign['campaign_id']}/status", {"status": "ended"})
    response = api.call("POST", f"/v1/campaigns/{campaign['campaign_id']}/batches", {"sku": "X", "quantity": 5})
    assert response.status_code == 409
    assert Batch.count() == 0


BAD_BATCHES = {
    "quantity zero": ({"sku": "A", "quantity": 0}, "quantity"),
    "quantity negative": ({"sku": "A", "quantity": -5}, "quantity"),
    "quantity over the limit": ({"sku": "A", "quantity": 10_000_001}, "quantity"),
    "quantity a string": ({"sku": "A", "quantity": "100"}, "quantity"),
    "quantity a float": ({"sku": "A", "quantity": 100.0}, "quantity"),
    "quantity a bool": ({"sku": "A", "quantity": True}, "quantity"),
    "quantity missing": ({"sku": "A"}, "quantity"),
    "sku missing": ({"quantity": 5}, "sku"),
    "sku empty": ({"sku": "  ", "quantity": 5}, "sku"),
    "sku too long": ({"sku": "S" * 65, "quantity": 5}, "sku"),
    "sku control chars": ({"sku": "A\x1b[31m", "quantity": 5}, "sku"),
    "label too long": ({"sku": "A", "quantity": 5, "label": "L" * 121}, "label"),
    "label control chars": ({"sku": "A", "quantity": 5, "label": "a\u200bb"}, "label"),
    "unknown field": ({"sku": "A", "quantity": 5, "color": "red"}, "color"),
    "server field status": ({"sku": "A", "quantity": 5, "status": "active"}, "status"),
    "server field batch_number": ({"sku": "A", "quantity": 5, "batch_number": 7}, "batch_number"),
}


@pytest.mark.parametrize("name", list(BAD_BATCHES))
def test_bad_batches_write_nothing(api, campaign, name):
    body, field = BAD_BATCHES[name]
    response = api.call("POST", f"/v1/campaigns/{campaign['campaign_id']}/batches", body)
    assert response.status_code == 400, response.body
    assert response.json_body["error"]["field"] == field
    assert Batch.count() == 0
    assert Counter.count() == 0


@pytest.mark.parametrize(
    "raw", ['{"status": "inactive"}', '{"status": "deleted"}', "{}", '{"status": "void", "why": 1}']
)
def test_bad_batch_status_bodies(api, mint, raw):
    batch = mint()
    response = api.call("POST", f"/v1/batches/{batch['batch_id']}/status", raw=raw)
    assert response.status_code == 400
    assert api.json("GET", f"/v1/batches/{batch['batch_id']}")["status"] == "inactive"


def test_codes_csv_is_the_whole_print_file(api, mint):
    batch = mint(quantity=1000)
    response = _csv(api, batch["batch_id"])
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    assert_safe_csv(response.body.decode())  # serials, codes and URLs can never start a formula
    rows = list(csv.DictReader(io.StringIO(response.body.decode())))
    assert [int(r["serial"]) for r in rows] == list(range(1000))
    keyring = get_keyring()
    base = get_settings().public_base_url.upper()
    for row in rows:
        parts = codes.parse_code(row["code"], keyring)
        assert (parts.batch_number, parts.serial) == (batch["batch_number"], int(row["serial"]))
        assert row["url"] == f"{base}/S/{row['code']}"
    assert len({r["code"] for r in rows}) == 1000


def test_codes_csv_slices_are_inclusive_and_match_the_whole(api, mint):
    batch = mint(quantity=500)
    whole = _csv(api, batch["batch_id"]).body.decode().splitlines()
    part = _csv(api, batch["batch_id"], "?from=100&to=199").body.decode().splitlines()
    assert part[0] == "serial,code,url"
    assert part[1:] == whole[101:201]


@pytest.mark.parametrize(
    "query,field",
    [("?from=10&to=5", "from"), ("?to=500", "to"), ("?from=-1", "from"), ("?from=abc", "from"), ("?to=1e3", "to")],
)
def test_codes_csv_bad_ranges(api, mint, query, field):
    batch = mint(quantity=500)
    response = _csv(api, batch["batch_id"], query)
    assert response.status_code == 400
    assert response.json_body["error"]["field"] == field


def test_codes_csv_refuses_oversize_slices_and_points_to_exports(api, mint):
    batch = mint(quantity=60_000)
    response = _csv(api, batch["batch_id"])
    assert response.status_code == 400
    assert response.json_body["error"]["field"] == "to"
    assert "exports" in response.json_body["error"]["message"]
    assert _csv(api, batch["batch_id"], "?from=10000&to=59999").status_code == 200


def test_viewers_cannot_pull_codes_and_void_batches_are_not_printed(api, mint):
    batch = mint(quantity=10)
    assert _csv(api, batch["batch_id"], role="viewer").status_code == 403
    api.json("POST", f"/v1/batches/{batch['batch_id']}/status", {"status": "void"})
    assert _csv(api, batch["batch_id"]).status_code == 409


def _first_codes(api, batch, n):
    return [row.split(",")[1] for row in _csv(api, batch["batch_id"], f"?to={n - 1}").body.decode().splitlines()[1:]]


def _decode(image: Image.Image) -> str:
    results = zxingcpp.read_barcodes(image)
    assert len(results) == 1
    assert results[0].format == zxingcpp.BarcodeFormat.QRCode
    return results[0].text


def test_qr_images_decode_to_the_code_url(api, mint):
    batch = mint(quantity=50)
    code = _first_codes(api, batch, 1)[0]
    expected = codes.code_url(get_settings().public_base_url, code)
    png = api.call("GET", f"/v1/codes/{code}/qr.png?scale=6", headers={"Accept": "image/png"})
    assert png.status_code == 200 and png.headers["Content-Type"] == "image/png"
    assert _decode(Image.open(io.BytesIO(png.body))) == expected
    svg = api.call("GET", f"/v1/codes/{code.lower()}/qr.svg")
    assert svg.status_code == 200 and svg.headers["Content-Type"] == "image/svg+xml"
    # Rendered by an independent SVG engine at a printable size, then decoded.
    sized = svg.body.decode().replace("<svg ", '<svg width="360" height="360" ', 1)
    rendered = Image.open(io.BytesIO(bytes(resvg_py.svg_to_bytes(svg_string=sized))))
    assert _decode(rendered.convert("L")) == expected


def test_qr_refuses_codes_that_are_not_the_brands(api, mint):
    batch = mint(quantity=5)
    code = _first_codes(api, batch, 1)[0]
    outside = codes.mint_code(get_keyring(), batch["batch_number"], 5)  # genuine MAC, serial past quantity
    forged = code[:-2] + ("0" if code[-2] != "0" else "1") + code[-1]
    bodies = set()
    for candidate, brand in ((code, "brand-b"), (outside, "brand-a"), (forged, "brand-a"), ("nonsense", "brand-a")):
        response = api.call("GET", f"/v1/codes/{candidate}/qr.svg", brand=brand)
        assert response.status_code == 404
        bodies.add(response.body)
    assert len(bodies) == 1, "every refusal must look the same (no oracle)"
    assert api.call("GET", f"/v1/codes/{code}/qr.png?ec=X").json_body["error"]["field"] == "ec"


def test_void_a_single_code(api, mint):
    batch = mint(quantity=5)
    code = _first_codes(api, batch, 2)[1]
    first = api.json("POST", f"/v1/codes/{code}/status", {"status": "void"})
    assert first["serial"] == 1 and first["status"] == "void"
    assert api.json("POST", f"/v1/codes/{code}/status", {"status": "void"}) == first
    assert [s.code_key for s in CodeState.scan()] == [f"{batch['batch_number']}:1"]
    assert api.call("POST", f"/v1/codes/{code}/status", {"status": "void"}, brand="brand-b").status_code == 404
    assert api.call("POST", f"/v1/codes/{code}/status", {"status": "active"}).status_code == 400
    assert api.call("POST", f"/v1/codes/{code}/status", {"status": "void"}, role="viewer").status_code == 403


@pytest.fixture
def dynamodb_calls(monkeypatch):
    calls = []
    original = BaseClient._make_api_call

    def counting(self, operation, params):
        if self.meta.service_model.service_name == "dynamodb":
            calls.append(operation)
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counting)
    return calls


def test_forged_and_mistyped_codes_never_reach_the_database(mint, dynamodb_calls):
    batch = mint(quantity=100)
    genuine = [codes.mint_code(get_keyring(), batch["batch_number"], s) for s in range(100)]
    rng = random.Random(7)
    candidates = ["".join(rng.choice(codes.ALPHABET) for _ in range(20)) for _ in range(10_000)]
    for _ in range(10_000):
        code = list(rng.choice(genuine).replace("-", ""))
        i = rng.randrange(len(code))
        code[i] = rng.choice([c for c in codes.ALPHABET if c != code[i]])
        candidates.append("".join(code))
    dynamodb_calls.clear()
    for candidate in candidates:
        with pytest.raises(CodeInvalid):
            batches.find_code("brand-a", candidate)
    assert dynamodb_calls == []
    batches.find_code("brand-a", genuine[0])
    assert dynamodb_calls == ["Query"], "a genuine code costs exactly one read"


def test_a_brand_mints_at_most_its_quota_of_batch_numbers(api, campaign, monkeypatch):
    from dataclasses import replace

    from chalicelib.adapters.models import Counter
    from chalicelib.config import get_settings
    from chalicelib.services import batches as service

    monkeypatch.setattr(service, "get_settings", lambda: replace(get_settings(), mint_batches_per_brand=2))
    path = f"/v1/campaigns/{campaign['campaign_id']}/batches"
    for _ in range(2):
        api.json("POST", path, {"sku": "NOODLE", "quantity": 10}, expect=201)
    taken = Counter.get("batch_number").value
    refused = api.call("POST", path, {"sku": "NOODLE", "quantity": 10})
    assert refused.status_code == 429 and refused.json_body["error"]["code"] == "limit_reached"
    assert Counter.get("batch_number").value == taken, "a refused mint takes no batch number"
    assert len(api.json("GET", path)["items"]) == 2
    other = api.json("POST", "/v1/campaigns", VALID_CAMPAIGN, expect=201, brand="brand-b")
    api.json(
        "POST",
        f"/v1/campaigns/{other['campaign_id']}/batches",
        {"sku": "X", "quantity": 10},
        expect=201,
        brand="brand-b",
    )
