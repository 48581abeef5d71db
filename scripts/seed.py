"""Seed the local stack with a demo brand's campaign, once."""

from __future__ import annotations

import os
import sys
from datetime import UTC
from typing import Any

__all__ = ["DEMO_BRAND", "DEMO_CAMPAIGN", "seed_demo", "sample_scan_url", "demo_campaign_id"]

DEMO_BRAND = "demo-brand"
# A Tết promotion in the shape real Vietnamese on-pack campaigns take: points and
# lucky-draw entries per pack, daily and lifetime caps, a points budget, a few prizes.
DEMO_CAMPAIGN: dict[str, Any] = {
    "name": "Mì Gấu Đỏ — Tết 2027",
    "timezone": "Asia/Ho_Chi_Minh",
    "rules": {
        "points_per_scan": 10,
        "entries_per_scan": 1,
        "max_claims_per_participant_per_day": 5,
        "max_claims_per_participant": 100,
        "budget_points": 1_000_000,
    },
    "market": "VN",
    "prizes": [
        {"name": "Xe máy tay ga", "quantity": 5, "unit_value": 35_000_000},
        {"name": "Điện thoại thông minh", "quantity": 50, "unit_value": 6_000_000},
        {"name": "Thẻ cào 20.000đ", "quantity": 10_000, "odds_per_million": 50_000, "unit_value": 20_000},
        {
            "kind": "draw",
            "name": "Xe máy SH bốc thăm",
            "quantity": 3,
            "unit_value": 80_000_000,
            "registration": "DEMO-0001/SCT-QLTM",
        },
    ],
}
# A lucky draw of the draw line, scheduled at seeding: its cut a few minutes ahead, so the demo
# shoppers' entries are in it and the dev stack's scheduler draws it soon after (docs/draws.md).
DEMO_DRAW = {"name": "Bốc thăm tuần đầu", "winners": 2, "alternates": 2}
DRAW_IN_MINUTES = 4
DEMO_BATCH = {"sku": "MI-GAU-DO-75G", "quantity": 1000, "label": "Demo pallet"}


def seed_demo(brand_id: str = DEMO_BRAND) -> dict | None:
    """Create the demo campaign, running, with an active batch, unless `brand_id` has campaigns.

    The window starts yesterday and runs 90 days, so a fresh checkout always has a
    campaign that scans work against; a few demo shoppers have already scanned packs. Returns the campaign created, or None when there
    was nothing to do; the models must already be bound to tables that exist.
    """
    from datetime import datetime, timedelta

    from chalicelib.services import batches, campaigns

    if campaigns.list_campaigns(brand_id)["items"]:
        return None
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    body = {
        **DEMO_CAMPAIGN,
        "starts_at": (today - timedelta(days=1)).isoformat(),
        "ends_at": (today + timedelta(days=90)).isoformat(),
    }
    campaign = campaigns.create_campaign(brand_id, "seed", body)
    campaigns.change_campaign_status(brand_id, campaign["campaign_id"], "seed", {"status": "active"})
    motorbike = campaign["prizes"][0]["prize_id"]
    batch = batches.mint_batch(
        brand_id, campaign["campaign_id"], "seed", {**DEMO_BATCH, "instant_wins": [{"prize_id": motorbike, "count": 1}]}
    )
    batches.change_batch_status(brand_id, batch["batch_id"], "seed", {"status": "active"})
    _seed_scans(batch, DEMO_SCANS)
    _seed_draw(brand_id, campaign)
    return campaign


def _seed_draw(brand_id: str, campaign: dict) -> None:
    from datetime import datetime, timedelta

    from chalicelib.services import draw_schedule

    line = next(p for p in campaign["prizes"] if p["kind"] == "draw")
    cut = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=DRAW_IN_MINUTES - 1)
    body = {
        **DEMO_DRAW,
        "prize_id": line["prize_id"],
        "entries_until": cut.isoformat(),
        "draw_at": (cut + timedelta(minutes=1)).isoformat(),
    }
    draw_schedule.create_draw(brand_id, campaign["campaign_id"], "seed", body)


