"""Who may do what: every actor against every listing action, with the exact HTTP status expected.

Actors: anonymous; one user of each role, each running their own organisation (brokers and admins have
none); and, relative to the listing under test, its owner (a plain member of a research institution),
that institution's org admin, a plain member of the same institution, and a plain member of another one.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from marketplace.accounts.roles import OrgKind
from marketplace.extensions import db
from marketplace.listings.models import Listing, ListingStatus
from tests.factories import login, make_listing, make_org, make_user

S = ListingStatus
ACTORS = (
    "anonymous",
    "researcher",
    "enterprise",
    "service_provider",
    "investor",
    "broker",
    "admin",
    "owner",
    "same_org_admin",
    "same_org_member",
    "other_org_user",
)
LOGIN = "login"  # expected outcome: a redirect to /account/login


@pytest.fixture
def world(app):
    """Users for every actor, sharing one listing owner's institution where the actor says so."""
    institution = make_org(OrgKind.INSTITUTION)
    other_institution = make_org(OrgKind.INSTITUTION)
    users = {
        "researcher": make_user("researcher"),
        "enterprise": make_user("enterprise"),
        "service_provider": make_user("service_provider"),
        "investor": make_user("investor"),
        "broker": make_user("broker", org=None),
        "admin": make_user("admin", org=None),
        "owner": make_user("researcher", org=institution, org_admin=False),
        "same_org_admin": make_user("researcher", org=institution, org_admin=True),
        "same_org_member": make_user("researcher", org=institution, org_admin=False),
        "other_org_user": make_user("researcher", org=other_institution, org_admin=False),
    }
    return users


def _act_as(client, world, actor: str):
    if actor != "anonymous":
        login(client, world[actor])


def _assert_status(response, expected):
    if expected == LOGIN:
        assert response.status_code == 302, response.status_code
        assert urlsplit(response.headers["Location"]).path == "/account/login"
    else:
        assert response.status_code == expected, response.get_data(as_text=True)[:500]


def _listing(world, status=S.DRAFT, **fields) -> Listing:
    return make_listing("achievement", owner=world["owner"], status=status, title="原始标题", **fields)


def _snapshot(listing_id: int) -> tuple | None:
    db.session.expire_all()
    listing = db.session.get(Listing, listing_id)
    if listing is None:
        return None
    return (listing.title, listing.status, listing.summary, listing.pending_changes, listing.trl)


EDIT_FORM = {
    "title": "被改掉的标题",
    "summary": "被改掉的摘要",
    "industry": "marine_equipment",
    "trl": "4",
    "action": "save",
}

OWNER_SIDE = {"owner", "same_org_admin", "admin"}


def _by_side(owner_side, others, anonymous=LOGIN):
    return {
        actor: owner_side if actor in OWNER_SIDE else anonymous if actor == "anonymous" else others for actor in ACTORS
    }


# --- viewing ----------------------------------------------------------------------------------

VIEW_DRAFT = _by_side(200, 404, anonymous=404)


@pytest.mark.parametrize("actor", ACTORS)
def test_view_draft_only_owner_side_and_admin_see_it(client, world, actor):
    listing = _listing(world)
    _act_as(client, world, actor)

    _assert_status(client.get(f"/listings/{listing.id}"), VIEW_DRAFT[actor])


@pytest.mark.parametrize("actor", ACTORS)
def test_view_published_everyone_gets_200(client, world, actor):
    listing = _listing(world, status=S.PUBLISHED)
    _act_as(client, world, actor)

    _assert_status(client.get(f"/listings/{listing.id}"), 200)


# --- editing ----------------------------------------------------------------------------------

# A draft does not reveal that it exists (404); a published listing exists but is not yours (403).
EDIT_GET = {
    S.DRAFT: _by_side(200, 404),
    S.PUBLISHED: _by_side(200, 403),
}


@pytest.mark.parametrize("status", [S.DRAFT, S.PUBLISHED])
@pytest.mark.parametrize("actor", ACTORS)
def test_edit_get_status_per_actor(client, world, actor, status):
    listing = _listing(world, status=status)
    _act_as(client, world, actor)

    _assert_status(client.get(f"/listings/{listing.id}/edit"), EDIT_GET[status][actor])


