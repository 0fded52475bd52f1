"""The turnover dashboard in a real browser: ECharts draws every chart, no console errors, and it works at 375 px.

Same fixtures and skip rules as tests/test_browser.py (Debian's headless Chromium through chromedriver).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from flask_migrate import upgrade

from marketplace.accounts.roles import Role
from marketplace.contracts.models import TechContract
from marketplace.extensions import db
from marketplace.stats import rollup
from tests.browser_support import chrome, requires_browser, serving, sign_in_with, site_app
from tests.factories import make_user

pytestmark = requires_browser


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    instance = tmp_path_factory.mktemp("browser-stats")
    app = site_app(instance)
    with app.app_context():
        upgrade()  # migrations seed the targets and the published figures
        admin = make_user(Role.ADMIN, org=None)
        districts = ["laoshan", "huangdao", "shinan", "outside"]
        for n in range(24):
            contract = TechContract(
                registration_no=f"B{n:04d}",
                registered_on=date(2023 + n % 3, 1 + n % 12, 10),
                project_name=f"浏览器测试合同{n}",
                contract_type=["development", "service", "transfer"][n % 3],
                tech_field="new_materials",
                contract_amount=Decimal(100_000 * (n + 1)),
                tech_amount=Decimal(80_000 * (n + 1)),
                seller_name=f"卖方{n % 5}",
                seller_kind=["university", "enterprise", "institute"][n % 3],
                seller_district=districts[n % 4],
                buyer_name=f"买方{n % 7}",
                buyer_kind="enterprise",
                buyer_district=districts[(n + 1) % 4],
                status="registered",
            )
            db.session.add(contract)
            db.session.flush()
            rollup.record_change(None, rollup.facts_of(contract))
        db.session.commit()
        email = admin.email
    with serving(app) as url:
        yield {"url": url, "email": email}


@pytest.fixture
def browser(tmp_path):
    driver = chrome(tmp_path / "profile", console_log=True)
    yield driver
    driver.quit()


def sign_in(browser, site) -> None:
    sign_in_with(browser, site["url"], site["email"])


def console_errors(browser) -> list[str]:
    # The site has no favicon (the browser asks for one on its own): not an error of the page's scripts.
    return [
        entry["message"]
        for entry in browser.get_log("browser")
        if entry["level"] == "SEVERE" and "favicon.ico" not in entry["message"]
    ]


def drawn_charts(browser) -> int:
    from selenium.webdriver.common.by import By

    return sum(
        1
        for chart in browser.find_elements(By.CSS_SELECTOR, "[data-chart]")
        if chart.find_elements(By.TAG_NAME, "canvas")
    )


def test_dashboard_draws_every_chart_without_console_errors(browser, site, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    sign_in(browser, site)
    browser.get(site["url"] + "/stats/?year=2024")
    charts = browser.find_elements(By.CSS_SELECTOR, "[data-chart]")
    assert len(charts) == 8  # every view but the two top-10 lists, which are tables
    WebDriverWait(browser, 10).until(lambda driver: drawn_charts(driver) == len(charts))
    assert browser.execute_script("return echarts.getInstanceByDom(document.querySelector('[data-chart]')) != null")
    cards = browser.find_elements(By.CSS_SELECTOR, "[data-target-state]")
    assert {card.get_attribute("data-target-state") for card in cards} >= {"passed"}  # the city, per 2024's figure
    browser.save_screenshot(str(tmp_path / "stats-dashboard.png"))
    assert console_errors(browser) == []

    Select(browser.find_element(By.ID, "stats-year")).select_by_value("2023")  # submits on change
    WebDriverWait(browser, 10).until(lambda driver: "year=2023" in driver.current_url)
    WebDriverWait(browser, 10).until(lambda driver: drawn_charts(driver) == 8)
    assert console_errors(browser) == []


def test_dashboard_and_summary_fit_a_phone(browser, site, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    sign_in(browser, site)
    browser.set_window_size(375, 800)
    for path in ("/stats/?year=2024", "/stats/summary"):
        browser.get(site["url"] + path)
        WebDriverWait(browser, 10).until(lambda driver: drawn_charts(driver) >= 1)
        overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 375px"
        assert browser.find_elements(By.CSS_SELECTOR, ".table-responsive .stats-table")
        browser.save_screenshot(str(tmp_path / f"stats-375{path.replace('/', '-')}.png"))
    assert console_errors(browser) == []
