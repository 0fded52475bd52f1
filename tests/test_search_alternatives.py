"""A search with words that finds nothing offers what would find something."""

from __future__ import annotations

from marketplace.discovery import outbox
from marketplace.discovery import services as discovery
from marketplace.discovery.alternatives import when_nothing_found
from marketplace.listings.queries import BrowseFilters
from tests.factories import make_listing


def index():
    outbox.drain(discovery.backend())


def test_offers_the_words_without_filters_and_in_the_other_kind(client):
    make_listing("achievement", title="反渗透海水淡化膜组件", industry="marine_equipment")
    make_listing("demand", title="海水淡化浓盐水综合利用", industry="marine_equipment")
    make_listing("demand", title="海水淡化厂取水口防生物附着", industry="marine_equipment")
    index()
    page = client.get("/achievements?q=海水淡化&industry=new_materials").get_data(as_text=True)
    assert "没有符合条件的信息" in page
    assert "去掉筛选条件，「海水淡化」有 1 条结果" in page
    assert "技术需求中有 2 条与「海水淡化」相关" in page
    assert 'href="/demands?q=' in page


def test_nothing_is_offered_when_results_exist_or_without_words(app):
    make_listing("achievement", title="反渗透海水淡化膜组件")
    index()
    for args in ({"q": "海水淡化"}, {"industry": "new_materials"}):
        filters = BrowseFilters.from_args(args)
        result = discovery.browse("achievement", filters, _anonymous(), page=1, per_page=12)
        assert when_nothing_found("achievement", filters, _anonymous(), result) == []


def test_titles_starting_like_the_query_are_suggested(client):
    make_listing("achievement", title="深远海养殖工船水质在线监测系统", keywords=["深远海养殖工船"])
    index()
    page = client.get("/achievements?q=深远海养殖工船&industry=new_materials").get_data(as_text=True)
    assert "您是不是要找：" in page and "深远海养殖工船水质在线监测系统</a>" in page
    filters = BrowseFilters.from_args({"q": "区块链溯源"})
    result = discovery.browse("achievement", filters, _anonymous(), page=1, per_page=12)
    assert result.page.total == 0
    assert when_nothing_found("achievement", filters, _anonymous(), result) == []  # nothing starts like it


def _anonymous():
    from flask_login import AnonymousUserMixin

    return AnonymousUserMixin()
