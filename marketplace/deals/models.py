"""Brokers (技术经纪人) and the deals (撮合) they drive from a lead to a closed contract."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import Organisation, User
from marketplace.core.models import Money, TimestampMixin, utcnow
from marketplace.extensions import db
from marketplace.listings.models import Listing


class BrokerStatus(StrEnum):
    APPLIED = "applied"
    CERTIFIED = "certified"
    SUSPENDED = "suspended"
    REJECTED = "rejected"


BROKER_STATUS_LABELS = {
    BrokerStatus.APPLIED: _l("待认证"),
    BrokerStatus.CERTIFIED: _l("已认证"),
    BrokerStatus.SUSPENDED: _l("已暂停"),
    BrokerStatus.REJECTED: _l("未通过"),
}


class BrokerLevel(StrEnum):
    JUNIOR = "junior"
    INTERMEDIATE = "intermediate"
    SENIOR = "senior"


BROKER_LEVEL_LABELS = {
    BrokerLevel.JUNIOR: _l("初级技术经纪人"),
    BrokerLevel.INTERMEDIATE: _l("中级技术经纪人"),
    BrokerLevel.SENIOR: _l("高级技术经纪人"),
}


class BrokerProfile(TimestampMixin, db.Model):
    __tablename__ = "broker_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    certificate_no: Mapped[str] = mapped_column(String(60))  # 技术经纪人/经理人证书编号
    level: Mapped[str] = mapped_column(String(20), default=BrokerLevel.JUNIOR)
    specialities: Mapped[list[str]] = mapped_column(JSON, default=list)  # industry codes
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"))
    bio: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=BrokerStatus.APPLIED, index=True)
    status_note: Mapped[str | None] = mapped_column(Text)  # why rejected or suspended
    certified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()
    organisation: Mapped[Organisation | None] = relationship()

    @property
    def is_certified(self) -> bool:
        return self.status == BrokerStatus.CERTIFIED


class DealStage(StrEnum):
    LEAD = "lead"  # 意向
    INTRODUCED = "introduced"  # 已对接
    NEGOTIATING = "negotiating"  # 洽谈
    SIGNED = "signed"  # 已签约
    REGISTERED = "registered"  # 已登记
    PERFORMING = "performing"  # 履约
    WON = "won"  # 成交
    LOST = "lost"  # 终止


# The pipeline in order; LOST is off to the side.
OPEN_STAGES = (
    DealStage.LEAD,
    DealStage.INTRODUCED,
    DealStage.NEGOTIATING,
    DealStage.SIGNED,
    DealStage.REGISTERED,
    DealStage.PERFORMING,
)
CLOSED_STAGES = (DealStage.WON, DealStage.LOST)

DEAL_STAGE_LABELS = {
    DealStage.LEAD: _l("意向"),
    DealStage.INTRODUCED: _l("已对接"),
    DealStage.NEGOTIATING: _l("洽谈"),
    DealStage.SIGNED: _l("已签约"),
    DealStage.REGISTERED: _l("已登记"),
    DealStage.PERFORMING: _l("履约"),
    DealStage.WON: _l("成交"),
    DealStage.LOST: _l("终止"),
}


class LossReason(StrEnum):
    TOO_EARLY = "too_early"
    PRICE = "price"
    IP_OWNERSHIP = "ip_ownership"
    BENEFIT_UNCLEAR = "benefit_unclear"
    FOUND_ELSEWHERE = "found_elsewhere"
    NO_RESPONSE = "no_response"
    OTHER = "other"  # with text


LOSS_REASON_LABELS = {
    LossReason.TOO_EARLY: _l("技术成熟度不够"),
    LossReason.PRICE: _l("价格未谈拢"),
    LossReason.IP_OWNERSHIP: _l("知识产权归属问题"),
    LossReason.BENEFIT_UNCLEAR: _l("效益不明确"),
    LossReason.FOUND_ELSEWHERE: _l("已另寻合作方"),
    LossReason.NO_RESPONSE: _l("对方无回应"),
    LossReason.OTHER: _l("其他原因"),
}


class LeadSource(StrEnum):
    PAIR = "pair"  # a pair on 匹配对接
    INQUIRY = "inquiry"  # an inquiry thread on a listing
    CHALLENGE = "challenge"  # a 揭榜 winner
    ROADSHOW = "roadshow"  # an intent at a roadshow (the roadshows issue)
    MANUAL = "manual"


LEAD_SOURCE_LABELS = {
    LeadSource.PAIR: _l("匹配对接"),
    LeadSource.INQUIRY: _l("在线咨询"),
    LeadSource.CHALLENGE: _l("揭榜挂帅"),
    LeadSource.ROADSHOW: _l("路演"),
    LeadSource.MANUAL: _l("手工录入"),
}


class Deal(TimestampMixin, db.Model):
    __tablename__ = "deals"
    __table_args__ = (
        Index("ix_deals_stage_broker", "stage", "broker_id"),
        # One deal per lead origin: a second click on 发起撮合 opens the existing deal.
        UniqueConstraint("source", "source_id", name="uq_deals_source_source_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    stage: Mapped[str] = mapped_column(String(20), default=DealStage.LEAD, index=True)
    stage_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    source: Mapped[str] = mapped_column(String(20), default=LeadSource.MANUAL)
    source_id: Mapped[int | None] = mapped_column(Integer)  # the pair, thread, application or intent id

    demand_id: Mapped[int | None] = mapped_column(ForeignKey("listings.id", ondelete="SET NULL"), index=True)
    buyer_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"), index=True)
    seller_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"), index=True)
    broker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)  # NULL: pool
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    industry: Mapped[str | None] = mapped_column(String(40), index=True)  # for pipeline filters
    district: Mapped[str | None] = mapped_column(String(20), index=True)
    expected_value: Mapped[Decimal | None] = mapped_column(Money)  # 预计成交额, 元
    expected_commission: Mapped[Decimal | None] = mapped_column(Money)  # 预计佣金, 元
    next_step: Mapped[str | None] = mapped_column(String(200))
    next_step_on: Mapped[date | None] = mapped_column(Date, index=True)
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # last overdue reminder
    loss_reason: Mapped[str | None] = mapped_column(String(30))
    loss_note: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    demand: Mapped[Listing | None] = relationship(foreign_keys=[demand_id])
    buyer_org: Mapped[Organisation | None] = relationship(foreign_keys=[buyer_org_id])
    seller_org: Mapped[Organisation | None] = relationship(foreign_keys=[seller_org_id])
    broker: Mapped[User | None] = relationship(foreign_keys=[broker_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    achievement_links: Mapped[list[DealAchievement]] = relationship(
        back_populates="deal", cascade="all, delete-orphan", order_by="DealAchievement.id"
    )
    participants: Mapped[list[DealParticipant]] = relationship(
        back_populates="deal", cascade="all, delete-orphan", order_by="DealParticipant.id"
    )
    events: Mapped[list[DealEvent]] = relationship(
        back_populates="deal", cascade="all, delete-orphan", order_by="DealEvent.id"
    )
    contracts = relationship("TechContract", back_populates="deal", foreign_keys="TechContract.deal_id")

    @property
    def achievements(self) -> list[Listing]:
        return [link.achievement for link in self.achievement_links]

    @property
    def stage_label(self) -> str:
        return str(DEAL_STAGE_LABELS.get(self.stage, self.stage))

    @property
    def is_open(self) -> bool:
        return self.stage in OPEN_STAGES


class DealAchievement(db.Model):
    __tablename__ = "deal_achievements"
    __table_args__ = (UniqueConstraint("deal_id", "achievement_id", name="uq_deal_achievements_deal_achievement"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"), index=True)
    achievement_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), index=True)

    deal: Mapped[Deal] = relationship(back_populates="achievement_links")
    achievement: Mapped[Listing] = relationship()


class ParticipantSide(StrEnum):
    BUYER = "buyer"
    SELLER = "seller"


class DealParticipant(db.Model):
    """A person on the buyer's or seller's side of a deal, in its three-way conversation."""

    __tablename__ = "deal_participants"
    __table_args__ = (UniqueConstraint("deal_id", "user_id", name="uq_deal_participants_deal_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    side: Mapped[str] = mapped_column(String(10))
    # Contact details (phone, e-mail) are shown to the other side only once both sides have accepted.
    contact_accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    deal: Mapped[Deal] = relationship(back_populates="participants")
    user: Mapped[User] = relationship()


class DealEventKind(StrEnum):
    CREATED = "created"
    STAGE = "stage"  # detail: {"from": ..., "to": ..., "reason": ...}
    ASSIGNED = "assigned"  # claimed from the pool or reassigned by an admin
    NOTE = "note"
    CALL = "call"
    MEETING = "meeting"
    DOCUMENT = "document"  # upload_key + filename
    MESSAGE = "message"  # a participant's message in the three-way conversation
    CONTACT = "contact"  # a side accepted sharing contact details
    CONTRACT = "contract"  # a contract was linked or created


class DealEvent(db.Model):
    """One entry on a deal's timeline: who did what, when."""

    __tablename__ = "deal_events"
    __table_args__ = (Index("ix_deal_events_deal_created", "deal_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20))
    body: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    upload_key: Mapped[str | None] = mapped_column(String(120))
    filename: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    deal: Mapped[Deal] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()


class RewardPolicy(TimestampMixin, db.Model):
    """A broker reward rule as data: a share of 技术交易额 on registered contracts, with caps."""

    __tablename__ = "reward_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    rate: Mapped[Decimal] = mapped_column(db.Numeric(6, 4))  # e.g. 0.0200 = 2 % of 技术交易额
    cap_per_contract: Mapped[Decimal | None] = mapped_column(Money)
    cap_per_broker_year: Mapped[Decimal | None] = mapped_column(Money)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
