"""Roles and organisation kinds, with their user-facing labels."""

from __future__ import annotations

from enum import StrEnum

from flask_babel import lazy_gettext as _l


class Role(StrEnum):
    RESEARCHER = "researcher"
    ENTERPRISE = "enterprise"
    SERVICE_PROVIDER = "service_provider"
    INVESTOR = "investor"
    BROKER = "broker"
    ADMIN = "admin"


class OrgKind(StrEnum):
    INSTITUTION = "institution"
    ENTERPRISE = "enterprise"
    SERVICE_PROVIDER = "service_provider"
    INVESTOR = "investor"


class Verification(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"


ROLE_LABELS = {
    Role.RESEARCHER: _l("科研人员"),
    Role.ENTERPRISE: _l("企业用户"),
    Role.SERVICE_PROVIDER: _l("服务机构"),
    Role.INVESTOR: _l("投资机构"),
    Role.BROKER: _l("技术经纪人"),
    Role.ADMIN: _l("管理员"),
}

ORG_KIND_LABELS = {
    OrgKind.INSTITUTION: _l("高校/科研院所"),
    OrgKind.ENTERPRISE: _l("企业"),
    OrgKind.SERVICE_PROVIDER: _l("服务机构"),
    OrgKind.INVESTOR: _l("投资机构"),
}

VERIFICATION_LABELS = {
    Verification.PENDING: _l("待认证"),
    Verification.VERIFIED: _l("已认证"),
    Verification.REJECTED: _l("认证未通过"),
}

# Roles a visitor may pick at registration; brokers and admins are appointed by an admin.
SELF_SERVICE_ROLES = (Role.RESEARCHER, Role.ENTERPRISE, Role.SERVICE_PROVIDER, Role.INVESTOR)

ORG_KIND_FOR_ROLE = {
    Role.RESEARCHER: OrgKind.INSTITUTION,
    Role.ENTERPRISE: OrgKind.ENTERPRISE,
    Role.SERVICE_PROVIDER: OrgKind.SERVICE_PROVIDER,
    Role.INVESTOR: OrgKind.INVESTOR,
}
