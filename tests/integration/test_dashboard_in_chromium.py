"""The managers' dashboard in headless Chromium: every number on the page is the statistics API's (the campaign's
and the brand's loyalty figures and catalog), and it refreshes itself."""

from __future__ import annotations

import json
import time
import urllib.parse
from typing import Any

import pytest

from chalicelib.adapters.secrets import get_keyring
from chalicelib.config import Settings
from chalicelib.domain import codes
from chalicelib.domain.errors import DomainError
from chalicelib.pages import dashboard
from chalicelib.services import loyalty, redemptions, rewards, scans
from chalicelib.services.auth import issue_operator_token
from scripts.stats_worker import drain
from tests.integration.browser import (
    WAIT_SECONDS,
    BrowserSession,
    ChaliceLocal,
    chromium,
    http_get,
    seed_active_campaign,
)
from tests.support import operator_token, run_schedule, shopper_id

BRAND = "brand-dashboard"
CAMPAIGN_NAME = "Mì Hảo Hảo — dashboard"
SHOPPERS = ("+84912345601", "+84912345602", "+84912345603")
IP = "203.0.113.7"
# The page refreshes every ?refresh= seconds (default 30): 2 keeps the auto-refresh check short.
REFRESH_SECONDS = 2
AUTO_REFRESH_WAIT = 35


def _catch_up_stats() -> None:
    """Fold every pending stream record into the statistics counters, as the aggregator Lambda would."""
    drain()


class _Seeded:
    """A running campaign with two active batches, and a way to claim one more of its codes."""

    def __init__(self, campaign_id: str, batch_numbers: tuple[int, int]) -> None:
        self.campaign_id = campaign_id
        self.batch_numbers = batch_numbers
        self.next_serial = 0
        self.voucher_id = ""

    def claim(self, phone: str, batch: int, serial: int) -> dict | str:
        """The grant, or the error code of a refused claim (those are counted too)."""
        code = codes.mint_code(get_keyring(), self.batch_numbers[batch], serial)
        try:
            return scans.claim_code(shopper_id(phone), IP, {"code": code})
        except DomainError as exc:
            return exc.code


@pytest.fixture(scope="module")
def seeded(stage_tables: Settings) -> _Seeded:
    """Claims by three shoppers (3, 2 and 1 of them), one code taken by another shopper, one replay."""
    campaign_id, (lot_a, lot_b) = seed_active_campaign(
        BRAND,
        CAMPAIGN_NAME,
        {"sku": "HAOHAO-75G", "quantity": 20, "label": "Lot A"},
        {"sku": "HAOHAO-CUP", "quantity": 5, "label": "Lot B"},
    )
    seeded = _Seeded(campaign_id, (lot_a, lot_b))
    # The brand's loyalty program: tiers (multiplying by 1, so the campaign's points stay as
    # they are), a voucher reward that one shopper redeems, a gift nobody has redeemed yet.
    ladder = [{"name": "Member", "min_points": 0}, {"name": "Silver", "min_points": 30}]
    loyalty.put_program(BRAND, "op", {"tiers": ladder, "points_expire_months": 12})
    voucher = rewards.create_reward(BRAND, "op", {"name": "Coffee voucher", "kind": "voucher", "cost": 20})
    rewards.upload_vouchers(BRAND, voucher["reward_id"], "op", b"code\nDASH-0001\nDASH-0002\nDASH-0003\n")
    rewards.create_reward(BRAND, "op", {"name": "Mug", "kind": "gift", "cost": 50, "stock": 4})
    seeded.voucher_id = voucher["reward_id"]
    a, b, c = SHOPPERS
    for phone, batch, serial in ((a, 0, 0), (a, 0, 1), (a, 0, 2), (b, 0, 3), (b, 0, 4), (c, 1, 0)):
        outcome = seeded.claim(phone, batch, serial)
        assert isinstance(outcome, dict) and not outcome.get("replay"), outcome
    assert seeded.claim(b, 0, 0) == "code_already_claimed"  # a duplicate, by another shopper
    assert seeded.claim(a, 0, 0)["replay"] is True  # a duplicate, by the same shopper
    redemptions.redeem(shopper_id(a), {"reward_id": voucher["reward_id"]}, "dashboard-1")
    _catch_up_stats()
    return seeded


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    """Headless Debian Chromium; the viewport is set per step with _viewport()."""
    with chromium(
        tmp_path_factory.mktemp("chromium-dashboard"),
        "the dashboard browser test",
        ("--lang=en-US", "--window-size=1280,800"),
    ) as driver:
        yield driver


