"""Saved searches: subscribing from a browse page, managing subscriptions, and the worker's alerts."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from urllib.parse import unquote

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from marketplace.accounts.roles import Role
from marketplace.alerts import services
from marketplace.alerts.models import SavedSearch
from marketplace.core import taxonomy
from marketplace.core.errors import ServiceError
from marketplace.core.models import utcnow
from marketplace.extensions import db
from marketplace.listings.queries import BrowseFilters
from marketplace.notifications.models import Notification
from marketplace.notifications.services import render
from tests.factories import index_everything, login, make_listing, make_user, run_as_job


@pytest.fixture
def enterprise(app):
    return make_user(Role.ENTERPRISE)


def subscribe(user, kind="achievement", **args) -> SavedSearch:
    search = services.save_search(user, kind, MultiDict(args))
    db.session.commit()
    return search


def backdate(search: SavedSearch, minutes: int = 60) -> None:
    search.checked_at = utcnow() - timedelta(minutes=minutes)
    db.session.commit()


def alerts_for(user) -> list[Notification]:
    return db.session.scalars(
        select(Notification).where(Notification.user_id == user.id, Notification.kind == "saved_search_results")
    ).all()


def test_browse_filters_round_trip_through_query_arguments():
    args = MultiDict(
        {
            "q": "海水淡化",
            "industry": "marine_equipment",
            "mode": "license",
            "trl_min": "5",
            "amount_min": "12.5",
            "amount_max": "300",
            "challenge": "1",
            "sort": "newest",
            "page": "3",
            "district": "nowhere",
        }
    )
    filters = BrowseFilters.from_args(args)
    assert filters.amount_min == Decimal("125000")
    assert filters.to_args() == {
        "q": "海水淡化",
        "industry": "marine_equipment",
        "mode": "license",
        "trl_min": "5",
        "amount_min": "12.5",
        "amount_max": "300",
        "challenge": "1",
    }
    assert BrowseFilters.from_args(filters.to_args()).to_args() == filters.to_args()


def test_saving_names_the_search_after_its_words_and_filters(enterprise):
    search = subscribe(enterprise, q="海水淡化", industry="marine_equipment", district="huangdao", junk="x")
    assert search.name == " · ".join(
        [
            "海水淡化",
            taxonomy.label(taxonomy.INDUSTRIES, "marine_equipment"),
            taxonomy.label(taxonomy.DISTRICTS, "huangdao"),
        ]
    )
    assert search.criteria == {"q": "海水淡化", "industry": "marine_equipment", "district": "huangdao"}
    assert subscribe(enterprise, kind="demand").name == "全部技术需求"


def test_the_same_search_twice_and_too_many_searches_are_refused(enterprise):
    subscribe(enterprise, q="海水淡化")
    with pytest.raises(ServiceError, match="已经订阅过") as refused:
        subscribe(enterprise, q="海水淡化")
    assert refused.value.status_code == 409
    db.session.rollback()
    for n in range(services.MAX_SAVED_SEARCHES - 1):
        subscribe(enterprise, q=f"关键词{n}")
    with pytest.raises(ServiceError, match="最多可订阅 20 个"):
        subscribe(enterprise, q="再来一个")


def test_new_listings_matching_a_search_are_announced_once(app, enterprise, mail_outbox):
    make_listing("achievement", title="反渗透海水淡化膜组件", published_at=utcnow() - timedelta(hours=3))
    search = subscribe(enterprise, q="海水淡化")
    backdate(search)
    make_listing("achievement", title="太阳能海水淡化装置")
    make_listing("achievement", title="船舶压载水处理系统")
    make_listing("demand", title="海水淡化浓盐水综合利用")  # the other kind
    index_everything()

    report = run_as_job(
        services.check_saved_searches,
    )

    assert (report.checked, report.alerted) == (1, 1)
    [alert] = alerts_for(enterprise)
    assert alert.params["count"] == "1" and alert.params["titles"] == "「太阳能海水淡化装置」"
    assert unquote(alert.link) == "/achievements?q=海水淡化"
    assert "您订阅的搜索「海水淡化」有 1 条新结果" in render(alert)
    assert any(mail["To"] == enterprise.email for mail in mail_outbox)
    later = run_as_job(services.check_saved_searches, now=utcnow() + timedelta(minutes=30))
    assert (later.checked, later.alerted) == (1, 0)  # nothing newer since


def test_searches_are_checked_only_when_due_and_when_alerts_are_on(app, enterprise):
    search = subscribe(enterprise, q="海水淡化")
    make_listing("achievement", title="太阳能海水淡化装置")
    index_everything()
    assert (
        run_as_job(
            services.check_saved_searches,
        ).checked
        == 0
    )  # saved a moment ago: not due yet
    backdate(search, minutes=app.config["SAVED_SEARCH_INTERVAL_MINUTES"] + 1)
    services.set_alert(search, False)
    db.session.commit()
    assert (
        run_as_job(
            services.check_saved_searches,
        ).checked
        == 0
    )
    services.set_alert(search, True)  # resuming starts from now: what came meanwhile is not "new"
    db.session.commit()
    assert run_as_job(services.check_saved_searches, now=utcnow() + timedelta(minutes=30)).alerted == 0


def test_no_check_runs_while_changes_wait_to_be_indexed(app, enterprise):
    search = subscribe(enterprise, q="海水淡化")
    backdate(search)
    make_listing("achievement", title="太阳能海水淡化装置")
    assert (
        run_as_job(
            services.check_saved_searches,
        ).skipped
        == "outbox backlog"
    )
    db.session.refresh(search)
    index_everything()
    assert (
        run_as_job(
            services.check_saved_searches,
        ).alerted
        == 1
    )


def test_subscribe_from_the_browse_page_and_manage_subscriptions(client, enterprise):
    anonymous = client.get("/achievements?q=盐雾腐蚀").get_data(as_text=True)
    assert "订阅此搜索" in anonymous and "/account/login?next=" in anonymous
    login(client, enterprise)
    page = client.get("/achievements?q=盐雾腐蚀&industry=marine_equipment").get_data(as_text=True)
    assert 'action="/subscriptions/achievement"' in page and 'name="industry" value="marine_equipment"' in page

    response = client.post("/subscriptions/achievement", data={"q": "盐雾腐蚀", "industry": "marine_equipment"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/achievements?")
    again = client.post(
        "/subscriptions/achievement", data={"q": "盐雾腐蚀", "industry": "marine_equipment"}, follow_redirects=True
    )
    assert "您已经订阅过相同条件的搜索" in again.get_data(as_text=True)
    [search] = db.session.scalars(select(SavedSearch)).all()

    listing_page = client.get("/subscriptions/").get_data(as_text=True)
    assert "盐雾腐蚀 · " in listing_page and "暂停通知" in listing_page
    client.post(f"/subscriptions/{search.id}/alert", data={"enabled": "0"})
    db.session.expire_all()
    assert db.session.get(SavedSearch, search.id).alert is False
    client.post(f"/subscriptions/{search.id}/delete")
    assert db.session.scalars(select(SavedSearch)).all() == []
    assert "还没有订阅" in client.get("/subscriptions/").get_data(as_text=True)


def test_other_users_subscriptions_are_not_found(client, enterprise):
    search = subscribe(enterprise, q="盐雾腐蚀")
    login(client, make_user(Role.RESEARCHER))
    assert client.post(f"/subscriptions/{search.id}/delete").status_code == 404
    assert client.post(f"/subscriptions/{search.id}/alert", data={"enabled": "0"}).status_code == 404
    assert "盐雾腐蚀" not in client.get("/subscriptions/").get_data(as_text=True)
    assert db.session.get(SavedSearch, search.id).alert is True
    assert client.post("/subscriptions/contracts", data={"q": "x"}).status_code == 302
    assert db.session.scalars(select(SavedSearch)).all() == [search]
