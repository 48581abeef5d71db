"""The landing page in headless Chromium at phone size: sign in, claim, replay, taken and forged codes; earn,
open the wallet, redeem and see the voucher code; the sign-in notice, marketing consent and "my data" in vi, en, fil;
the brand's own purposes at sign-in, withdrawing consents and deleting the account in vi, en and fil."""

from __future__ import annotations

import json

import pytest

from chalicelib.adapters.secrets import get_keyring
from chalicelib.config import Settings
from chalicelib.domain import codes
from chalicelib.domain.consent import NOTICE_VERSION
from chalicelib.pages import landing
from tests.functional.test_brand_purposes import SHARE, SURVEY
from tests.integration.browser import (
    BrowserSession,
    ChaliceLocal,
    accept_notice,
    chromium,
    http_get,
    http_send,
    seed_active_campaign,
)
from tests.support import draw_line_id, operator_token

BRAND = "brand-landing"
CAMPAIGN_NAME = "Mì Hảo Hảo — Tết 2027"
VN_PHONE, PH_PHONE = "0912 345 678", "0917 123 4567"
WALLET_BRAND = "brand-wallet"
WALLET_PHONE, WALLET_E164 = "0903 111 222", "+84903111222"
VOUCHERS = ("CAFE-0001", "CAFE-0002")


@pytest.fixture(scope="module")
def code(stage_tables: Settings) -> str:
    """A claimable code: active campaign (window around now), active batch, 10 points and 1 entry a scan."""
    _, (batch_number,) = seed_active_campaign(BRAND, CAMPAIGN_NAME, {"sku": "HAOHAO-75G", "quantity": 5})
    return codes.mint_code(get_keyring(), batch_number, 3)


class _Loyalty:
    """A brand's program, a voucher reward with codes and a dear gift, all set up through the operator API."""

    def __init__(self, server: ChaliceLocal, codes_: list[str]) -> None:
        self.codes = codes_
        token = {"Authorization": f"Bearer {operator_token(brand=WALLET_BRAND, role='manager', sub='lan@brand')}"}

        def send(method: str, path: str, body, expect: int) -> dict:
            status, answer = http_send(server.base + path, method, body, token)
            assert status == expect, f"{method} {path}: {status} {answer}\n{server.log_tail()}"
            return answer

        ladder = [{"name": "Member", "min_points": 0}, {"name": "Silver", "min_points": 30}]
        ladder.append({"name": "Gold", "min_points": 100, "multiplier": 2})
        send("PUT", "/v1/loyalty/program", {"tiers": ladder, "points_expire_months": 12}, 200)
        self.voucher = send("POST", "/v1/rewards", {"name": "Cà phê sữa", "kind": "voucher", "cost": 30}, 201)
        path = f"/v1/rewards/{self.voucher['reward_id']}/vouchers"
        assert send("POST", path, "code\n" + "\n".join(VOUCHERS) + "\n", 200)["added"] == len(VOUCHERS)
        self.gift = send("POST", "/v1/rewards", {"name": "Xe đạp", "kind": "gift", "cost": 5000, "stock": 2}, 201)


@pytest.fixture(scope="module")
def loyalty(stage_tables: Settings, server: ChaliceLocal) -> _Loyalty:
    """Three claimable codes of a brand whose program has tiers and expiry, and its rewards."""
    _, (batch_number,) = seed_active_campaign(WALLET_BRAND, "Cà phê Tết", {"sku": "CAFE-200G", "quantity": 3})
    server.wait_ready()
    return _Loyalty(server, [codes.mint_code(get_keyring(), batch_number, serial) for serial in range(3)])


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