def _viewport(driver, width: int, height: int, *, mobile: bool = False) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {
            "width": width,
            "height": height,
            "deviceScaleFactor": 2 if mobile else 1,
            "mobile": mobile,
        },
    )


def _api(server: ChaliceLocal, path: str, token: str) -> Any:
    status, _, body = http_get(server.base + path, {"Authorization": f"Bearer {token}"})
    assert status == 200, f"GET {path} answered {status}: {body[:500]}\nserver log:\n{server.log_tail()}"
    return json.loads(body)


def _api_snapshot(server: ChaliceLocal, campaign_id: str, token: str) -> dict[str, Any]:
    """What the page reads, fetched here with the same token: the four statistics answers."""
    stats_path = f"/v1/campaigns/{urllib.parse.quote(campaign_id)}/stats"
    return {
        "stats": _api(server, stats_path, token),
        "series": _api(server, stats_path + "/timeseries?granularity=day", token),
        "batches": _api(server, stats_path + "/batches", token),
        "participants": _api(server, stats_path + "/participants", token),
        "loyalty": _api(server, "/v1/loyalty/stats", token),
        "rewards": _api(server, "/v1/rewards?limit=100", token),
        "retention": _api(server, "/v1/retention", token),
        "places": _api(server, f"/v1/campaigns/{urllib.parse.quote(campaign_id)}/stats/places", token),
        "signals": _api(server, f"/v1/campaigns/{urllib.parse.quote(campaign_id)}/signals", token),
    }


class _Rate(float):
    """A share from the API (0..1); the page shows it as a percentage with at most one decimal."""


def _path(data: dict, dotted: str) -> Any:
    for part in dotted.split("."):
        data = data[part]
    return data


def _expected_stats(api: dict[str, Any]) -> dict[str, Any]:
    """The data-stat key of every number the page shows, with its value in the API's answers."""
    expected = _expected_campaign_stats(api["stats"], api["series"])
    expected.update(_expected_batch_stats(api["batches"]))
    expected.update(_expected_participant_stats(api["participants"]))
    expected.update(_expected_loyalty_stats(api["loyalty"], api["rewards"]))
    # The privacy panel: the brand's retention settings and what the retention job removed.
    expected.update(
        {key: _path(api["retention"], key.removeprefix("retention.")) for _, t in dashboard.RETENTION for key, _ in t}
    )
    expected.update(_expected_integrity(api["places"], api["signals"]))
    return expected


def _expected_integrity(places: dict[str, Any], signals: dict[str, Any]) -> dict[str, Any]:
    """Scans and participants by place, and each signal's count."""
    expected: dict[str, Any] = {}
    for row in places["places"]:
        expected[f"place.{row['place']}.scans"] = row["scans"]
        expected[f"place.{row['place']}.participants"] = row["participants"]
    for signal in signals["signals"]:
        expected[f"signal.{signal['kind']}.{signal['subject']}"] = signal["count"]
    return expected


def _expected_campaign_stats(stats: dict[str, Any], series: dict[str, Any]) -> dict[str, Any]:
    """The totals' tiles, the prizes and the time series."""
    expected: dict[str, Any] = {key: _path(stats, key) for _, tiles in dashboard.TOTALS for key, _ in tiles}
    for prize in stats["prizes"]:
        for field in ("quantity", "awarded", "left"):
            expected[f"prize.{prize['prize_id']}.{field}"] = prize[field]
    refused = ("duplicate", "invalid", "refused_cap", "refused_rate", "refused_inactive")
    for bucket in series["buckets"]:
        key = f"series.{bucket['start']}."
        expected[key + "granted"] = bucket["granted"]
        expected[key + "refused"] = sum(bucket[name] for name in refused)
        for field in ("new_participants", "returning_participants", "points"):
            expected[key + field] = bucket[field]
    return expected


def _expected_batch_stats(batch_stats: dict[str, Any]) -> dict[str, Any]:
    expected: dict[str, Any] = {}
    for batch in batch_stats["batches"]:
        key = f"batch.{batch['batch_id']}."
        for field in ("batch_number", "quantity", "claims"):
            expected[key + field] = batch[field]
        expected[key + "redemption_rate"] = _Rate(batch["redemption_rate"])
    for sku in batch_stats["skus"]:
        key = f"sku.{sku['sku']}."
        for field in ("batches", "quantity", "claims"):
            expected[key + field] = sku[field]
        expected[key + "redemption_rate"] = _Rate(sku["redemption_rate"])
    return expected


