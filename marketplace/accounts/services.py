"""Write paths for accounts and organisations. Callers commit."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select

from marketplace.accounts.capabilities import has_capability, require_capability
from marketplace.accounts.models import Invitation, Organisation, User
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
MIN_PASSWORD_LENGTH = 8


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


def create_organisation(details: OrganisationDetails, kind: str) -> Organisation:
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
) -> User:
    """Self-service registration: join an organisation by invitation, or register a new one and run it."""
    if role not in SELF_SERVICE_ROLES:
        raise ServiceError(_("技术经纪人和管理员角色需由管理员授予"))
    if find_user_by_email(email):
        raise ServiceError(_("该邮箱已注册，请直接登录"))
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ServiceError(_("密码至少需要 %(n)d 位", n=MIN_PASSWORD_LENGTH))
    user = User(email=email.strip().lower(), name=name.strip(), role=role)
    user.set_password(password)
    if invitation_token:
        invitation = pending_invitation(invitation_token)
        if invitation.email.lower() != user.email:
            raise ServiceError(_("此邀请发给了另一个邮箱地址"))
        if ORG_KIND_FOR_ROLE[Role(role)] != invitation.organisation.kind:
            raise ServiceError(_("所选角色与邀请机构的类型不符"))
        user.organisation = invitation.organisation
        invitation.accepted_at = utcnow()
    else:
        if organisation is None or not organisation.name.strip():
            raise ServiceError(_("请填写所在机构名称"))
        user.organisation = create_organisation(organisation, ORG_KIND_FOR_ROLE[Role(role)])
        user.is_org_admin = True
    db.session.add(user)
    db.session.flush()
    audit.record(user, "user.registered", user, role=role, organisation_id=user.organisation_id)
    return user


def authenticate(email: str, password: str) -> User | None:
    user = find_user_by_email(email)
    if user is None or not user.active or not user.check_password(password):
        return None
    user.last_login_at = utcnow()
    return user


def change_password(user: User, current_password: str, new_password: str) -> None:
    if not user.check_password(current_password):
        raise ServiceError(_("当前密码不正确"))
    if len(new_password) < MIN_PASSWORD_LENGTH:
        raise ServiceError(_("密码至少需要 %(n)d 位", n=MIN_PASSWORD_LENGTH))
    user.set_password(new_password)
    audit.record(user, "user.password_changed", user)


def update_profile(user: User, name: str, phone: str | None, title: str | None) -> None:
    user.name, user.phone, user.title = name.strip(), (phone or None), (title or None)


def invite_member(inviter: User, email: str) -> Invitation:
    organisation = inviter.organisation
    require(is_org_admin_of(inviter, organisation), _("只有机构管理员可以邀请成员"))
    existing = find_user_by_email(email)
    if existing is not None:
        raise ServiceError(_("该邮箱已注册平台账号"))
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
    audit.record(admin, "user.activated" if active else "user.deactivated", user)
