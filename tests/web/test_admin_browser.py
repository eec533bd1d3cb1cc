"""/admin in a real headless Chromium (Debian's chromium and chromium-driver, via Selenium),
against the service started by its Procfile: log in, find an unanswered question, try a
message, and send a dead reply again. The screenshot in docs/ comes from this test."""

from __future__ import annotations

import base64
import os
import random
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.helpers import ROOT, USER_PATH, WEBHOOK_TOKEN, lead_part, wait_for, webhook_form
from tests.running import Service

PASSWORD = "browser-test-password"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
REPLY_PATH = re.compile(r"^/conversations/\d+/reply$")

pytestmark = pytest.mark.gunicorn


def browser_missing() -> str | None:
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        return "needs Debian's chromium and chromium-driver (.ci/run installs them)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "needs selenium (pip install -e '.[test]')"
    return None


@pytest.fixture
def browser() -> Iterator[object]:
    reason = browser_missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,1500",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=DriverService(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def service(tmp_path: Path, httpserver: HTTPServer) -> Iterator[tuple[Service, list[str]]]:
    refused: list[str] = []

    def api(request: Request) -> Response:
        # The first reply in conversation 4040 is refused for good: it becomes a dead reply.
        if request.path == "/conversations/4040/reply" and not refused:
            refused.append(request.path)
            return Response('{"meta": {"status": 400, "error": "ValidationError"}}', status=400)
        return Response('{"meta": {"status": 200}}', content_type="application/json")

    httpserver.expect_request(USER_PATH).respond_with_json({"data": {"props": {}}})
    httpserver.expect_request(REPLY_PATH).respond_with_handler(api)
    env = {
        "DASHLY_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
        "DASHLY_API_TOKEN": "browser-test-key",
        "DASHLY_API_URL": httpserver.url_for("/").rstrip("/"),
        "ADMIN_PASSWORD": PASSWORD,
    }
    running = Service.in_folder(tmp_path / "dyno", env).start()
    base = random.randrange(10**8, 10**9)
    texts = [
        ("Hello, how are you", 4001),
        ("Do you have a student discount?", 4002),
        ("is there a discount for students", 4003),
        ("Student discount available?", 4004),
        ("Can I pay by card?", 4005),
        ("how much does it cost?", 4006),
        ("hello", 4040),
    ]
    for offset, (text, conversation) in enumerate(texts):
        part = lead_part(text, part_id=base + offset, conversation=conversation)
        assert running.post(webhook_form(part)).status_code == 200
    wait_for(lambda: refused, timeout=10)
    yield running, refused
    running.stop()


def test_admin_page_in_a_real_browser(browser, service, httpserver: HTTPServer, tmp_path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import WebDriverWait

    def find(element_id: str):
        """The element once the page that has it has loaded (a click starts a navigation)."""
        return WebDriverWait(browser, 15).until(
            shown.presence_of_element_located((By.ID, element_id))
        )

    running, _ = service
    credentials = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
    # Basic auth as a browser sends it once the user typed the password.
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd(
        "Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Basic {credentials}"}}
    )
    browser.get(running.url + "/admin")
    assert "Dashly auto-responder" in browser.find_element(By.TAG_NAME, "h1").text

    questions = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "td.question")]
    assert any("discount" in q.lower() for q in questions)
    assert find("unanswered").text == "4"

    screenshot = tmp_path / "admin.png"
    browser.save_screenshot(str(screenshot))
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):
        shutil.copy(screenshot, ROOT / "docs" / "admin.png")

    box = browser.find_element(By.NAME, "text")
    box.send_keys("how much is the price list?")
    browser.find_element(By.ID, "try-button").click()
    result = find("try-result").text
    assert "Rule pricing would answer" in result

    browser.find_element(By.CSS_SELECTOR, "button.send-again").click()
    assert "is queued to be sent again" in find("notice").text
    wait_for(
        lambda: [
            r
            for r, resp in httpserver.log
            if r.path == "/conversations/4040/reply" and resp.status_code == 200
        ],
        timeout=10,
    )
