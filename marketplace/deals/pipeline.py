"""The brokers' pipeline: which deals a user sees, the filters and sorting of the board and table,
and the figures of the stats strip.

Definitions (shown on the page under "how computed"):

- **Scope.** An admin sees every deal; a certified broker sees their own deals and the pool (deals
  with no broker); a broker not (or no longer) certified sees only their own; anyone else none.
- **Stage totals.** Count, and sums of 预计成交额 / 预计佣金 (missing values count as 0), of the deals
  now at each stage.
- **Furthest stage.** The furthest stage in pipeline order (意向 … 履约, then 成交) a deal is at or
  has been at, read from its stage events (``from`` and ``to``) and its current stage; 终止 is not
  a step, so a lost deal keeps the furthest stage it reached before it was lost. A skipped stage
  counts as passed.
- **Conversion k → k+1.** Of the deals whose furthest stage is k or later, the share whose furthest
  stage is k+1 or later. Deals still open at k count in the base: the rate rises as they advance.
- **Time in stage.** For each deal, the days it spent at a stage (its visits summed): from its
  creation to its first stage event, between events, and for its current open stage until now.
  Average and median over the deals that were at that stage.
- **Won / lost.** Deals now at 成交 / 终止; win rate = won / (won + lost); lost deals by their coded
  reason.

The stats strip covers the deals matching every filter but the stage filter (it shows all stages).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from statistics import median

from flask_babel import gettext as _
from sqlalchemy import Float, Select, case, cast, func, or_, select
from sqlalchemy.orm import selectinload

from marketplace.accounts.models import User
from marketplace.accounts.roles import Role
from marketplace.core import taxonomy
from marketplace.core.errors import PermissionDenied
from marketplace.core.models import as_utc, utcnow
from marketplace.core.params import clean_text, int_in
from marketplace.deals.models import (
    CLOSED_STAGES,
    DEAL_STAGE_LABELS,
    LOSS_REASON_LABELS,
    OPEN_STAGES,
    BrokerProfile,
    BrokerStatus,
    Deal,
    DealEvent,
    DealEventKind,
    DealStage,
)
from marketplace.extensions import db

# Pipeline order used by conversion: the open stages, then 成交 (终止 is off to the side).
PIPELINE_ORDER = (*OPEN_STAGES, DealStage.WON)
POSITION = {stage: index for index, stage in enumerate(PIPELINE_ORDER)}
ALL_STAGES = (*OPEN_STAGES, *CLOSED_STAGES)

# Age of a deal since it was created: (at most N days old, or older than N days).
AGE_BUCKETS = {"7d": ("within", 7), "30d": ("within", 30), "over30": ("over", 30), "over90": ("over", 90)}
POOL = "pool"  # the broker filter's value for unassigned deals
SEARCH_MAX = 100

_STAGE_RANK = case({stage.value: index for index, stage in enumerate(ALL_STAGES)}, value=Deal.stage, else_=99)
SORTS = {
    "title": Deal.title,
    "stage": _STAGE_RANK,
    "value": Deal.expected_value,
    "commission": Deal.expected_commission,
    "next": Deal.next_step_on,
    "created": Deal.created_at,
    "changed": Deal.stage_changed_at,
}
DEFAULT_SORT = "-created"
BOARD_PER_STAGE = 30


def _is_admin(user) -> bool:
    return user.role == Role.ADMIN


def broker_is_certified(user) -> bool:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(BrokerProfile)
            .where(BrokerProfile.user_id == user.id, BrokerProfile.status == BrokerStatus.CERTIFIED)
        )
        > 0
    )


def scoped(user, statement: Select) -> Select:
    """``statement`` over deals narrowed to those ``user`` may see in the pipeline."""
    if user is None or not user.is_authenticated or user.role not in (Role.ADMIN, Role.BROKER):
        raise PermissionDenied(_("只有技术经纪人和管理员可以查看撮合管道"))
    if _is_admin(user):
        return statement
    if broker_is_certified(user):
        return statement.where(or_(Deal.broker_id == user.id, Deal.broker_id.is_(None)))
    return statement.where(Deal.broker_id == user.id)


@dataclass(frozen=True)
class Filters:
    industry: str | None = None
    district: str | None = None
    stage: str | None = None
    broker: int | str | None = None  # a user id, or POOL; admins only
    age: str | None = None
    q: str | None = None
    sort: str = DEFAULT_SORT

    @classmethod
    def from_args(cls, args, user) -> Filters:
        """Filters from query arguments; an unknown value is ignored rather than refused."""
        broker: int | str | None = None
        if _is_admin(user):
            raw = args.get("broker")
            broker = POOL if raw == POOL else int_in(raw, 1, 2**31 - 1)
        sort = args.get("sort") or DEFAULT_SORT
        return cls(
            industry=args.get("industry") if args.get("industry") in taxonomy.INDUSTRIES else None,
            district=args.get("district") if args.get("district") in taxonomy.DISTRICTS else None,
            stage=args.get("stage") if args.get("stage") in {s.value for s in ALL_STAGES} else None,
            broker=broker,
            age=args.get("age") if args.get("age") in AGE_BUCKETS else None,
            q=clean_text(args.get("q"), SEARCH_MAX),
            sort=sort if sort.lstrip("-") in SORTS else DEFAULT_SORT,
        )

    def as_args(self) -> dict[str, str]:
        """The filters as query arguments (for export links and sorting headers)."""
        values = {
            "industry": self.industry,
            "district": self.district,
            "stage": self.stage,
            "broker": self.broker,
            "age": self.age,
            "q": self.q,
            "sort": None if self.sort == DEFAULT_SORT else self.sort,
        }
        return {key: str(value) for key, value in values.items() if value not in (None, "")}

    @property
    def active(self) -> bool:
        return any((self.industry, self.district, self.stage, self.broker, self.age, self.q))


def _filtered(statement: Select, filters: Filters, now: datetime | None = None, with_stage: bool = True) -> Select:
    if filters.industry:
        statement = statement.where(Deal.industry == filters.industry)
    if filters.district:
        statement = statement.where(Deal.district == filters.district)
    if filters.stage and with_stage:
        statement = statement.where(Deal.stage == filters.stage)
    if filters.broker == POOL:
        statement = statement.where(Deal.broker_id.is_(None))
    elif filters.broker:
        statement = statement.where(Deal.broker_id == filters.broker)
    if filters.age:
        side, days = AGE_BUCKETS[filters.age]
        cutoff = (now or utcnow()) - timedelta(days=days)
        statement = statement.where(Deal.created_at >= cutoff if side == "within" else Deal.created_at < cutoff)
    if filters.q:
        escaped = filters.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        statement = statement.where(Deal.title.ilike(f"%{escaped}%", escape="\\"))
    return statement


def deal_query(user, filters: Filters, now: datetime | None = None) -> Select:
    """The table's deals, sorted (ties broken by id so pages never overlap)."""
    statement = _filtered(scoped(user, select(Deal)), filters, now)
    key = SORTS[filters.sort.lstrip("-")]
    descending = filters.sort.startswith("-")
    # NULLs last either way: a deal without a value or a date is the least interesting in a sort by it.
    order = [key.is_(None), key.desc() if descending else key.asc(), Deal.id.desc() if descending else Deal.id]
    return statement.options(
        selectinload(Deal.buyer_org), selectinload(Deal.seller_org), selectinload(Deal.broker)
    ).order_by(*order)