def _expected_participant_stats(people: dict[str, Any]) -> dict[str, Any]:
    """Participants, repeat rate, histogram, weekly cohorts and the leaderboard."""
    expected: dict[str, Any] = {
        "participants.count": people["participants"],
        "repeat_rate": _Rate(people["repeat_rate"]),
    }
    for row in people["histogram"]:
        expected[f"histogram.{row['claims']}"] = row["participants"]
    for cohort in people["cohorts"]:
        key = f"cohort.{cohort['week']}."
        expected[key + "participants"] = cohort["participants"]
        for cell in cohort["retention"]:
            expected[f"{key}{cell['week']}"] = cell["participants"]
            expected[f"{key}{cell['week']}.rate"] = _Rate(cell["rate"])
    for row in people["top"]:
        for field in ("rank", "claims", "points", "entries"):
            expected[f"top.{row['rank']}.{field}"] = row[field]
    return expected


def _expected_loyalty_stats(figures: dict[str, Any], catalog: dict[str, Any]) -> dict[str, Any]:
    """The brand's loyalty tiles, members by tier, and each reward of the catalog with its redemptions."""
    expected: dict[str, Any] = {}
    for _, tiles in dashboard.LOYALTY:
        for key, _ in tiles:
            expected[key] = _path(figures, key.removeprefix("loyalty."))
    for tier in figures["members_by_tier"]:
        expected[f"tier.{tier['tier']}"] = tier["members"]
    redeemed = {row["reward_id"]: row["redemptions"] for row in figures["redemptions"]["by_reward"]}
    for reward in catalog["items"]:
        key = f"reward.{reward['reward_id']}."
        for field in ("cost", "stock", "issued", "available"):
            expected[key + field] = reward[field]
        expected[key + "redemptions"] = redeemed.get(reward["reward_id"], 0)
    return expected


def _page_stats(driver) -> dict[str, str]:
    return driver.execute_script(
        "var o={};document.querySelectorAll('[data-stat]').forEach(function(e){"
        "o[e.getAttribute('data-stat')]=e.textContent.trim()});return o"
    )


def _mismatches(page: dict[str, str], expected: dict[str, Any]) -> list[str]:
    shown = {key: value for key, value in page.items() if key != "updated_at"}
    problems = [f"{key}: on the page, not in the API" for key in sorted(set(shown) - set(expected))]
    problems += [f"{key}: in the API, not on the page" for key in sorted(set(expected) - set(shown))]
    for key in sorted(set(shown) & set(expected)):
        want, text = expected[key], shown[key]
        if isinstance(want, _Rate):
            try:
                ok = abs(float(text) - want * 100) <= 0.05 + 1e-9
            except ValueError:
                ok = False
            if not ok:
                problems.append(f"{key}: page {text!r}, API {float(want)!r} (shown as a percentage)")
        elif text != str(int(want)):
            problems.append(f"{key}: page {text!r}, API {want!r}")
    return problems


def _shows(browser, expected: dict[str, Any], seconds: float = WAIT_SECONDS) -> dict[str, str]:
    """Wait until every number on the page is the API's; the last difference otherwise."""
    from selenium.webdriver.common.by import By

    deadline = time.monotonic() + seconds
    while True:
        page = _page_stats(browser)
        problems = _mismatches(page, expected) if page.get("updated_at") else ["not loaded yet"]
        if not problems:
            return page
        if time.monotonic() > deadline:
            message = browser.find_element(By.ID, "msg").text
            raise AssertionError(
                f"the page's numbers differ from the API's after {seconds} s "
                f"(page message: {message!r}):\n" + "\n".join(problems[:40])
            )
        time.sleep(0.2)