class _Page:
    """The landing page and wallet in one browser session, with the lookups its steps share."""

    def __init__(self, browser, server: ChaliceLocal) -> None:
        self.session = BrowserSession(browser, server)
        self.browser, self.server = browser, server
        self.wait, self.visible = self.session.wait, self.session.visible

    def text_of(self, element_id: str) -> str:
        return self.visible(element_id).text

    def language(self) -> str:
        from selenium.webdriver.common.by import By

        return self.browser.find_element(By.TAG_NAME, "html").get_attribute("lang")

    def sign_in(self, phone: str, e164: str) -> None:
        """Type the phone, send for a code, type the code from the SMS, sign in; wait for the claim button."""
        from selenium.webdriver.common.by import By

        field = self.visible("phone")
        field.clear()
        field.send_keys(phone)
        before = self.server.sent()
        accept_notice(self.browser)
        self.browser.find_element(By.ID, "b-send").click()
        self.visible("otp").send_keys(self.server.otp_for(e164, before))
        self.browser.find_element(By.ID, "b-signin").click()
        self.visible("b-claim")

    def reward_row(self, reward_id: str):
        from selenium.webdriver.common.by import By

        return self.visible("w-rewards").find_element(By.CSS_SELECTOR, f'li[data-reward="{reward_id}"]')


def test_shopper_signs_in_and_claims_in_chromium(server: ChaliceLocal, browser, code: str):
    page = _Page(browser, server)
    _the_page_speaks_the_phones_vietnamese(page, code)
    _sign_in_in_english_and_claim(page)
    _the_same_code_again_is_the_original_grant(page, code)
    _another_shopper_is_told_the_code_is_taken(page)
    _a_forged_code_is_not_valid_in_english_then_filipino(page, code)
    # The page's policy blocked nothing of its own, and its script threw nothing.
    page.session.assert_console_clean()


def _the_page_speaks_the_phones_vietnamese(page: _Page, code: str) -> None:
    """The phone speaks Vietnamese: the page does too, and names the campaign and product."""
    from selenium.webdriver.common.by import By

    browser = page.browser
    browser.get(f"{page.server.base}/S/{code}")
    assert page.language() == "vi"
    assert browser.find_element(By.TAG_NAME, "h1").text == CAMPAIGN_NAME
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "Sản phẩm: HAOHAO-75G" in body and "Quét mã này để nhận 10 điểm và 1 lượt quay số may mắn." in body
    assert page.text_of("b-send") == "Gửi mã"
    page.session.screenshot("landing-vi.png")


def _sign_in_in_english_and_claim(page: _Page) -> None:
    """Switch to English, sign in with a Vietnamese mobile number and the code from the SMS, and
    claim: the page says what was granted and the new balance."""
    from selenium.webdriver.common.by import By

    browser, server, text_of = page.browser, page.server, page.text_of
    browser.find_element(By.LINK_TEXT, "English").click()
    page.wait.until(lambda d: page.language() == "en")
    assert text_of("b-send") == "Send code"
    field = page.visible("phone")
    field.send_keys(VN_PHONE)
    before = server.sent()
    # The short notice, in English, with its link; the number is not sent before its box is ticked.
    assert page.text_of("notice").startswith(landing.STRINGS["en"]["notice_title"])
    assert browser.find_element(By.ID, "notice-link").get_attribute("href").endswith("/privacy?lang=en")
    browser.find_element(By.ID, "b-send").click()
    assert text_of("msg") == landing.STRINGS["en"]["e_notice"] and server.sent() == before
    accept_notice(browser)
    browser.find_element(By.ID, "b-send").click()
    assert text_of("sent").startswith("We sent a code to +84")
    otp = server.otp_for("+84912345678", before)
    page.session.screenshot("landing-otp.png")
    page.visible("otp").send_keys(otp)
    browser.find_element(By.ID, "b-signin").click()
    assert text_of("who").startswith("Signed in as +84")

    page.visible("b-claim").click()
    assert text_of("r-title") == "Done! You got"
    assert text_of("r-what") == "10 points and 1 lucky-draw entry"
    assert text_of("r-balance") == "Your balance: 10 points and 1 lucky-draw entry."
    page.session.screenshot("landing-granted.png")


