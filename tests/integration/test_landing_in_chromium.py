"""The landing page in headless Chromium at phone size: sign in, claim, replay, taken and forged codes."""

from __future__ import annotations

import pytest

from chalicelib.adapters.secrets import get_keyring
from chalicelib.config import Settings
from chalicelib.domain import codes
from tests.integration.browser import BrowserSession, ChaliceLocal, chromium, http_get, seed_active_campaign

BRAND = "brand-landing"
CAMPAIGN_NAME = "Mì Hảo Hảo — Tết 2027"
VN_PHONE, PH_PHONE = "0912 345 678", "0917 123 4567"


@pytest.fixture(scope="module")
def code(stage_tables: Settings) -> str:
    """A claimable code: active campaign (window around now), active batch, 10 points and 1 entry a scan."""
    _, (batch_number,) = seed_active_campaign(BRAND, CAMPAIGN_NAME, {"sku": "HAOHAO-75G", "quantity": 5})
    return codes.mint_code(get_keyring(), batch_number, 3)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    """Headless Debian Chromium emulating a 390x844 phone whose language is Vietnamese."""
    experimental = {
        "prefs": {"intl.accept_languages": "vi-VN,vi"},
        "mobileEmulation": {
            "deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 2, "touch": True},
            "userAgent": "Mozilla/5.0 (Linux; Android 13; SM-A045F) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0 Mobile Safari/537.36",
        },
    }
    with chromium(
        tmp_path_factory.mktemp("chromium"), "the landing-page browser test", ("--lang=vi",), experimental
    ) as driver:
        yield driver


def test_shopper_signs_in_and_claims_in_chromium(server: ChaliceLocal, browser, code: str):
    session = BrowserSession(browser, server)
    from selenium.webdriver.common.by import By

    wait, visible = session.wait, session.visible

    def text_of(element_id: str) -> str:
        return visible(element_id).text

    def page_language() -> str:
        return browser.find_element(By.TAG_NAME, "html").get_attribute("lang")

    def sign_in(phone: str, e164: str) -> None:
        field = visible("phone")
        field.clear()
        field.send_keys(phone)
        before = server.sent()
        browser.find_element(By.ID, "b-send").click()
        visible("otp").send_keys(server.otp_for(e164, before))
        browser.find_element(By.ID, "b-signin").click()
        visible("b-claim")

    # The phone speaks Vietnamese: the page does too, and names the campaign and product.
    browser.get(f"{server.base}/S/{code}")
    assert page_language() == "vi"
    assert browser.find_element(By.TAG_NAME, "h1").text == CAMPAIGN_NAME
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "Sản phẩm: HAOHAO-75G" in body and "Quét mã này để nhận 10 điểm và 1 lượt quay số may mắn." in body
    assert text_of("b-send") == "Gửi mã"
    session.screenshot("landing-vi.png")

    # Switch to English, sign in with a Vietnamese mobile number and the code from the SMS.
    browser.find_element(By.LINK_TEXT, "English").click()
    wait.until(lambda d: page_language() == "en")
    assert text_of("b-send") == "Send code"
    field = visible("phone")
    field.send_keys(VN_PHONE)
    before = server.sent()
    browser.find_element(By.ID, "b-send").click()
    assert text_of("sent").startswith("We sent a code to +84")
    otp = server.otp_for("+84912345678", before)
    session.screenshot("landing-otp.png")
    visible("otp").send_keys(otp)
    browser.find_element(By.ID, "b-signin").click()
    assert text_of("who").startswith("Signed in as +84")

    # Claim: the page says what was granted and the new balance.
    visible("b-claim").click()
    assert text_of("r-title") == "Done! You got"
    assert text_of("r-what") == "10 points and 1 lucky-draw entry"
    assert text_of("r-balance") == "Your balance: 10 points and 1 lucky-draw entry."
    session.screenshot("landing-granted.png")

    # Scanning the same code again: English is remembered, the session too, and the
    # answer is the original grant, marked as already this shopper's.
    browser.get(f"{server.base}/S/{code}")
    wait.until(lambda d: page_language() == "en" and "lang=en" in d.current_url)
    visible("b-claim").click()
    assert text_of("r-title") == "This code is already yours"
    assert text_of("r-what") == "You claimed it before, so nothing new was added."
    assert text_of("r-balance") == "Your balance: 10 points and 1 lucky-draw entry."
    session.screenshot("landing-replay.png")

    # Another shopper (a Philippine number) is told plainly that the code is taken.
    browser.find_element(By.ID, "b-out").click()
    sign_in(PH_PHONE, "+639171234567")
    browser.find_element(By.ID, "b-claim").click()
    wait.until(lambda d: d.find_element(By.ID, "msg").text)
    assert text_of("msg") == "Someone else has already claimed this code."
    assert not browser.find_element(By.ID, "b-claim").is_displayed()  # trying again cannot help
    session.screenshot("landing-taken.png")

    # A forged code: the same look, the "not valid" message, no sign-in.
    forged = code[:-2] + ("0" if code[-2] != "0" else "1") + code[-1]
    browser.get(f"{server.base}/S/{forged}")
    wait.until(lambda d: page_language() == "en")
    assert browser.find_element(By.TAG_NAME, "h1").text == "This code is not valid"
    assert not browser.find_elements(By.ID, "phone")
    session.screenshot("landing-invalid.png")

    # Filipino, chosen with the switch on the page; the choice sticks for the next scan.
    browser.find_element(By.LINK_TEXT, "Filipino").click()
    wait.until(lambda d: page_language() == "fil")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Hindi valid ang code na ito"
    browser.get(f"{server.base}/S/{code}")
    wait.until(lambda d: page_language() == "fil")
    assert text_of("b-claim") == "I-claim ang reward ko"
    session.screenshot("landing-fil.png")

    # The page's policy blocked nothing of its own, and its script threw nothing.
    session.assert_console_clean()