def test_dashboard_shows_the_api_numbers_and_refreshes_itself(server: ChaliceLocal, browser, seeded: _Seeded):
    session = BrowserSession(browser, server)
    token = operator_token(brand=BRAND, role="manager", sub="mai@brand-dashboard")
    _assert_the_page_is_served_with_its_policy(server)

    api = _api_snapshot(server, seeded.campaign_id, token)
    assert api["stats"]["scans"]["granted"] == 6 and api["participants"]["participants"] == 3, api["stats"]

    # Sign in at laptop size by pasting the token, pick the campaign, wait for the numbers.
    _viewport(browser, 1280, 800)
    _sign_in_and_pick(session, f"{server.base}/dashboard?refresh={REFRESH_SECONDS}", token, seeded.campaign_id)
    page = _shows(browser, _expected_stats(api))
    _assert_the_seeded_numbers(session, page, seeded)

    # The token is in this tab's sessionStorage, and nowhere else.
    storage = browser.execute_script(
        "return {token: sessionStorage.getItem('qrc.operatorToken'), campaign: sessionStorage.getItem('qrc.campaign'),"
        " local: localStorage.length, cookie: document.cookie}"
    )
    assert storage == {"token": token, "campaign": seeded.campaign_id, "local": 0, "cookie": ""}

    api = _assert_a_new_claim_shows_without_a_reload(server, browser, seeded, token, page["updated_at"])

    # Phone size: the same numbers, nothing wider than the screen.
    _viewport(browser, 390, 844, mobile=True)
    _shows(browser, _expected_stats(api))
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    session.screenshot("dashboard-phone.png")
    _viewport(browser, 1280, 800)

    _assert_sign_out_and_a_refused_token_end_the_session(session)

    # The page's policy blocked nothing of its own, and its script threw nothing.
    session.assert_console_clean()


def _assert_the_page_is_served_with_its_policy(server: ChaliceLocal) -> None:
    """The page itself: HTML with the strict policy, served by app.py."""
    status, headers, body = http_get(f"{server.base}/dashboard")
    assert status == 200, f"GET /dashboard answered {status}: is the route in app.py?\n{server.log_tail()}"
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Content-Security-Policy"] == dashboard.response_headers()["Content-Security-Policy"]
    assert headers["Cache-Control"] == "no-store"
    assert "Chart.js v4." in body


def _sign_in_and_pick(session: BrowserSession, url: str, token: str, campaign_id: str) -> None:
    """Open the dashboard, paste the token, sign in and pick the campaign once it is listed."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser = session.driver
    browser.get(url)
    session.visible("token").send_keys(token)
    browser.find_element(By.ID, "b-signin").click()
    session.visible("campaign")
    session.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'#campaign option[value="{campaign_id}"]'))
    Select(browser.find_element(By.ID, "campaign")).select_by_value(campaign_id)


def _assert_the_seeded_numbers(session: BrowserSession, page: dict[str, str], seeded: _Seeded) -> None:
    """The seeded claims' figures as the page shows them, and its screenshots."""
    from selenium.webdriver.common.by import By

    browser = session.driver
    assert page["scans.granted"] == "6" and page["participants.unique"] == "3" and page["codes.minted"] == "25"
    assert page["histogram.1"] == "1" and page["histogram.2"] == "1" and page["histogram.3"] == "1"
    assert page["top.1.claims"] == "3"
    # The brand's loyalty figures: 60 points earned by six claims, 20 spent on one voucher,
    # one shopper in Silver; the catalog's voucher has 3 codes, one of them given out.
    assert (page["loyalty.points.earned"], page["loyalty.points.spent"], page["loyalty.redemptions.total"]) == (
        "60",
        "20",
        "1",
    )
    assert (page["tier.Member"], page["tier.Silver"]) == ("2", "1")
    voucher = f"reward.{seeded.voucher_id}."
    assert [page[voucher + f] for f in ("stock", "issued", "available", "redemptions")] == ["3", "1", "2", "1"]
    assert browser.find_element(By.ID, "loyalty").is_displayed()
    assert browser.find_element(By.ID, "privacy").is_displayed()
    browser.execute_script("document.getElementById('loyalty').scrollIntoView()")
    session.screenshot("dashboard-loyalty.png")
    browser.execute_script("window.scrollTo(0, 0)")
    assert browser.execute_script("return location.hash") == f"#campaign={seeded.campaign_id}"
    session.screenshot("dashboard.png")


