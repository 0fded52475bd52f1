"""The IP-type and institution filters: one meaning whether the index or the database answers."""

from __future__ import annotations

import json

import pytest

from marketplace.accounts.roles import OrgKind
from marketplace.discovery import outbox
from marketplace.discovery import services as discovery
from tests.factories import make_listing, make_org
from tests.test_discovery import BrokenBackend


@pytest.fixture
def catalogue(app):
    ouc = make_org(OrgKind.INSTITUTION, name="中国海洋大学")
    listings = {
        "patent": make_listing(title="海藻酸盐医用敷料", ip_type="invention_patent", organisation_id=ouc.id),
        "software": make_listing(title="海洋牧场监测软件", ip_type="software_copyright", organisation_id=ouc.id),
        "unregistered": make_listing(title="海参加工副产物利用", ip_type="invention_patent", org_name="某研究所"),
    }
    outbox.drain(discovery.backend())
    return listings


def titles(page: str, catalogue) -> set[str]:
    return {key for key, listing in catalogue.items() if listing.title in page}


@pytest.mark.parametrize("index_up", [True, False], ids=["index", "database"])
def test_ip_type_and_institution_filters(app, client, catalogue, index_up):
    if not index_up:
        app.extensions["search_backend"] = BrokenBackend()
    page = client.get("/achievements?ip_type=invention_patent").get_data(as_text=True)
    assert titles(page, catalogue) == {"patent", "unregistered"}
    page = client.get("/achievements?institution=中国海洋大学").get_data(as_text=True)
    assert titles(page, catalogue) == {"patent", "software"}
    if index_up:  # the organisation facet lists each with its count, the chosen one selected
        assert '<option value="中国海洋大学" selected>中国海洋大学 (2)</option>' in page
        assert '<option value="某研究所" >某研究所 (1)</option>' in page
    page = client.get("/achievements?institution=某研究所&ip_type=invention_patent").get_data(as_text=True)
    assert titles(page, catalogue) == {"unregistered"}
    assert ("搜索服务暂时不可用" in page) is not index_up


def test_detail_page_links_to_the_institutions_other_listings(client, catalogue):
    page = client.get(f"/listings/{catalogue['patent'].id}").get_data(as_text=True)
    assert 'href="/achievements?institution=%E4%B8%AD%E5%9B%BD%E6%B5%B7%E6%B4%8B%E5%A4%A7%E5%AD%A6"' in page


def test_query_command_takes_the_new_filters(runner, catalogue):
    result = runner.invoke(
        args=[
            "search",
            "query",
            "--kind",
            "achievement",
            "--institution",
            "中国海洋大学",
            "--ip-type",
            "software_copyright",
        ]
    )
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["title"] for line in result.output.splitlines()] == ["海洋牧场监测软件"]


@pytest.mark.parametrize("index_up", [True, False], ids=["index", "database"])
def test_owners_find_their_unpublished_listings_when_they_ask(app, client, index_up):
    from marketplace.accounts.roles import Role
    from marketplace.listings.models import ListingStatus
    from tests.factories import login, make_user

    owner, other, admin = make_user(Role.RESEARCHER), make_user(Role.RESEARCHER), make_user(Role.ADMIN, org=False)
    ids = {
        "draft": make_listing(title="海藻酸盐敷料草稿", owner=owner, status=ListingStatus.DRAFT).id,
        "submitted": make_listing(title="海藻酸盐敷料待审", owner=other, status=ListingStatus.SUBMITTED).id,
        "public": make_listing(title="海藻酸盐敷料公开").id,
    }
    outbox.drain(discovery.backend())
    if not index_up:
        app.extensions["search_backend"] = BrokenBackend()

    def found(user, args):
        client.post("/account/logout")
        if user is not None:
            login(client, user)
        page = client.get("/achievements?" + args).get_data(as_text=True)
        return {name for name, listing_id in ids.items() if f'href="/listings/{listing_id}"' in page}

    assert found(owner, "q=海藻酸盐") == {"public"}
    assert found(owner, "q=海藻酸盐&unpublished=1") == {"draft", "public"}
    assert found(None, "q=海藻酸盐&unpublished=1") == {"public"}
    assert found(admin, "q=海藻酸盐&unpublished=1") == {"draft", "submitted", "public"}
