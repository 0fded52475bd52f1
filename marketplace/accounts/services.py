"""Write paths for accounts and organisations. Callers commit."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from marketplace.accounts import tokens
from marketplace.accounts.capabilities import has_capability, require_capability
from marketplace.accounts.models import Invitation, Organisation, User
from marketplace.accounts.passwords import password_problem
from marketplace.accounts.permissions import is_org_admin_of, require
from marketplace.accounts.roles import ORG_KIND_FOR_ROLE, ROLE_LABELS, SELF_SERVICE_ROLES, OrgKind, Role, Verification
from marketplace.accounts.uscc import normalise_uscc, uscc_error
from marketplace.core import audit
from marketplace.core.errors import ServiceError
from marketplace.core.links import path_for, public_url
from marketplace.core.models import as_utc, utcnow
from marketplace.extensions import db
from marketplace.notifications.services import notify, queue_mail

INVITATION_DAYS = 14


@dataclass(frozen=True)
class MailLinks:
    """Absolute URLs for the mail a service sends; the view builds them (services do not call url_for)."""

    verify_email: Callable[[str], str]  # token -> link
    reset_password: Callable[[str], str]  # token -> link
    forgot_password: str


@dataclass
class OrganisationDetails:
    name: str
    uscc: str | None = None
    district: str | None = None
    industry: str | None = None
    is_high_tech: bool = False
    is_tech_sme: bool = False


def uscc_message(code: str) -> str | None:
    """A user-facing reason why ``code`` is not a valid unified social credit code, or None."""
    reason = uscc_error(code)
    return {
        None: None,
        "length": _("统一社会信用代码应为18位"),
        "charset": _("统一社会信用代码只能包含数字和大写字母（不含 I、O、S、V、Z）"),
        "region": _("统一社会信用代码第3–8位应为行政区划代码"),
        "check": _("统一社会信用代码校验位不正确，请核对"),
    }[reason]


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def _checked_organisation(details: OrganisationDetails, kind: str) -> tuple[str, str | None]:
    """The organisation's name and normalised USCC, or a ServiceError saying why it cannot be registered."""
    name = details.name.strip()
    if db.session.scalar(select(Organisation.id).where(Organisation.name == name)):
        raise ServiceError(_("该机构已在平台注册，请联系机构管理员邀请您加入"))
    uscc = normalise_uscc(details.uscc) if details.uscc else None
    if kind == OrgKind.ENTERPRISE and not uscc:
        raise ServiceError(_("企业须填写统一社会信用代码"))
    if uscc:
        message = uscc_message(uscc)
        if message:
            raise ServiceError(message)
        if db.session.scalar(select(Organisation.id).where(Organisation.uscc == uscc)):
            raise ServiceError(_("该统一社会信用代码已被其他机构使用"))
    return name, uscc


def create_organisation(details: OrganisationDetails, kind: str) -> Organisation:
    name, uscc = _checked_organisation(details, kind)
    organisation = Organisation(
        name=name,
        kind=kind,
        uscc=uscc,
        district=details.district,
        industry=details.industry,
        is_high_tech=details.is_high_tech,
        is_tech_sme=details.is_tech_sme,
        verification=Verification.PENDING,
    )
    db.session.add(organisation)
    db.session.flush()
    return organisation


def register_user(
    email: str,
    password: str,
    name: str,
    role: str,
    organisation: OrganisationDetails | None = None,
    invitation_token: str | None = None,
    *,
    links: MailLinks,
) -> User | None:
    """Self-service registration: join an organisation by invitation, or register a new one and run it.

    The answer must not tell whether the address already has an account: for a taken address every
    check still runs, the same work is done, and instead of an account the owner of the address gets
    a mail ("someone tried to register with your address"). Returns None in that case. A new account
    waits for its address to be verified, unless it came through an invitation (mailed to that
    address, so opening it proves the address).
    """
    if role not in SELF_SERVICE_ROLES:
        raise ServiceError(_("技术经纪人和管理员角色需由管理员授予"))
    email = email.strip().lower()
    problem = password_problem(password, email)
    if problem:
        raise ServiceError(problem)
    invitation = None
    if invitation_token:
        invitation = pending_invitation(invitation_token)
        if invitation.email.lower() != email:
            raise ServiceError(_("此邀请发给了另一个邮箱地址"))
        if ORG_KIND_FOR_ROLE[Role(role)] != invitation.organisation.kind:
            raise ServiceError(_("所选角色与邀请机构的类型不符"))
    elif organisation is None or not organisation.name.strip():
        raise ServiceError(_("请填写所在机构名称"))
    else:
        _checked_organisation(organisation, ORG_KIND_FOR_ROLE[Role(role)])
    password_hash = generate_password_hash(password, method="scrypt")  # the same cost either way
    if find_user_by_email(email) is not None:
        queue_mail(
            email,
            _("【青岛技术转移服务平台】有人尝试用您的邮箱注册"),
            _(
                "有人（可能是您本人）尝试用此邮箱注册青岛技术转移服务平台，但该邮箱已有账号，因此没有创建新账号。\n"
                "如果是您本人，请直接登录；忘记密码可在此重置：\n%(link)s\n如果不是您，请忽略本邮件。",
                link=links.forgot_password,
            ),
        )
        return None
    user = User(email=email, name=name.strip(), role=role, password_hash=password_hash)
    if invitation is not None:
        user.organisation = invitation.organisation
        user.email_verified = True
        invitation.accepted_at = utcnow()
    else:
        user.organisation = create_organisation(organisation, ORG_KIND_FOR_ROLE[Role(role)])
        user.is_org_admin = True
        user.email_verified = False
    db.session.add(user)
    db.session.flush()
    audit.record(user, "user.registered", user, role=role, organisation_id=user.organisation_id)
    if not user.email_verified:
        send_verification(user, links)
    return user