EDIT_POST = {
    S.DRAFT: _by_side(302, 404),
    S.PUBLISHED: _by_side(302, 403),
}


@pytest.mark.parametrize("status", [S.DRAFT, S.PUBLISHED])
@pytest.mark.parametrize("actor", ACTORS)
def test_edit_post_status_per_actor_and_outsiders_change_nothing(client, world, actor, status):
    listing = _listing(world, status=status)
    before = _snapshot(listing.id)
    _act_as(client, world, actor)

    response = client.post(f"/listings/{listing.id}/edit", data=EDIT_FORM)

    expected = EDIT_POST[status][actor]
    _assert_status(response, expected)
    after = _snapshot(listing.id)
    if expected == 302 and actor in OWNER_SIDE:
        assert after != before
        if status == S.PUBLISHED and actor != "admin":
            assert after[0] == "原始标题" and after[3]["title"] == "被改掉的标题"
        else:
            assert after[0] == "被改掉的标题"
    else:
        assert after == before


# --- lifecycle actions ------------------------------------------------------------------------

LIFECYCLE = {
    # action: (starting status, status after an allowed request)
    "submit": (S.DRAFT, S.SUBMITTED),
    "archive": (S.PUBLISHED, S.ARCHIVED),
    "withdraw": (S.SUBMITTED, S.DRAFT),
}


def _lifecycle_expected(actor: str, start: str) -> object:
    if actor == "anonymous":
        return LOGIN
    if actor in OWNER_SIDE:
        return 302
    return 404 if start != S.PUBLISHED else 403


@pytest.mark.parametrize("action", list(LIFECYCLE))
@pytest.mark.parametrize("actor", ACTORS)
def test_lifecycle_action_status_per_actor(client, world, actor, action):
    start, end = LIFECYCLE[action]
    listing = _listing(world, status=start)
    _act_as(client, world, actor)

    response = client.post(f"/listings/{listing.id}/{action}")

    expected = _lifecycle_expected(actor, start)
    _assert_status(response, expected)
    if expected == 302:
        assert urlsplit(response.headers["Location"]).path == f"/listings/{listing.id}"
    assert _snapshot(listing.id)[1] == (end if expected == 302 else start)


@pytest.mark.parametrize("actor", ACTORS)
def test_lifecycle_get_is_not_allowed(client, world, actor):
    listing = _listing(world)
    _act_as(client, world, actor)

    assert client.get(f"/listings/{listing.id}/submit").status_code == 405


@pytest.mark.parametrize("actor", ACTORS)
def test_delete_draft_status_per_actor(client, world, actor):
    listing = _listing(world)
    _act_as(client, world, actor)

    response = client.post(f"/listings/{listing.id}/delete")

    expected = _lifecycle_expected(actor, S.DRAFT)
    _assert_status(response, expected)
    if expected == 302:
        assert urlsplit(response.headers["Location"]).path == "/my/listings"
        assert _snapshot(listing.id) is None
    else:
        assert _snapshot(listing.id) is not None


@pytest.mark.parametrize("actor", ["owner", "same_org_admin", "admin"])
def test_delete_published_owner_side_is_refused_and_kept(client, world, actor):
    listing = _listing(world, status=S.PUBLISHED)
    _act_as(client, world, actor)

    response = client.post(f"/listings/{listing.id}/delete")

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == f"/listings/{listing.id}"
    assert _snapshot(listing.id)[1] == S.PUBLISHED


# --- creating ---------------------------------------------------------------------------------

CREATE = {
    "achievement": {
        actor: 200
        if actor in {"researcher", "admin", "owner", "same_org_admin", "same_org_member", "other_org_user"}
        else 403
        for actor in ACTORS
    }
    | {"anonymous": LOGIN},
    "demand": {actor: 200 if actor in {"enterprise", "admin"} else 403 for actor in ACTORS} | {"anonymous": LOGIN},
}


@pytest.mark.parametrize("kind", ["achievement", "demand"])
@pytest.mark.parametrize("actor", ACTORS)
def test_create_form_status_per_actor(client, world, actor, kind):
    _act_as(client, world, actor)

    _assert_status(client.get(f"/listings/new/{kind}"), CREATE[kind][actor])


