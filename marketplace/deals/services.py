"""Deals (撮合): leads from every source in one click, the pool, stage changes, the broker's timeline.

Services flush; the view, command or job commits once. Every lead source is idempotent on
(source, source_id): a second click opens the deal the first one made.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from marketplace.accounts.capabilities import require_capability
from marketplace.accounts.models import Organisation, User
from marketplace.accounts.permissions import require
from marketplace.core import audit
from marketplace.core.errors import ServiceError
from marketplace.core.links import path_for
from marketplace.core.models import utcnow
from marketplace.deals import permissions, stages
from marketplace.deals.models import (
    CLOSED_STAGES,
    DEAL_STAGE_LABELS,
    LOSS_REASON_LABELS,
    Deal,
    DealAchievement,
    DealEvent,
    DealEventKind,
    DealStage,
    LeadSource,
    LossReason,
)
from marketplace.extensions import db
from marketplace.listings.models import ApplicationStatus, ChallengeApplication, Listing, ListingKind
from marketplace.listings.signals import challenge_winner_picked
from marketplace.notifications.services import notify

MAX_TITLE = 200
MAX_NOTE = 5000
MAX_NEXT_STEP = 200
ACTIVITY_KINDS = (DealEventKind.NOTE, DealEventKind.CALL, DealEventKind.MEETING)


def deal_link(deal: Deal) -> str:
    return path_for("deals.detail", deal_id=deal.id)


def add_event(deal: Deal, actor, kind: str, body: str | None = None, **detail: Any) -> DealEvent:
    event = DealEvent(deal=deal, actor_id=getattr(actor, "id", None), kind=kind, body=body, detail=detail)
    db.session.add(event)
    return event


def people_of(deal: Deal) -> list[User]:
    """Who hears about a deal: its broker and participants (admins look on the pipeline)."""
    people = [deal.broker] if deal.broker is not None else []
    people += [participant.user for participant in deal.participants]
    return [person for person in people if person.active]


def notify_others(deal: Deal, actor, kind: str, **params: Any) -> None:
    for person in people_of(deal):
        if person.id != getattr(actor, "id", None):
            notify(person, kind, link=deal_link(deal), title=deal.title, **params)


# --- Leads ---------------------------------------------------------------------------------------


def _existing(source: str, source_id: int | None) -> Deal | None:
    if source_id is None:
        return None
    return db.session.scalar(select(Deal).where(Deal.source == source, Deal.source_id == source_id))


def _open_lead(actor, source: str, source_id: int | None, build: Callable[[], Deal]) -> Deal:
    """The deal for this lead origin: the one made before, or a new one built by ``build``.

    The unique (source, source_id) constraint settles two clicks racing each other: the loser's
    insert is undone in its savepoint and it opens the winner's deal.
    """
    found = _existing(source, source_id)
    if found is not None:
        return found
    try:
        with db.session.begin_nested():
            deal = build()
            deal.source, deal.source_id = source, source_id
            deal.created_by_id = getattr(actor, "id", None)
            deal.title = (deal.title or "").strip()[:MAX_TITLE] or _("未命名撮合")
            db.session.add(deal)
            db.session.flush()
    except IntegrityError:
        found = _existing(source, source_id)
        if found is None:
            raise
        return found
    add_event(deal, actor, DealEventKind.CREATED, source=source, source_id=source_id)
    audit.record(actor, "deal.created", deal, source=source, source_id=source_id, broker_id=deal.broker_id)
    if deal.broker_id is not None and deal.broker_id != getattr(actor, "id", None):
        notify(deal.broker, "deal_assigned", link=deal_link(deal), title=deal.title)
    return deal


def _broker_for(user) -> int | None:
    """A lead opened by an active broker is theirs; any other lead waits in the pool."""
    return user.id if permissions.is_active_broker(user) else None


def _pair_title(demand: Listing | None, achievement: Listing | None) -> str:
    titles = [listing.title for listing in (demand, achievement) if listing is not None]
    return " × ".join(titles)


def _fill_from_listings(deal: Deal, demand: Listing | None, achievements: list[Listing]) -> None:
    deal.demand = demand
    for achievement in achievements:
        deal.achievement_links.append(DealAchievement(achievement=achievement))
    first = demand or (achievements[0] if achievements else None)
    if first is not None:
        deal.industry = deal.industry or first.industry
        deal.district = deal.district or first.district
    if deal.buyer_org_id is None and demand is not None:
        deal.buyer_org_id = demand.organisation_id
    if deal.seller_org_id is None and achievements:
        deal.seller_org_id = achievements[0].organisation_id


def create_from_pair(user, pair) -> Deal:
    """发起撮合 on a strong pair: the broker who clicks runs it; the pair becomes FOLLOWING."""
    from marketplace.matchmaking.models import PairStatus

    require(permissions.can_create(user), _("只有认证技术经纪人或管理员可以发起撮合"))

    def build() -> Deal:
        deal = Deal(title=_pair_title(pair.demand, pair.achievement), broker_id=_broker_for(user))
        _fill_from_listings(deal, pair.demand, [pair.achievement])
        return deal

    deal = _open_lead(user, LeadSource.PAIR, pair.id, build)
    if pair.status != PairStatus.FOLLOWING:
        pair.status, pair.handled_by_id, pair.handled_at = PairStatus.FOLLOWING, user.id, utcnow()
        audit.record(user, "match_pair.follow", pair, deal_id=deal.id)
    return deal


def create_from_inquiry(user, thread) -> Deal:
    """A lead from an inquiry on a listing: the listing's organisation and the asker's are the parties.

    A broker who starts it runs it; an admin, or either party asking for a broker, puts it in the pool.
    """
    may_start = permissions.can_create(user) or thread.involves(user)
    require(may_start, _("只有咨询双方、技术经纪人或管理员可以发起撮合"))
    listing = thread.listing

    def build() -> Deal:
        asker_org = thread.asker.organisation_id
        deal = Deal(title=listing.title, broker_id=_broker_for(user))
        if listing.kind == ListingKind.DEMAND:
            deal.seller_org_id = asker_org
            _fill_from_listings(deal, listing, [])
        else:
            deal.buyer_org_id = asker_org
            _fill_from_listings(deal, None, [listing])
        return deal

    return _open_lead(user, LeadSource.INQUIRY, thread.id, build)


def create_from_challenge_winner(user, application: ChallengeApplication) -> Deal:
    """揭榜挂帅: the challenge becomes a deal between the enterprise and the winning team's organisation."""
    if application.status != ApplicationStatus.WINNER:
        raise ServiceError(_("只有揭榜成功的申请可以发起撮合"), 409)
    demand = application.demand

    def build() -> Deal:
        deal = Deal(
            title=_("揭榜：%(title)s", title=demand.title),
            broker_id=_broker_for(user),
            seller_org_id=application.applicant.organisation_id,
            expected_value=demand.bounty_cny,
        )
        _fill_from_listings(deal, demand, [])
        return deal

    return _open_lead(user, LeadSource.CHALLENGE, application.id, build)


