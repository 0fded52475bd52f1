"""The listing lifecycle through marketplace.listings.services, plus the public read paths that depend on it."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from marketplace.core.errors import PermissionDenied, ServiceError
from marketplace.core.models import utcnow
from marketplace.extensions import db
from marketplace.listings import services
from marketplace.listings.fields import clean_listing, editable_fields
from marketplace.listings.models import Favourite, Listing, ListingStatus
from marketplace.notifications.models import Notification
from tests.factories import login, make_listing, make_org, make_user

S = ListingStatus


def _achievement_raw(**overrides) -> dict:
    raw = {
        "title": "海洋微生物来源的抗菌肽制备技术",
        "summary": "从深海微生物中筛选的抗菌肽，可替代部分抗生素。",
        "description": "技术说明。",
        "keywords": "抗菌肽，海洋微生物",
        "industry": "marine_biomedicine",
        "district": "laoshan",
        "cooperation_modes": ["transfer", "license"],
        "trl": "5",
        "price_cny": "800000",
    }
    raw.update(overrides)
    return raw


def _demand_raw(**overrides) -> dict:
    raw = {
        "title": "注塑件表面缺陷视觉检测",
        "description": "产线需要在线检测划痕与缩痕。",
        "industry": "artificial_intelligence",
        "cooperation_modes": ["joint_development"],
        "min_trl": "6",
        "budget_min_cny": "100000",
        "budget_max_cny": "500000",
    }
    raw.update(overrides)
    return raw


def _raw_of(listing: Listing, **changes) -> dict:
    raw = {name: getattr(listing, name) for name in editable_fields(listing.kind)}
    raw.update(changes)
    return raw


def _reload(listing_id: int) -> Listing | None:
    db.session.expire_all()
    return db.session.get(Listing, listing_id)


def _notifications(user, kind: str) -> list[Notification]:
    return db.session.scalars(
        select(Notification).where(Notification.user_id == user.id, Notification.kind == kind)
    ).all()


@pytest.fixture
def owner(app):
    return make_user("researcher")


@pytest.fixture
def admin(app):
    return make_user("admin", org=None)


@pytest.fixture
def draft(owner):
    listing = services.create_listing(owner, "achievement", _achievement_raw())
    db.session.commit()
    return listing


def _published(owner, admin) -> Listing:
    listing = services.create_listing(owner, "achievement", _achievement_raw())
    services.submit(owner, listing)
    services.approve(admin, listing)
    db.session.commit()
    return listing


# --- the happy path ---------------------------------------------------------------------------


def test_create_listing_valid_values_saves_draft_in_owners_organisation(owner, draft):
    assert draft.status == S.DRAFT
    assert draft.owner_id == owner.id
    assert draft.organisation_id == owner.organisation_id
    assert draft.org_name == owner.organisation.name
    assert draft.keywords == ["抗菌肽", "海洋微生物"]
    assert draft.trl == 5
    assert draft.price_cny == Decimal("800000.00")
    assert draft.published_at is None


def test_submit_draft_moves_to_submitted_and_tells_admins(owner, admin, draft):
    services.submit(owner, draft)
    db.session.commit()

    assert _reload(draft.id).status == S.SUBMITTED
    assert draft.submitted_at is not None
    assert len(_notifications(admin, "listing_submitted")) == 1


def test_approve_submitted_publishes_and_notifies_owner(owner, admin, draft, mail_outbox):
    services.submit(owner, draft)
    services.approve(admin, draft)
    db.session.commit()

    listing = _reload(draft.id)
    assert listing.status == S.PUBLISHED
    assert listing.published_at is not None
    assert listing.reviewed_by_id == admin.id
    assert len(_notifications(owner, "listing_approved")) == 1
    assert [message["To"] for message in mail_outbox] == [owner.email]
    assert f"/listings/{listing.id}" in mail_outbox[0].get_content()


def test_approve_published_listing_keeps_first_published_at(owner, admin):
    listing = _published(owner, admin)
    first = _reload(listing.id).published_at
    services.archive(owner, listing)
    services.submit(owner, listing)
    services.approve(admin, listing)
    db.session.commit()

    assert _reload(listing.id).published_at == first


def test_reject_without_reason_is_refused(owner, admin, draft):
    services.submit(owner, draft)
    db.session.commit()

    with pytest.raises(ServiceError) as error:
        services.reject(admin, draft, "   ")

    assert error.value.status_code == 400
    assert draft.status == S.SUBMITTED


def test_reject_with_reason_records_review_note_and_notifies(owner, admin, draft):
    services.submit(owner, draft)
    services.reject(admin, draft, "  请补充技术指标  ")
    db.session.commit()

    listing = _reload(draft.id)
    assert listing.status == S.REJECTED
    assert listing.review_note == "请补充技术指标"
    [notification] = _notifications(owner, "listing_rejected")
    assert notification.params["reason"] == "请补充技术指标"


def test_rejected_listing_edit_returns_to_draft_and_can_be_resubmitted(owner, admin, draft):
    services.submit(owner, draft)
    services.reject(admin, draft, "请补充技术指标")
    db.session.commit()

    to_review = services.update_listing(owner, draft, _raw_of(draft, description="补充后的技术指标：抑菌率 99%。"))
    db.session.commit()
    assert to_review is False
    assert _reload(draft.id).status == S.DRAFT

    services.submit(owner, draft)
    db.session.commit()
    listing = _reload(draft.id)
    assert listing.status == S.SUBMITTED
    assert listing.review_note is None


def test_withdraw_submitted_returns_to_draft(owner, draft):
    services.submit(owner, draft)
    services.withdraw(owner, draft)
    db.session.commit()

    assert _reload(draft.id).status == S.DRAFT


def test_archive_published_hides_it_and_drops_pending_changes(client, owner, admin):
    listing = _published(owner, admin)
    services.update_listing(owner, listing, _raw_of(listing, title="新标题"))
    services.archive(owner, listing)
    db.session.commit()

    archived = _reload(listing.id)
    assert archived.status == S.ARCHIVED
    assert archived.pending_changes is None
    assert client.get(f"/listings/{listing.id}").status_code == 404


def test_submit_archived_listing_goes_back_to_review(owner, admin):
    listing = _published(owner, admin)
    services.archive(owner, listing)
    services.submit(owner, listing)
    db.session.commit()

    assert _reload(listing.id).status == S.SUBMITTED


# --- illegal transitions and preconditions ----------------------------------------------------


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (S.DRAFT, "approve"),
        (S.DRAFT, "reject"),
        (S.DRAFT, "withdraw"),
        (S.PUBLISHED, "withdraw"),
        (S.PUBLISHED, "submit"),
        (S.SUBMITTED, "submit"),
        (S.REJECTED, "approve"),
        (S.ARCHIVED, "archive"),
        (S.ARCHIVED, "approve"),
    ],
)
def test_illegal_transition_raises_409_and_keeps_status(owner, admin, status, action):
    listing = make_listing("achievement", owner=owner, status=status)
    calls = {
        "approve": lambda: services.approve(admin, listing),
        "reject": lambda: services.reject(admin, listing, "原因"),
        "withdraw": lambda: services.withdraw(owner, listing),
        "submit": lambda: services.submit(owner, listing),
        "archive": lambda: services.archive(owner, listing),
    }

    with pytest.raises(ServiceError) as error:
        calls[action]()

    assert error.value.status_code == 409
    db.session.rollback()
    assert _reload(listing.id).status == status


def test_submit_unverified_organisation_is_refused(app):
    owner = make_user("researcher", verified=False)
    listing = services.create_listing(owner, "achievement", _achievement_raw())
    db.session.commit()

    with pytest.raises(ServiceError) as error:
        services.submit(owner, listing)

    assert "认证" in error.value.message
    db.session.rollback()
    assert _reload(listing.id).status == S.DRAFT


def test_approve_unverified_organisation_is_refused(admin):
    owner = make_user("researcher", verified=False)
    listing = make_listing("achievement", owner=owner, status=S.SUBMITTED)

    with pytest.raises(ServiceError) as error:
        services.approve(admin, listing)

    assert owner.organisation.name in error.value.message
    db.session.rollback()
    listing = _reload(listing.id)
    assert listing.status == S.SUBMITTED
    assert listing.published_at is None


def test_approve_non_admin_is_denied(owner, draft):
    services.submit(owner, draft)
    db.session.commit()

    with pytest.raises(PermissionDenied):
        services.approve(owner, draft)


def test_submit_someone_elses_listing_is_denied(owner, draft):
    stranger = make_user("researcher")

    with pytest.raises(PermissionDenied):
        services.submit(stranger, draft)
    assert _reload(draft.id).status == S.DRAFT


def test_create_listing_wrong_role_is_denied(app):
    investor = make_user("investor")

    with pytest.raises(PermissionDenied):
        services.create_listing(investor, "achievement", _achievement_raw())
    assert db.session.scalar(select(func.count()).select_from(Listing)) == 0


# --- revisions of published listings ----------------------------------------------------------


def test_owner_edit_published_listing_stores_pending_changes(client, owner, admin):
    listing = _published(owner, admin)
    old_title = listing.title

    to_review = services.update_listing(owner, listing, _raw_of(listing, title="修改后的标题", price_cny="1200000"))
    db.session.commit()

    assert to_review is True
    stored = _reload(listing.id)
    assert stored.title == old_title
    assert stored.price_cny == Decimal("800000.00")
    assert stored.pending_changes == {"title": "修改后的标题", "price_cny": "1200000.00"}
    assert stored.status == S.PUBLISHED
    page = client.get(f"/listings/{listing.id}").get_data(as_text=True)
    assert old_title in page
    assert "修改后的标题" not in page


def test_owner_edit_published_listing_via_web_keeps_public_title(client, owner, admin):
    listing = _published(owner, admin)
    old_title = listing.title
    login(client, owner)
    form = {**_achievement_raw(title="网页上修改的标题"), "action": "save"}

    response = client.post(f"/listings/{listing.id}/edit", data=form)

    assert response.status_code == 302
    assert _reload(listing.id).pending_changes["title"] == "网页上修改的标题"
    client.post("/account/logout")
    page = client.get(f"/listings/{listing.id}").get_data(as_text=True)
    assert old_title in page
    assert "网页上修改的标题" not in page


def test_approve_revision_applies_pending_changes(client, owner, admin):
    listing = _published(owner, admin)
    services.update_listing(owner, listing, _raw_of(listing, title="修改后的标题", price_cny="1200000"))
    db.session.commit()

    services.approve(admin, listing)
    db.session.commit()

    stored = _reload(listing.id)
    assert stored.title == "修改后的标题"
    assert stored.price_cny == Decimal("1200000.00")
    assert stored.pending_changes is None
    assert stored.status == S.PUBLISHED
    assert len(_notifications(owner, "revision_approved")) == 1
    assert "修改后的标题" in client.get(f"/listings/{listing.id}").get_data(as_text=True)


def test_reject_revision_keeps_old_version(owner, admin):
    listing = _published(owner, admin)
    old_title = listing.title
    services.update_listing(owner, listing, _raw_of(listing, title="修改后的标题"))
    db.session.commit()

    services.reject(admin, listing, "标题夸大")
    db.session.commit()

    stored = _reload(listing.id)
    assert stored.title == old_title
    assert stored.pending_changes is None
    assert stored.status == S.PUBLISHED
    assert stored.review_note == "标题夸大"
    assert len(_notifications(owner, "revision_rejected")) == 1


def test_admin_edit_published_listing_applies_directly(owner, admin):
    listing = _published(owner, admin)

    to_review = services.update_listing(admin, listing, _raw_of(listing, title="管理员修正的标题"))
    db.session.commit()

    assert to_review is False
    stored = _reload(listing.id)
    assert stored.title == "管理员修正的标题"
    assert stored.pending_changes is None


def test_update_listing_unchanged_values_changes_nothing(owner, admin):
    listing = _published(owner, admin)

    assert services.update_listing(owner, listing, _raw_of(listing)) is False
    db.session.commit()
    assert _reload(listing.id).pending_changes is None


# --- delete -----------------------------------------------------------------------------------


def test_delete_draft_removes_it(owner, draft):
    services.delete_draft(owner, draft)
    db.session.commit()

    assert _reload(draft.id) is None


@pytest.mark.parametrize("status", [S.SUBMITTED, S.PUBLISHED, S.REJECTED, S.ARCHIVED])
def test_delete_non_draft_is_refused_with_409(owner, status):
    listing = make_listing("achievement", owner=owner, status=status)

    with pytest.raises(ServiceError) as error:
        services.delete_draft(owner, listing)

    assert error.value.status_code == 409
    db.session.rollback()
    assert _reload(listing.id) is not None


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "changes", "field", "message"),
    [
        ("achievement", {"industry": "underwater_basket_weaving"}, "industry", "未知的产业领域代码"),
        ("achievement", {"trl": "0"}, "trl", "技术成熟度应为 1–9 的整数"),
        ("achievement", {"trl": "10"}, "trl", "技术成熟度应为 1–9 的整数"),
        ("achievement", {"trl": "5.5"}, "trl", "技术成熟度应为 1–9 的整数"),
        ("achievement", {"cooperation_modes": ["transfer", "barter"]}, "cooperation_modes", "未知的合作方式：barter"),
        ("achievement", {"title": ""}, "title", "此项为必填项"),
        ("achievement", {"title": "   "}, "title", "此项为必填项"),
        ("achievement", {"price_cny": "-1"}, "price_cny", "金额不能为负数"),
        ("demand", {"budget_min_cny": "600000", "budget_max_cny": "500000"}, "budget_max_cny", "预算上限不能低于下限"),
        ("demand", {"min_trl": "10"}, "min_trl", "技术成熟度应为 1–9 的整数"),
        ("demand", {"description": ""}, "description", "此项为必填项"),
    ],
)
def test_create_listing_invalid_field_raises_listing_invalid_keyed_by_field(app, kind, changes, field, message):
    owner = make_user("researcher" if kind == "achievement" else "enterprise")
    raw = (_achievement_raw if kind == "achievement" else _demand_raw)(**changes)

    with pytest.raises(services.ListingInvalid) as error:
        services.create_listing(owner, kind, raw)

    assert list(error.value.errors) == [field]
    assert message in error.value.errors[field]
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Listing)) == 0


def test_clean_listing_several_errors_are_all_reported():
    cleaned = clean_listing("demand", _demand_raw(title="", industry="nope", budget_min_cny="9", budget_max_cny="1"))

    assert set(cleaned.errors) == {"title", "industry", "budget_max_cny"}
    assert not cleaned.ok


def test_update_listing_invalid_value_raises_and_keeps_listing(owner, draft):
    with pytest.raises(services.ListingInvalid) as error:
        services.update_listing(owner, draft, _raw_of(draft, trl=10))

    assert "trl" in error.value.errors
    db.session.rollback()
    assert _reload(draft.id).trl == 5


def _field_group(page: str, field_id: str) -> str:
    start = page.rindex("<", 0, page.index(f'id="{field_id}"'))
    end = page.find('<div class="mb-3">', start)
    return page[start : end if end != -1 else None]


CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize(
    ("kind", "changes", "field", "message"),
    [
        ("achievement", {"title": ""}, "title", "此项为必填项"),
        ("achievement", {"summary": ""}, "summary", "此项为必填项"),
        ("achievement", {"industry": "underwater_basket_weaving"}, "industry", None),
        ("achievement", {"trl": "0"}, "trl", None),
        ("achievement", {"trl": "10"}, "trl", None),
        ("achievement", {"cooperation_modes": ["barter"]}, "cooperation_modes", "未知的合作方式：barter"),
        ("demand", {"budget_min_cny": "600000", "budget_max_cny": "500000"}, "budget_max_cny", "预算上限不能低于下限"),
        ("demand", {"min_trl": "10"}, "min_trl", None),
    ],
)
def test_listing_form_invalid_field_shows_chinese_error_beside_field(client, kind, changes, field, message):
    owner = make_user("researcher" if kind == "achievement" else "enterprise")
    login(client, owner)
    data = {**(_achievement_raw if kind == "achievement" else _demand_raw)(**changes), "action": "submit"}

    response = client.post(f"/listings/new/{kind}", data=data)

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    # Checkbox lists have no element with the field's id; their options are cooperation_modes-0 …
    group = _field_group(page, field if field != "cooperation_modes" else "cooperation_modes-0")
    errors = re.findall(r'class="invalid-feedback[^"]*">([^<]*)<', group)
    assert errors, group
    assert all(CJK.search(error) for error in errors), errors
    if message:
        assert message in errors[0]
    assert db.session.scalar(select(func.count()).select_from(Listing)) == 0


def test_listing_form_invalid_values_are_kept_in_the_form(client):
    login(client, make_user("researcher"))

    page = client.post("/listings/new/achievement", data=_achievement_raw(title="", summary="保留我填写的摘要"))

    assert "保留我填写的摘要" in page.get_data(as_text=True)


# --- views and favourites ---------------------------------------------------------------------


def _views(listing_id: int) -> int:
    return _reload(listing_id).view_count


def test_view_count_visitors_increase_it(client, owner):
    listing = make_listing("achievement", owner=owner)

    client.get(f"/listings/{listing.id}")
    client.get(f"/listings/{listing.id}")
    login(client, make_user("enterprise"))
    client.get(f"/listings/{listing.id}")

    assert _views(listing.id) == 3


def test_view_count_owner_and_org_admin_do_not_increase_it(client, app):
    org = make_org("institution")
    owner = make_user("researcher", org=org, org_admin=False)
    colleague_admin = make_user("researcher", org=org, org_admin=True)
    listing = make_listing("achievement", owner=owner)

    login(client, owner)
    assert client.get(f"/listings/{listing.id}").status_code == 200
    client.post("/account/logout")
    login(client, colleague_admin)
    assert client.get(f"/listings/{listing.id}").status_code == 200

    assert _views(listing.id) == 0


def test_view_count_draft_viewed_by_admin_does_not_count(client, owner):
    listing = make_listing("achievement", owner=owner, status=S.DRAFT)
    login(client, make_user("admin", org=None))

    assert client.get(f"/listings/{listing.id}").status_code == 200
    assert _views(listing.id) == 0


def test_favourite_toggle_adds_and_removes(client, owner):
    listing = make_listing("achievement", owner=owner, title="可收藏的成果")
    visitor = make_user("enterprise")
    login(client, visitor)

    assert client.post(f"/listings/{listing.id}/favourite").status_code == 302
    assert db.session.get(Favourite, (visitor.id, listing.id)) is not None
    page = client.get("/my/favourites")
    assert page.status_code == 200
    assert "可收藏的成果" in page.get_data(as_text=True)

    client.post(f"/listings/{listing.id}/favourite")
    db.session.expire_all()
    assert db.session.get(Favourite, (visitor.id, listing.id)) is None
    assert "可收藏的成果" not in client.get("/my/favourites").get_data(as_text=True)


def test_favourite_of_archived_listing_disappears_from_favourites(client, owner):
    listing = make_listing("achievement", owner=owner, title="后来下架的成果")
    visitor = make_user("enterprise")
    login(client, visitor)
    client.post(f"/listings/{listing.id}/favourite")

    services.archive(owner, listing)
    db.session.commit()

    assert "后来下架的成果" not in client.get("/my/favourites").get_data(as_text=True)


def test_favourite_draft_is_404(client, owner):
    listing = make_listing("achievement", owner=owner, status=S.DRAFT)
    login(client, make_user("enterprise"))

    assert client.post(f"/listings/{listing.id}/favourite").status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Favourite)) == 0


# --- public browsing --------------------------------------------------------------------------


@pytest.fixture
def catalogue(app):
    """Published achievements and demands with distinct attributes, plus unpublished ones that must stay hidden."""
    researcher = make_user("researcher")
    enterprise = make_user("enterprise")
    now = utcnow()
    listings = {
        "A1": make_listing(
            "achievement",
            owner=researcher,
            title="水下机器人导航模块",
            summary="适用于深海探测。",
            industry="marine_equipment",
            district="laoshan",
            cooperation_modes=["transfer"],
            trl=3,
            price_cny=Decimal("50000"),
            published_at=now - timedelta(days=3),
            view_count=5,
        ),
        "A2": make_listing(
            "achievement",
            owner=researcher,
            title="石墨烯防腐涂层",
            summary="重防腐。",
            industry="new_materials",
            district="huangdao",
            cooperation_modes=["license", "equity"],
            trl=7,
            price_cny=Decimal("2000000"),
            published_at=now - timedelta(days=2),
            view_count=50,
        ),
        "A3": make_listing(
            "achievement",
            owner=researcher,
            title="船舶分段焊接工艺",
            summary="自动化焊接。",
            industry="marine_equipment",
            district="jimo",
            cooperation_modes=["joint_development"],
            keywords=["激光焊接"],
            trl=9,
            price_cny=None,
            published_at=now - timedelta(days=1),
            view_count=1,
        ),
        "D1": make_listing(
            "demand",
            owner=enterprise,
            title="注塑件视觉质检需求",
            description="在线检测。",
            industry="artificial_intelligence",
            district="chengyang",
            cooperation_modes=["service"],
            min_trl=4,
            budget_min_cny=Decimal("100000"),
            budget_max_cny=Decimal("500000"),
            challenge=True,
            bounty_cny=Decimal("300000"),
            published_at=now - timedelta(days=2),
            deadline=(now + timedelta(days=30)).date(),
        ),
        "D2": make_listing(
            "demand",
            owner=enterprise,
            title="海工钢防腐涂料需求",
            description="耐盐雾。",
            industry="new_materials",
            district="huangdao",
            cooperation_modes=["transfer"],
            min_trl=7,
            budget_min_cny=Decimal("1000000"),
            budget_max_cny=Decimal("3000000"),
            published_at=now - timedelta(days=1),
            deadline=(now + timedelta(days=10)).date(),
        ),
    }
    for status in (S.DRAFT, S.SUBMITTED, S.REJECTED, S.ARCHIVED):
        make_listing(
            "achievement",
            owner=researcher,
            status=status,
            title=f"未公开成果{status}",
            industry="marine_equipment",
            district="laoshan",
            cooperation_modes=["transfer"],
            trl=3,
            price_cny=Decimal("50000"),
            summary="适用于深海探测。",
        )
        make_listing(
            "demand",
            owner=enterprise,
            status=status,
            title=f"未公开需求{status}",
            industry="artificial_intelligence",
            cooperation_modes=["service"],
            min_trl=4,
            budget_min_cny=Decimal("100000"),
            budget_max_cny=Decimal("500000"),
            challenge=True,
        )
    return {key: listing.title for key, listing in listings.items()}


HIDDEN = [
    f"未公开{kind}{status}" for kind in ("成果", "需求") for status in ("draft", "submitted", "rejected", "archived")
]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/achievements", {"A1", "A2", "A3"}),
        ("/achievements?industry=marine_equipment", {"A1", "A3"}),
        ("/achievements?district=huangdao", {"A2"}),
        ("/achievements?mode=license", {"A2"}),
        ("/achievements?mode=transfer", {"A1"}),
        ("/achievements?trl_min=5", {"A2", "A3"}),
        ("/achievements?trl_max=5", {"A1"}),
        ("/achievements?trl_min=6&trl_max=8", {"A2"}),
        ("/achievements?amount_min=10", {"A2"}),
        ("/achievements?amount_max=10", {"A1"}),
        ("/achievements?amount_min=5&amount_max=5", {"A1"}),
        ("/achievements?q=石墨烯", {"A2"}),
        ("/achievements?q=深海", {"A1"}),
        ("/achievements?q=激光焊接", {"A3"}),
        ("/achievements?industry=marine_equipment&trl_min=5", {"A3"}),
        ("/achievements?industry=not_a_code", {"A1", "A2", "A3"}),
        ("/achievements?trl_min=0&amount_min=abc", {"A1", "A2", "A3"}),
        ("/demands", {"D1", "D2"}),
        ("/demands?industry=new_materials", {"D2"}),
        ("/demands?district=chengyang", {"D1"}),
        ("/demands?mode=service", {"D1"}),
        ("/demands?trl_min=5", {"D2"}),
        ("/demands?trl_max=5", {"D1"}),
        ("/demands?amount_min=60", {"D2"}),
        ("/demands?amount_max=20", {"D1"}),
        ("/demands?amount_min=40&amount_max=120", {"D1", "D2"}),
        ("/demands?challenge=1", {"D1"}),
        ("/demands?q=防腐", {"D2"}),
    ],
)
def test_browse_filter_returns_matching_published_listings(client, catalogue, path, expected):
    response = client.get(path)

    assert response.status_code == 200
    page = re.sub(r"</?mark>", "", response.get_data(as_text=True))  # search highlights split titles
    shown = {key for key, title in catalogue.items() if title in page}
    assert shown == expected
    assert f"共 {len(expected)} 条" in page
    assert not [title for title in HIDDEN if title in page]


@pytest.mark.parametrize(
    ("path", "order"),
    [
        ("/achievements", ["A3", "A2", "A1"]),
        ("/achievements?sort=newest", ["A3", "A2", "A1"]),
        ("/achievements?sort=price_asc", ["A1", "A2", "A3"]),
        ("/achievements?sort=price_desc", ["A2", "A1", "A3"]),
        ("/demands?sort=budget_desc", ["D2", "D1"]),
        ("/demands?sort=deadline", ["D2", "D1"]),
        ("/demands?sort=newest", ["D2", "D1"]),
    ],
)
def test_browse_sort_orders_listings(client, catalogue, path, order):
    page = client.get(path).get_data(as_text=True)

    positions = [page.index(catalogue[key]) for key in order]
    assert positions == sorted(positions)


def test_draft_never_appears_publicly(client, catalogue):
    home = client.get("/").get_data(as_text=True)
    assert not [title for title in HIDDEN if title in home]
    draft = db.session.scalar(select(Listing).where(Listing.status == S.DRAFT).limit(1))
    assert client.get(f"/listings/{draft.id}").status_code == 404
