"""The landing page in headless Chromium at phone size: sign in, claim, replay, taken and forged codes."""
from __future__ import annotations

import copy
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest

from chalicelib import batches, campaigns, codes, models, scans
from chalicelib.config import Settings, get_settings
from chalicelib.storage import get_keyring
from scripts.dynamodb_local import (
    AWS_ENV_TO_CLEAR,
    HOST,
    REPO_ROOT,
    free_port,
    local_aws_env,
    parent_death_hook,
    port_accepts_connections,
)
from tests.support import VALID_CAMPAIGN

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = REPO_ROOT / "test-artifacts"
# `chalice local --stage local` copies the stage's environment over its own, so the
# server always reads TABLE_PREFIX=qrc-local from .chalice/config.json whatever the test
# sets: the tables must carry that prefix. They live on the session's in-memory engine,
# which only this test process can see, never on the dev stack's data in .local/.
STAGE_TABLE_PREFIX = "qrc-local"
BRAND = "brand-landing"
CAMPAIGN_NAME = "Mì Hảo Hảo — Tết 2027"
VN_PHONE, PH_PHONE = "0912 345 678", "0917 123 4567"
WAIT_SECONDS = 15


def _require_browser():
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        pytest.fail(
            f"the landing-page browser test needs Debian's chromium and chromium-driver ({', '.join(missing)} "
            "missing): run `bash scripts/setup.sh --browser` (as root it installs them with apt)",
            pytrace=False,
        )
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.fail("selenium is not installed in .venv: run `bash scripts/setup.sh`", pytrace=False)


@pytest.fixture(scope="module")
def stage_tables(ddb_local: str) -> Iterator[Settings]:
    """The qrc-local tables on the session's DynamoDB Local, bound in this process for seeding."""
    settings = Settings.from_environ({
        "STAGE": "local", "TABLE_PREFIX": STAGE_TABLE_PREFIX, "DYNAMODB_ENDPOINT": ddb_local, "AWS_REGION": "us-east-1",
    })
    models.bind(settings)
    try:
        created = models.create_tables()
        if len(created) != len(models.ALL_MODELS):
            pytest.fail(f"{STAGE_TABLE_PREFIX}-* tables already existed on {ddb_local}: another test left them",
                        pytrace=False)
        yield settings
    finally:
        try:
            models.delete_tables()
        finally:
            models.bind(get_settings())


@pytest.fixture(scope="module")
def code(stage_tables: Settings) -> str:
    """A claimable code: active campaign (window around now), active batch, 10 points and 1 entry a scan."""
    body = copy.deepcopy(VALID_CAMPAIGN)
    now = datetime.now(timezone.utc)
    body.update(name=CAMPAIGN_NAME, starts_at=(now - timedelta(days=1)).isoformat(),
                ends_at=(now + timedelta(days=30)).isoformat(),
                rules={"points_per_scan": 10, "entries_per_scan": 1})
    campaign = campaigns.create_campaign(BRAND, "op", body)
    campaigns.change_campaign_status(BRAND, campaign["campaign_id"], "op", {"status": "active"})
    batch = batches.mint_batch(BRAND, campaign["campaign_id"], "op", {"sku": "HAOHAO-75G", "quantity": 5})
    batches.change_batch_status(BRAND, batch["batch_id"], "op", {"status": "active"})
    scans.clear_cache()
    return codes.mint_code(get_keyring(), batch["batch_number"], 3)


class _Server:
    def __init__(self, process: subprocess.Popen, base: str, log: Path, outbox: Path) -> None:
        self.process, self.base, self.log, self.outbox = process, base, log, outbox

    def wait_ready(self, timeout: float = 45.0) -> None:
        port = int(self.base.rsplit(":", 1)[1])
        deadline = time.monotonic() + timeout
        while not port_accepts_connections(port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"chalice local did not start on {self.base}:\n{self.log_tail()}", pytrace=False)
            time.sleep(0.1)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def otp_for(self, e164: str, after: int) -> str:
        """The code in the newest SMS to `e164` among the outbox lines after the first `after`."""
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            lines = self.outbox.read_text().splitlines() if self.outbox.exists() else []
            for line in reversed(lines[after:]):
                message = json.loads(line)
                if message["to"] == e164:
                    return re.search(r"\b(\d{6})\b", message["text"]).group(1)
            time.sleep(0.1)
        raise AssertionError(f"no SMS to {e164} in {self.outbox}; server log:\n{self.log_tail()}")

    def sent(self) -> int:
        return len(self.outbox.read_text().splitlines()) if self.outbox.exists() else 0