def board(user, filters: Filters, now: datetime | None = None) -> dict[str, list[Deal]]:
    """Up to BOARD_PER_STAGE open deals per stage, the overdue and oldest-changed first (the table has the rest)."""
    columns: dict[str, list[Deal]] = {}
    for stage in OPEN_STAGES:
        if filters.stage and filters.stage != stage:
            columns[stage] = []
            continue
        statement = _filtered(scoped(user, select(Deal)), replace(filters, stage=None), now).where(Deal.stage == stage)
        statement = statement.options(selectinload(Deal.buyer_org), selectinload(Deal.seller_org))
        statement = statement.order_by(Deal.next_step_on.is_(None), Deal.next_step_on, Deal.stage_changed_at, Deal.id)
        columns[stage] = list(db.session.scalars(statement.limit(BOARD_PER_STAGE)))
    return columns


def days_in_stage(deal: Deal, now: datetime | None = None) -> int:
    return max(0, ((now or utcnow()) - as_utc(deal.stage_changed_at)).days)


def is_overdue(deal: Deal, now: datetime | None = None) -> bool:
    return deal.is_open and deal.next_step_on is not None and deal.next_step_on < (now or utcnow()).date()


@dataclass
class StageTotals:
    count: int = 0
    expected_value: Decimal = Decimal("0.00")
    expected_commission: Decimal = Decimal("0.00")