def send_verification(user: User, links: MailLinks) -> None:
    """Mail ``user`` a link that confirms their address (a no-op once it is confirmed)."""
    if user.email_verified:
        return
    queue_mail(
        user.email,
        _("【青岛技术转移服务平台】请验证您的邮箱"),
        _(
            "%(name)s，您好：\n请在 3 天内打开下面的链接验证您的邮箱，验证后即可发布信息：\n%(link)s\n"
            "如果您没有注册本平台，请忽略本邮件。",
            name=user.name,
            link=links.verify_email(tokens.verification_token(user)),
        ),
    )


def verify_email(token: str) -> User:
    user = tokens.user_for_verification_token(token)
    if user is None:
        raise ServiceError(_("验证链接无效或已过期，请登录后重新发送验证邮件"))
    if not user.email_verified:
        user.email_verified = True
        audit.record(user, "user.email_verified", user)
    return user


@lru_cache(maxsize=1)
def _dummy_password_hash() -> str:
    return generate_password_hash(secrets.token_hex(16), method="scrypt")


def authenticate(email: str, password: str) -> User | None:
    user = find_user_by_email(email)
    if user is None:
        # Check against a hash of the same scheme, so an unknown address takes as long as a known one.
        check_password_hash(_dummy_password_hash(), password)
        return None
    if not user.check_password(password) or not user.active:
        return None
    user.last_login_at = utcnow()
    return user


def logout(user: User) -> None:
    """Sign ``user`` out everywhere: copies of their session or remember-me cookie stop working too."""
    user.end_all_sessions()


def change_password(user: User, current_password: str, new_password: str) -> None:
    """Change the password and end every other session (the caller signs this one in again)."""
    if not user.check_password(current_password):
        raise ServiceError(_("当前密码不正确"))
    problem = password_problem(new_password, user.email)
    if problem:
        raise ServiceError(problem)
    user.set_password(new_password)
    user.end_all_sessions()
    audit.record(user, "user.password_changed", user)


def request_password_reset(email: str, links: MailLinks) -> None:
    """Mail a one-hour, single-use reset link if ``email`` has an active account; the same answer either way."""
    user = find_user_by_email(email)
    if user is None or not user.active:
        return
    queue_mail(
        user.email,
        _("【青岛技术转移服务平台】重置密码"),
        _(
            "%(name)s，您好：\n请在 1 小时内打开下面的链接设置新密码（链接只能使用一次）：\n%(link)s\n"
            "如果您没有申请重置密码，请忽略本邮件，您的密码不会改变。",
            name=user.name,
            link=links.reset_password(tokens.reset_token(user)),
        ),
    )


def reset_password(token: str, new_password: str) -> User:
    user = tokens.user_for_reset_token(token)
    if user is None:
        raise ServiceError(_("重置链接无效、已使用或已过期，请重新申请"))
    problem = password_problem(new_password, user.email)
    if problem:
        raise ServiceError(problem)
    user.set_password(new_password)  # a new hash: the token's fingerprint no longer matches
    user.end_all_sessions()
    # Whoever could read the reset mail controls the address.
    user.email_verified = True
    audit.record(user, "user.password_reset", user)
    return user


def update_profile(user: User, name: str, phone: str | None, title: str | None) -> None:
    user.name, user.phone, user.title = name.strip(), (phone or None), (title or None)