# Demo shoppers' scans of the last packs of the demo batch, so the dashboard has numbers:
# (shopper number, packs). Real claims through the scan path, so every counter is real.
DEMO_SCANS = [(i, 1 + (i * 7) % 5) for i in range(24)]
# Where the demo shoppers scan from, as CloudFront's viewer headers would say (country, region):
# the dashboard's scans by place has something to rank, and a few scans have no place at all.
DEMO_PLACES = [("VN", "HN"), ("VN", "SG"), ("VN", "SG"), ("VN", "DN"), ("VN", "57"), ("PH", "00"), (None, None)]


def _seed_scans(batch: dict, plan: list[tuple[int, int]]) -> None:
    from datetime import datetime

    from chalicelib.adapters import records
    from chalicelib.adapters.secrets import get_keyring, get_phone_hash_pepper
    from chalicelib.config import get_settings
    from chalicelib.domain import codes, phones
    from chalicelib.domain.errors import DomainError
    from chalicelib.domain.places import place_of
    from chalicelib.services import scans, shoppers

    settings = get_settings()
    pepper = get_phone_hash_pepper(settings)
    serial = int(batch["quantity"])
    records.clear_cache()
    for number, packs in plan:
        phone = phones.normalise_phone(f"+8490{number:07d}", settings.phone_regions)
        shopper_id = shoppers.record_account(phone, pepper, datetime.now(UTC))
        for _ in range(packs):
            serial -= 1
            code = codes.mint_code(get_keyring(), batch["batch_number"], serial)
            try:
                place = place_of(*DEMO_PLACES[number % len(DEMO_PLACES)])
                scans.claim_code(shopper_id, "127.0.0.1", {"code": code}, place=place)
            except DomainError:  # a demo prize pool or cap running out is fine
                pass


def sample_scan_url(brand_id: str = DEMO_BRAND) -> str | None:
    """The landing URL of the demo batch's first code nobody has claimed yet."""
    from chalicelib.adapters.models import Batch, CodeState
    from chalicelib.adapters.secrets import get_keyring
    from chalicelib.config import get_settings
    from chalicelib.domain import codes
    from chalicelib.services import batches, campaigns

    demo = next(
        (
            c
            for c in campaigns.list_campaigns(brand_id, limit="100")["items"]
            if c["name"] == DEMO_CAMPAIGN["name"] and c["status"] == "active"
        ),
        None,
    )
    if demo is None:
        return None
    for item in batches.list_batches(brand_id, demo["campaign_id"])["items"]:
        if item["status"] != "active":
            continue
        batch = Batch.get(item["batch_id"])
        for serial in range(batch.quantity):
            try:
                CodeState.get(CodeState.key_for(batch.batch_number, serial))
            except CodeState.DoesNotExist:
                code = codes.mint_code(get_keyring(), batch.batch_number, serial, key_version=batch.key_version)
                return f"{get_settings().public_base_url}/S/{code}"
    return None


def main() -> int:
    """Seed whatever DynamoDB the environment points at (local stage only)."""
    from chalicelib.adapters import models, tables
    from chalicelib.config import get_settings
    from scripts.dynamodb_local import AWS_ENV_TO_CLEAR, local_aws_env

    settings = get_settings()
    if not settings.is_local:
        print(f"seed.py seeds the local stage only (STAGE={settings.stage})", file=sys.stderr)
        return 2
    if not settings.dynamodb_endpoint:
        print("set DYNAMODB_ENDPOINT to the local engine, e.g. http://127.0.0.1:8001", file=sys.stderr)
        return 2
    for name in AWS_ENV_TO_CLEAR:
        os.environ.pop(name, None)
    for name, value in local_aws_env(settings.region).items():
        os.environ.setdefault(name, value)
    models.bind(settings)
    tables.create_tables()
    campaign = seed_demo()
    if campaign is None:
        print(f"{DEMO_BRAND} already has campaigns; nothing seeded")
    else:
        print(f"seeded {DEMO_BRAND}: {campaign['name']} ({campaign['campaign_id']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())


def demo_campaign_id(brand_id: str = DEMO_BRAND) -> str | None:
    """The demo campaign's id (its public results page is /results/<id>), or None before seeding."""
    from chalicelib.services import campaigns

    items = campaigns.list_campaigns(brand_id)["items"]
    return items[-1]["campaign_id"] if items else None
