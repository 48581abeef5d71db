"""What the Chromium tests share: `chalice local` on DynamoDB Local, headless Chromium, page lookups and screenshots."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters import models, records, tables
from chalicelib.config import Settings, get_settings
from chalicelib.services import batches, campaigns
from scripts.dev import chalice_command
from scripts.dynamodb_local import (
    AWS_ENV_TO_CLEAR,
    HOST,
    REPO_ROOT,
    free_port,
    local_aws_env,
    port_accepts_connections,
    spawn,
    stop_group,
)
from tests.support import VALID_CAMPAIGN, with_draw_line

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = REPO_ROOT / "test-artifacts"
# `chalice local --stage local` copies the stage's environment over its own, so the
# server always reads TABLE_PREFIX=qrc-local from .chalice/config.json whatever the test
# sets: the tables must carry that prefix. They live on the session's in-memory engine,
# which only this test process can see, never on the dev stack's data in .local/.
STAGE_TABLE_PREFIX = "qrc-local"
WAIT_SECONDS = 15
# Flags for this machine: no sandbox as root, and nothing that phones home, which a
# closed network answers with refused connections.
_CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def require_chromium(test_name: str) -> None:
    """Fail `test_name` (e.g. "the dashboard browser test") plainly when Chromium or selenium is missing."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        pytest.fail(
            f"{test_name} needs Debian's chromium and chromium-driver ({', '.join(missing)} "
            "missing): run `bash scripts/setup.sh --browser` (as root it installs them with apt)",
            pytrace=False,
        )
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.fail("selenium is not installed in .venv: run `bash scripts/setup.sh`", pytrace=False)


