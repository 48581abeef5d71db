"""The public results page in headless Chromium, in Vietnamese, English and Filipino: a drawn and a scheduled
draw shown, the page's policy blocking nothing, under 50 KB; reached from the shopper page's link."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters.secrets import get_keyring
from chalicelib.config import Settings
from chalicelib.domain import clock, codes
from chalicelib.pages import results as page
from chalicelib.services import campaigns, draw_runner, draw_schedule, scans
from tests.functional.test_draws import _account, draw_body
from tests.integration.browser import BrowserSession, ChaliceLocal, chromium, http_get, seed_active_campaign
from tests.support import draw_line_id

BRAND = "brand-results"
CAMPAIGN_NAME = "Bia Sài Gòn — Tết 2027"
PHONES = ("+84912000001", "+84912000002", "+84912000003", "+84912000004")


def _at(moment: datetime):
    return clock.replaced(lambda: moment.timestamp())


@pytest.fixture(scope="module")
def drawn(stage_tables: Settings) -> dict:
    """A campaign of four shoppers with a draw run (2 winners, 1 alternate) and a draw still to come."""
    campaign_id, (batch_number,) = seed_active_campaign(BRAND, CAMPAIGN_NAME, {"sku": "BIA-330", "quantity": 10})
    prize_id = draw_line_id(campaigns.get_campaign(BRAND, campaign_id))
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=4)
    shoppers = [_account(phone) for phone in PHONES]
    all_codes = [codes.mint_code(get_keyring(), batch_number, serial) for serial in range(10)]
    with _at(t0 + timedelta(minutes=1)):
        for index, shopper in enumerate(shoppers * 2):
            assert scans.claim_code(shopper, "203.0.113.9", {"code": all_codes[index]})["result"] == "granted"
    with _at(t0 + timedelta(minutes=2)):
        draw = draw_schedule.create_draw(BRAND, campaign_id, "op", draw_body(t0, prize_id, alternates=1))
        later = draw_body(t0, prize_id, name="Giải tháng", draw_at=(t0 + timedelta(days=20)).isoformat())
        draw_schedule.create_draw(BRAND, campaign_id, "op", later)
    with _at(t0 + timedelta(hours=1, minutes=5)):
        done = draw_runner.run_draw(BRAND, draw["draw_id"], "op")
    return {"campaign_id": campaign_id, "draw": done, "code": all_codes[9]}


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    """Headless Chromium at phone size whose language is English."""
    experimental = {"mobileEmulation": {"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 2}}}
    with chromium(
        tmp_path_factory.mktemp("chromium"), "the results-page browser test", ("--lang=en",), experimental
    ) as d:
        yield d


@pytest.mark.parametrize("lang", ["vi", "en", "fil"])
def test_the_results_page_in_chromium(server: ChaliceLocal, browser, drawn: dict, lang: str):
    from selenium.webdriver.common.by import By

    session = BrowserSession(browser, server)
    url = f"{server.base}/results/{drawn['campaign_id']}?lang={lang}"
    status, headers, body = http_get(url)
    assert status == 200 and len(body.encode("utf-8")) < 50_000 and "<script" not in body
    assert "script-src 'none'" in headers["Content-Security-Policy"]
    browser.get(url)
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang
    assert browser.find_element(By.TAG_NAME, "h1").text == CAMPAIGN_NAME
    text = browser.find_element(By.TAG_NAME, "body").text
    strings, draw = page.STRINGS[lang], drawn["draw"]
    # Each winner's win is offered to them; the alternates wait: each status in the page's words.
    _, _, data = http_get(f"{server.base}/results/{drawn['campaign_id']}?format=json")
    shown = next(d for d in json.loads(data)["draws"] if d["draw_id"] == draw["draw_id"])
    statuses = {pick["status"] for pick in shown["winners"] + shown["alternates"]}
    assert statuses == {"offered", "waiting"}, statuses
    for words in (strings["eyebrow"], strings["h_winners"], strings["h_alternates"], strings["ps_offered"]):
        assert words.upper() in text.upper(), words
    assert strings["ps_waiting"].upper() in text.upper()
    assert "Grand draw" in text and "Giải tháng" in text and draw["seed"] in text and draw["seed_commitment"] in text
    for pick in draw["winners"] + draw["alternates"]:
        assert pick["phone"] in text and pick["participant_id"] in text
    assert not any(phone in text or phone[3:] in text for phone in PHONES)
    # The style came in under its hash: the cards have their border, so the sheet applied.
    card = browser.find_element(By.CSS_SELECTOR, "section.card")
    assert card.value_of_css_property("border-top-style") == "solid"
    # Hashes, seeds and pseudonyms wrap: nothing makes a phone scroll sideways.
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    session.screenshot(f"results-{lang}.png")
    session.assert_console_clean()


def test_the_shopper_page_links_to_the_results(server: ChaliceLocal, browser, drawn: dict):
    from selenium.webdriver.common.by import By

    session = BrowserSession(browser, server)
    browser.get(f"{server.base}/S/{drawn['code']}?lang=en")
    browser.find_element(By.LINK_TEXT, "Lucky draw results").click()
    session.wait.until(lambda d: "/results/" in d.current_url)
    assert browser.find_element(By.TAG_NAME, "h1").text == CAMPAIGN_NAME
    assert drawn["draw"]["seed"] in browser.find_element(By.TAG_NAME, "body").text
    session.assert_console_clean()