def _the_same_code_again_is_the_original_grant(page: _Page, code: str) -> None:
    """Scanning the same code again: English is remembered, the session too, and the
    answer is the original grant, marked as already this shopper's."""
    page.browser.get(f"{page.server.base}/S/{code}")
    page.wait.until(lambda d: page.language() == "en" and "lang=en" in d.current_url)
    page.visible("b-claim").click()
    assert page.text_of("r-title") == "This code is already yours"
    assert page.text_of("r-what") == "You claimed it before, so nothing new was added."
    assert page.text_of("r-balance") == "Your balance: 10 points and 1 lucky-draw entry."
    page.session.screenshot("landing-replay.png")


def _another_shopper_is_told_the_code_is_taken(page: _Page) -> None:
    """Another shopper (a Philippine number) is told plainly that the code is taken."""
    from selenium.webdriver.common.by import By

    browser = page.browser
    browser.find_element(By.ID, "b-out").click()
    page.sign_in(PH_PHONE, "+639171234567")
    browser.find_element(By.ID, "b-claim").click()
    page.wait.until(lambda d: d.find_element(By.ID, "msg").text)
    assert page.text_of("msg") == "Someone else has already claimed this code."
    assert not browser.find_element(By.ID, "b-claim").is_displayed()  # trying again cannot help
    page.session.screenshot("landing-taken.png")


def _a_forged_code_is_not_valid_in_english_then_filipino(page: _Page, code: str) -> None:
    """A forged code: the same look, the "not valid" message, no sign-in. Then Filipino, chosen
    with the switch on the page; the choice sticks for the next scan."""
    from selenium.webdriver.common.by import By

    browser, wait = page.browser, page.wait
    forged = code[:-2] + ("0" if code[-2] != "0" else "1") + code[-1]
    browser.get(f"{page.server.base}/S/{forged}")
    wait.until(lambda d: page.language() == "en")
    assert browser.find_element(By.TAG_NAME, "h1").text == "This code is not valid"
    assert not browser.find_elements(By.ID, "phone")
    page.session.screenshot("landing-invalid.png")

    browser.find_element(By.LINK_TEXT, "Filipino").click()
    wait.until(lambda d: page.language() == "fil")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Hindi valid ang code na ito"
    browser.get(f"{page.server.base}/S/{code}")
    wait.until(lambda d: page.language() == "fil")
    assert page.text_of("b-claim") == "I-claim ang reward ko"
    page.session.screenshot("landing-fil.png")


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


def test_shopper_earns_redeems_and_sees_the_voucher_in_chromium(server: ChaliceLocal, browser, loyalty: _Loyalty):
    from selenium.webdriver.common.by import By

    page = _Page(browser, server)
    # A shopper of their own on this tab: whoever the earlier test left signed in is forgotten.
    browser.get(f"{server.base}/S/{loyalty.codes[0]}?lang=vi")
    browser.execute_script("sessionStorage.clear()")
    browser.get(f"{server.base}/S/{loyalty.codes[0]}?lang=vi")

    _earn_three_packs_in_vietnamese(page, loyalty)
    voucher_row = _the_wallet_opens_from_the_claim(page, loyalty)
    _redeem_the_voucher(page, voucher_row)
    _the_wallets_own_address_in_english_and_filipino(page, loyalty)

    # Signed out, the wallet's address asks for sign-in first.
    browser.find_element(By.ID, "b-w-out").click()
    page.visible("phone")
    assert not browser.find_element(By.ID, "s-wallet").is_displayed()


def _earn_three_packs_in_vietnamese(page: _Page, loyalty: _Loyalty) -> None:
    """Earn: three packs scanned through the page, in Vietnamese; the first asks for sign-in."""

    vi = landing.STRINGS["vi"]
    browser, server = page.browser, page.server
    for number, code in enumerate(loyalty.codes, start=1):
        if number > 1:
            browser.get(f"{server.base}/S/{code}?lang=vi")
        else:
            page.session.sign_in(WALLET_PHONE, WALLET_E164)
        page.visible("b-claim").click()
        assert page.text_of("r-title") == vi["granted"]
        assert page.text_of("r-balance").startswith(f"Tổng của bạn: {number * 10} điểm")
        page.session.screenshot(f"wallet-vi-1-scan-{number}.png")