def invite_member(inviter: User, email: str) -> Invitation | None:
    organisation = inviter.organisation
    require(is_org_admin_of(inviter, organisation), _("只有机构管理员可以邀请成员"))
    existing = find_user_by_email(email)
    if existing is not None:
        # The inviter sees the usual answer: who has an account is not theirs to learn.
        queue_mail(
            existing.email,
            _("【青岛技术转移服务平台】%(org)s 邀请您加入", org=organisation.name),
            _(
                "%(inviter)s 邀请您加入「%(org)s」。您的邮箱已有平台账号，一个账号只能属于一个机构；"
                "如需变更所在机构，请联系平台管理员。",
                inviter=inviter.name,
                org=organisation.name,
            ),
        )
        audit.record(inviter, "organisation.member_invited", organisation, email=existing.email)
        return None
    invitation = Invitation(
        organisation=organisation,
        email=email.strip().lower(),
        token=secrets.token_urlsafe(32),
        invited_by=inviter,
        expires_at=utcnow() + timedelta(days=INVITATION_DAYS),
    )
    db.session.add(invitation)
    db.session.flush()
    link = public_url(path_for("accounts.register", invite=invitation.token))
    queue_mail(
        invitation.email,
        _("【青岛技术转移服务平台】%(org)s 邀请您加入", org=organisation.name),
        _(
            "%(inviter)s 邀请您加入「%(org)s」。请在 %(days)d 天内打开下面的链接完成注册：\n%(link)s",
            inviter=inviter.name,
            org=organisation.name,
            days=INVITATION_DAYS,
            link=link,
        ),
    )
    audit.record(inviter, "organisation.member_invited", organisation, email=invitation.email)
    return invitation


def pending_invitation(token: str) -> Invitation:
    invitation = db.session.scalar(select(Invitation).where(Invitation.token == token))
    if invitation is None or invitation.accepted_at is not None:
        raise ServiceError(_("邀请链接无效或已被使用"), 404)
    if as_utc(invitation.expires_at) < utcnow():
        raise ServiceError(_("邀请链接已过期，请联系机构管理员重新邀请"))
    return invitation


def review_organisation(admin: User, organisation: Organisation, approve: bool, note: str | None = None) -> None:
    require_capability(admin, "organisation.verify")
    if not approve and not (note or "").strip():
        raise ServiceError(_("请填写未通过认证的原因"))
    organisation.verification = Verification.VERIFIED if approve else Verification.REJECTED
    organisation.verification_note = None if approve else note.strip()
    organisation.verified_at = utcnow() if approve else None
    audit.record(admin, "organisation.verified" if approve else "organisation.rejected", organisation, note=note)
    for member in organisation.members:
        if member.is_org_admin:
            notify(
                member,
                "organisation_verified" if approve else "organisation_rejected",
                link=path_for("accounts.organisation"),
                name=organisation.name,
                reason=note or "",
            )


def update_organisation(
    user: User, organisation: Organisation, details: OrganisationDetails, description: str | None, website: str | None
) -> None:
    """Org admins keep their profile current; a changed legal identity needs verifying again."""
    require(is_org_admin_of(user, organisation) or has_capability(user, "organisation.verify"))
    uscc = normalise_uscc(details.uscc) if details.uscc else None
    if uscc and uscc_message(uscc):
        raise ServiceError(uscc_message(uscc))
    if organisation.kind == OrgKind.ENTERPRISE and not uscc:
        raise ServiceError(_("企业须填写统一社会信用代码"))
    identity_changed = details.name.strip() != organisation.name or uscc != organisation.uscc
    organisation.name = details.name.strip()
    organisation.uscc = uscc
    organisation.district, organisation.industry = details.district, details.industry
    organisation.is_high_tech, organisation.is_tech_sme = details.is_high_tech, details.is_tech_sme
    organisation.description, organisation.website = description or None, website or None
    if identity_changed and not has_capability(user, "organisation.verify"):
        organisation.verification = Verification.PENDING
    audit.record(user, "organisation.updated", organisation, identity_changed=identity_changed)


def set_role(admin: User, user: User, role: str, certificate_no: str | None = None) -> None:
    require_capability(admin, "user.manage")
    if role not in Role.__members__.values():
        raise ServiceError(_("未知角色"))
    if role == Role.BROKER and not (certificate_no or "").strip():
        raise ServiceError(_("授予技术经纪人角色须填写经纪人证书编号"))
    if user.id == admin.id and role != Role.ADMIN:
        raise ServiceError(_("不能取消自己的管理员角色"))
    previous = user.role
    user.role = role
    user.broker_certificate_no = certificate_no.strip() if role == Role.BROKER and certificate_no else None
    audit.record(admin, "user.role_changed", user, previous=previous, role=role)
    notify(user, "role_granted", link=path_for("accounts.profile"), role=str(ROLE_LABELS[Role(role)]))


def set_active(admin: User, user: User, active: bool) -> None:
    require_capability(admin, "user.manage")
    if user.id == admin.id:
        raise ServiceError(_("不能停用自己的账号"))
    user.active = active
    if not active:
        user.end_all_sessions()  # a disabled account is signed out now, not at its next login
    audit.record(admin, "user.activated" if active else "user.deactivated", user)