@pytest.fixture(scope="module")
def server(ddb_local: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Server]:
    """`chalice local --stage local` on a free port, against the session's DynamoDB Local.

    Not waited for here: it boots while the tables are made and the browser starts, and
    needs the tables only when the first request comes (call `wait_ready()` first).
    """
    work = tmp_path_factory.mktemp("landing")
    port = free_port()
    base = f"http://{HOST}:{port}"
    env = {name: value for name, value in os.environ.items() if name not in AWS_ENV_TO_CLEAR}
    env.update(local_aws_env())
    env.update({
        "STAGE": "local",
        "TABLE_PREFIX": STAGE_TABLE_PREFIX,
        "DYNAMODB_ENDPOINT": ddb_local,
        "PUBLIC_BASE_URL": base,
        "SMS_SENDER": "outbox",
        "OUTBOX_DIR": str(work / "outbox"),
    })
    chalice = Path(sys.executable).parent / "chalice"
    log = work / "chalice-local.log"
    with open(log, "wb") as handle:
        process = subprocess.Popen(
            [str(chalice), "local", "--stage", "local", "--host", HOST, "--port", str(port), "--no-autoreload"],
            cwd=str(REPO_ROOT), env=env, stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=parent_death_hook(),
        )
    running = _Server(process, base, log, work / "outbox" / "sms.jsonl")
    try:
        yield running
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            if process.poll() is not None:
                break
            try:
                os.killpg(process.pid, sig)
                process.wait(5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                continue


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    """Headless Debian Chromium emulating a 390x844 phone whose language is Vietnamese."""
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    work = tmp_path_factory.mktemp("chromium")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # Flags for this machine: no sandbox as root, and nothing that phones home, which a
    # closed network answers with refused connections.
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={work / 'profile'}", "--lang=vi"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": "vi-VN,vi"})
    options.add_experimental_option("mobileEmulation", {
        "deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 2, "touch": True},
        "userAgent": "Mozilla/5.0 (Linux; Android 13; SM-A045F) AppleWebKit/537.36 (KHTML, like Gecko) "
                     "Chrome/120.0 Mobile Safari/537.36",
    })
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=CHROMEDRIVER, log_output=str(work / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


def _get(url: str, headers: dict | None = None) -> tuple[int, dict, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode("utf-8")


def test_shopper_signs_in_and_claims_in_chromium(server: _Server, browser, code: str):
    server.wait_ready()
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    ARTIFACTS.mkdir(exist_ok=True)
    wait = WebDriverWait(browser, WAIT_SECONDS)

    def visible(element_id: str):
        try:
            return wait.until(EC.visibility_of_element_located((By.ID, element_id)))
        except Exception as exc:  # the server log says more than a bare timeout
            raise AssertionError(f"#{element_id} never became visible on {browser.current_url}; "
                                 f"page text:\n{browser.find_element(By.TAG_NAME, 'body').text}\n"
                                 f"server log:\n{server.log_tail()}") from exc

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
    browser.save_screenshot(str(ARTIFACTS / "landing-vi.png"))

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
    browser.save_screenshot(str(ARTIFACTS / "landing-otp.png"))
    visible("otp").send_keys(otp)
    browser.find_element(By.ID, "b-signin").click()
    assert text_of("who").startswith("Signed in as +84")

    # Claim: the page says what was granted and the new balance.
    visible("b-claim").click()
    assert text_of("r-title") == "Done! You got"
    assert text_of("r-what") == "10 points and 1 lucky-draw entry"
    assert text_of("r-balance") == "Your balance: 10 points and 1 lucky-draw entry."
    browser.save_screenshot(str(ARTIFACTS / "landing-granted.png"))

    # Scanning the same code again: English is remembered, the session too, and the
    # answer is the original grant, marked as already this shopper's.
    browser.get(f"{server.base}/S/{code}")
    wait.until(lambda d: page_language() == "en" and "lang=en" in d.current_url)
    visible("b-claim").click()
    assert text_of("r-title") == "This code is already yours"
    assert text_of("r-what") == "You claimed it before, so nothing new was added."
    assert text_of("r-balance") == "Your balance: 10 points and 1 lucky-draw entry."
    browser.save_screenshot(str(ARTIFACTS / "landing-replay.png"))

    # Another shopper (a Philippine number) is told plainly that the code is taken.
    browser.find_element(By.ID, "b-out").click()
    sign_in(PH_PHONE, "+639171234567")
    browser.find_element(By.ID, "b-claim").click()
    wait.until(lambda d: d.find_element(By.ID, "msg").text)
    assert text_of("msg") == "Someone else has already claimed this code."
    assert not browser.find_element(By.ID, "b-claim").is_displayed()  # trying again cannot help
    browser.save_screenshot(str(ARTIFACTS / "landing-taken.png"))

    # A forged code: the same look, the "not valid" message, no sign-in.
    forged = code[:-2] + ("0" if code[-2] != "0" else "1") + code[-1]
    browser.get(f"{server.base}/S/{forged}")
    wait.until(lambda d: page_language() == "en")
    assert browser.find_element(By.TAG_NAME, "h1").text == "This code is not valid"
    assert not browser.find_elements(By.ID, "phone")
    browser.save_screenshot(str(ARTIFACTS / "landing-invalid.png"))

    # Filipino, chosen with the switch on the page; the choice sticks for the next scan.
    browser.find_element(By.LINK_TEXT, "Filipino").click()
    wait.until(lambda d: page_language() == "fil")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Hindi valid ang code na ito"
    browser.get(f"{server.base}/S/{code}")
    wait.until(lambda d: page_language() == "fil")
    assert text_of("b-claim") == "I-claim ang reward ko"
    browser.save_screenshot(str(ARTIFACTS / "landing-fil.png"))

    # The page's policy blocked nothing of its own, and its script threw nothing.
    problems = [entry["message"] for entry in browser.get_log("browser")
                if "Content Security Policy" in entry["message"] or "Uncaught" in entry["message"]]
    assert not problems, problems


def test_landing_answers_are_html_in_every_case(server: _Server, code: str):
    server.wait_ready()
    status, headers, page = _get(f"{server.base}/s/{code.lower()}", {"Accept-Language": "fil-PH,fil;q=0.9"})
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "no-store" and "script-src 'sha256-" in headers["Content-Security-Policy"]
    assert '<html lang="fil">' in page and "I-claim ang reward ko" in page
    assert len(page.encode("utf-8")) < 50 * 1024
    status, headers, page = _get(f"{server.base}/S/NOT-A-CODE", {"Accept-Language": "en"})
    assert status == 404 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert "This code is not valid" in page and "<code>NOT-A-CODE</code>" in page