def _the_wallet_opens_from_the_claim(page: _Page, loyalty: _Loyalty):
    """The wallet opens from the claim's answer: 30 points, Silver, 70 to Gold, the lapse
    date and what expires when; the voucher can be redeemed, the bicycle not yet. The voucher's row."""
    from selenium.webdriver.common.by import By

    text_of = page.text_of
    page.browser.find_element(By.ID, "b-wallet").click()
    page.wait.until(lambda d: d.find_element(By.ID, "w-points").text == "30 điểm")
    assert text_of("w-tier") == "Hạng thành viên: Silver"
    assert text_of("w-next") == "Còn 70 điểm nữa để lên hạng Gold."
    assert text_of("w-lapse").startswith("Hãy tích thêm điểm trước ngày ") and "Silver" in text_of("w-lapse")
    assert text_of("w-expiry").startswith("Hãy dùng 30 điểm trước ngày ")
    voucher_row = page.reward_row(loyalty.voucher["reward_id"])
    assert "Cà phê sữa" in voucher_row.text and "30 điểm" in voucher_row.text and "Còn 2 phần" in voucher_row.text
    gift_row = page.reward_row(loyalty.gift["reward_id"])
    assert "Bạn cần thêm 4.970 điểm." in gift_row.text and not gift_row.find_elements(By.TAG_NAME, "button")
    assert len(page.visible("w-history").find_elements(By.TAG_NAME, "li")) == 3
    page.session.screenshot("wallet-vi-2-wallet.png")
    return voucher_row


def _redeem_the_voucher(page: _Page, voucher_row) -> None:
    """Redeem: confirm, then the voucher code is on the screen and the points are spent."""
    from selenium.webdriver.common.by import By

    vi, text_of, browser = landing.STRINGS["vi"], page.text_of, page.browser
    voucher_row.find_element(By.TAG_NAME, "button").click()
    assert text_of("w-confirm") == "Đổi 30 điểm lấy Cà phê sữa?"
    assert not browser.find_element(By.ID, "w-delivery").is_displayed()  # a voucher needs no address
    page.session.screenshot("wallet-vi-3-confirm.png")
    browser.find_element(By.ID, "b-redeem").click()
    assert text_of("w-voucher") == VOUCHERS[0]
    assert text_of("w-done-title") == vi["wallet_voucher_title"]
    assert text_of("w-left") == "Điểm còn lại: 0 điểm"
    page.wait.until(lambda d: d.find_element(By.ID, "w-points").text == "0 điểm")
    page.wait.until(lambda d: VOUCHERS[0] in d.find_element(By.ID, "w-mine").text)
    assert vi["wallet_status_issued"] in text_of("w-mine")
    page.session.screenshot("wallet-vi-4-voucher.png")


def _the_wallets_own_address_in_english_and_filipino(page: _Page, loyalty: _Loyalty) -> None:
    """The wallet's own address, in English and in Filipino: the same figures, the voucher
    kept under past rewards, the redeem buttons gone for want of points."""
    from selenium.webdriver.common.by import By

    en, fil = (landing.STRINGS[lang] for lang in ("en", "fil"))
    browser, wait, text_of = page.browser, page.wait, page.text_of
    for lang, words, points, short in (
        ("en", en, "0 points", "You need 30 points more."),
        ("fil", fil, "0 puntos", "Kailangan mo pa ng 30 puntos."),
    ):
        browser.get(f"{page.server.base}/wallet/{WALLET_BRAND}?lang={lang}")
        wait.until(lambda d, lang=lang: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang)
        wait.until(lambda d, points=points: d.find_element(By.ID, "w-points").text == points)
        assert browser.find_element(By.TAG_NAME, "h1").text == words["wallet_title"]
        assert text_of("w-tier") == words["wallet_tier"].format(tier="Silver")
        assert short in page.reward_row(loyalty.voucher["reward_id"]).text
        mine = text_of("w-mine")
        assert "Cà phê sữa" in mine and VOUCHERS[0] in mine and words["wallet_status_issued"] in mine
        assert not browser.find_element(By.ID, "b-back").is_displayed()  # no scan to go back to here
        page.session.screenshot(f"wallet-{lang}-catalog.png")