def _assert_a_new_claim_shows_without_a_reload(
    server: ChaliceLocal, browser, seeded: _Seeded, token: str, before: str
) -> dict[str, Any]:
    """A new claim, counted by the aggregator, shows up without a reload; the API's answers after it."""
    browser.execute_script("window.__notReloaded = true")
    grant = seeded.claim(SHOPPERS[2], 0, 5)
    assert isinstance(grant, dict) and not grant.get("replay"), grant
    _catch_up_stats()
    api = _api_snapshot(server, seeded.campaign_id, token)
    assert api["stats"]["scans"]["granted"] == 7
    page = _shows(browser, _expected_stats(api), AUTO_REFRESH_WAIT)
    assert page["scans.granted"] == "7" and page["updated_at"] != before
    assert page["loyalty.points.earned"] == "70"
    assert browser.execute_script("return window.__notReloaded === true"), "the page reloaded instead of refreshing"
    return api


def _assert_sign_out_and_a_refused_token_end_the_session(session: BrowserSession) -> None:
    """Sign out forgets the token; a token the API refuses sends the manager back to sign-in."""
    from selenium.webdriver.common.by import By

    browser = session.driver
    browser.find_element(By.ID, "b-out").click()
    session.visible("signin")
    assert browser.execute_script("return sessionStorage.getItem('qrc.operatorToken')") is None
    forged = issue_operator_token(
        Settings.from_environ({"STAGE": "local", "JWT_SECRET": "not-the-server-secret-0123456789abcdef"}),
        sub="mai@brand-dashboard",
        brand=BRAND,
        role="manager",
    )
    session.visible("token").send_keys(forged)
    browser.find_element(By.ID, "b-signin").click()
    session.wait.until(lambda d: "Your token was refused or has expired" in d.find_element(By.ID, "signin-msg").text)
    assert browser.find_element(By.ID, "signin").is_displayed()
    assert browser.execute_script("return sessionStorage.getItem('qrc.operatorToken')") is None


def test_dashboard_lists_the_campaigns_draws_with_commitment_status_and_winners(
    server: ChaliceLocal, browser, seeded: _Seeded
):
    from datetime import UTC, datetime, timedelta

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from chalicelib.domain import clock
    from chalicelib.services import draw_runner, draw_schedule

    session = BrowserSession(browser, server)
    now = datetime.now(UTC)
    from chalicelib.services import campaigns
    from tests.support import draw_line_id

    line = draw_line_id(campaigns.get_campaign(BRAND, seeded.campaign_id))
    body = {"name": "Tết draw", "prize_id": line, "winners": 2}
    upcoming = draw_schedule.create_draw(
        BRAND,
        seeded.campaign_id,
        "op",
        {
            **body,
            "draw_at": (now + timedelta(days=3)).isoformat(),
            "entries_until": (now + timedelta(days=2)).isoformat(),
        },
    )
    drawn = draw_schedule.create_draw(
        BRAND,
        seeded.campaign_id,
        "op",
        {
            **body,
            "alternates": 2,
            "draw_at": (now + timedelta(hours=1)).isoformat(),
            "entries_until": (now + timedelta(minutes=1)).isoformat(),
        },
    )
    too_many = draw_schedule.create_draw(
        BRAND,
        seeded.campaign_id,
        "op",
        {
            **body,
            "winners": draw_schedule.MAX_WINNERS,
            "draw_at": (now + timedelta(hours=1)).isoformat(),
            "entries_until": (now + timedelta(minutes=1)).isoformat(),
        },
    )
    with clock.replaced(lambda: (now + timedelta(hours=2)).timestamp()):
        result = draw_runner.run_draw(BRAND, drawn["draw_id"], "op")
        assert run_schedule("draw_runner")["blocked"] == 1  # too_many: set aside by the runner
    assert result["status"] == "drawn" and len(result["winners"]) == 2

    token = operator_token(brand=BRAND, role="viewer", sub="lan@brand-dashboard")
    _viewport(browser, 1280, 800)
    browser.get(f"{server.base}/dashboard")
    browser.execute_script("sessionStorage.clear()")
    browser.get(f"{server.base}/dashboard")
    session.visible("token").send_keys(token)
    browser.find_element(By.ID, "b-signin").click()
    session.visible("campaign")
    session.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'#campaign option[value="{seeded.campaign_id}"]'))
    Select(browser.find_element(By.ID, "campaign")).select_by_value(seeded.campaign_id)
    row = f'#draws-body tr[data-draw="{drawn["draw_id"]}"]'
    session.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, row))
    done = browser.find_element(By.CSS_SELECTOR, row)
    assert done.get_attribute("data-status") == "drawn"
    assert (
        done.find_element(By.CSS_SELECTOR, "[data-commitment]").get_attribute("data-commitment")
        == (drawn["seed_commitment"])
    )
    shown = [li.get_attribute("data-participant") for li in done.find_elements(By.CSS_SELECTOR, "ol.winners li")]
    assert shown == [w["participant_id"] for w in result["winners"]]
    assert all(w["phone"] in done.text for w in result["winners"])
    ranked = [li.get_attribute("data-participant") for li in done.find_elements(By.CSS_SELECTOR, "ol.alternates li")]
    assert ranked == [a["participant_id"] for a in result["alternates"]]
    assert f"Alternates ({len(result['alternates'])} of 2)" in done.text
    waiting = browser.find_element(By.CSS_SELECTOR, f'#draws-body tr[data-draw="{upcoming["draw_id"]}"]')
    assert waiting.get_attribute("data-status") == "scheduled" and "2 to draw" in waiting.text
    set_aside = browser.find_element(By.CSS_SELECTOR, f'#draws-body tr[data-draw="{too_many["draw_id"]}"]')
    reason = draw_schedule.get_draw(BRAND, too_many["draw_id"])["blocked"]["message"]
    assert "blocked" in set_aside.text and reason in set_aside.text
    # The market's paper and its legal deadline: 45 days after the latest draw plus its line's claim window.
    report = draw_schedule.list_draws(BRAND, seeded.campaign_id)["report"]
    paper = session.visible("draws-report")
    assert paper.get_attribute("data-kind") == "vn_results" and paper.get_attribute("data-due") == report["due_at"]
    assert report["due_at"] in paper.text and "Results report" in paper.text
    session.screenshot("dashboard-draws.png")
    session.assert_console_clean()