def start_from_challenge(user, application: ChallengeApplication) -> Deal:
    """The 发起撮合 button on a winner: brokers, admins and the enterprise's side."""
    from marketplace.listings import permissions as listing_permissions

    allowed = permissions.can_create(user) or listing_permissions.can_manage_applications(user, application.demand)
    require(allowed, _("只有发榜方、技术经纪人或管理员可以发起撮合"))
    return create_from_challenge_winner(user, application)


@challenge_winner_picked.connect
def _lead_from_winner(application: ChallengeApplication, actor=None, **_detail) -> None:
    # Picked by the enterprise, not a broker: the lead goes to the pool, in the winner's transaction.
    create_from_challenge_winner(actor, application)


def create_from_roadshow_intent(
    user,
    intent_id: int,
    listing: Listing,
    buyer_org: Organisation | None,
    seller_org: Organisation | None,
    title: str | None = None,
) -> Deal:
    """An intent recorded at a roadshow (the roadshows issue calls this): one deal per intent."""

    def build() -> Deal:
        deal = Deal(
            title=title or listing.title,
            broker_id=_broker_for(user),
            buyer_org_id=buyer_org.id if buyer_org else None,
            seller_org_id=seller_org.id if seller_org else None,
        )
        if listing.kind == ListingKind.DEMAND:
            _fill_from_listings(deal, listing, [])
        else:
            _fill_from_listings(deal, None, [listing])
        return deal

    return _open_lead(user, LeadSource.ROADSHOW, intent_id, build)


