"""Helpers shared by the functional and integration suites."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from chalice.test import Client

from chalicelib.config import get_settings
from chalicelib.services.auth import issue_operator_token

VALID_CAMPAIGN: dict[str, Any] = {
    "name": "Tết 2027 noodle promotion",
    "starts_at": "2026-12-01T00:00:00+07:00",
    "ends_at": "2027-03-01T00:00:00+07:00",
    "timezone": "Asia/Ho_Chi_Minh",
    "rules": {
        "points_per_scan": 10,
        "entries_per_scan": 1,
        "max_claims_per_participant_per_day": 5,
        "max_claims_per_participant": 100,
        "budget_points": 5_000_000,
    },
    "prizes": [{"name": "Motorbike", "quantity": 3}, {"name": "Phone", "quantity": 20}],
}


DRAW_LINE: dict[str, Any] = {
    "kind": "draw",
    "name": "Motorbike draw",
    "quantity": 5_000,
    "unit_value": 40_000_000,
    "registration": "1234/SCT-QLTM",
}
"""A registered draw line of a campaign in Vietnam: one motorbike worth VND 40,000,000 a winner."""


def with_draw_line(body: dict[str, Any]) -> dict[str, Any]:
    """A campaign body in Vietnam with DRAW_LINE after its prize lines."""
    return {**body, "market": "VN", "prizes": [*body.get("prizes", []), DRAW_LINE]}


def draw_line_id(campaign: dict[str, Any]) -> str:
    """The prize id of a campaign's (first) draw line, from the campaign as the API shows it."""
    return next(p["prize_id"] for p in campaign["prizes"] if p["kind"] == "draw")


def active_batch(brand: str, quantity: int, actor: str = "bench") -> tuple[dict, dict, list[str]]:
    """A running campaign (window around now) with one active batch of `quantity` codes, and the codes."""
    import copy
    from datetime import UTC, datetime, timedelta

    from chalicelib.adapters.secrets import get_keyring
    from chalicelib.domain import codes
    from chalicelib.services import batches, campaigns

    now = datetime.now(UTC)
    body = {
        **copy.deepcopy(VALID_CAMPAIGN),
        "starts_at": (now - timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=30)).isoformat(),
    }
    campaign = campaigns.create_campaign(brand, actor, body)
    campaigns.change_campaign_status(brand, campaign["campaign_id"], actor, {"status": "active"})
    batch = batches.mint_batch(brand, campaign["campaign_id"], actor, {"sku": "BENCH", "quantity": quantity})
    batches.change_batch_status(brand, batch["batch_id"], actor, {"status": "active"})
    return campaign, batch, [codes.mint_code(get_keyring(), batch["batch_number"], s) for s in range(quantity)]


def requirement_pins(path: str) -> dict[str, str]:
    """Distribution name (lower case, '-' for '_') -> pinned version, from a requirements file."""
    from pathlib import Path

    pins = {}
    for line in (Path(__file__).resolve().parents[1] / path).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            requirement, _, version = line.partition("==")
            pins[requirement.split("[")[0].lower().replace("_", "-")] = version
    return pins


def operator_token(brand: str = "brand-a", role: str = "owner", sub: str = "user-1") -> str:
    return issue_operator_token(get_settings(), sub=sub, brand=brand, role=role)


class Api:
    """A thin JSON client over chalice.test.Client with operator tokens by brand and role."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        brand: str = "brand-a",
        role: str = "owner",
        sub: str = "user-1",
        token: str | None = None,
        raw: bytes | str | None = None,
        headers: dict | None = None,
    ):
        all_headers = {"Content-Type": "application/json"}
        auth = token if token is not None else operator_token(brand, role, sub)
        if auth:
            all_headers["Authorization"] = f"Bearer {auth}"
        all_headers.update(headers or {})
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        return getattr(self.client.http, method.lower())(path, headers=all_headers, body=payload)

    def json(self, method: str, path: str, body: Any = None, *, expect: int = 200, **kwargs) -> Any:
        response = self.call(method, path, body, **kwargs)
        assert response.status_code == expect, (response.status_code, response.body)
        return json.loads(response.body) if response.body else None


def shopper_id(phone: str = "+84912345678") -> str:
    """The shopper id that signing in with `phone` yields: its account's, opened as a first sign-in
    opens it when the number has none yet (the same phone, the same shopper, until a deletion)."""
    from chalicelib.adapters import shopper_store
    from chalicelib.adapters.secrets import get_phone_hash_pepper
    from chalicelib.domain import clock, phones
    from chalicelib.services import shoppers

    settings = get_settings()
    number = phones.normalise_phone(phone, settings.phone_regions)
    pepper = get_phone_hash_pepper(settings)
    found = shopper_store.account_of_phone(phones.phone_hash(number.e164, pepper))
    return found or shoppers.record_account(number, pepper, clock.now())


def synthetic_shopper_id(seed: str) -> str:
    """A shopper id made from `seed` for tests and benchmarks that need many shoppers without accounts
    (the same seed, the same id), shaped as a real account's id."""
    import hashlib

    from chalicelib.domain.ids import CROCKFORD

    value = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:17], "big") >> 6
    return "shp_" + "".join(CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def shopper_token(phone: str = "+84912345678") -> str:
    """A valid shopper token for `phone`, signed as a sign-in signs it, with no SMS round trip.

    Pass it as `Api.call(..., token=shopper_token())`.
    """
    from chalicelib.domain import phones
    from chalicelib.services import auth

    masked = phones.normalise_phone(phone, get_settings().phone_regions).masked
    token, _ = auth.issue_shopper_token(get_settings(), auth.Shopper(shopper_id(phone), masked))
    return token


def empty_queue(url: str) -> str:
    """Delete whatever messages a queue holds (PurgeQueue is allowed only once a minute)."""
    from chalicelib.adapters import aws

    sqs = aws.client("sqs")
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return url


def assert_safe_csv(text: str) -> list[list[str]]:
    """Parse a CSV a user downloads and check no cell would run as a spreadsheet formula.

    A cell may start with `=`, `+`, `-`, `@`, a tab or a carriage return only behind the
    apostrophe that neutralises it, or when it is a plain number (-3 is a number, not a
    formula). Returns the rows, header first.
    """
    import csv
    import io
    import re

    from chalicelib.domain.csvfile import FORMULA_STARTS

    rows = list(csv.reader(io.StringIO(text)))
    for row in rows:
        for cell in row:
            number = re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", cell)
            assert number or not cell.startswith(FORMULA_STARTS), f"a cell a spreadsheet would run: {cell!r}"
    return rows


def run_schedule(name: str, now: datetime | None = None) -> Any:
    """Run the app's scheduled Lambda function `name` as EventBridge does, through its entry point
    (so its AWS calls are checked against its own policy); returns what the handler returns."""
    import app
    from scripts.scheduler import scheduled_event

    return getattr(app, name)(scheduled_event(name, now), None)


# The notice a shopper page shows before the number is sent, accepted in full (POST /v1/shopper/session).
CONSENT = {"notice": "2026-12-07", "purposes": ["promotion", "loyalty"], "language": "vi"}