def test_the_signed_in_shopper_sees_their_entries_in_each_upcoming_draw(
    stage_tables: Settings, server: ChaliceLocal, browser
):
    from datetime import UTC, datetime, timedelta

    from selenium.webdriver.common.by import By

    from chalicelib.services import campaigns, draw_schedule

    session = BrowserSession(browser, server)
    campaign_id, (batch_number,) = seed_active_campaign(BRAND, "Draw campaign", {"sku": "DRAW-1", "quantity": 3})
    now = datetime.now(UTC)
    draw = draw_schedule.create_draw(
        BRAND,
        campaign_id,
        "op",
        {
            "name": "Grand draw",
            "prize_id": draw_line_id(campaigns.get_campaign(BRAND, campaign_id)),
            "winners": 1,
            "draw_at": (now + timedelta(days=3)).isoformat(),
            "entries_until": (now + timedelta(days=2)).isoformat(),
        },
    )
    code = codes.mint_code(get_keyring(), batch_number, 1)
    browser.get(f"{server.base}/S/{code}?lang=en")
    browser.execute_script("sessionStorage.clear()")
    browser.get(f"{server.base}/S/{code}?lang=en")
    session.sign_in("0912 345 699", "+84912345699")
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


PRIVACY_BRAND = "brand-privacy"
PRIVACY_PHONE, PRIVACY_E164 = "0903 444 555", "+84903444555"


def test_the_notice_marketing_consent_and_my_data_in_every_language_in_chromium(
    stage_tables: Settings, server: ChaliceLocal, browser
):
    """The wallet's sign-in shows the notice in the page's language; once signed in, the brand's marketing
    consent is granted and stays granted; "my data" is counted by kind in vi, en and fil, with a download."""
    from selenium.webdriver.common.by import By

    session = BrowserSession(browser, server)
    server.wait_ready()
    browser.get(f"{server.base}/wallet/{PRIVACY_BRAND}?lang=vi")
    browser.execute_script("sessionStorage.clear()")
    browser.get(f"{server.base}/wallet/{PRIVACY_BRAND}?lang=vi")
    vi = landing.STRINGS["vi"]
    assert vi["notice_body"] in session.visible("notice").text
    session.screenshot("privacy-vi-notice.png")
    session.sign_in(PRIVACY_PHONE, PRIVACY_E164)
    box = session.visible("w-marketing")
    assert not box.is_selected()
    box.click()
    session.wait.until(lambda d: d.find_element(By.ID, "w-marketing").is_enabled())
    refused = browser.find_element(By.ID, "w-msg")
    assert not refused.is_displayed(), f"{refused.text}\n{server.log_tail()}"
    assert browser.find_element(By.ID, "w-marketing").is_selected()
    for lang in ("vi", "en", "fil"):
        words = landing.STRINGS[lang]
        browser.get(f"{server.base}/wallet/{PRIVACY_BRAND}?lang={lang}")
        session.wait.until(lambda d, lang=lang: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang)
        session.wait.until(lambda d: d.find_element(By.ID, "w-marketing").is_selected())
        privacy = session.visible("w-privacy").text
        assert words["privacy_title"] in privacy and words["marketing_label"] in privacy
        session.visible("b-mydata").click()
        listed = session.visible("w-mydata-list").text
        assert words["mydata_consents_one"].format(n=1) in listed
        assert words["mydata_claims_other"].format(n=0) in listed
        link = session.visible("w-mydata-link")
        assert link.text == words["mydata_download"] and link.get_attribute("href").startswith("blob:")
        session.screenshot(f"privacy-{lang}-wallet.png")
    # The full notice, in Filipino.
    browser.get(f"{server.base}/privacy?lang=fil")
    assert landing.STRINGS["fil"]["privacy_p1"] in session.visible("app").text
    session.assert_console_clean()


RIGHTS_BRAND = "brand-rights"
RIGHTS_LANGUAGES = ("vi", "en", "fil")
# One number a language: each test ends by deleting its account.
RIGHTS_PHONES = {lang: (f"0903 777 00{n}", f"+8490377700{n}") for n, lang in enumerate(RIGHTS_LANGUAGES)}


