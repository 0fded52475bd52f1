"""揭榜挂帅: research teams apply for an enterprise's open challenge; the owner side shortlists and
picks one winner, which closes the challenge. Callers commit."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from marketplace.accounts.capabilities import require_capability
from marketplace.accounts.permissions import require
from marketplace.core import audit
from marketplace.core.errors import ServiceError
from marketplace.core.links import path_for
from marketplace.core.models import utcnow
from marketplace.extensions import db
from marketplace.listings import permissions
from marketplace.listings.models import ApplicationStatus, ChallengeApplication, Demand
from marketplace.listings.signals import challenge_winner_picked
from marketplace.notifications.services import notify

A = ApplicationStatus
# action -> (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[set[str], str]] = {
    "shortlist": ({A.SUBMITTED}, A.SHORTLISTED),
    "win": ({A.SUBMITTED, A.SHORTLISTED}, A.WINNER),
    "withdraw": ({A.SUBMITTED, A.SHORTLISTED}, A.WITHDRAWN),
}
# Applications still in the running; a winner decides all of them.
UNDECIDED = {A.SUBMITTED, A.SHORTLISTED}
MAX_TEAM_NAME = 120
MAX_PROPOSAL = 10_000


class Phase(StrEnum):
    OPEN = "open"
    UNPUBLISHED = "unpublished"
    CLOSED = "closed"
    AWARDED = "awarded"


PHASE_LABELS = {
    Phase.OPEN: _l("征集中"),
    Phase.UNPUBLISHED: _l("未发布"),
    Phase.CLOSED: _l("已截止"),
    Phase.AWARDED: _l("已揭榜"),
}


def phase(demand: Demand) -> Phase:
    if winner_of(demand) is not None:
        return Phase.AWARDED
    if not demand.is_published:
        return Phase.UNPUBLISHED
    if demand.deadline is not None and demand.deadline < date.today():
        return Phase.CLOSED
    return Phase.OPEN


def winner_of(demand: Demand) -> ChallengeApplication | None:
    return next((app for app in demand.applications if app.status == A.WINNER), None)


def application_of(user, demand: Demand) -> ChallengeApplication | None:
    if not user.is_authenticated:
        return None
    return db.session.scalar(
        select(ChallengeApplication).where(
            ChallengeApplication.demand_id == demand.id, ChallengeApplication.applicant_id == user.id
        )
    )


def _closed_message(demand: Demand) -> str:
    current = phase(demand)
    if current == Phase.AWARDED:
        return _("该榜单已有团队揭榜成功，不再接受申请")
    if current == Phase.CLOSED:
        return _("揭榜已于 %(date)s 截止，不再接受申请", date=format_date(demand.deadline, format="long"))
    return _("榜单尚未发布或已下架，暂不接受申请")


def _transition(application: ChallengeApplication, action: str) -> None:
    sources, target = TRANSITIONS[action]
    if application.status not in sources:
        raise ServiceError(_("申请当前状态（%(status)s）不能执行此操作", status=application.status_label), 409)
    application.status = target


def _detail_link(demand: Demand) -> str:
    return path_for("listings.detail", listing_id=demand.id, _anchor="challenge")


def _clean(team_name: str | None, proposal: str | None) -> tuple[str, str]:
    team_name, proposal = (team_name or "").strip(), (proposal or "").strip()
    if not team_name or not proposal:
        raise ServiceError(_("请填写团队名称和揭榜方案"))
    if len(team_name) > MAX_TEAM_NAME:
        raise ServiceError(_("团队名称不能超过 %(n)d 个字", n=MAX_TEAM_NAME))
    if len(proposal) > MAX_PROPOSAL:
        raise ServiceError(_("揭榜方案不能超过 %(n)d 个字", n=MAX_PROPOSAL))
    return team_name, proposal


def apply(user, demand: Demand, team_name: str, proposal: str) -> ChallengeApplication:
    require_capability(user, "challenge.apply", _("只有科研人员（团队）可以申请揭榜"))
    require(not permissions.is_owner_side(user, demand), _("不能申请揭榜自己发布的榜单"))
    if not demand.challenge:
        raise ServiceError(_("这条需求不是揭榜挂帅榜单"), 409)
    if not permissions.can_apply_to_challenge(user, demand):
        raise ServiceError(_closed_message(demand), 409)
    team_name, proposal = _clean(team_name, proposal)

    application = application_of(user, demand)
    if application is not None and application.status != A.WITHDRAWN:
        raise ServiceError(_("您已申请过该榜单，当前状态：%(status)s", status=application.status_label), 409)
    if application is not None:
        # One row per team and challenge (a unique constraint): re-applying after withdrawing reuses it.
        application.team_name, application.proposal = team_name, proposal
        application.status, application.decided_at = A.SUBMITTED, None
    else:
        application = ChallengeApplication(
            demand=demand, applicant_id=user.id, team_name=team_name, proposal=proposal, status=A.SUBMITTED
        )
        db.session.add(application)
    try:
        db.session.flush()
    except IntegrityError:
        # A double submit racing this one got there first; the caller rolls back.
        raise ServiceError(_("您已申请过该榜单"), 409) from None
    audit.record(user, "challenge.applied", application, demand_id=demand.id, team_name=team_name)
    if demand.owner is not None:
        notify(
            demand.owner,
            "challenge_application",
            link=path_for("listings.applications", listing_id=demand.id),
            team=team_name,
            title=demand.title,
        )
    return application


def shortlist(user, application: ChallengeApplication) -> None:
    demand = application.demand
    require(permissions.can_manage_applications(user, demand), _("只有发榜方可以评审揭榜申请"))
    _transition(application, "shortlist")
    audit.record(user, "challenge.shortlisted", application, demand_id=demand.id)
    notify(application.applicant, "application_shortlisted", link=_detail_link(demand), title=demand.title)


def pick_winner(user, application: ChallengeApplication) -> None:
    """Choose the winning team; every other team still in the running is told it was not selected."""
    demand = application.demand
    require(permissions.can_manage_applications(user, demand), _("只有发榜方可以评审揭榜申请"))
    if winner_of(demand) is not None:
        raise ServiceError(_("该榜单已选定揭榜团队，不能再次选择"), 409)
    _transition(application, "win")
    now = utcnow()
    application.decided_at = now
    audit.record(user, "challenge.winner_picked", application, demand_id=demand.id)
    notify(application.applicant, "application_won", link=_detail_link(demand), title=demand.title)
    for other in demand.applications:
        if other is application or other.status not in UNDECIDED:
            continue
        other.status, other.decided_at = A.NOT_SELECTED, now
        audit.record(user, "challenge.not_selected", other, demand_id=demand.id)
        notify(other.applicant, "application_not_selected", link=_detail_link(demand), title=demand.title)
    challenge_winner_picked.send(application, actor=user)


def withdraw(user, application: ChallengeApplication) -> None:
    require(user.is_authenticated and application.applicant_id == user.id, _("只能撤回自己的揭榜申请"))
    if application.status in (A.WINNER, A.NOT_SELECTED):
        raise ServiceError(_("评审结果已出，不能撤回申请"), 409)
    _transition(application, "withdraw")
    audit.record(user, "challenge.withdrawn", application, demand_id=application.demand_id)
    demand = application.demand
    if demand.owner is not None:
        notify(
            demand.owner,
            "application_withdrawn",
            link=path_for("listings.applications", listing_id=demand.id),
            team=application.team_name,
            title=demand.title,
        )
