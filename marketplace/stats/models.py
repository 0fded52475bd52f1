"""Turnover statistics: targets and published figures as data, and monthly roll-ups of registered contracts."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.contracts.models import TechContract
from marketplace.core.models import Money, TimestampMixin
from marketplace.extensions import db


class Target(TimestampMixin, db.Model):
    """A plan's target: e.g. city 技术合同成交额 ≥ 500 亿元 in 2025. Editable by admins."""

    __tablename__ = "turnover_targets"
    __table_args__ = (UniqueConstraint("scope", "metric", "year", name="uq_turnover_targets_scope_metric_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(20))  # "city" or a district code
    metric: Mapped[str] = mapped_column(String(20))  # "contract_amount" (成交额) or "tech_amount" (技术交易额)
    # A district's figure is either its output (输出, sellers in the district) or its absorption (吸纳,
    # buyers in it); the city's is all registered contracts whatever this says.
    measure: Mapped[str] = mapped_column(String(20), default="output", server_default="output")
    year: Mapped[int] = mapped_column(Integer)
    value: Mapped[Decimal] = mapped_column(Money)  # 元
    baseline_year: Mapped[int | None] = mapped_column(Integer)
    baseline_value: Mapped[Decimal | None] = mapped_column(Money)
    source: Mapped[str | None] = mapped_column(Text)  # the plan it comes from


class PublishedFigure(TimestampMixin, db.Model):
    """A figure published by the authorities (e.g. Qingdao 2024: 709.58 亿元) for years the platform
    holds no contract-level data for; shown beside, never added to, the platform's own totals."""

    __tablename__ = "published_turnover"
    __table_args__ = (UniqueConstraint("scope", "metric", "year", name="uq_published_turnover_scope_metric_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(20))
    metric: Mapped[str] = mapped_column(String(20))
    year: Mapped[int] = mapped_column(Integer)
    value: Mapped[Decimal] = mapped_column(Money)
    source: Mapped[str | None] = mapped_column(Text)


class TurnoverRollup(db.Model):
    """Counted contracts summed by month of registration along one dimension at a time.

    ``dimension`` is one of ROLLUP_DIMENSIONS ("all" has key ""): a contract adds to one row per
    dimension, so a year holds at most 12 × (1 + 11 + 11 + 5 + 11 + 4 + 2) rows whatever the volume.
    Maintained by ``stats.rollup.apply`` in the same transaction as each contract change.
    """

    __tablename__ = "turnover_rollups"
    __table_args__ = (
        UniqueConstraint("dimension", "key", "year", "month", name="uq_turnover_rollups_dimension_key_year_month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dimension: Mapped[str] = mapped_column(String(30))
    key: Mapped[str] = mapped_column(String(40))
    year: Mapped[int] = mapped_column(Integer)
    month: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer, default=0)
    contract_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    tech_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))


class PartyRollup(db.Model):
    """Counted contracts summed by year for each named seller (role "seller") and buyer ("buyer").

    The dashboard's top-10 lists read this instead of grouping a year's contracts by name, which
    at a million contracts is too slow; kept by ``stats.rollup.apply`` with the turnover roll-ups.
    """

    __tablename__ = "party_rollups"
    __table_args__ = (
        UniqueConstraint("role", "year", "name", name="uq_party_rollups_role_year_name"),
        Index("ix_party_rollups_role_year_contract_amount", "role", "year", "contract_amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(200))
    year: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer, default=0)
    contract_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    tech_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))


# Contracts that came through a platform deal (a few per cent), by registration date: the dashboard's
# "through the platform" list reads a year of these without scanning the year's other contracts.
Index(
    "ix_tech_contracts_platform_registered_on",
    TechContract.registered_on,
    sqlite_where=TechContract.deal_id.is_not(None),
    postgresql_where=TechContract.deal_id.is_not(None),
)