@contextlib.contextmanager
def chromium(
    work: Path, test_name: str, flags: Sequence[str] = (), experimental: dict[str, Any] | None = None
) -> Iterator[Any]:
    """A headless Debian Chromium WebDriver with its profile and chromedriver log in `work`.

    `flags` come after the common ones; `experimental` maps Chrome option names (prefs,
    mobileEmulation) to their values. The browser's console log is kept for checks.
    """
    require_chromium(test_name)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*_CHROMIUM_FLAGS, f"--user-data-dir={work / 'profile'}", *flags):
        options.add_argument(flag)
    for name, value in (experimental or {}).items():
        options.add_experimental_option(name, value)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=CHROMEDRIVER, log_output=str(work / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def stage_tables(ddb_local: str) -> Iterator[Settings]:
    """The qrc-local tables on the session's DynamoDB Local, bound in this process for seeding."""
    settings = Settings.from_environ(
        {
            "STAGE": "local",
            "TABLE_PREFIX": STAGE_TABLE_PREFIX,
            "DYNAMODB_ENDPOINT": ddb_local,
            "AWS_REGION": "us-east-1",
        }
    )
    models.bind(settings)
    try:
        created = tables.create_tables()
        if len(created) != len(models.ALL_MODELS):
            pytest.fail(
                f"{STAGE_TABLE_PREFIX}-* tables already existed on {ddb_local}: another test left them", pytrace=False
            )
        yield settings
    finally:
        try:
            tables.delete_tables()
        finally:
            models.bind(get_settings())


def seed_active_campaign(brand: str, name: str, *batch_bodies: dict) -> tuple[str, list[int]]:
    """An active campaign (window around now, 10 points and 1 entry a scan) with one active batch per body.

    Returns the campaign's id and the batches' numbers; call it once `stage_tables` is bound.
    """
    body = copy.deepcopy(with_draw_line(VALID_CAMPAIGN))
    now = datetime.now(UTC)
    body.update(
        name=name,
        starts_at=(now - timedelta(days=1)).isoformat(),
        ends_at=(now + timedelta(days=30)).isoformat(),
        rules={"points_per_scan": 10, "entries_per_scan": 1},
    )
    campaign_id = campaigns.create_campaign(brand, "op", body)["campaign_id"]
    campaigns.change_campaign_status(brand, campaign_id, "op", {"status": "active"})
    numbers = []
    for batch_body in batch_bodies:
        batch = batches.mint_batch(brand, campaign_id, "op", batch_body)
        batches.change_batch_status(brand, batch["batch_id"], "op", {"status": "active"})
        numbers.append(batch["batch_number"])
    records.clear_cache()
    return campaign_id, numbers


class ChaliceLocal:
    """A running `chalice local`: its base URL, its log and the outbox its SMS go to."""

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
def server(ddb_local: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChaliceLocal]:
    """The dev stack's `chalice local --stage local` (scripts/local_api.py) on a free port, against the session's DynamoDB Local.

    Not waited for here: it boots while the tables are made and the browser starts, and
    needs the tables only when the first request comes (call `wait_ready()` first).
    """
    work = tmp_path_factory.mktemp("chalice-local")
    port = free_port()
    base = f"http://{HOST}:{port}"
    env = {name: value for name, value in os.environ.items() if name not in AWS_ENV_TO_CLEAR}
    env.update(local_aws_env())
    env.update(
        {
            "STAGE": "local",
            "TABLE_PREFIX": STAGE_TABLE_PREFIX,
            "DYNAMODB_ENDPOINT": ddb_local,
            "PUBLIC_BASE_URL": base,
            "SMS_SENDER": "outbox",
            "OUTBOX_DIR": str(work / "outbox"),
        }
    )
    log = work / "chalice-local.log"
    with open(log, "wb") as handle:
        # The dev stack's own command, so the tests meet the server shoppers' phones meet.
        process = spawn(chalice_command(port), env=env, log=handle)
    running = ChaliceLocal(process, base, log, work / "outbox" / "sms.jsonl")
    try:
        yield running
    finally:
        stop_group(process)


def http_get(url: str, headers: dict | None = None) -> tuple[int, dict, str]:
    """Status, headers and body of a GET, error statuses included."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode("utf-8")


def http_send(url: str, method: str, body: dict | str, headers: dict) -> tuple[int, Any]:
    """Status and decoded JSON answer of a request with a JSON (dict) or text (str) body."""
    data = body.encode("utf-8") if isinstance(body, str) else json.dumps(body).encode("utf-8")
    kind = "text/csv" if isinstance(body, str) else "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": kind, **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


class BrowserSession:
    """The driver and the server of one browser test, with the waits and checks every such test makes.

    Made at the start of the test: waits for the server and makes the screenshot folder.
    """

    def __init__(self, driver: Any, server: ChaliceLocal) -> None:
        server.wait_ready()
        from selenium.webdriver.support.ui import WebDriverWait

        ARTIFACTS.mkdir(exist_ok=True)
        self.driver, self.server = driver, server
        self.wait = WebDriverWait(driver, WAIT_SECONDS)

    def sign_in(self, phone: str, e164: str) -> None:
        """On a shopper page's phone step: type the number, tick the notice, send, type the SMS's code, sign in."""
        from selenium.webdriver.common.by import By

        self.visible("phone").send_keys(phone)
        before = self.server.sent()
        accept_notice(self.driver)
        self.driver.find_element(By.ID, "b-send").click()
        self.visible("otp").send_keys(self.server.otp_for(e164, before))
        self.driver.find_element(By.ID, "b-signin").click()

    def visible(self, element_id: str) -> Any:
        """The element with this id once visible; a failure shows the page text and the server log."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as EC

        try:
            return self.wait.until(EC.visibility_of_element_located((By.ID, element_id)))
        except Exception as exc:  # the page and the server log say more than a bare timeout
            raise AssertionError(
                f"#{element_id} never became visible on {self.driver.current_url}; page text:\n"
                f"{self.driver.find_element(By.TAG_NAME, 'body').text}\n"
                f"server log:\n{self.server.log_tail()}"
            ) from exc

    def screenshot(self, name: str) -> None:
        """Save the page as test-artifacts/`name`."""
        self.driver.save_screenshot(str(ARTIFACTS / name))

    def assert_console_clean(self) -> None:
        """The page's policy blocked nothing of its own, and its script threw nothing."""
        problems = [
            entry["message"]
            for entry in self.driver.get_log("browser")
            if "Content Security Policy" in entry["message"] or "Uncaught" in entry["message"]
        ]
        assert not problems, problems


def accept_notice(browser) -> None:
    """Tick the sign-in notice's box (once: a tick on a ticked box would clear it)."""
    from selenium.webdriver.common.by import By

    box = browser.find_element(By.ID, "accept")
    if not box.is_selected():
        box.click()