@pytest.fixture(scope="module")
def rights(stage_tables: Settings, server: ChaliceLocal) -> dict[str, str]:
    """A brand whose owner added a required and an optional purpose through the API, and a code per language."""
    _, (batch_number,) = seed_active_campaign(RIGHTS_BRAND, "Trà sữa Tết", {"sku": "TEA-500ML", "quantity": 3})
    server.wait_ready()
    owner = {"Authorization": f"Bearer {operator_token(brand=RIGHTS_BRAND, role='owner', sub='an@brand')}"}
    body = {"purposes": [SHARE, SURVEY], "version": 0}
    status, saved = http_send(server.base + "/v1/consent-purposes", "PUT", body, owner)
    assert status == 200, f"{saved}\n{server.log_tail()}"
    return {lang: codes.mint_code(get_keyring(), batch_number, n) for n, lang in enumerate(RIGHTS_LANGUAGES)}


class _Rights(_Page):
    """The wallet's data rights: the shopper's own token and the API read back as they see it."""

    def token(self) -> dict[str, str]:
        bearer = self.browser.execute_script("return sessionStorage.getItem('qrc.token')")
        return {"Authorization": f"Bearer {bearer}"}

    def read(self, path: str, bearer: dict[str, str], expect: int = 200) -> dict:
        status, _, body = http_get(self.server.base + path, bearer)
        assert status == expect, f"GET {path}: {status} {body}\n{self.server.log_tail()}"
        return json.loads(body)

    def sign_in_with_purposes(self, lang: str) -> None:
        """The notice lists the brand's purposes in `lang`; no code is sent until the required one is ticked."""
        from selenium.webdriver.common.by import By

        words = landing.STRINGS[lang]
        phone, e164 = RIGHTS_PHONES[lang]
        shown = self.visible("purposes").text
        assert SHARE["text"][lang] in shown and SURVEY["text"][lang] in shown, shown
        assert words["purpose_required"] in shown and words["purpose_optional"] in shown
        self.visible("phone").send_keys(phone)
        accept_notice(self.browser)
        before = self.server.sent()
        self.browser.find_element(By.ID, "b-send").click()
        self.wait.until(lambda d: d.find_element(By.ID, "msg").text == words["e_purpose"])
        assert self.server.sent() == before, "a code went out before the required purpose was ticked"
        self.browser.find_element(By.ID, "purpose-share-courier").click()
        self.browser.find_element(By.ID, "purpose-surveys").click()
        self.browser.find_element(By.ID, "b-send").click()
        self.visible("otp").send_keys(self.server.otp_for(e164, before))
        self.browser.find_element(By.ID, "b-signin").click()
        self.visible("w-purposes")

    def withdraw_survey_and_marketing(self, lang: str, bearer: dict[str, str]) -> None:
        from selenium.webdriver.common.by import By

        words = landing.STRINGS[lang]
        self.wait.until(lambda d: SURVEY["text"][lang] in d.find_element(By.ID, "w-purposes").text)
        listed = self.visible("w-purposes")
        assert SHARE["text"][lang] in listed.text and words["purpose_required"] in listed.text
        assert not listed.find_elements(By.CSS_SELECTOR, 'li[data-purpose="share-courier"] button')
        button = listed.find_element(By.CSS_SELECTOR, 'li[data-purpose="surveys"] button')
        assert button.text == words["purpose_withdraw"]
        button.click()
        self.wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, '#w-purposes li[data-purpose="surveys"]'))
        assert [g["purpose"] for g in self.read("/v1/me/consents", bearer)["brand_purposes"]] == ["share-courier"]
        # Marketing: granted from the wallet, then withdrawn.
        for wanted in (True, False):
            self.visible("w-marketing").click()
            self.wait.until(
                lambda d, wanted=wanted: (
                    d.find_element(By.ID, "w-marketing").is_enabled()
                    and d.find_element(By.ID, "w-marketing").is_selected() == wanted
                )
            )
        consents = self.read("/v1/me/consents", bearer)
        assert consents["marketing_brands"] == []
        assert [c["marketing"] for c in consents["marketing_changes"]] == [True, False]

    def delete_account(self, lang: str) -> None:
        """What deletion does (points forfeited), a wrong code refused beside the form, the right one deletes."""
        from selenium.webdriver.common.by import By

        words = landing.STRINGS[lang]
        _, e164 = RIGHTS_PHONES[lang]
        before = self.server.sent()
        self.visible("b-delete").click()
        what = self.visible("w-delete-what").text
        points = words["points_other"].format(n="10")
        assert words["delete_points"].format(points=points, brand=RIGHTS_BRAND) in what, what
        assert self.visible("w-delete-sent").text.startswith(words["delete_sent"].split("{phone}")[0])
        code = self.server.otp_for(e164, before)
        self.visible("w-delete-otp").send_keys(f"{(int(code) + 1) % 10**6:06d}")
        self.browser.find_element(By.ID, "b-delete-confirm").click()
        self.wait.until(lambda d: d.find_element(By.ID, "w-delete-msg").text == words["delete_e_otp"])
        field = self.browser.find_element(By.ID, "w-delete-otp")
        field.clear()
        field.send_keys(code)
        self.browser.find_element(By.ID, "b-delete-confirm").click()
        assert self.visible("done").text == words["delete_done"]
        assert self.visible("phone").get_attribute("value") == ""
        assert not any(box.is_selected() for box in self.browser.find_elements(By.CSS_SELECTOR, "#f-phone input"))
        assert self.browser.execute_script("return sessionStorage.getItem('qrc.token')") is None