def test_landing_answers_are_html_in_every_case(server: ChaliceLocal, code: str):
    server.wait_ready()
    status, headers, page = http_get(f"{server.base}/s/{code.lower()}", {"Accept-Language": "fil-PH,fil;q=0.9"})
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "no-store" and "script-src 'sha256-" in headers["Content-Security-Policy"]
    assert '<html lang="fil">' in page and "I-claim ang reward ko" in page
    assert len(page.encode("utf-8")) < 50 * 1024
    status, headers, page = http_get(f"{server.base}/S/NOT-A-CODE", {"Accept-Language": "en"})
    assert status == 404 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert "This code is not valid" in page and "<code>NOT-A-CODE</code>" in page


def test_the_signed_in_shopper_sees_their_entries_in_each_upcoming_draw(server: ChaliceLocal, browser):
    from datetime import UTC, datetime, timedelta

    from selenium.webdriver.common.by import By

    from chalicelib.services import draws

    session = BrowserSession(browser, server)
    campaign_id, (batch_number,) = seed_active_campaign(BRAND, "Draw campaign", {"sku": "DRAW-1", "quantity": 3})
    now = datetime.now(UTC)
    draw = draws.create_draw(
        BRAND,
        campaign_id,
        "op",
        {
            "name": "Grand draw",
            "prize": "Motorbike",
            "winners": 1,
            "draw_at": (now + timedelta(days=3)).isoformat(),
            "entries_until": (now + timedelta(days=2)).isoformat(),
        },
    )
    code = codes.mint_code(get_keyring(), batch_number, 1)
    browser.get(f"{server.base}/S/{code}?lang=en")
    browser.execute_script("sessionStorage.clear()")
    browser.get(f"{server.base}/S/{code}?lang=en")
    session.visible("phone").send_keys("0912 345 699")
    before = server.sent()
    browser.find_element(By.ID, "b-send").click()
    session.visible("otp").send_keys(server.otp_for("+84912345699", before))
    browser.find_element(By.ID, "b-signin").click()
    session.visible("b-claim").click()
    card = f'#draws .draw[data-draw="{draw["draw_id"]}"]'
    session.wait.until(
        lambda d: d.find_elements(By.CSS_SELECTOR, card + ' [data-entries="1"]'),
        message="the draws card never showed the claim's entry",
    )
    shown = browser.find_element(By.CSS_SELECTOR, card)
    assert "Grand draw" in shown.text and "Prize: Motorbike" in shown.text and "You have 1 entry" in shown.text
    assert shown.find_element(By.CSS_SELECTOR, "[data-won]").get_attribute("data-won") == "no"
    session.screenshot("landing-draws.png")
    session.assert_console_clean()
