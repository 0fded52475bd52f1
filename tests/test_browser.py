"""End to end in a real browser (Debian's headless Chromium through chromedriver).

The app is migrated with Alembic into a scratch SQLite file and served from a thread on a free
port; the browser signs in, searches, subscribes to a search, switches language and works the
brokers' dashboard, through the pages' own forms and scripts (CSRF on, as in production).

Chromium is a system package (`apt-get install chromium chromium-driver fonts-noto-cjk`); `.ci/run`
installs it when missing and sets REQUIRE_BROWSER_TESTS=1, so in CI a missing browser fails these
tests instead of skipping them. On a developer machine without it they say so and skip.
"""

from __future__ import annotations

import pytest
from flask_migrate import upgrade

from marketplace.accounts.roles import Role
from marketplace.discovery import outbox
from marketplace.discovery import services as discovery
from marketplace.extensions import db
from marketplace.matchmaking.models import MatchPair
from tests.browser_support import chrome, requires_browser, serving, sign_in_with, site_app
from tests.factories import make_listing, make_user

pytestmark = requires_browser


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    instance = tmp_path_factory.mktemp("browser-site")
    app = site_app(instance)
    with app.app_context():
        upgrade()
        discovery.ensure_index()
        people = {role: make_user(role) for role in (Role.ENTERPRISE, Role.BROKER)}
        demand = make_listing(
            "demand", owner=people[Role.ENTERPRISE], title="海水淡化浓盐水资源化利用", industry="marine_equipment"
        )
        achievement = make_listing(
            "achievement",
            title="反渗透浓海水选择性电渗析提锂技术",
            summary="从海水淡化浓盐水中提取锂",
            industry="marine_equipment",
            trl=6,
        )
        make_listing("achievement", title="船舶压载水处理系统", industry="marine_equipment")
        outbox.drain(discovery.backend())
        db.session.add(
            MatchPair(
                demand_id=demand.id,
                achievement_id=achievement.id,
                score=91,
                reasons=[{"code": "industry_same", "params": {"industry": "marine_equipment"}}],
            )
        )
        db.session.commit()
        emails = {role: user.email for role, user in people.items()}
    with serving(app) as url:
        yield {"url": url, "emails": emails, "app": app}


@pytest.fixture
def browser(tmp_path):
    driver = chrome(tmp_path / "profile")
    yield driver
    driver.quit()


def sign_in(browser, site, role: str) -> None:
    sign_in_with(browser, site["url"], site["emails"][role])


def flash_text(browser) -> str:
    from selenium.webdriver.common.by import By

    return " ".join(alert.text for alert in browser.find_elements(By.CSS_SELECTOR, "[role=alert]"))


def test_enterprise_searches_subscribes_and_reads_in_english(browser, site, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    sign_in(browser, site, Role.ENTERPRISE)
    query = browser.find_element(By.CSS_SELECTOR, "nav input[name=q]")
    query.send_keys("浓盐水 提锂", Keys.ENTER)
    cards = browser.find_elements(By.CSS_SELECTOR, ".listing-card")
    assert [card.find_element(By.TAG_NAME, "h3").text for card in cards] == ["反渗透浓海水选择性电渗析提锂技术"]
    assert browser.find_elements(By.CSS_SELECTOR, ".listing-card mark")  # the matched words are highlighted

    browser.find_element(By.XPATH, "//button[contains(., '订阅此搜索')]").click()
    assert "已订阅「浓盐水 提锂」" in flash_text(browser)
    browser.get(site["url"] + "/subscriptions/")
    assert "浓盐水 提锂" in browser.find_element(By.TAG_NAME, "table").text

    browser.find_element(By.LINK_TEXT, "English").click()
    assert "My subscriptions" in browser.find_element(By.TAG_NAME, "h1").text
    browser.save_screenshot(str(tmp_path / "subscriptions-en.png"))


def test_broker_follows_up_a_strong_pair(browser, site, tmp_path):
    from selenium.webdriver.common.by import By

    sign_in(browser, site, Role.BROKER)
    browser.get(site["url"] + "/matchmaking/")
    browser.save_screenshot(str(tmp_path / "matchmaking.png"))
    pair = browser.find_element(By.CSS_SELECTOR, ".match-pair")
    assert "海水淡化浓盐水资源化利用" in pair.text and "91" in pair.text
    pair.find_element(By.XPATH, ".//button[contains(., '跟进')]").click()
    assert "已加入跟进" in flash_text(browser)
    assert not browser.find_elements(By.CSS_SELECTOR, ".match-pair")  # it left the "new" tab
    browser.find_element(By.PARTIAL_LINK_TEXT, "跟进中").click()
    assert "海水淡化浓盐水资源化利用" in browser.find_element(By.CSS_SELECTOR, ".match-pair").text