@pytest.mark.parametrize("lang", RIGHTS_LANGUAGES)
def test_the_brand_s_purposes_withdrawals_my_data_and_deleting_the_account_in_chromium(
    server: ChaliceLocal, browser, rights: dict[str, str], lang: str
):
    """In each language: the brand's purposes at sign-in in that language, each its own box, their acceptance
    read back through the API; the optional one and marketing withdrawn; "my data" counted and downloaded;
    the account deleted with the SMS code (a wrong one refused beside the form), then signed out and gone."""
    from selenium.webdriver.common.by import By

    page = _Rights(browser, server)
    words = landing.STRINGS[lang]
    browser.get(f"{server.base}/wallet/{RIGHTS_BRAND}?lang={lang}")
    browser.execute_script("sessionStorage.clear()")
    browser.get(f"{server.base}/wallet/{RIGHTS_BRAND}?lang={lang}")
    page.wait.until(lambda d: page.language() == lang)
    page.sign_in_with_purposes(lang)
    bearer = page.token()
    changes = page.read("/v1/me/consents", bearer)["brand_purpose_changes"]
    assert [(c["purpose"], c["revision"], c["accepted"], c["notice"], c["language"]) for c in changes] == [
        ("share-courier", 1, True, NOTICE_VERSION, lang),
        ("surveys", 1, True, NOTICE_VERSION, lang),
    ]
    # Points with the brand, for the deletion to forfeit.
    status, claimed = http_send(server.base + "/v1/scans", "POST", {"code": rights[lang]}, bearer)
    assert status == 200, claimed
    page.withdraw_survey_and_marketing(lang, bearer)
    page.visible("b-mydata").click()
    listed = page.visible("w-mydata-list").text
    assert words["mydata_consents_one"].format(n=1) in listed and words["mydata_claims_one"].format(n=1) in listed
    link = page.visible("w-mydata-link")
    assert link.text == words["mydata_download"] and link.get_attribute("href").startswith("blob:")
    page.session.screenshot(f"rights-{lang}-wallet.png")
    page.delete_account(lang)
    page.session.screenshot(f"rights-{lang}-deleted.png")
    # The account is gone: its old token finds no data, and the next sign-in starts afresh.
    page.read("/v1/me/data", bearer, expect=401)
    assert not browser.find_element(By.ID, "s-wallet").is_displayed()
    page.session.assert_console_clean()