@dataclass
class Conversion:
    stage: str
    next_stage: str
    reached: int
    advanced: int

    @property
    def rate(self) -> Decimal | None:
        """Share in percent, one decimal; None when no deal reached the stage."""
        if not self.reached:
            return None
        return (Decimal(self.advanced * 100) / Decimal(self.reached)).quantize(Decimal("0.1"))


@dataclass
class StageTime:
    stage: str
    deals: int = 0
    average_days: Decimal | None = None
    median_days: Decimal | None = None


@dataclass
class PipelineStats:
    totals: dict[str, StageTotals] = field(default_factory=dict)
    conversion: list[Conversion] = field(default_factory=list)
    time_in_stage: list[StageTime] = field(default_factory=list)
    won: int = 0
    lost: int = 0
    lost_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(totals.count for totals in self.totals.values())

    @property
    def open_count(self) -> int:
        return sum(self.totals[stage].count for stage in OPEN_STAGES)

    @property
    def open_value(self) -> Decimal:
        return sum((self.totals[stage].expected_value for stage in OPEN_STAGES), Decimal("0.00"))

    @property
    def open_commission(self) -> Decimal:
        return sum((self.totals[stage].expected_commission for stage in OPEN_STAGES), Decimal("0.00"))

    @property
    def win_rate(self) -> Decimal | None:
        closed = self.won + self.lost
        return (Decimal(self.won * 100) / Decimal(closed)).quantize(Decimal("0.1")) if closed else None


def _money(value) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.01"))


def _days(seconds: float) -> Decimal:
    return (Decimal(seconds) / Decimal(86400)).quantize(Decimal("0.1"))


def pipeline_stats(user, filters: Filters, now: datetime | None = None) -> PipelineStats:
    """The stats strip's figures for the deals matching ``filters`` (stage filter aside); see the
    module docstring for the definitions."""
    now = now or utcnow()
    deals = _filtered(scoped(user, select(Deal.id)), filters, now, with_stage=False).subquery()
    stats = PipelineStats(totals={stage: StageTotals() for stage in ALL_STAGES})
    rows = db.session.execute(
        select(Deal.stage, func.count(), func.sum(Deal.expected_value), func.sum(Deal.expected_commission))
        .where(Deal.id.in_(select(deals.c.id)))
        .group_by(Deal.stage)
    )
    for stage, count, value, commission in rows:
        if stage in stats.totals:
            stats.totals[stage] = StageTotals(count, _money(value), _money(commission))
    stats.won, stats.lost = stats.totals[DealStage.WON].count, stats.totals[DealStage.LOST].count
    reasons = db.session.execute(
        select(Deal.loss_reason, func.count())
        .where(Deal.id.in_(select(deals.c.id)), Deal.stage == DealStage.LOST)
        .group_by(Deal.loss_reason)
    )
    counts = {reason or "other": count for reason, count in reasons}
    stats.lost_by_reason = {code: counts[code] for code in LOSS_REASON_LABELS if counts.get(code)}

    furthest: list[int] = []
    spent: dict[str, list[float]] = defaultdict(list)
    for stage, created_at, history in _histories(deals, now):
        visited = {stage} | {s for _at, old, new in history for s in (old, new) if s}
        positions = [POSITION[s] for s in visited if s in POSITION]
        if positions:
            furthest.append(max(positions))
        for visited_stage, seconds in _time_per_stage(created_at, stage, history, now.timestamp()).items():
            spent[visited_stage].append(seconds)

    for stage, next_stage in zip(PIPELINE_ORDER, PIPELINE_ORDER[1:], strict=False):
        reached = sum(1 for position in furthest if position >= POSITION[stage])
        advanced = sum(1 for position in furthest if position >= POSITION[next_stage])
        stats.conversion.append(Conversion(stage, next_stage, reached, advanced))
    for stage in OPEN_STAGES:
        durations = spent.get(stage, [])
        stats.time_in_stage.append(
            StageTime(
                stage,
                len(durations),
                _days(sum(durations) / len(durations)) if durations else None,
                _days(median(durations)) if durations else None,
            )
        )
    return stats