@pytest.mark.parametrize("kind", ["achievement", "demand"])
@pytest.mark.parametrize("actor", ACTORS)
def test_create_post_status_per_actor_and_nothing_saved_when_refused(client, world, actor, kind):
    _act_as(client, world, actor)
    data = {
        "title": "新发布",
        "summary": "摘要",
        "description": "说明",
        "industry": "marine_equipment",
        "action": "draft",
    }

    response = client.post(f"/listings/new/{kind}", data=data)

    allowed = CREATE[kind][actor] == 200
    _assert_status(response, 302 if allowed else CREATE[kind][actor])
    count = db.session.scalar(select(func.count()).select_from(Listing).where(Listing.title == "新发布"))
    assert count == (1 if allowed else 0)


def test_create_unknown_kind_is_404(client, world):
    login(client, world["admin"])

    assert client.get("/listings/new/patent").status_code == 404


# --- admin pages ------------------------------------------------------------------------------

ADMIN_ONLY = {actor: 200 if actor == "admin" else 403 for actor in ACTORS} | {"anonymous": LOGIN}


@pytest.mark.parametrize("actor", ACTORS)
def test_admin_review_queue_status_per_actor(client, world, actor):
    _act_as(client, world, actor)

    _assert_status(client.get("/admin/review"), ADMIN_ONLY[actor])


IMPORT = {
    "anonymous": LOGIN,
    "researcher": 200,
    "enterprise": 200,
    "service_provider": 403,  # no listings of their own to import (capability listing.import)
    "investor": 403,
    "broker": 403,
    "admin": 200,
    "owner": 403,
    "same_org_admin": 200,
    "same_org_member": 403,
    "other_org_user": 403,
}


@pytest.mark.parametrize("actor", ACTORS)
def test_import_page_status_per_actor(client, world, actor):
    _act_as(client, world, actor)

    _assert_status(client.get("/listings/import"), IMPORT[actor])


@pytest.mark.parametrize("actor", ACTORS)
def test_approve_via_admin_review_status_per_actor(client, world, actor):
    listing = _listing(world, status=S.SUBMITTED)
    _act_as(client, world, actor)

    response = client.post(f"/admin/review/{listing.id}", data={"decision": "approve"})

    expected = 302 if actor == "admin" else ADMIN_ONLY[actor]
    _assert_status(response, expected)
    assert _snapshot(listing.id)[1] == (S.PUBLISHED if actor == "admin" else S.SUBMITTED)


@pytest.mark.parametrize("actor", ACTORS)
def test_reject_via_admin_review_status_per_actor(client, world, actor):
    listing = _listing(world, status=S.SUBMITTED)
    _act_as(client, world, actor)

    response = client.post(f"/admin/review/{listing.id}", data={"decision": "reject", "reason": "资料不全"})

    expected = 302 if actor == "admin" else ADMIN_ONLY[actor]
    _assert_status(response, expected)
    assert _snapshot(listing.id)[1] == (S.REJECTED if actor == "admin" else S.SUBMITTED)


def test_approve_via_admin_review_draft_shows_error_and_keeps_draft(client, world):
    listing = _listing(world)
    login(client, world["admin"])

    response = client.post(f"/admin/review/{listing.id}", data={"decision": "approve"})

    assert response.status_code == 400
    assert "不能执行此操作" in response.get_data(as_text=True)
    assert _snapshot(listing.id)[1] == S.DRAFT


# --- someone else's listing -------------------------------------------------------------------


@pytest.mark.parametrize("status", [S.DRAFT, S.SUBMITTED, S.PUBLISHED, S.REJECTED])
@pytest.mark.parametrize("actor", ["researcher", "enterprise", "broker", "same_org_member", "other_org_user"])
def test_edit_someone_elses_listing_is_refused_and_unchanged(client, world, actor, status):
    listing = _listing(world, status=status, review_note="旧的审核意见" if status == S.REJECTED else None)
    before = _snapshot(listing.id)
    _act_as(client, world, actor)

    response = client.post(f"/listings/{listing.id}/edit", data=EDIT_FORM)

    assert response.status_code == (403 if status == S.PUBLISHED else 404)
    assert _snapshot(listing.id) == before
    for action in ("submit", "withdraw", "archive", "delete"):
        assert client.post(f"/listings/{listing.id}/{action}").status_code in (403, 404)
    assert _snapshot(listing.id) == before