def create_manual(user, data: dict[str, Any]) -> Deal:
    """手工录入: ``data`` holds title, demand, achievements, buyer_org, seller_org, expected_value,
    expected_commission, next_step, next_step_on, broker (admins only)."""
    require_capability(user, "deal.create")
    require(permissions.can_create(user), _("您的技术经纪人资格已暂停，不能发起撮合"))
    title = (data.get("title") or "").strip()
    if not title:
        raise ServiceError(_("请填写撮合名称"))
    broker = data.get("broker") if permissions.is_admin(user) else None
    if broker is not None and not permissions.is_active_broker(broker):
        raise ServiceError(_("所选用户不是在册的认证技术经纪人"))
    deal = Deal(
        title=title[:MAX_TITLE],
        broker_id=broker.id if broker is not None else _broker_for(user),
        buyer_org_id=getattr(data.get("buyer_org"), "id", None),
        seller_org_id=getattr(data.get("seller_org"), "id", None),
        expected_value=_amount(data.get("expected_value")),
        expected_commission=_amount(data.get("expected_commission")),
        next_step=_next_step_text(data.get("next_step")),
        next_step_on=data.get("next_step_on"),
        source=LeadSource.MANUAL,
        created_by_id=user.id,
    )
    _fill_from_listings(deal, data.get("demand"), list(data.get("achievements") or []))
    if deal.district is None:
        buyer = data.get("buyer_org")
        deal.district = getattr(buyer, "district", None)
    db.session.add(deal)
    db.session.flush()
    add_event(deal, user, DealEventKind.CREATED, source=LeadSource.MANUAL)
    audit.record(user, "deal.created", deal, source=LeadSource.MANUAL, broker_id=deal.broker_id)
    if deal.broker_id is not None and deal.broker_id != user.id:
        notify(deal.broker, "deal_assigned", link=deal_link(deal), title=deal.title)
    return deal


def _amount(value) -> Decimal | None:
    if value is None or value == "":
        return None
    amount = Decimal(value)
    if amount < 0:
        raise ServiceError(_("金额不能为负数"))
    return amount.quantize(Decimal("0.01"))


def _next_step_text(text: str | None) -> str | None:
    return (text or "").strip()[:MAX_NEXT_STEP] or None


# --- The pool ------------------------------------------------------------------------------------


