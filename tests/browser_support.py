"""Plumbing shared by the browser tests: the chromedriver check, a migrated app served from a thread,
headless Chromium, and signing in through the login form.

Chromium is a system package (`apt-get install chromium chromium-driver fonts-noto-cjk`); `.ci/run`
installs it when missing and sets REQUIRE_BROWSER_TESTS=1, so in CI a missing browser fails these
tests instead of skipping them. On a developer machine without it they say so and skip.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from marketplace import create_app
from tests.factories import PASSWORD

CHROMEDRIVER = shutil.which("chromedriver")
if CHROMEDRIVER is None and os.environ.get("REQUIRE_BROWSER_TESTS") == "1":
    pytest.fail("REQUIRE_BROWSER_TESTS=1 but chromedriver is not installed", pytrace=False)
requires_browser = pytest.mark.skipif(CHROMEDRIVER is None, reason="Chromium/chromedriver not installed (apt-get)")


def site_app(instance: Path):
    """The app on a scratch SQLite file in ``instance``, configured as a developer runs it (CSRF on)."""
    return create_app(
        {
            "ENV": "development",
            "INSTANCE_PATH": str(instance),
            "MAIL_BACKEND": "memory",
            "DATABASE_URL": f"sqlite:///{instance / 'site.db'}",
            "SECRET_KEY": "browser-tests",
        }
    )


@contextmanager
def serving(app) -> Iterator[str]:
    """Serve ``app`` from a thread on a free port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def chrome(profile: Path, console_log: bool = False):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    if console_log:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    return driver


def sign_in_with(browser, url: str, email: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url + "/account/login")
    browser.find_element(By.NAME, "email").send_keys(email)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda driver: "/account/login" not in driver.current_url)
