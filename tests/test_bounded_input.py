"""No query string, however hostile, makes a page answer 500: arguments are clamped, ignored or a 4xx."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from marketplace.alerts import services as alert_services
from marketplace.alerts.models import SavedSearch
from marketplace.core.models import utcnow
from marketplace.discovery import outbox
from marketplace.discovery import services as discovery
from marketplace.extensions import db
from marketplace.listings.fields import clean_listing
from marketplace.listings.interchange import import_lines
from marketplace.listings.models import Listing
from marketplace.listings.queries import BrowseFilters
from marketplace.messaging import services as messaging_services
from tests.factories import login, make_listing, make_user, run_as_job

HUGE = "9" * 400
# (argument values that once answered 500 or might: overflowing ints, floats beyond double, NaN,
# negatives, very long text, a NUL byte (PostgreSQL refuses it in text) and non-UTF-8 escapes)
HOSTILE_VALUES = [
    "99999999999999999999",
    HUGE,
    "1e309",
    "-1e309",
    "NaN",
    "Infinity",
    "-1",
    "0",
    "x" * 5000,
    "%00",
    "a%00b",
    "%ff%fe",
    "%c3%28",
    "１２",
]

# Every page with a page number, who may see it (one role is enough), and its path.
PAGINATED = [
    ("anonymous", "/achievements"),
    ("anonymous", "/demands"),
    ("researcher", "/my/listings"),
    ("researcher", "/my/favourites"),
    ("researcher", "/messages/"),
    ("researcher", "/notifications/"),
    ("researcher", "/subscriptions/"),
    ("broker", "/matchmaking/"),
    ("admin", "/admin/review"),
    ("admin", "/admin/organisations"),
    ("admin", "/admin/users"),
    ("admin", "/admin/audit"),
    ("admin", "/admin/contracts/"),
    ("broker", "/deals/pipeline/table"),
    ("broker", "/deals/mine"),  # /deals/pool shares deals/list.html
    ("admin", "/admin/brokers"),
    ("anonymous", "/brokers"),
]


@pytest.fixture
def people(app):
    researcher = make_user("researcher")
    enterprise = make_user("enterprise")
    users = {"researcher": researcher, "broker": make_user("broker", org=None), "admin": make_user("admin", org=None)}
    achievement = make_listing("achievement", owner=researcher, title="海水淡化反渗透膜")
    demand = make_listing("demand", owner=enterprise, title="冷链车厢隔热需求")
    messaging_services.send_inquiry(enterprise, achievement, "请问价格？")
    db.session.commit()
    return users, {"achievement": achievement.id, "demand": demand.id}


def _get(client, path: str, query: str):
    # Built by hand: the test client would re-encode the escapes we mean to send raw.
    return client.get(f"{path}?{query}")


@pytest.mark.parametrize(("role", "path"), PAGINATED, ids=[path for _role, path in PAGINATED])
def test_paginated_page_huge_page_number_not_500(client, people, role, path):
    users, _ids = people
    if role != "anonymous":
        login(client, users[role])

    for page in ("99999999999999999999", HUGE, "-5", "1e309", "NaN"):
        response = _get(client, path, f"page={page}")

        assert response.status_code < 500, f"{path}?page={page[:30]} answered {response.status_code}"


def test_paginated_routes_cover_every_page_with_pagination(app: Flask):
    """A new paginated page must join PAGINATED (and so the test above)."""
    import pathlib
    import re

    templates = pathlib.Path(app.root_path).parent / "templates"
    with_pagination = {
        path.relative_to(templates).as_posix()
        for path in templates.rglob("*.html")
        if re.search(r"\{\{\s*pagination\(", path.read_text(encoding="utf-8"))
    }
    # /achievements and /demands share listings/browse.html.
    assert len(with_pagination) == len(PAGINATED) - 1, sorted(with_pagination)


def _get_routes(app: Flask, ids: dict[str, int]) -> list[str]:
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        values = {}
        for argument in rule.arguments:
            if argument == "kind":
                values[argument] = "achievement"
            elif argument == "locale":
                values[argument] = "en"
            elif argument == "listing_id":
                values[argument] = ids["achievement"]
            else:
                values[argument] = 1
        paths.append(rule.build(values, append_unknown=False)[1])
    return sorted(set(paths))


ARGUMENTS = [
    "page",
    "q",
    "trl_min",
    "trl_max",
    "amount_min",
    "amount_max",
    "sort",
    "industry",
    "institution",
    "status",
    "kind",
    "role",
    "object_type",
    "min_score",
    "limit",
    "invite",
    "next",
    "lang",
]


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_get_routes_hostile_query_strings_not_500(client, app, people, value):
    users, ids = people
    login(client, users["admin"])
    query = "&".join(f"{name}={value}" for name in ARGUMENTS)

    for path in _get_routes(app, ids):
        response = _get(client, path, query)

        assert response.status_code < 500, f"{path}?…={value[:30]} answered {response.status_code}"


@pytest.mark.parametrize("path", ["/achievements", "/demands"])
@pytest.mark.parametrize("argument", ["amount_min", "amount_max", "trl_min", "trl_max", "sort", "q"])
def test_browse_single_hostile_argument_not_500(client, people, path, argument):
    for value in HOSTILE_VALUES:
        response = _get(client, path, f"{argument}={value}")

        assert response.status_code < 500, f"{path}?{argument}={value[:30]} answered {response.status_code}"


@pytest.mark.parametrize("raw", ["1e309", HUGE, "-1e309", "NaN", "Infinity", "sNaN", "x" * 5000])
def test_browse_filters_out_of_range_amount_ignored_and_reported(raw):
    filters = BrowseFilters.from_args({"amount_min": raw, "amount_max": raw})

    assert filters.amount_min is None and filters.amount_max is None
    assert set(filters.invalid) == {"amount_min", "amount_max"}


def test_browse_filters_reasonable_values_kept():
    filters = BrowseFilters.from_args({"amount_min": "30", "amount_max": "1.5", "trl_min": "3", "q": "膜\x00"})

    assert filters.amount_min == 300_000 and filters.amount_max == 15_000
    assert filters.trl_min == 3
    assert filters.q == "膜"
    assert filters.invalid == []


# --- listing numbers (clean_listing: the form, the importer and the API) --------------------------


@pytest.mark.parametrize(
    "raw", [float("inf"), float("-inf"), float("nan"), 10**400, "1e309", "NaN", "Infinity", "9" * 5000, 7.5, 0, 10]
)
def test_clean_listing_bad_min_trl_field_error(app, raw):
    cleaned = clean_listing("demand", {"title": "需求", "description": "说明", "industry": "aerospace", "min_trl": raw})

    assert cleaned.errors == {"min_trl": "技术成熟度应为 1–9 的整数"}


@pytest.mark.parametrize("raw", [7, 7.0, "7", " 7 ", "7.0"])
def test_clean_listing_whole_trl_accepted(app, raw):
    cleaned = clean_listing("achievement", {"title": "成果", "summary": "摘要", "industry": "aerospace", "trl": raw})

    assert cleaned.ok and cleaned.values["trl"] == 7


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (float("nan"), "金额格式不正确"),
        (float("inf"), "金额格式不正确"),
        ("Infinity", "金额格式不正确"),
        ("1e309", "金额超出范围"),
        (10**400, "金额超出范围"),
        ("-5", "金额不能为负数"),
    ],
)
def test_clean_listing_bad_amount_field_error(app, raw, message):
    cleaned = clean_listing(
        "achievement", {"title": "成果", "summary": "摘要", "industry": "aerospace", "price_cny": raw}
    )

    assert cleaned.errors == {"price_cny": message}


def test_import_line_infinite_or_nan_number_is_line_error_not_500(app):
    base = '{"kind": "demand", "external_id": "D-%d", "title": "需求", "description": "说明", "industry": "aerospace"'
    payload = [
        base % 1 + ', "min_trl": Infinity}\n',
        base % 2 + ', "min_trl": NaN}\n',
        base % 3 + ', "budget_max_cny": -Infinity}\n',
        base % 4 + ', "min_trl": 1e999}\n',
        base % 5 + ', "min_trl": 5}\n',
    ]

    report = import_lines(payload)

    rejected = {line.line: line.reason for line in report.rejected}
    assert sorted(rejected) == [1, 2, 3, 4]
    assert "min_trl" in rejected[4]  # 1e999 parses (as a Decimal) and is out of range for the field
    assert all(rejected[n] for n in (1, 2, 3))  # NaN/Infinity are refused when the line is parsed
    assert report.created == 1


# --- saved searches ---------------------------------------------------------------------------------


def _index_everything():
    while outbox.backlog():
        outbox.drain(discovery.backend(), encoder=discovery.encoder())


@pytest.mark.parametrize("argument", ["amount_min", "amount_max", "trl_min"])
def test_save_search_out_of_range_criteria_refused_with_message(client, app, argument):
    user = make_user("enterprise")
    login(client, user)

    response = client.post("/subscriptions/achievement", data={"q": "膜", argument: "1e309"}, follow_redirects=True)

    assert response.status_code == 200
    assert "订阅条件无效" in response.get_data(as_text=True)
    assert db.session.scalars(select(SavedSearch)).all() == []


def test_saved_search_job_bad_old_row_marked_failed_others_alerted(client, app):
    bad_owner, good_owner = make_user("enterprise"), make_user("enterprise")
    long_ago = utcnow() - timedelta(hours=2)
    # Rows as an older version saved them, before criteria were checked.
    bad = SavedSearch(user_id=bad_owner.id, kind="achievement", name="坏订阅", criteria={"amount_min": "1e309"})
    good = SavedSearch(user_id=good_owner.id, kind="achievement", name="好订阅", criteria={})
    bad.checked_at = good.checked_at = long_ago
    db.session.add_all([bad, good])
    db.session.commit()
    make_listing(title="新发布的成果")
    _index_everything()

    report = run_as_job(
        alert_services.check_saved_searches,
    )

    assert (report.checked, report.alerted, report.failed) == (1, 1, 1)
    db.session.refresh(bad)
    db.session.refresh(good)
    assert "订阅条件无效" in bad.last_error and bad.failed_at is not None
    assert good.last_error is None and good.last_alerted_at is not None
    # The job runs again later: the bad row is skipped again, the job itself does not fail.
    later = run_as_job(alert_services.check_saved_searches, now=utcnow() + timedelta(hours=1))
    assert later.failed == 1 and later.checked == 1
    login(client, bad_owner)
    page = client.get("/subscriptions/").get_data(as_text=True)
    assert "坏订阅" in page and "订阅条件无效" in page


def test_saved_search_job_unexpected_error_on_one_search_others_still_checked(app, monkeypatch):
    first, second = make_user("enterprise"), make_user("enterprise")
    for user, name in ((first, "出错的订阅"), (second, "正常的订阅")):
        search = SavedSearch(user_id=user.id, kind="achievement", name=name, criteria={})
        search.checked_at = utcnow() - timedelta(hours=2)
        db.session.add(search)
    db.session.commit()
    make_listing(title="新发布的成果")
    _index_everything()
    real = alert_services._new_results

    def flaky(search):
        if search.name == "出错的订阅":
            raise RuntimeError("boom")
        return real(search)

    monkeypatch.setattr(alert_services, "_new_results", flaky)

    report = run_as_job(
        alert_services.check_saved_searches,
    )

    assert (report.checked, report.alerted, report.failed) == (1, 1, 1)
    failed = db.session.scalars(select(SavedSearch).where(SavedSearch.name == "出错的订阅")).one()
    assert "RuntimeError" in failed.last_error


# --- view counting under load ------------------------------------------------------------------------


def test_detail_page_concurrent_views_never_500_and_counted_best_effort(app):
    """300 views of one page, 20 at a time, through a real threaded server on the test database."""
    listing_id = make_listing(title="热门成果").id
    _index_everything()
    db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/listings/{listing_id}"

    def view(_n: int) -> int:
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    try:
        with ThreadPoolExecutor(max_workers=20) as pool:
            statuses = list(pool.map(view, range(300)))
    finally:
        server.shutdown()
        thread.join()

    assert [status for status in statuses if status != 200] == []
    db.session.expire_all()
    counted = db.session.get(Listing, listing_id).view_count
    # Counting is best-effort: how many of the 300 are counted depends on how busy the machine is
    # (a count waits at most 1 s for the write lock); none may cost a page.
    assert 0 < counted <= 300


def test_browse_out_of_range_filter_ignored_with_notice(client, people):
    response = _get(client, "/achievements", "amount_max=1e309&trl_min=99")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "已忽略无效的筛选条件" in page and "最高金额" in page and "最低技术成熟度" in page
    assert "海水淡化反渗透膜" in page