def claim(user, deal: Deal) -> None:
    """A certified broker takes a lead from the pool: one conditional UPDATE, so two cannot both win."""
    require(permissions.is_active_broker(user), _("只有认证技术经纪人可以认领线索"))
    if not deal.is_open:
        raise ServiceError(_("该撮合已结束，不能认领"), 409)
    result = db.session.execute(
        update(Deal)
        .where(Deal.id == deal.id, Deal.broker_id.is_(None))
        .values(broker_id=user.id, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise ServiceError(_("该线索已被其他经纪人认领"), 409)
    db.session.refresh(deal)
    add_event(deal, user, DealEventKind.ASSIGNED, broker_id=user.id, claimed=True)
    audit.record(user, "deal.claimed", deal)


def reassign(admin, deal: Deal, broker: User | None) -> None:
    """An admin gives the deal to another certified broker, or back to the pool (``broker`` None)."""
    require_capability(admin, "deal.assign")
    if broker is not None and not permissions.is_active_broker(broker):
        raise ServiceError(_("所选用户不是在册的认证技术经纪人"))
    previous = deal.broker_id
    if previous == (broker.id if broker else None):
        return
    deal.broker = broker
    add_event(deal, admin, DealEventKind.ASSIGNED, broker_id=broker.id if broker else None, previous=previous)
    audit.record(admin, "deal.reassigned", deal, previous=previous, broker_id=broker.id if broker else None)
    if broker is not None:
        notify(broker, "deal_assigned", link=deal_link(deal), title=deal.title)


# --- Stages --------------------------------------------------------------------------------------


def actor_roles(user, deal: Deal) -> set[str]:
    roles = set()
    if permissions.is_admin(user):
        roles.add(stages.ADMIN)
    if permissions.is_deal_broker(user, deal):
        roles.add(stages.BROKER)
    return roles


def allowed_targets(user, deal: Deal) -> list[str]:
    return stages.targets(deal.stage, actor_roles(user, deal))


def change_stage(
    user,
    deal: Deal,
    to_stage: str,
    reason: str | None = None,
    note: str | None = None,
    expected_value: Decimal | None = None,
) -> DealEvent:
    if not permissions.can_view(user, deal):
        raise ServiceError(_("撮合不存在"), 404)
    rule = stages.move(deal.stage, to_stage)
    if rule is None:
        raise ServiceError(
            _(
                "不能从「%(from)s」变更为「%(to)s」",
                **{"from": deal.stage_label, "to": str(DEAL_STAGE_LABELS.get(to_stage, to_stage))},
            ),
            409,
        )
    require(bool(rule.actors & actor_roles(user, deal)), _("您无权执行这一阶段变更"))
    note = (note or "").strip()[:MAX_NOTE] or None
    if stages.NEEDS_REASON in rule.needs:
        if reason not in LOSS_REASON_LABELS:
            raise ServiceError(_("请选择终止原因"))
        if reason == LossReason.OTHER and not note:
            raise ServiceError(_("终止原因选择「其他原因」时请填写说明"))
        deal.loss_reason, deal.loss_note = reason, note
    if stages.NEEDS_VALUE in rule.needs:
        if expected_value is not None:
            deal.expected_value = _amount(expected_value)
        if deal.expected_value is None:
            raise ServiceError(_("签约前请填写预计成交额"))
    if stages.NEEDS_CONTRACT in rule.needs and not any(contract.counted for contract in deal.contracts):
        raise ServiceError(_("请先关联已认定登记的技术合同，再将撮合标记为已登记"), 409)
    previous, now = deal.stage, utcnow()
    deal.stage, deal.stage_changed_at = to_stage, now
    if to_stage in CLOSED_STAGES:
        deal.closed_at = now
    else:
        deal.closed_at = None
        if previous == DealStage.LOST:
            deal.loss_reason, deal.loss_note = None, None
    detail = {"from": previous, "to": to_stage}
    if to_stage == DealStage.LOST:
        detail["reason"] = reason
    event = add_event(deal, user, DealEventKind.STAGE, note, **detail)
    audit.record(user, "deal.stage_changed", deal, **detail, note=note)
    notify_others(deal, user, "deal_stage", stage=str(DEAL_STAGE_LABELS[DealStage(to_stage)]))
    return event


# --- The broker's timeline -----------------------------------------------------------------------


def add_activity(user, deal: Deal, kind: str, body: str, happened_on: date | None = None) -> DealEvent:
    """A note, call or meeting on the timeline."""
    require(permissions.can_work(user, deal), _("只有本撮合的经纪人或管理员可以记录跟进"))
    if kind not in ACTIVITY_KINDS:
        raise ServiceError(_("未知的记录类型"))
    body = (body or "").strip()
    if not body:
        raise ServiceError(_("请填写记录内容"))
    if len(body) > MAX_NOTE:
        raise ServiceError(_("内容不能超过 %(n)d 个字符", n=MAX_NOTE))
    detail = {"on": happened_on.isoformat()} if happened_on else {}
    event = add_event(deal, user, kind, body, **detail)
    deal.updated_at = utcnow()
    return event


def set_next_step(user, deal: Deal, text: str | None, on: date | None) -> None:
    require(permissions.can_work(user, deal), _("只有本撮合的经纪人或管理员可以设置下一步"))
    deal.next_step, deal.next_step_on = _next_step_text(text), on
    deal.reminded_at = None  # a new date is reminded about again once it passes
    audit.record(user, "deal.next_step", deal, next_step=deal.next_step, on=on.isoformat() if on else None)


def set_expectations(user, deal: Deal, expected_value, expected_commission) -> None:
    require(permissions.can_work(user, deal), _("只有本撮合的经纪人或管理员可以修改"))
    deal.expected_value, deal.expected_commission = _amount(expected_value), _amount(expected_commission)
    audit.record(
        user,
        "deal.expectations",
        deal,
        expected_value=str(deal.expected_value) if deal.expected_value is not None else None,
        expected_commission=str(deal.expected_commission) if deal.expected_commission is not None else None,
    )


# --- Lists ---------------------------------------------------------------------------------------


def deals_of_broker(user):
    return select(Deal).where(Deal.broker_id == user.id).order_by(Deal.updated_at.desc(), Deal.id.desc())


def pool():
    return (
        select(Deal)
        .where(Deal.broker_id.is_(None), Deal.stage.not_in(list(CLOSED_STAGES)))
        .order_by(Deal.created_at.desc(), Deal.id.desc())
    )


def deals_participating(user):
    from marketplace.deals.models import DealParticipant

    return (
        select(Deal)
        .join(DealParticipant, DealParticipant.deal_id == Deal.id)
        .where(DealParticipant.user_id == user.id)
        .order_by(Deal.updated_at.desc(), Deal.id.desc())
    )


def all_deals():
    return select(Deal).order_by(Deal.updated_at.desc(), Deal.id.desc())
