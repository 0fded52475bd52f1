"""Accounts: registration, login, throttling, password and profile, invitations, organisation identity."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from marketplace.accounts import services
from marketplace.accounts.models import Invitation, Organisation, User
from marketplace.accounts.roles import OrgKind, Role, Verification
from marketplace.core.errors import ServiceError
from marketplace.core.models import utcnow
from marketplace.extensions import db
from tests.factories import PASSWORD, login, make_org, make_user, valid_uscc

VALID_USCC = "91350100M000100Y43"
BAD_CHECK_USCC = "91350100M000100Y44"


def _registration(**overrides) -> dict:
    data = {
        "email": "new.user@example.cn",
        "name": "王海洋",
        "role": Role.RESEARCHER.value,
        "password": "s3cure-passw0rd",
        "confirm": "s3cure-passw0rd",
        "accept_terms": "y",
        "org_name": "中国海洋大学测试学院",
        "uscc": "",
        "district": "laoshan",
        "industry": "marine_biomedicine",
    }
    data.update(overrides)
    return data


def _user(email: str) -> User | None:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.email == email))


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _path(response) -> str:
    return urlsplit(response.headers["Location"]).path


def _field_html(page: str, field_id: str) -> str:
    """The form group of one field: from its input to the next label, so errors can be checked beside it."""
    start = page.rindex("<", 0, page.index(f'id="{field_id}"'))
    end = page.find("<label", start)
    return page[start : end if end != -1 else None]


# --- registration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "kind", "uscc"),
    [
        (Role.RESEARCHER, OrgKind.INSTITUTION, ""),
        (Role.ENTERPRISE, OrgKind.ENTERPRISE, VALID_USCC),
        (Role.SERVICE_PROVIDER, OrgKind.SERVICE_PROVIDER, ""),
        (Role.INVESTOR, OrgKind.INVESTOR, ""),
    ],
)
def test_register_self_service_role_creates_pending_org_with_user_as_admin(client, mail_outbox, role, kind, uscc):
    response = client.post("/account/register", data=_registration(role=role.value, uscc=uscc))

    assert response.status_code == 200, response.get_data(as_text=True)[:3000]
    assert "请查收邮件" in response.get_data(as_text=True)
    user = _user("new.user@example.cn")
    assert user is not None and user.role == role
    assert user.is_org_admin
    org = user.organisation
    assert org.name == "中国海洋大学测试学院"
    assert org.kind == kind
    assert org.verification == Verification.PENDING
    assert org.uscc == (uscc or None)
    # The address is not proven yet: the user is not signed in, and a verification link is on its way.
    assert not user.email_verified
    assert client.get("/dashboard").status_code == 302
    assert [message["To"] for message in mail_outbox] == ["new.user@example.cn"]


def test_register_enterprise_bad_check_digit_shows_error_beside_uscc_field(client):
    response = client.post("/account/register", data=_registration(role="enterprise", uscc=BAD_CHECK_USCC))

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    uscc_group = _field_html(page, "uscc")
    assert "is-invalid" in uscc_group
    assert "统一社会信用代码校验位不正确" in uscc_group
    assert _user("new.user@example.cn") is None
    assert _count(Organisation) == 0


def test_register_enterprise_without_uscc_is_refused(client):
    response = client.post("/account/register", data=_registration(role="enterprise", uscc=""))

    assert response.status_code == 200
    assert "企业须填写统一社会信用代码" in _field_html(response.get_data(as_text=True), "uscc")
    assert _user("new.user@example.cn") is None


def test_register_enterprise_lowercase_uscc_is_stored_normalised(client):
    response = client.post("/account/register", data=_registration(role="enterprise", uscc=VALID_USCC.lower()))

    assert response.status_code == 200
    assert _user("new.user@example.cn").organisation.uscc == VALID_USCC


@pytest.mark.parametrize("role", [Role.BROKER, Role.ADMIN])
def test_register_privileged_role_is_rejected_by_form(client, role):
    response = client.post("/account/register", data=_registration(role=role.value))

    assert response.status_code == 200
    assert "is-invalid" in _field_html(response.get_data(as_text=True), "role")
    assert _user("new.user@example.cn") is None
    assert _count(Organisation) == 0


@pytest.mark.parametrize("role", [Role.BROKER, Role.ADMIN])
def test_register_user_service_privileged_role_raises(app, role):
    with pytest.raises(ServiceError):
        services.register_user(
            "x@example.cn",
            "long-enough-1",
            "某人",
            role,
            organisation=services.OrganisationDetails(name="某机构"),
            links=services.MailLinks(str, str, "/account/password/forgot"),
        )
    assert _count(User) == 0


def test_register_registration_page_offers_only_self_service_roles(client):
    page = client.get("/account/register").get_data(as_text=True)
    role_select = page[page.index('id="role"') : page.index("</select>", page.index('id="role"'))]
    for role in ("researcher", "enterprise", "service_provider", "investor"):
        assert f'value="{role}"' in role_select
    assert 'value="broker"' not in role_select
    assert 'value="admin"' not in role_select


def test_register_existing_email_answers_like_a_new_one_and_mails_the_owner(client, mail_outbox):
    make_user("researcher", email="taken@example.cn")
    fresh = client.post("/account/register", data=_registration(email="fresh@example.cn", org_name="一个机构"))
    mail_outbox.clear()

    response = client.post("/account/register", data=_registration(email="Taken@Example.cn", org_name="另一个机构"))

    assert response.status_code == fresh.status_code == 200
    page = response.get_data(as_text=True)
    assert page == fresh.get_data(as_text=True).replace("fresh@example.cn", "taken@example.cn")
    assert "该邮箱已注册" not in page
    assert db.session.scalar(select(func.count()).where(func.lower(User.email) == "taken@example.cn")) == 1
    assert db.session.scalar(select(Organisation).where(Organisation.name == "另一个机构")) is None
    [mail] = mail_outbox
    assert mail["To"] == "taken@example.cn"
    assert "尝试用此邮箱注册" in mail.get_content()
    assert "/account/password/forgot" in mail.get_content()


def test_register_password_mismatch_shows_error_beside_confirm(client):
    response = client.post("/account/register", data=_registration(confirm="something-else"))

    assert response.status_code == 200
    assert "两次输入的密码不一致" in _field_html(response.get_data(as_text=True), "confirm")
    assert _user("new.user@example.cn") is None


# --- login, throttling, logout ----------------------------------------------------------------


def test_login_correct_password_redirects_to_dashboard(client):
    user = make_user("researcher")

    response = client.post("/account/login", data={"email": user.email, "password": PASSWORD})

    assert response.status_code == 302
    assert _path(response) == "/dashboard"
    assert client.get("/dashboard").status_code == 200
    assert _user(user.email).last_login_at is not None


def test_login_wrong_password_shows_error_and_does_not_log_in(client):
    user = make_user("researcher")

    response = client.post("/account/login", data={"email": user.email, "password": "wrong-password"})

    assert response.status_code == 200
    assert "邮箱或密码不正确" in _field_html(response.get_data(as_text=True), "password")
    dashboard = client.get("/dashboard")
    assert dashboard.status_code == 302
    assert _path(dashboard) == "/account/login"


def test_login_deactivated_user_is_refused(client):
    user = make_user("researcher", active=False)

    response = client.post("/account/login", data={"email": user.email, "password": PASSWORD})

    assert response.status_code == 200
    assert client.get("/dashboard").status_code == 302


def test_login_default_rate_limit_returns_429_after_ten_failures(app, client):
    assert app.config["LOGIN_RATE_LIMIT"] == "10 per minute"
    user = make_user("researcher")
    for _attempt in range(10):
        response = client.post("/account/login", data={"email": user.email, "password": "wrong-password"})
        assert response.status_code == 200

    response = client.post("/account/login", data={"email": user.email, "password": PASSWORD})

    assert response.status_code == 429
    assert client.get("/dashboard").status_code == 302  # the correct password did not get through


def test_login_configured_rate_limit_is_used(app, client):
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    for _attempt in range(3):
        assert client.post("/account/login", data={"email": "a@example.cn", "password": "x"}).status_code == 200

    assert client.post("/account/login", data={"email": "a@example.cn", "password": "x"}).status_code == 429


def test_login_rate_limit_does_not_count_get_requests(app, client):
    app.config["LOGIN_RATE_LIMIT"] = "2 per minute"
    for _attempt in range(5):
        assert client.get("/account/login").status_code == 200
    assert client.post("/account/login", data={"email": "a@example.cn", "password": "x"}).status_code == 200


def test_logout_get_is_not_allowed(client):
    login(client, make_user("researcher"))

    assert client.get("/account/logout").status_code == 405
    assert client.get("/dashboard").status_code == 200  # still signed in


def test_logout_post_ends_session(client):
    login(client, make_user("researcher"))

    response = client.post("/account/logout")

    assert response.status_code == 302
    assert _path(response) == "/"
    assert client.get("/dashboard").status_code == 302


# --- password and profile ---------------------------------------------------------------------


def test_change_password_wrong_current_password_is_refused(client):
    user = make_user("researcher")
    login(client, user)

    response = client.post(
        "/account/password",
        data={
            "pw-current_password": "not-my-password",
            "pw-new_password": "brand-new-pass-1",
            "pw-confirm": "brand-new-pass-1",
        },
    )

    assert response.status_code == 400
    assert "当前密码不正确" in _field_html(response.get_data(as_text=True), "pw-current_password")
    assert _user(user.email).check_password(PASSWORD)


def test_change_password_new_password_works_for_login(client):
    user = make_user("researcher")
    login(client, user)

    response = client.post(
        "/account/password",
        data={
            "pw-current_password": PASSWORD,
            "pw-new_password": "brand-new-pass-1",
            "pw-confirm": "brand-new-pass-1",
        },
    )
    assert response.status_code == 302
    client.post("/account/logout")

    refused = client.post("/account/login", data={"email": user.email, "password": PASSWORD})
    assert refused.status_code == 200
    accepted = client.post("/account/login", data={"email": user.email, "password": "brand-new-pass-1"})
    assert accepted.status_code == 302


def test_change_password_too_short_is_refused(client):
    user = make_user("researcher")
    login(client, user)

    response = client.post(
        "/account/password",
        data={
            "pw-current_password": PASSWORD,
            "pw-new_password": "short",
            "pw-confirm": "short",
        },
    )

    assert response.status_code == 400
    assert _user(user.email).check_password(PASSWORD)


def test_profile_update_saves_name_phone_and_title(client):
    user = make_user("researcher")
    login(client, user)

    response = client.post(
        "/account/profile",
        data={
            "name": "李研究员",
            "phone": "13800000000",
            "title": "副教授",
            "profile": "1",
        },
    )

    assert response.status_code == 302
    saved = _user(user.email)
    assert (saved.name, saved.phone, saved.title) == ("李研究员", "13800000000", "副教授")
    assert "李研究员" in client.get("/account/profile").get_data(as_text=True)


def test_profile_update_blank_name_is_refused(client):
    user = make_user("researcher", name="原名字")
    login(client, user)

    response = client.post("/account/profile", data={"name": "", "phone": "", "title": "", "profile": "1"})

    assert response.status_code == 200
    assert "此项为必填项" in _field_html(response.get_data(as_text=True), "name")
    assert _user(user.email).name == "原名字"


# --- invitations ------------------------------------------------------------------------------


def _invite_token(mail_outbox, email: str) -> str:
    messages = [message for message in mail_outbox if message["To"] == email]
    assert len(messages) == 1, [message["To"] for message in mail_outbox]
    body = messages[0].get_content()
    match = re.search(r"(\S*/account/register\?invite=([\w-]+))", body)
    assert match, body
    assert parse_qs(urlsplit(match.group(1)).query)["invite"] == [match.group(2)]
    return match.group(2)


def test_invite_org_admin_sends_email_with_register_link(client, mail_outbox):
    admin = make_user("researcher")
    login(client, admin)

    response = client.post("/account/organisation/invite", data={"invite-email": "colleague@example.cn"})

    assert response.status_code == 302
    token = _invite_token(mail_outbox, "colleague@example.cn")
    invitation = db.session.scalar(select(Invitation).where(Invitation.token == token))
    assert invitation.organisation_id == admin.organisation_id
    assert invitation.accepted_at is None


def test_invite_registering_through_link_joins_org_without_creating_one(client, mail_outbox):
    admin = make_user("researcher")
    org_id = admin.organisation_id
    login(client, admin)
    client.post("/account/organisation/invite", data={"invite-email": "colleague@example.cn"})
    token = _invite_token(mail_outbox, "colleague@example.cn")
    client.post("/account/logout")
    orgs_before = _count(Organisation)

    page = client.get(f"/account/register?invite={token}")
    assert page.status_code == 200
    assert admin.organisation.name in page.get_data(as_text=True)
    response = client.post(
        f"/account/register?invite={token}",
        data=_registration(email="colleague@example.cn", org_name="", role="researcher"),
    )

    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    colleague = _user("colleague@example.cn")
    assert colleague.organisation_id == org_id
    assert not colleague.is_org_admin
    assert _count(Organisation) == orgs_before
    assert db.session.scalar(select(Invitation).where(Invitation.token == token)).accepted_at is not None


def test_invite_non_org_admin_member_gets_403(client, mail_outbox):
    org = make_org(OrgKind.INSTITUTION)
    member = make_user("researcher", org=org, org_admin=False)
    login(client, member)

    response = client.post("/account/organisation/invite", data={"invite-email": "colleague@example.cn"})

    assert response.status_code == 403
    assert _count(Invitation) == 0
    assert mail_outbox == []


def _invitation(org: Organisation, inviter: User, **fields) -> Invitation:
    invitation = Invitation(
        organisation=org,
        email="colleague@example.cn",
        token=fields.pop("token", "tok-123"),
        invited_by=inviter,
        expires_at=fields.pop("expires_at", utcnow() + timedelta(days=1)),
        **fields,
    )
    db.session.add(invitation)
    db.session.commit()
    return invitation


def test_invite_expired_token_is_refused(client):
    admin = make_user("researcher")
    _invitation(admin.organisation, admin, expires_at=utcnow() - timedelta(minutes=1))

    page = client.get("/account/register?invite=tok-123")
    response = client.post(
        "/account/register?invite=tok-123", data=_registration(email="colleague@example.cn", org_name="")
    )

    assert page.status_code == 400
    assert "邀请链接已过期" in page.get_data(as_text=True)
    assert response.status_code == 400
    assert _user("colleague@example.cn") is None


def test_invite_used_token_is_refused(client):
    admin = make_user("researcher")
    _invitation(admin.organisation, admin, accepted_at=utcnow())

    response = client.post(
        "/account/register?invite=tok-123", data=_registration(email="colleague@example.cn", org_name="")
    )

    assert response.status_code == 404
    assert "邀请链接无效或已被使用" in response.get_data(as_text=True)
    assert _user("colleague@example.cn") is None


def test_invite_unknown_token_is_refused(client):
    assert client.get("/account/register?invite=no-such-token").status_code == 404


def test_invite_token_for_other_email_is_refused(client):
    admin = make_user("researcher")
    _invitation(admin.organisation, admin)

    response = client.post(
        "/account/register?invite=tok-123", data=_registration(email="someone.else@example.cn", org_name="")
    )

    assert response.status_code == 200
    assert "此邀请发给了另一个邮箱地址" in response.get_data(as_text=True)
    assert _user("someone.else@example.cn") is None


# --- organisation identity --------------------------------------------------------------------


def _org_form(org: Organisation, **overrides) -> dict:
    data = {
        "org_name": org.name,
        "uscc": org.uscc or "",
        "district": org.district or "",
        "industry": org.industry or "",
        "description": "简介",
        "website": "",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize("change", ["name", "uscc"])
def test_organisation_identity_change_returns_to_pending(client, change):
    user = make_user("enterprise")
    org = user.organisation
    assert org.verification == Verification.VERIFIED
    login(client, user)
    overrides = {"org_name": "改名后的企业"} if change == "name" else {"uscc": valid_uscc(987654)}

    response = client.post("/account/organisation", data=_org_form(org, **overrides))

    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    db.session.expire_all()
    assert org.verification == Verification.PENDING
    if change == "name":
        assert org.name == "改名后的企业"
    else:
        assert org.uscc == valid_uscc(987654)


def test_organisation_description_change_stays_verified(client):
    user = make_user("enterprise")
    org = user.organisation
    login(client, user)

    response = client.post("/account/organisation", data=_org_form(org, description="新的机构简介"))

    assert response.status_code == 302
    db.session.expire_all()
    assert org.verification == Verification.VERIFIED
    assert org.description == "新的机构简介"


def test_organisation_invalid_uscc_is_refused_and_kept(client):
    user = make_user("enterprise")
    org = user.organisation
    old_uscc = org.uscc
    login(client, user)

    response = client.post("/account/organisation", data=_org_form(org, uscc=BAD_CHECK_USCC))

    assert response.status_code == 200
    assert "统一社会信用代码校验位不正确" in response.get_data(as_text=True)
    db.session.expire_all()
    assert org.uscc == old_uscc
    assert org.verification == Verification.VERIFIED


# --- open redirect ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/path",
        "https://evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
    ],
)
def test_login_offsite_next_redirects_to_dashboard(client, target):
    user = make_user("researcher")

    response = client.post(
        "/account/login", query_string={"next": target}, data={"email": user.email, "password": PASSWORD}
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"


def test_login_same_site_next_is_followed(client):
    user = make_user("researcher")

    response = client.post("/account/login?next=/my/listings", data={"email": user.email, "password": PASSWORD})

    assert response.status_code == 302
    assert response.headers["Location"] == "/my/listings"


def test_login_required_page_redirects_anonymous_to_login_with_next(client):
    response = client.get("/my/favourites")

    assert response.status_code == 302
    assert _path(response) == "/account/login"
    assert parse_qs(urlsplit(response.headers["Location"]).query)["next"][0].startswith("/my/favourites")