# The seeded campaign's draw line is a VND 40,000,000 prize in Vietnam: its winner gives an ID number.
WIN_DELIVERY = {
    "name": "Lan Nguyen",
    "phone": "0912 345 678",
    "address": "12 Le Loi Street, Hanoi",
    "id_number": "001203004567",
}
TRACKING = "VNPost EE123456789VN"


def _drawn_with_wins(campaign_id: str) -> str:
    """A drawn draw of two winners and an alternate: pick 1 accepted by its winner, pick 2 still offered
    with its window past (as if the runner had not yet forfeited it)."""
    from datetime import UTC, datetime, timedelta

    from chalicelib.adapters.models import Win
    from chalicelib.domain import clock
    from chalicelib.services import campaigns, draw_runner, draw_schedule, wins
    from tests.support import draw_line_id

    now = datetime.now(UTC)
    line = draw_line_id(campaigns.get_campaign(BRAND, campaign_id))
    draw = draw_schedule.create_draw(
        BRAND,
        campaign_id,
        "op",
        {
            "name": "Winners draw",
            "prize_id": line,
            "winners": 2,
            "alternates": 1,
            "draw_at": (now + timedelta(hours=1)).isoformat(),
            "entries_until": (now + timedelta(minutes=1)).isoformat(),
        },
    )
    with clock.replaced(lambda: (now + timedelta(hours=2)).timestamp()):
        assert draw_runner.run_draw(BRAND, draw["draw_id"], "op")["status"] == "drawn"
    made = {int(w.pick): w for w in Win.query(draw["draw_id"], consistent_read=True)}
    assert sorted(made) == [1, 2], made
    wins.accept(made[1].shopper_id, draw["draw_id"], "1", WIN_DELIVERY)
    made[2].update(actions=[Win.deadline.set(now - timedelta(hours=1))])
    return draw["draw_id"]


def _open_winners(session: BrowserSession, token: str, campaign_id: str, draw_id: str) -> str:
    """Sign in afresh with `token`, open the draw's winners panel; its CSS selector once the wins show."""
    from selenium.webdriver.common.by import By

    browser = session.driver
    browser.get(f"{session.server.base}/dashboard")
    browser.execute_script("sessionStorage.clear()")
    _sign_in_and_pick(session, f"{session.server.base}/dashboard", token, campaign_id)
    panel = f'#draws-wins [data-wins-for="{draw_id}"]'
    session.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, panel + " summary"))
    browser.execute_script("arguments[0].scrollIntoView()", browser.find_element(By.CSS_SELECTOR, panel))
    browser.find_element(By.CSS_SELECTOR, panel + " summary").click()
    session.wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, panel + " tr[data-pick]")) == 2)
    return panel