def _epoch(column):
    """``column`` as seconds since 1970 (UTC), computed by the database: parsing tens of thousands
    of timestamps in Python was most of the time of the stats over a large pipeline."""
    if db.session.get_bind().dialect.name == "sqlite":
        return (func.julianday(column) - 2440587.5) * 86400.0
    return cast(func.extract("epoch", column), Float)


History = list[tuple[float, str | None, str | None]]


def _histories(deals, now: datetime):
    """(current stage, created at, [(at, from, to), …]) per deal in ``deals`` (a subquery of ids),
    times as epoch seconds, each deal's stage events in order."""
    events: dict[int, History] = defaultdict(list)
    for deal_id, old, new, at in db.session.execute(
        select(
            DealEvent.deal_id,
            DealEvent.detail["from"].as_string(),
            DealEvent.detail["to"].as_string(),
            _epoch(DealEvent.created_at),
        )
        .where(DealEvent.deal_id.in_(select(deals.c.id)), DealEvent.kind == DealEventKind.STAGE)
        .order_by(DealEvent.deal_id, DealEvent.created_at, DealEvent.id)
    ):
        events[deal_id].append((float(at), old, new))
    rows = db.session.execute(
        select(Deal.id, Deal.stage, _epoch(Deal.created_at)).where(Deal.id.in_(select(deals.c.id)))
    )
    for deal_id, stage, created_at in rows:
        yield stage, float(created_at), events.get(deal_id, [])


def _time_per_stage(created_at: float, stage: str, history: History, now: float) -> dict[str, float]:
    """Seconds a deal spent at each open stage: visits summed, the current one until ``now``."""
    spent: dict[str, float] = defaultdict(float)
    at, since = (history[0][1] or stage) if history else stage, created_at
    for moment, _old, new in history:
        spent[at] += max(0.0, moment - since)
        at, since = new or at, moment
    if at != stage:  # events out of step with the deal's row: trust the row for where it is now
        at = stage
    spent[at] += max(0.0, now - since)
    return {s: seconds for s, seconds in spent.items() if s in OPEN_STAGES}


def broker_choices() -> list[tuple[int, str]]:
    """Brokers for the admins' filter: every user holding a broker profile or a deal."""
    ids = select(Deal.broker_id).where(Deal.broker_id.is_not(None)).union(select(BrokerProfile.user_id))
    users = db.session.scalars(select(User).where(User.id.in_(ids)).order_by(User.name, User.id))
    return [(user.id, user.name) for user in users]


def stage_label(stage: str) -> str:
    return str(DEAL_STAGE_LABELS.get(stage, stage))


def loss_reason_label(reason: str | None) -> str:
    return str(LOSS_REASON_LABELS.get(reason or "other", reason))
