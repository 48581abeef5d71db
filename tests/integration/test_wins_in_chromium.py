"""A winner's prize in the wallet, in headless Chromium at phone size: signed in from the SMS's link, the
prize shows with its deadline and is accepted with delivery details."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.adapters.models import DrawWinner, Win
from chalicelib.config import Settings
from chalicelib.pages import landing
from tests.integration.browser import BrowserSession, ChaliceLocal
from tests.integration.test_landing_in_chromium import browser  # noqa: F401 - the phone-sized Chromium
from tests.integration.test_wins_on_dynamodb_local import DRAW_ID, drawn_draw
from tests.support import shopper_id

BRAND = "brand-wins"
PHONE, E164 = "0912 345 688", "+84912345688"


def test_the_winner_accepts_the_prize_in_the_wallet_in_chromium(stage_tables: Settings, server: ChaliceLocal, browser):
    from selenium.webdriver.common.by import By

    winner = DrawWinner(rank=1, participant_id="mbr_1", shopper_id=shopper_id(E164), entries=3, phone_masked="")
    drawn_draw(BRAND, [winner], [], datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1))
    session = BrowserSession(browser, server)
    words = landing.STRINGS["en"]
    server.wait_ready()
    # The SMS's link: the wallet of the brand, signed out on this tab.
    browser.get(f"{server.base}/wallet/{BRAND}?lang=en")
    browser.execute_script("sessionStorage.clear()")
    browser.get(f"{server.base}/wallet/{BRAND}?lang=en")
    session.sign_in(PHONE, E164)
    offered = 'li.win[data-status="offered"]'
    session.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, offered), message="the prize never showed")
    shown = browser.find_element(By.CSS_SELECTOR, offered)
    assert "Motorbike" in shown.text and "Grand draw" in shown.text
    assert words["win_deadline"].split("{")[0] in shown.text and words["win_status_offered"] in shown.text
    assert not shown.find_elements(By.ID, "win-1-id_number")  # this prize needs no ID number
    session.screenshot("wallet-win-offered.png")
    # An address too short is refused by the API, naming the field; then the full one is accepted.
    shown.find_element(By.ID, "win-1-name").send_keys("Lan Nguyen")
    shown.find_element(By.ID, "win-1-address").send_keys("12")
    shown.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    session.wait.until(
        lambda d: words["win_address"] in d.find_element(By.ID, "w-msg").text, message="no refusal naming the address"
    )
    assert Win.get(DRAW_ID, 1).status == "offered"
    address = browser.find_element(By.ID, "win-1-address")
    address.clear()
    address.send_keys("12 Le Loi Street, Hanoi")
    browser.find_element(By.CSS_SELECTOR, offered + " button[type=submit]").click()
    accepted = 'li.win[data-status="accepted"]'
    session.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, accepted), message="the prize was never accepted")
    assert words["win_status_accepted"] in browser.find_element(By.CSS_SELECTOR, accepted).text
    stored = Win.get(DRAW_ID, 1)
    assert stored.status == "accepted" and stored.delivery_sealed and "Le Loi" not in stored.delivery_sealed
    session.screenshot("wallet-win-accepted.png")
    session.assert_console_clean()