def _win_status(browser, panel: str, pick: int) -> str | None:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        return browser.find_element(By.CSS_SELECTOR, f'{panel} tr[data-pick="{pick}"]').get_attribute("data-status")
    except (NoSuchElementException, StaleElementReferenceException):
        return None


def _click(session: BrowserSession, selector: str) -> None:
    """Click an element of the panel once it is there (the panel redraws after every answer)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    def clicked(driver) -> bool:
        found = driver.find_elements(By.CSS_SELECTOR, selector)
        try:
            if found and found[0].is_enabled():
                found[0].click()
                return True
        except StaleElementReferenceException:
            pass
        return False

    session.wait.until(clicked)


def test_dashboard_winners_panel_shows_statuses_and_deadlines_and_moves_a_win(
    server: ChaliceLocal, browser, seeded: _Seeded
):
    from selenium.webdriver.common.by import By

    session = BrowserSession(browser, server)
    draw_id = _drawn_with_wins(seeded.campaign_id)
    manager = operator_token(brand=BRAND, role="manager", sub="mai@brand-dashboard")
    api = _api(server, f"/v1/draws/{draw_id}/wins", manager)
    deadlines = {w["pick"]: w["deadline"] for w in api["items"]}
    _viewport(browser, 1280, 800)
    panel = _open_winners(session, manager, seeded.campaign_id, draw_id)

    # Statuses in words, the deadlines, the overdue one marked, counts per status, masked details.
    accepted = browser.find_element(By.CSS_SELECTOR, f'{panel} tr[data-pick="1"]')
    assert accepted.get_attribute("data-status") == "accepted" and "Accepted by the winner" in accepted.text
    assert "L•••" in accepted.text and "Le Loi" not in accepted.text  # a manager sees them masked
    offered = browser.find_element(By.CSS_SELECTOR, f'{panel} tr[data-pick="2"]')
    assert offered.get_attribute("data-status") == "offered" and "Waiting for the winner" in offered.text
    for pick, row in ((1, accepted), (2, offered)):
        assert row.find_element(By.CSS_SELECTOR, "[data-deadline]").get_attribute("data-deadline") == deadlines[pick]
    assert offered.find_elements(By.CSS_SELECTOR, ".overdue") and not accepted.find_elements(
        By.CSS_SELECTOR, ".overdue"
    )
    assert not offered.find_elements(By.CSS_SELECTOR, "button")  # offered: the winner's move, not the brand's
    counts = {
        li.get_attribute("data-count"): li.get_attribute("data-value")
        for li in browser.find_elements(By.CSS_SELECTOR, f"{panel} [data-count]")
    }
    assert counts == {"offered": "1", "accepted": "1"}
    left = browser.find_element(By.CSS_SELECTOR, f"{panel} .wins-left")
    assert (left.get_attribute("data-left"), left.get_attribute("data-unclaimed")) == ("1", "0")
    moves = [b.get_attribute("data-move") for b in accepted.find_elements(By.CSS_SELECTOR, "button.win-move")]
    assert moves == ["verified", "rejected"]

    # Verify, then ship: without a tracking note the API's error shows beside the row, with one it ships.
    _click(session, f'{panel} tr[data-pick="1"] button[data-move="verified"]')
    session.wait.until(lambda d: _win_status(d, panel, 1) == "verified")
    _click(session, f'{panel} tr[data-pick="1"] button[data-move="shipped"]')
    _click(session, f'{panel} tr[data-pick="1"] form.win-form button.win-send')
    session.wait.until(
        lambda d: "tracking note" in d.find_element(By.CSS_SELECTOR, f'{panel} tr[data-pick="1"] .win-error').text
    )
    assert _win_status(browser, panel, 1) == "verified"
    browser.find_element(By.CSS_SELECTOR, f'{panel} tr[data-pick="1"] form.win-form input').send_keys(TRACKING)
    _click(session, f'{panel} tr[data-pick="1"] form.win-form button.win-send')
    session.wait.until(lambda d: _win_status(d, panel, 1) == "shipped")
    shipped = browser.find_element(By.CSS_SELECTOR, f'{panel} tr[data-pick="1"]')
    assert "Shipped" in shipped.text and f"Tracking: {TRACKING}" in shipped.text
    assert [b.get_attribute("data-move") for b in shipped.find_elements(By.CSS_SELECTOR, "button")] == ["delivered"]
    assert not shipped.find_elements(By.CSS_SELECTOR, ".win-error")
    stored = _api(server, f"/v1/draws/{draw_id}/wins", manager)["items"][0]
    assert (stored["status"], stored["note"]) == ("shipped", TRACKING)

    # The campaign's public results page, linked and served.
    link = browser.find_element(By.ID, "draws-results").get_attribute("href")
    assert link == f"{server.base}/results/{seeded.campaign_id}"
    assert http_get(link)[0] == 200
    session.screenshot("dashboard-winners.png")

    # A viewer sees the same wins and no button; delivery details only as given.
    viewer = operator_token(brand=BRAND, role="viewer", sub="lan@brand-dashboard")
    panel = _open_winners(session, viewer, seeded.campaign_id, draw_id)
    session.wait.until(lambda d: _win_status(d, panel, 1) == "shipped")
    assert not browser.find_elements(By.CSS_SELECTOR, f"{panel} button")
    assert "Given" in browser.find_element(By.CSS_SELECTOR, f'{panel} tr[data-pick="1"]').text
    session.assert_console_clean()


def test_dashboard_lists_owners_open_data_requests_with_deadlines_and_acts_on_them(
    server: ChaliceLocal, browser, seeded: _Seeded
):
    from datetime import timedelta

    from selenium.webdriver.common.by import By

    from chalicelib.adapters.secrets import get_phone_hash_pepper
    from chalicelib.config import get_settings
    from chalicelib.domain import clock
    from chalicelib.domain.phones import normalise_phone
    from chalicelib.services import shoppers, subject_requests

    settings = get_settings()
    phone = normalise_phone(SHOPPERS[0], settings.phone_regions)
    shoppers.record_account(phone, get_phone_hash_pepper(settings), clock.now())
    old = (clock.now().date() - timedelta(days=20)).isoformat()
    body = {"kind": "access", "phone": SHOPPERS[0], "received_on": old, "channel": "letter", "market": "VN"}
    late = subject_requests.create(BRAND, "op", body, settings)
    recent = subject_requests.create(
        BRAND, "op", {**body, "kind": "correction", "received_on": clock.now().date().isoformat()}, settings
    )
    assert late["overdue"] and not recent["overdue"]
    owner = operator_token(brand=BRAND, role="owner", sub="an@brand-dashboard")
    session = BrowserSession(browser, server)
    _viewport(browser, 1280, 800)
    browser.get(f"{server.base}/dashboard")
    browser.execute_script("sessionStorage.clear()")
    _sign_in_and_pick(session, f"{server.base}/dashboard", owner, seeded.campaign_id)
    rows = "#requests-body tr[data-request]"
    session.wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, rows)) == 2)
    first, second = browser.find_elements(By.CSS_SELECTOR, rows)
    # Earliest deadline first, the passed one in red; the number masked; the actions its kind allows.
    assert first.get_attribute("data-request") == late["request_id"]
    assert first.find_elements(By.CSS_SELECTOR, ".overdue") and not second.find_elements(By.CSS_SELECTOR, ".overdue")
    assert late["deadline"] in first.text and phone.masked in first.text and phone.e164 not in first.text
    assert [b.text for b in first.find_elements(By.CSS_SELECTOR, "button")] == ["Download data", "Close as done"]
    assert [b.text for b in second.find_elements(By.CSS_SELECTOR, "button")] == ["Close as done"]
    session.screenshot("dashboard-requests.png")
    # The download is recorded on the request; closing takes it off the open list.
    _click(session, f'#requests-body tr[data-request="{late["request_id"]}"] button')
    session.wait.until(
        lambda d: (
            [a["action"] for a in subject_requests.get(BRAND, late["request_id"])["actions"]] == ["record", "access"]
        )
    )
    buttons = f'#requests-body tr[data-request="{recent["request_id"]}"] button'
    _click(session, buttons)
    session.wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, rows)) == 1)
    assert subject_requests.get(BRAND, recent["request_id"])["status"] == "closed"
    # A manager is shown no such card.
    manager = operator_token(brand=BRAND, role="manager", sub="mai@brand-dashboard")
    browser.execute_script("sessionStorage.clear()")
    _sign_in_and_pick(session, f"{server.base}/dashboard", manager, seeded.campaign_id)
    session.visible("panel")
    assert not browser.find_element(By.ID, "requests").is_displayed()
    session.assert_console_clean()
