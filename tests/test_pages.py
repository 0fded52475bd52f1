"""Every page each role can reach renders, error pages speak Chinese, the language switch, money display."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest

from marketplace.core.models import utcnow
from marketplace.core.money import format_money, format_money_range
from marketplace.extensions import db
from marketplace.listings import services as listing_services
from marketplace.messaging import services as messaging_services
from tests.factories import login, make_listing, make_user

ROLES = ("researcher", "enterprise", "service_provider", "investor", "broker", "admin")


@pytest.fixture
def site(app):
    """A small populated platform: users of every role, listings of each kind in several states,
    an inquiry thread, a favourite, notifications and audit rows (made through the services)."""
    users = {role: make_user(role, org=role not in ("broker", "admin")) for role in ROLES}
    pending = make_user("investor", verified=False)
    researcher, enterprise, admin = users["researcher"], users["enterprise"], users["admin"]

    achievement = listing_services.create_listing(
        researcher,
        "achievement",
        {
            "title": "深远海养殖工船水质监测系统",
            "summary": "多参数在线监测。",
            "industry": "marine_equipment",
            "trl": "7",
            "price_cny": "1500000",
            "cooperation_modes": ["transfer", "license"],
            "keywords": "水质，监测",
        },
    )
    listing_services.submit(researcher, achievement)
    listing_services.approve(admin, achievement)
    demand = listing_services.create_listing(
        enterprise,
        "demand",
        {
            "title": "家电钣金件视觉检测需求",
            "description": "检测划痕与凹坑。",
            "industry": "smart_appliances",
            "min_trl": "5",
            "budget_min_cny": "200000",
            "budget_max_cny": "800000",
        },
    )
    listing_services.submit(enterprise, demand)
    listing_services.approve(admin, demand)
    challenge = make_listing(
        "demand",
        owner=enterprise,
        title="氢燃料电池双极板揭榜",
        challenge=True,
        bounty_cny=Decimal("5000000"),
        budget_min_cny=Decimal("1000000"),
        budget_max_cny=Decimal("6000000"),
        industry="hydrogen_storage",
        deadline=(utcnow() + timedelta(days=60)).date(),
    )
    draft = listing_services.create_listing(
        researcher,
        "achievement",
        {
            "title": "尚未提交的草稿成果",
            "summary": "草稿。",
            "industry": "new_materials",
        },
    )
    submitted = listing_services.create_listing(
        researcher,
        "achievement",
        {
            "title": "等待审核的成果",
            "summary": "待审。",
            "industry": "aerospace",
        },
    )
    listing_services.submit(researcher, submitted)
    for n in range(3):
        make_listing("achievement", title=f"批量导入成果{n}", price_cny=Decimal(10_000 * (n + 1)), trl=n + 2)
        make_listing("demand", title=f"批量导入需求{n}", budget_max_cny=Decimal(50_000 * (n + 1)))
    db.session.flush()
    messaging_services.send_inquiry(enterprise, achievement, "请问是否支持小批量试用？")
    listing_services.toggle_favourite(researcher, demand)
    db.session.commit()
    return {
        "users": users,
        "pending_org": pending.organisation.name,
        "ids": {
            "achievement": achievement.id,
            "demand": demand.id,
            "challenge": challenge.id,
            "draft": draft.id,
            "submitted": submitted.id,
        },
    }


PUBLIC = ("anonymous", *ROLES)
SIGNED_IN = ROLES
# Bulk import: organisation admins of the kinds that publish listings (capability listing.import).
IMPORTERS = ("researcher", "enterprise", "admin")

# path (with {placeholders} for listing ids), who may open it, and text that must be on the page.
PAGES = [
    ("/", PUBLIC, "深远海养殖工船水质监测系统"),
    ("/achievements", PUBLIC, "深远海养殖工船水质监测系统"),
    (
        "/achievements?industry=marine_equipment&trl_min=6&trl_max=9&amount_min=100&sort=price_desc",
        PUBLIC,
        "深远海养殖工船水质监测系统",
    ),
    ("/achievements?q=不存在的关键词", PUBLIC, "没有符合条件的信息"),
    ("/achievements?page=99", PUBLIC, None),
    ("/demands", PUBLIC, "家电钣金件视觉检测需求"),
    ("/demands?challenge=1&sort=deadline", PUBLIC, "氢燃料电池双极板揭榜"),
    (
        "/demands?industry=smart_appliances&amount_min=30&amount_max=100&mode=&sort=budget_desc",
        PUBLIC,
        "家电钣金件视觉检测需求",
    ),
    ("/listings/{achievement}", PUBLIC, "150万元"),
    ("/listings/{demand}", PUBLIC, "20万元 – 80万元"),
    ("/listings/{challenge}", PUBLIC, "500万元"),
    ("/healthz", PUBLIC, '"status"'),
    ("/dashboard", SIGNED_IN, "工作台"),
    ("/my/listings", SIGNED_IN, None),
    ("/my/listings?kind=achievement&status=draft", SIGNED_IN, None),
    ("/my/favourites", SIGNED_IN, None),
    ("/messages/", SIGNED_IN, None),
    ("/notifications/", SIGNED_IN, None),
    ("/account/profile", SIGNED_IN, "修改密码"),
    ("/account/organisation", SIGNED_IN, "我的机构"),
    ("/listings/new/achievement", ("researcher", "admin"), "发布科技成果"),
    ("/listings/new/demand", ("enterprise", "admin"), "发布技术需求"),
    ("/listings/{achievement}/edit", ("researcher", "admin"), "深远海养殖工船水质监测系统"),
    ("/listings/{demand}/edit", ("enterprise", "admin"), "家电钣金件视觉检测需求"),
    ("/listings/{draft}", ("researcher", "admin"), "尚未提交的草稿成果"),
    ("/listings/{draft}/edit", ("researcher", "admin"), "尚未提交的草稿成果"),
    ("/listings/import", IMPORTERS, None),
    ("/admin/review", ("admin",), "等待审核的成果"),
    ("/admin/review/{submitted}", ("admin",), "等待审核的成果"),
    ("/admin/organisations", ("admin",), "{pending_org}"),
    ("/admin/users", ("admin",), None),
    ("/admin/audit", ("admin",), None),
]

# Content that depends on whose page it is.
OWN_CONTENT = {
    ("/my/listings", "researcher"): "尚未提交的草稿成果",
    ("/my/listings", "enterprise"): "家电钣金件视觉检测需求",
    ("/my/listings?kind=achievement&status=draft", "researcher"): "尚未提交的草稿成果",
    ("/my/favourites", "researcher"): "家电钣金件视觉检测需求",
    ("/messages/", "researcher"): "深远海养殖工船水质监测系统",
    ("/messages/", "enterprise"): "深远海养殖工船水质监测系统",
    ("/notifications/", "researcher"): "已通过审核",
    ("/notifications/", "admin"): "已提交，等待审核",
    ("/admin/users", "admin"): "@example.cn",
    ("/admin/audit", "admin"): "审核通过",
}

CASES = [(path, role, marker) for path, roles, marker in PAGES for role in roles]


@pytest.mark.parametrize(("path", "role", "marker"), CASES, ids=[f"{role}:{path}" for path, role, _m in CASES])
def test_page_role_can_reach_renders_200(client, site, path, role, marker):
    if role != "anonymous":
        login(client, site["users"][role])
    url = path.format(**site["ids"])

    response = client.get(url)

    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    page = response.get_data(as_text=True)
    if marker:
        assert marker.format(pending_org=site["pending_org"]) in page
    own = OWN_CONTENT.get((path, role))
    if own:
        assert own in page
    if path != "/healthz":
        assert '<html lang="zh-CN">' in page
        assert "Traceback" not in page


@pytest.mark.parametrize("path", ["/my/listings", "/my/favourites"])
def test_page_other_users_content_is_not_listed(client, site, path):
    login(client, site["users"]["investor"])

    page = client.get(path).get_data(as_text=True)

    assert "尚未提交的草稿成果" not in page
    assert "家电钣金件视觉检测需求" not in page


# --- error pages ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/no-such-page", "/listings/999999", "/listings/999999/edit"])
def test_error_page_missing_is_404_in_chinese(client, app, path):
    login(client, make_user("admin", org=None))

    response = client.get(path)

    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "页面不存在" in page
    assert "Not Found" not in page


def test_error_page_forbidden_is_403_in_chinese(client, app):
    login(client, make_user("researcher"))

    response = client.get("/admin/review")

    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "没有权限" in page
    assert "Forbidden" not in page
    assert "You don't have" not in page


def test_error_page_json_client_gets_json(client, app):
    response = client.get("/no-such-page", headers={"Accept": "application/json"})

    assert response.status_code == 404
    assert response.json["status"] == 404
    assert response.json["error"] == "页面不存在"


def test_error_page_wrong_method_is_405_in_chinese(client, app):
    response = client.get("/account/logout")

    assert response.status_code == 405
    assert "不支持的请求方式" in response.get_data(as_text=True)


# --- language ---------------------------------------------------------------------------------


def _html_lang(page: str) -> str:
    match = re.search(r'<html lang="([^"]+)"', page)
    assert match, page[:300]
    return match.group(1)


def test_lang_default_is_chinese(client, app):
    assert _html_lang(client.get("/").get_data(as_text=True)) == "zh-CN"


def test_lang_query_argument_switches_one_page_to_english(client, app):
    assert _html_lang(client.get("/?lang=en").get_data(as_text=True)) == "en"
    assert _html_lang(client.get("/").get_data(as_text=True)) == "zh-CN"


def test_lang_switch_route_keeps_english_for_the_session(client, app):
    response = client.get("/lang/en")

    assert response.status_code == 302
    assert _html_lang(client.get("/").get_data(as_text=True)) == "en"
    assert _html_lang(client.get("/achievements").get_data(as_text=True)) == "en"
    client.get("/lang/zh_CN")
    assert _html_lang(client.get("/").get_data(as_text=True)) == "zh-CN"


def test_lang_unsupported_locale_is_ignored(client, app):
    client.get("/lang/fr")

    assert _html_lang(client.get("/").get_data(as_text=True)) == "zh-CN"
    assert _html_lang(client.get("/?lang=xx").get_data(as_text=True)) == "zh-CN"


def test_lang_english_shows_english_taxonomy_labels(client, app):
    make_listing("achievement", title="英文标签测试", industry="marine_equipment")

    page = client.get("/achievements?lang=en").get_data(as_text=True)

    assert "Shipbuilding &amp; offshore equipment" in page


def test_lang_switch_redirects_back_only_to_referrer(client, app):
    response = client.get("/lang/en", headers={"Referer": "http://localhost/demands"})

    assert response.headers["Location"] in ("http://localhost/demands", "/demands")


# --- money ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (None, "面议"),
        (0, "0元"),
        (Decimal("0.50"), "0.5元"),
        (9_999, "9,999元"),
        (Decimal("9999.99"), "9,999.99元"),
        (10_000, "1万元"),
        (15_000, "1.5万元"),
        (Decimal("12345.67"), "1.23万元"),
        (1_500_000, "150万元"),
        (99_994_999, "9,999.5万元"),
        (99_999_999, "1亿元"),  # rounds to 10,000万: must read as 1亿, not "10,000万元"
        (100_000_000, "1亿元"),
        (150_000_000, "1.5亿元"),
        (Decimal("123456789012"), "1,234.57亿元"),
    ],
)
def test_format_money_amount_shows_chinese_units(app, amount, shown):
    assert format_money(amount) == shown


def test_format_money_none_with_custom_negotiable_text(app):
    assert format_money(None, negotiable="价格面谈") == "价格面谈"


@pytest.mark.parametrize(
    ("low", "high", "shown"),
    [
        (None, None, "面议"),
        (None, 500_000, "不超过50万元"),
        (200_000, None, "20万元起"),
        (300_000, 300_000, "30万元"),
        (200_000, 800_000, "20万元 – 80万元"),
    ],
)
def test_format_money_range_shows_bounds(app, low, high, shown):
    assert format_money_range(low, high) == shown
