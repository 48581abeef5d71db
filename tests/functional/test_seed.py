"""The dev stack's demo data: a running campaign, an active batch, and a scan URL that works."""

from __future__ import annotations

from chalicelib.adapters import records
from chalicelib.adapters.secrets import get_keyring
from chalicelib.domain import codes
from chalicelib.services import scans
from scripts.seed import DEMO_BRAND, sample_scan_url, seed_demo


def test_demo_seed_gives_a_working_scan_url_once(store):
    campaign = seed_demo(DEMO_BRAND)
    assert campaign is not None
    assert seed_demo(DEMO_BRAND) is None, "seeding twice must not duplicate the demo"
    url = sample_scan_url(DEMO_BRAND)
    assert url and "/S/" in url
    code = url.rsplit("/", 1)[1]
    codes.parse_code(code, get_keyring())
    records.clear_cache()
    grant = scans.claim_code("shp_demo", "192.0.2.1", {"code": code})
    assert grant["result"] == "granted" and grant["points"] == 10
    # Once claimed, the banner offers the next unclaimed code instead.
    assert sample_scan_url(DEMO_BRAND) != url


def test_demo_seed_leaves_scans_for_the_dashboard(store):
    from chalicelib.services import reconcile
    from chalicelib.views import stats
    from scripts.seed import DEMO_SCANS
    from scripts.stats_worker import drain

    campaign = seed_demo(DEMO_BRAND)
    drain()
    totals = stats.campaign_stats(DEMO_BRAND, campaign["campaign_id"])
    assert totals["participants"]["unique"] == len(DEMO_SCANS)
    assert totals["scans"]["granted"] == sum(packs for _, packs in DEMO_SCANS)
    assert reconcile.reconcile(campaign["campaign_id"]).clean


def test_demo_seed_schedules_a_lucky_draw_of_its_draw_line_that_the_scheduler_runs_soon(store):
    from datetime import datetime, timedelta

    from chalicelib.domain import clock
    from chalicelib.services import campaigns, draw_schedule
    from scripts.seed import DEMO_DRAW, DRAW_IN_MINUTES, demo_campaign_id

    seeded = seed_demo(DEMO_BRAND)
    assert demo_campaign_id(DEMO_BRAND) == seeded["campaign_id"]
    campaign = campaigns.get_campaign(DEMO_BRAND, seeded["campaign_id"])
    assert campaign["market"] == "VN"
    line = next(p for p in campaign["prizes"] if p["kind"] == "draw")
    assert line["registration"] and line["drawn"] == DEMO_DRAW["winners"]
    (draw,) = draw_schedule.list_draws(DEMO_BRAND, campaign["campaign_id"])["items"]
    assert (draw["status"], draw["prize_id"], draw["alternates_wanted"]) == ("scheduled", line["prize_id"], 2)
    # The demo shoppers' entries were earned before its cut, which is ahead: it draws within minutes.
    cut = datetime.fromisoformat(draw["entries_until"])
    assert clock.now() < cut <= clock.now() + timedelta(minutes=DRAW_IN_MINUTES)
