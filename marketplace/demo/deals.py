"""Demo brokers and deals: certified brokers with profiles, one pending application, and deals in
every stage from a pair, an inquiry, a 揭榜 winner and manual entry, each with its timeline.

Called by the demo seed after its listings and activity exist: ``seed_deals(users, echo)``.
Deterministic (listings are taken in id order, amounts are fixed) and idempotent (a second call
finds the demo brokers and changes nothing).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from marketplace.accounts.models import Organisation, User
from marketplace.accounts.roles import OrgKind, Role
from marketplace.core.models import utcnow
from marketplace.deals import conversation, services
from marketplace.deals.models import (
    OPEN_STAGES,
    BrokerProfile,
    BrokerStatus,
    Deal,
    DealEvent,
    DealEventKind,
    DealStage,
    LossReason,
)
from marketplace.extensions import db
from marketplace.listings.models import (
    Achievement,
    ApplicationStatus,
    ChallengeApplication,
    Demand,
    ListingStatus,
)
from marketplace.matchmaking.models import MatchPair, PairStatus
from marketplace.messaging.models import InquiryThread

# local part, name, level, specialities
EXTRA_BROKERS = [
    ("broker2", "孙经纪", "senior", ["marine_biomedicine", "biomedicine_devices"]),
    ("broker3", "周经纪", "intermediate", ["new_materials", "high_end_equipment"]),
    ("broker4", "吴经纪", "junior", ["marine_information", "artificial_intelligence"]),
]
PIPELINE = (*OPEN_STAGES, DealStage.WON)


def seed_deals(users: dict[str, User], echo=print) -> bool:
    """Add the demo brokers and deals; returns False (changing nothing) when they are there already."""
    from marketplace.demo.seed import DEMO_PASSWORD, demo_email

    if db.session.scalar(select(User.id).where(User.email == demo_email("broker2"))):
        echo("demo deals already loaded; nothing to do")
        return False
    admin, broker = users["admin"], users["broker"]
    brokers = [_profile(broker, "QD-JJR-2024-0157", "senior", ["marine_equipment", "seawater_ocean_energy"])]
    agency = db.session.scalar(
        select(Organisation).where(Organisation.kind == OrgKind.SERVICE_PROVIDER).order_by(Organisation.id)
    )
    for number, (local, name, level, specialities) in enumerate(EXTRA_BROKERS, start=2):
        user = User(email=demo_email(local), name=name, role=Role.BROKER, organisation=agency, email_verified=True)
        user.set_password(DEMO_PASSWORD)
        user.broker_certificate_no = f"QD-JJR-2025-{number:04d}"
        db.session.add(user)
        db.session.flush()
        brokers.append(_profile(user, user.broker_certificate_no, level, specialities))
    if "service" in users:  # one application waiting in the admins' queue
        pending = _profile(users["service"], "QD-JJR-2025-0042", "junior", ["smart_appliances"])
        pending.status, pending.certified_at = BrokerStatus.APPLIED, None
    db.session.flush()

    wang, sun, zhou, wu = (profile.user for profile in brokers)
    pairs = _pairs(6)
    made: list[Deal] = []
    if pairs:
        made.append(_stage(services.create_from_pair(admin, pairs[0]), admin, DealStage.LEAD, days=2))
    if len(pairs) > 1:
        deal = services.create_from_pair(wang, pairs[1])
        _introduce(deal, wang)
        made.append(_stage(deal, wang, DealStage.INTRODUCED, days=12))
    thread = db.session.scalar(select(InquiryThread).order_by(InquiryThread.id))
    if thread is not None:
        deal = services.create_from_inquiry(wang, thread)
        services.add_activity(wang, deal, DealEventKind.CALL, "与双方确认中试线条件，企业希望先做小批量验证。")
        made.append(_stage(deal, wang, DealStage.NEGOTIATING, days=25, value="1800000"))
    winner = _challenge_winner(users)
    if winner is not None:
        made.append(_stage(services.create_from_challenge_winner(sun, winner), sun, DealStage.SIGNED, days=40))
    if len(pairs) > 2:
        made.append(_stage(services.create_from_pair(zhou, pairs[2]), zhou, DealStage.REGISTERED, 60, "3200000"))
    if len(pairs) > 3:
        made.append(_stage(services.create_from_pair(wang, pairs[3]), wang, DealStage.WON, days=150, value="5600000"))
    if len(pairs) > 4:
        deal = services.create_from_pair(sun, pairs[4])
        made.append(_stage(deal, sun, DealStage.LOST, days=45, value="900000", reason=LossReason.PRICE))
    if len(pairs) > 5:
        deal = services.create_from_pair(wang, pairs[5])
        deal.next_step, deal.next_step_on = "约企业技术负责人到实验室考察", date.today() - timedelta(days=3)
        made.append(_stage(deal, wang, DealStage.LEAD, days=9))
    for title, broker_user, stage, value in (
        ("海上风电运维机器人技术许可", wu, DealStage.PERFORMING, "2400000"),
        ("冷链物流温控系统技术服务", zhou, DealStage.WON, "760000"),
    ):
        deal = services.create_manual(admin, {"title": title, "broker": broker_user})
        made.append(_stage(deal, broker_user, stage, days=120, value=value))
    db.session.flush()
    echo(f"demo deals: {len(brokers)} certified brokers, {len(made)} deals in {len({d.stage for d in made})} stages")
    return True


def _profile(user: User, certificate: str, level: str, specialities: list[str]) -> BrokerProfile:
    profile = BrokerProfile(
        user_id=user.id,
        certificate_no=certificate,
        level=level,
        specialities=specialities,
        organisation_id=user.organisation_id,
        bio="长期从事科技成果转化与技术交易服务，熟悉技术合同认定登记流程。",
        status=BrokerStatus.CERTIFIED,
        certified_at=utcnow() - timedelta(days=200),
    )
    profile.user = user
    db.session.add(profile)
    return profile


def _pairs(count: int) -> list[MatchPair]:
    """Strong pairs between published demands and achievements with owners, the same industry first."""
    demands = db.session.scalars(
        select(Demand)
        .where(Demand.status == ListingStatus.PUBLISHED, Demand.owner_id.is_not(None), Demand.challenge.is_(False))
        .order_by(Demand.id)
    ).all()
    achievements = db.session.scalars(
        select(Achievement)
        .where(Achievement.status == ListingStatus.PUBLISHED, Achievement.owner_id.is_not(None))
        .order_by(Achievement.id)
    ).all()
    pairs, used = [], set()
    for demand in demands:
        match = next((a for a in achievements if a.industry == demand.industry and a.id not in used), None)
        match = match or next((a for a in achievements if a.id not in used), None)
        if match is None:
            break
        used.add(match.id)
        pair = db.session.scalar(
            select(MatchPair).where(MatchPair.demand_id == demand.id, MatchPair.achievement_id == match.id)
        )
        if pair is None:
            pair = MatchPair(demand=demand, achievement=match, score=88 - len(pairs), status=PairStatus.NEW)
            db.session.add(pair)
        pairs.append(pair)
        if len(pairs) == count:
            break
    db.session.flush()
    return pairs


def _challenge_winner(users) -> ChallengeApplication | None:
    """A 揭榜 challenge with a winning team (not the one the demo researcher is shortlisted on)."""
    taken = select(ChallengeApplication.demand_id)
    challenge = db.session.scalar(
        select(Demand)
        .where(Demand.status == ListingStatus.PUBLISHED, Demand.challenge.is_(True), Demand.id.not_in(taken))
        .order_by(Demand.id)
    )
    team = db.session.scalar(
        select(User).where(User.role == Role.RESEARCHER, User.id != users["researcher"].id).order_by(User.id)
    )
    if challenge is None or team is None:
        return None
    application = ChallengeApplication(
        demand_id=challenge.id,
        applicant_id=team.id,
        team_name="海洋装备智能运维团队",
        proposal="基于数字孪生的运维方案，已在两家船厂试用。",
        status=ApplicationStatus.WINNER,
        decided_at=utcnow() - timedelta(days=45),
    )
    db.session.add(application)
    db.session.flush()
    db.session.refresh(application)
    return application


def _introduce(deal: Deal, broker: User) -> None:
    defaults = conversation.default_participants(deal)
    buyer, seller = defaults["buyer"], defaults["seller"]
    if buyer is None or seller is None or buyer.id == seller.id:
        return
    conversation.introduce(broker, deal, buyer, seller, "两位好，我是平台技术经纪人，先请双方互相介绍一下需求和技术。")
    conversation.post_message(seller, deal, "您好，我们可以提供小试数据，欢迎来实验室交流。")


def _stage(
    deal: Deal,
    actor: User,
    stage: str,
    days: int,
    value: str | None = None,
    reason: str | None = None,
) -> Deal:
    """Move ``deal`` to ``stage`` as if it had happened over the last ``days`` days, with its timeline."""
    now = utcnow()
    start = now - timedelta(days=days)
    deal.created_at = start
    for event in deal.events:
        event.created_at = start
    if value is not None:
        deal.expected_value = Decimal(value)
        deal.expected_commission = (Decimal(value) * Decimal("0.03")).quantize(Decimal("0.01"))
    target = DealStage.NEGOTIATING if stage == DealStage.LOST else stage
    path = list(PIPELINE[: PIPELINE.index(target) + 1])
    if stage == DealStage.LOST:
        path.append(DealStage.LOST)
    steps = max(len(path) - 1, 1)
    previous = deal.stage
    for index, next_stage in enumerate(path[1:], start=1):
        if next_stage == previous:
            continue
        when = start + timedelta(days=days * index / (steps + 1))
        detail = {"from": previous, "to": next_stage}
        if next_stage == DealStage.LOST:
            detail["reason"] = reason
            deal.loss_reason = reason
        db.session.add(
            DealEvent(deal=deal, actor_id=actor.id, kind=DealEventKind.STAGE, detail=detail, created_at=when)
        )
        deal.stage, deal.stage_changed_at, previous = next_stage, when, next_stage
        if next_stage in (DealStage.WON, DealStage.LOST):
            deal.closed_at = when
        if next_stage == DealStage.NEGOTIATING:
            db.session.add(
                DealEvent(
                    deal=deal,
                    actor_id=actor.id,
                    kind=DealEventKind.MEETING,
                    body="三方会面，确认技术指标和合作方式。",
                    created_at=when,
                )
            )
    if stage not in (DealStage.WON, DealStage.LOST) and deal.next_step is None:
        deal.next_step, deal.next_step_on = "跟进双方反馈", date.today() + timedelta(days=7)
    return deal
