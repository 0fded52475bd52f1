"""Platform administration: review queue, review decisions, organisation verification, users, access."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from marketplace.accounts.roles import Role, Verification
from marketplace.core.audit import AuditEvent
from marketplace.core.models import utcnow
from marketplace.extensions import db
from marketplace.listings import services as listing_services
from marketplace.listings.fields import editable_fields
from marketplace.listings.models import ListingStatus
from marketplace.notifications.models import Notification
from tests.factories import PASSWORD, login, make_listing, make_org, make_user


@pytest.fixture
def admin(client):
    user = make_user(Role.ADMIN, org=False, name="平台管理员")
    login(client, user)
    return user


def submitted_listing(owner=None, **fields):
    owner = owner or make_user(Role.RESEARCHER)
    return make_listing(owner=owner, status=ListingStatus.SUBMITTED, submitted_at=utcnow(), **fields)


def propose_edit(listing, **changes):
    """Have the owner edit a published listing, as the edit form would."""
    raw = {name: getattr(listing, name) for name in editable_fields(listing.kind)}
    raw.update(changes)
    assert listing_services.update_listing(listing.owner, listing, raw) is True
    db.session.commit()


def notifications_of(user, kind=None):
    statement = select(Notification).where(Notification.user_id == user.id)
    if kind:
        statement = statement.where(Notification.kind == kind)
    return db.session.scalars(statement).all()


def page_text(response) -> str:
    return response.get_data(as_text=True)


# --- review queue -----------------------------------------------------------------------------


def test_review_queue_with_new_and_edited_listings_lists_both_but_not_untouched_ones(client, admin):
    new = submitted_listing(title="新提交的海水淡化膜")
    edited = make_listing(owner=make_user(Role.RESEARCHER), title="已发布的水下机器人")
    propose_edit(edited, title="已发布的水下机器人（第二版）")
    make_listing(title="无需审核的已发布成果")
    make_listing(owner=make_user(Role.RESEARCHER), status=ListingStatus.DRAFT, title="一份草稿")

    html = page_text(client.get("/admin/review"))

    assert new.title in html and "已发布的水下机器人" in html
    assert "无需审核的已发布成果" not in html and "一份草稿" not in html
    assert "新提交" in html and "修改已发布信息" in html
    assert f'name="listing_ids" value="{new.id}"' in html
    assert 'data-check-all=".row-check"' in html
    assert f"/admin/review/{edited.id}" in html


def test_review_queue_filtered_by_kind_shows_only_that_kind(client, admin):
    submitted_listing(title="待审成果甲")
    submitted_listing(owner=make_user(Role.ENTERPRISE), kind="demand", title="待审需求乙")

    html = page_text(client.get("/admin/review?kind=demand"))

    assert "待审需求乙" in html and "待审成果甲" not in html


def test_review_queue_with_unverified_organisation_marks_it(client, admin):
    submitted_listing(owner=make_user(Role.RESEARCHER, verified=False), title="未认证机构的成果")

    html = page_text(client.get("/admin/review"))

    assert "未认证机构的成果" in html and "机构未认证" in html


def test_review_queue_when_nothing_waits_shows_empty_state(client, admin):
    html = page_text(client.get("/admin/review"))

    assert "审核队列已清空" in html and 'name="listing_ids"' not in html


# --- single review -----------------------------------------------------------------------------


def test_approve_submitted_listing_publishes_and_notifies_owner_after_commit(client, admin, mail_outbox):
    owner = make_user(Role.RESEARCHER, email="owner@example.cn")
    listing = submitted_listing(owner=owner, title="海藻多糖提取工艺")

    response = client.post(f"/admin/review/{listing.id}", data={"decision": "approve", "reason": ""})

    assert response.status_code == 302
    db.session.refresh(listing)
    assert listing.status == ListingStatus.PUBLISHED and listing.published_at is not None
    assert [n.params["title"] for n in notifications_of(owner, "listing_approved")] == ["海藻多糖提取工艺"]
    to_owner = [m for m in mail_outbox if m["To"] == "owner@example.cn"]
    assert len(to_owner) == 1 and "海藻多糖提取工艺" in to_owner[0].get_content()


def test_reject_without_reason_returns_400_with_error_beside_field(client, admin, mail_outbox):
    listing = submitted_listing()

    response = client.post(f"/admin/review/{listing.id}", data={"decision": "reject", "reason": "  "})

    assert response.status_code == 400
    assert "请填写不通过的原因" in page_text(response) and "invalid-feedback" in page_text(response)
    db.session.refresh(listing)
    assert listing.status == ListingStatus.SUBMITTED
    assert notifications_of(listing.owner) == [] and mail_outbox == []


def test_reject_with_reason_owner_sees_reason_on_detail_page(app, client, admin):
    owner = make_user(Role.RESEARCHER)
    listing = submitted_listing(owner=owner)

    response = client.post(f"/admin/review/{listing.id}", data={"decision": "reject", "reason": "缺少专利证明材料"})

    assert response.status_code == 302
    db.session.refresh(listing)
    assert listing.status == ListingStatus.REJECTED
    assert notifications_of(owner, "listing_rejected")[0].params["reason"] == "缺少专利证明材料"
    owner_client = app.test_client()
    login(owner_client, owner)
    assert "缺少专利证明材料" in page_text(owner_client.get(f"/listings/{listing.id}"))


def test_review_page_for_pending_edit_shows_before_and_after(client, admin):
    listing = make_listing(owner=make_user(Role.RESEARCHER), title="原标题：潮流能发电机组", trl=5)
    propose_edit(listing, title="新标题：潮流能发电机组", trl=7)

    html = page_text(client.get(f"/admin/review/{listing.id}"))

    assert "当前公开版本" in html and "修改后" in html
    assert "原标题：潮流能发电机组" in html and "新标题：潮流能发电机组" in html
    assert "TRL 5" in html and "TRL 7" in html
    assert 'value="approve"' in html and 'value="reject"' in html


def test_approved_revision_applies_changes_and_public_sees_old_title_until_then(app, client, admin):
    owner = make_user(Role.RESEARCHER)
    listing = make_listing(owner=owner, title="原标题：船用防污涂料")
    propose_edit(listing, title="新标题：船用防污涂料")
    public = app.test_client()

    before = page_text(public.get(f"/listings/{listing.id}"))
    assert "原标题：船用防污涂料" in before and "新标题：船用防污涂料" not in before

    response = client.post(f"/admin/review/{listing.id}", data={"decision": "approve"})

    assert response.status_code == 302
    after = page_text(public.get(f"/listings/{listing.id}"))
    assert "新标题：船用防污涂料" in after and "原标题：船用防污涂料" not in after
    db.session.refresh(listing)
    assert listing.pending_changes is None and listing.status == ListingStatus.PUBLISHED
    assert len(notifications_of(owner, "revision_approved")) == 1


def test_rejected_revision_keeps_published_version(client, admin):
    listing = make_listing(owner=make_user(Role.RESEARCHER), title="保持不变的标题")
    propose_edit(listing, title="被退回的标题")

    client.post(f"/admin/review/{listing.id}", data={"decision": "reject", "reason": "标题夸大"})

    db.session.refresh(listing)
    assert listing.title == "保持不变的标题" and listing.pending_changes is None
    assert listing.status == ListingStatus.PUBLISHED and listing.review_note == "标题夸大"


# --- bulk approve ------------------------------------------------------------------------------


def test_bulk_approve_with_unverified_organisation_approves_others_and_reports_it(client, admin, mail_outbox):
    blocked = submitted_listing(owner=make_user(Role.RESEARCHER, verified=False), title="未认证机构的成果")
    first = submitted_listing(title="批量通过一")
    second = submitted_listing(title="批量通过二")

    response = client.post(
        "/admin/review/bulk-approve",
        data={"listing_ids": [str(blocked.id), str(first.id), str(second.id)]},
        follow_redirects=True,
    )

    html = page_text(response)
    assert "已通过 2 条" in html
    assert "「未认证机构的成果」" in html and "尚未通过认证" in html
    for listing in (blocked, first, second):
        db.session.refresh(listing)
    assert (first.status, second.status) == (ListingStatus.PUBLISHED, ListingStatus.PUBLISHED)
    assert blocked.status == ListingStatus.SUBMITTED
    assert sorted(m["To"] for m in mail_outbox) == sorted([first.owner.email, second.owner.email])


def test_bulk_approve_service_sends_mail_only_when_request_commits(app, mail_outbox):
    admin = make_user(Role.ADMIN, org=False)
    blocked = submitted_listing(owner=make_user(Role.RESEARCHER, verified=False))
    approved = submitted_listing()

    with app.test_request_context():
        count, problems = listing_services.bulk_approve(admin, [blocked.id, approved.id])
        assert (count, len(problems)) == (1, 1)
        assert mail_outbox == [], "mail must wait for the request's commit, not a savepoint release"
        db.session.commit()

    assert [m["To"] for m in mail_outbox] == [approved.owner.email]


def test_bulk_approve_with_nothing_selected_warns(client, admin):
    html = page_text(client.post("/admin/review/bulk-approve", data={}, follow_redirects=True))

    assert "请先勾选要通过的信息" in html


# --- organisations -----------------------------------------------------------------------------


def test_organisations_page_lists_pending_by_default(client, admin):
    make_org(name="待认证的海洋研究所", verified=False)
    make_org(name="早已认证的企业")

    html = page_text(client.get("/admin/organisations"))

    assert "待认证的海洋研究所" in html and "早已认证的企业" not in html


def test_verify_organisation_approve_marks_verified_and_notifies_org_admin(client, admin):
    member = make_user(Role.ENTERPRISE, verified=False)
    org = member.organisation

    client.post(f"/admin/organisations/{org.id}/verify", data={"decision": "approve"})

    db.session.refresh(org)
    assert org.verification == Verification.VERIFIED and org.verified_at is not None
    assert len(notifications_of(member, "organisation_verified")) == 1


def test_verify_organisation_reject_without_note_leaves_it_pending(client, admin):
    org = make_org(verified=False)

    html = page_text(
        client.post(
            f"/admin/organisations/{org.id}/verify", data={"decision": "reject", "note": ""}, follow_redirects=True
        )
    )

    assert "请填写未通过认证的原因" in html
    db.session.refresh(org)
    assert org.verification == Verification.PENDING


def test_verify_organisation_reject_with_note_records_reason(client, admin):
    member = make_user(Role.ENTERPRISE, verified=False)
    org = member.organisation

    client.post(f"/admin/organisations/{org.id}/verify", data={"decision": "reject", "note": "营业执照模糊"})

    db.session.refresh(org)
    assert org.verification == Verification.REJECTED and org.verification_note == "营业执照模糊"
    assert notifications_of(member, "organisation_rejected")[0].params["reason"] == "营业执照模糊"


# --- users -------------------------------------------------------------------------------------


def test_users_page_filtered_by_role_shows_only_that_role(client, admin):
    make_user(Role.ENTERPRISE, name="企业用户甲")
    make_user(Role.RESEARCHER, name="科研人员乙")

    html = page_text(client.get("/admin/users?role=enterprise"))

    assert "企业用户甲" in html and "科研人员乙" not in html


def test_set_role_broker_without_certificate_is_refused(client, admin):
    user = make_user(Role.RESEARCHER)

    html = page_text(
        client.post(
            f"/admin/users/{user.id}/role", data={"role": "broker", "certificate_no": ""}, follow_redirects=True
        )
    )

    assert "须填写经纪人证书编号" in html
    db.session.refresh(user)
    assert user.role == Role.RESEARCHER


def test_set_role_broker_with_certificate_grants_role_and_notifies(client, admin):
    user = make_user(Role.RESEARCHER)

    client.post(f"/admin/users/{user.id}/role", data={"role": "broker", "certificate_no": "QDJJ-2025-0012"})

    db.session.refresh(user)
    assert user.role == Role.BROKER and user.broker_certificate_no == "QDJJ-2025-0012"
    assert notifications_of(user, "role_granted")[0].params["role"] == "技术经纪人"


def test_deactivated_user_cannot_log_in(app, client, admin):
    user = make_user(Role.ENTERPRISE)

    client.post(f"/admin/users/{user.id}/active", data={"active": "0"})

    db.session.refresh(user)
    assert user.active is False
    response = app.test_client().post("/account/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 200 and "邮箱或密码不正确" in page_text(response)


def test_reactivated_user_can_log_in_again(app, client, admin):
    user = make_user(Role.ENTERPRISE, active=False)

    client.post(f"/admin/users/{user.id}/active", data={"active": "1"})

    login(app.test_client(), user)


def test_admin_cannot_deactivate_self(client, admin):
    html = page_text(client.post(f"/admin/users/{admin.id}/active", data={"active": "0"}, follow_redirects=True))

    assert "不能停用自己的账号" in html
    db.session.refresh(admin)
    assert admin.active is True


# --- audit log ---------------------------------------------------------------------------------


def test_audit_log_shows_actor_name_and_action(client, admin):
    listing = submitted_listing(title="写入日志的成果")
    client.post(f"/admin/review/{listing.id}", data={"decision": "approve"})

    html = page_text(client.get("/admin/audit"))

    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "listing.approved")) is not None
    assert "审核通过" in html and "平台管理员" in html


# --- access ------------------------------------------------------------------------------------

ADMIN_URLS = [
    ("get", "/admin/"),
    ("get", "/admin/review"),
    ("get", "/admin/review/{listing}"),
    ("post", "/admin/review/{listing}"),
    ("post", "/admin/review/bulk-approve"),
    ("get", "/admin/organisations"),
    ("post", "/admin/organisations/{org}/verify"),
    ("get", "/admin/users"),
    ("post", "/admin/users/{user}/role"),
    ("post", "/admin/users/{user}/active"),
    ("get", "/admin/audit"),
]


def _admin_targets():
    user = make_user(Role.RESEARCHER, verified=False)
    listing = submitted_listing(owner=user)
    return {"listing": listing.id, "org": user.organisation_id, "user": user.id}, listing


@pytest.mark.parametrize(("method", "url"), ADMIN_URLS)
@pytest.mark.parametrize("role", [Role.RESEARCHER, Role.ENTERPRISE, Role.BROKER])
def test_admin_url_for_non_admin_returns_403(client, method, url, role):
    targets, listing = _admin_targets()
    login(client, make_user(role, org=role != Role.BROKER, broker_certificate_no="X1"))

    response = getattr(client, method)(
        url.format(**targets),
        data={"decision": "approve", "listing_ids": [str(listing.id)], "role": "admin", "active": "0"},
    )

    assert response.status_code == 403
    db.session.refresh(listing)
    assert listing.status == ListingStatus.SUBMITTED


@pytest.mark.parametrize(("method", "url"), ADMIN_URLS)
def test_admin_url_for_anonymous_redirects_to_login(client, method, url):
    targets, _listing = _admin_targets()

    response = getattr(client, method)(url.format(**targets), data={"decision": "approve"})

    assert response.status_code == 302
    assert "/account/login" in response.headers["Location"]
