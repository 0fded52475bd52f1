"""Brokers (技术经纪人): a user applies with their certificate, an admin certifies, rejects, suspends
or reinstates; the public sees certified brokers and how many deals they closed."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import func, select

from marketplace.accounts import services as account_services
from marketplace.accounts.capabilities import require_capability
from marketplace.accounts.models import Organisation
from marketplace.accounts.permissions import require
from marketplace.accounts.roles import Role
from marketplace.core import audit, taxonomy
from marketplace.core.errors import ServiceError
from marketplace.core.links import path_for
from marketplace.core.models import utcnow
from marketplace.deals.models import BROKER_LEVEL_LABELS, BrokerProfile, BrokerStatus, Deal, DealStage
from marketplace.deals.permissions import profile_of
from marketplace.extensions import db
from marketplace.notifications.services import notify, notify_admins

MAX_CERTIFICATE = 60
MAX_BIO = 2000
MAX_REASON = 1000

# action -> (statuses it may start from, status it leads to)
ADMIN_ACTIONS: dict[str, tuple[set[str], str]] = {
    "certify": ({BrokerStatus.APPLIED}, BrokerStatus.CERTIFIED),
    "reject": ({BrokerStatus.APPLIED}, BrokerStatus.REJECTED),
    "suspend": ({BrokerStatus.CERTIFIED}, BrokerStatus.SUSPENDED),
    "reinstate": ({BrokerStatus.SUSPENDED}, BrokerStatus.CERTIFIED),
}
NEEDS_REASON = {"reject", "suspend"}


@dataclass
class Application:
    certificate_no: str
    level: str
    specialities: list[str]
    organisation: Organisation | None
    bio: str | None = None


def apply(user, details: Application) -> BrokerProfile:
    """Apply (or, after a rejection, apply again) to be certified as a broker."""
    require_capability(user, "broker.apply", _("管理员无需申请技术经纪人认证"))
    certificate = (details.certificate_no or "").strip()
    if not certificate:
        raise ServiceError(_("请填写技术经纪人证书编号"))
    if len(certificate) > MAX_CERTIFICATE:
        raise ServiceError(_("证书编号不能超过 %(n)d 个字符", n=MAX_CERTIFICATE))
    if details.level not in BROKER_LEVEL_LABELS:
        raise ServiceError(_("请选择经纪人等级"))
    unknown = [code for code in details.specialities if code not in taxonomy.INDUSTRIES]
    if unknown or not details.specialities:
        raise ServiceError(_("请选择至少一个擅长领域"))
    bio = (details.bio or "").strip()
    if len(bio) > MAX_BIO:
        raise ServiceError(_("个人简介不能超过 %(n)d 个字", n=MAX_BIO))

    profile = profile_of(user)
    if profile is not None and profile.status != BrokerStatus.REJECTED:
        raise ServiceError(_("您已提交过申请，当前状态：%(status)s", status=status_label(profile)), 409)
    if profile is None:
        profile = BrokerProfile(user_id=user.id)
        db.session.add(profile)
    profile.certificate_no, profile.level = certificate, details.level
    profile.specialities = list(dict.fromkeys(details.specialities))
    profile.organisation_id = details.organisation.id if details.organisation else None
    profile.bio, profile.status, profile.status_note = bio or None, BrokerStatus.APPLIED, None
    db.session.flush()
    audit.record(user, "broker.applied", profile, certificate_no=certificate, level=details.level)
    notify_admins("broker_applied", link=path_for("deals.admin_brokers"), name=user.name)
    return profile


def decide(admin, profile: BrokerProfile, action: str, reason: str | None = None) -> None:
    """certify / reject / suspend / reinstate; reasons are required to reject or suspend."""
    require_capability(admin, "broker.certify")
    sources, target = ADMIN_ACTIONS[action]
    if profile.status not in sources:
        raise ServiceError(_("当前状态（%(status)s）不能执行此操作", status=status_label(profile)), 409)
    reason = (reason or "").strip()[:MAX_REASON] or None
    if action in NEEDS_REASON and not reason:
        raise ServiceError(_("请填写原因"))
    user = profile.user
    profile.status, profile.status_note = target, reason
    if target == BrokerStatus.CERTIFIED:
        profile.certified_at = profile.certified_at or utcnow()
        if user.role not in (Role.BROKER, Role.ADMIN):
            # The same path as an admin granting the role by hand: audited, and the user is told.
            account_services.set_role(admin, user, Role.BROKER, profile.certificate_no)
        elif user.role == Role.BROKER:
            user.broker_certificate_no = profile.certificate_no
    audit.record(admin, f"broker.{action}", profile, user_id=user.id, reason=reason)
    link = path_for("deals.broker_profile", profile_id=profile.id)
    if action == "certify":
        notify(user, "broker_certified", link=link)
    elif action == "reinstate":
        notify(user, "broker_reinstated", link=link)
    else:
        notify(user, f"broker_{'rejected' if action == 'reject' else 'suspended'}", link=link, reason=reason)


def status_label(profile: BrokerProfile) -> str:
    from marketplace.deals.models import BROKER_STATUS_LABELS

    return str(BROKER_STATUS_LABELS.get(profile.status, profile.status))


def applications(status: str | None = None):
    statement = select(BrokerProfile).order_by(BrokerProfile.updated_at.desc(), BrokerProfile.id.desc())
    if status:
        statement = statement.where(BrokerProfile.status == status)
    return statement


def status_counts() -> dict[str, int]:
    rows = db.session.execute(select(BrokerProfile.status, func.count()).group_by(BrokerProfile.status))
    return {status: count for status, count in rows}


def certified(speciality: str | None = None):
    """Certified brokers for the public directory, with their closed-won deal count."""
    won = (
        select(func.count(Deal.id))
        .where(Deal.broker_id == BrokerProfile.user_id, Deal.stage == DealStage.WON)
        .correlate(BrokerProfile)
        .scalar_subquery()
    )
    statement = select(BrokerProfile, won.label("won")).where(BrokerProfile.status == BrokerStatus.CERTIFIED)
    statement = statement.order_by(won.desc(), BrokerProfile.certified_at, BrokerProfile.id)
    if speciality:
        # Specialities are a short JSON list: filtered here rather than with dialect-specific JSON operators.
        return [row for row in db.session.execute(statement) if speciality in (row[0].specialities or [])]
    return list(db.session.execute(statement))


def won_count(profile: BrokerProfile) -> int:
    return (
        db.session.scalar(
            select(func.count(Deal.id)).where(Deal.broker_id == profile.user_id, Deal.stage == DealStage.WON)
        )
        or 0
    )


def can_see_profile(viewer, profile: BrokerProfile) -> bool:
    if profile.status == BrokerStatus.CERTIFIED:
        return True
    from marketplace.accounts.capabilities import has_capability

    return has_capability(viewer, "broker.certify") or getattr(viewer, "id", None) == profile.user_id


def require_visible(viewer, profile: BrokerProfile) -> None:
    require(can_see_profile(viewer, profile))
