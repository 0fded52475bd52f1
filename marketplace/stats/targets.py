"""Where each target stands: passed (by how much, since when), still ahead (gap, growth needed,
projection) or missed — computed from the platform's registered totals, or from the published
figure for a year the platform holds no contracts for, and always saying which.

``evaluate`` is pure (plain numbers in, a status out, ``today`` passed in) so the arithmetic is
tested without a database; ``status_of`` loads the numbers for one target.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select

from marketplace.core.money import CENT
from marketplace.extensions import db
from marketplace.stats.models import PublishedFigure, Target, TurnoverRollup

PASSED, AHEAD, MISSED, NO_DATA = "passed", "ahead", "missed", "no_data"
PLATFORM, PUBLISHED = "platform", "published"
METRICS = ("contract_amount", "tech_amount")
MEASURES = ("output", "absorption")
YI = Decimal(100_000_000)

# The plans' targets and the city's published series (taxonomy.md); migration 0009_stats seeds the same rows.
PLAN_SOURCE = "青岛市“十四五”科技创新规划"
WEST_COAST_SOURCE = "青岛西海岸新区“十四五”科技创新规划"
BUREAU_SOURCE = "青岛市科学技术局公布"
DEFAULT_TARGETS = (
    # scope, metric, measure, year, value (元), baseline year, baseline value, source
    ("city", "contract_amount", "output", 2025, 500 * YI, 2020, Decimal("286.6") * YI, PLAN_SOURCE),
    # 技术合同交易额 of the West Coast plan, read as its registered 成交额 on output (sellers in the area).
    ("huangdao", "contract_amount", "output", 2025, 100 * YI, None, None, WEST_COAST_SOURCE),
)
DEFAULT_PUBLISHED = (
    ("city", "contract_amount", 2012, Decimal("25.4") * YI, BUREAU_SOURCE),
    ("city", "contract_amount", 2020, Decimal("286.6") * YI, PLAN_SOURCE),
    ("city", "contract_amount", 2021, Decimal("320.1") * YI, BUREAU_SOURCE),
    ("city", "contract_amount", 2024, Decimal("709.58") * YI, BUREAU_SOURCE),
)


@dataclass
class TargetStatus:
    state: str
    value: Decimal
    year: int
    crossed_year: int | None = None
    crossed_month: int | None = None
    crossed_source: str | None = None
    crossed_value: Decimal | None = None  # the year's (or year-to-date) figure that reached the target
    margin: Decimal | None = None  # crossed_value − target
    # The latest full year with a figure up to the target year (missed: the target year's, if known).
    latest_year: int | None = None
    latest_value: Decimal | None = None
    latest_source: str | None = None
    # target − ytd (ahead, this year), − latest_value (ahead, a later year), − the year's figure (missed)
    gap: Decimal | None = None
    needed_growth: Decimal | None = None  # growth per year from latest_year to reach the target: 0.1234 = 12.34 %
    ytd: Decimal | None = None  # this year's registered total so far
    elapsed_days: int | None = None
    days_in_year: int | None = None
    projection: Decimal | None = None  # ytd ÷ elapsed_days × days_in_year
    projection_year: int | None = None
    projected_gap: Decimal | None = None  # target − projection, when the target year is this year
    sources: dict[int, str] = field(default_factory=dict)


def _crossing_month(months: list[Decimal], value: Decimal) -> int | None:
    running = Decimal(0)
    for number, amount in enumerate(months, start=1):
        running += amount
        if running >= value:
            return number
    return None


def evaluate(
    value: Decimal,
    year: int,
    platform: dict[int, Decimal],
    published: dict[int, Decimal],
    months_of: Callable[[int], list[Decimal]],
    today: date,
) -> TargetStatus:
    """The status of "≥ ``value`` in ``year``" on ``today``.

    ``platform`` maps a year to the platform's registered total (years with contracts only; this
    year's is year-to-date); ``published`` maps a year to the authorities' figure; ``months_of(y)``
    gives the platform's twelve monthly totals for year y. A target counts as passed in the first
    year, up to its own, whose figure (platform or published, never added) reached it.
    """
    current = today.year
    status = TargetStatus(state=NO_DATA, value=value, year=year)
    last = min(year, current)
    for y in sorted(set(platform) | set(published)):
        if y > last:
            break
        for source, series in ((PLATFORM, platform), (PUBLISHED, published)):
            if y in series and series[y] >= value:
                status.state, status.crossed_year, status.crossed_source = PASSED, y, source
                status.crossed_value, status.margin = series[y], series[y] - value
                if source == PLATFORM:
                    status.crossed_month = _crossing_month(months_of(y), value)
                break
        if status.state == PASSED:
            break

    def figure(y: int) -> tuple[Decimal, str] | None:
        if y in platform:
            return platform[y], PLATFORM
        if y in published:
            return published[y], PUBLISHED
        return None

    full_years = [y for y in set(platform) | set(published) if y < current and y <= year]
    if full_years:
        status.latest_year = max(full_years)
        status.latest_value, status.latest_source = figure(status.latest_year)

    if current in platform and year >= current:
        status.ytd, status.projection_year = platform[current], current
        status.elapsed_days = (today - date(current, 1, 1)).days + 1
        status.days_in_year = 366 if calendar.isleap(current) else 365
        status.projection = (status.ytd / status.elapsed_days * status.days_in_year).quantize(CENT, ROUND_HALF_UP)
        if year == current:
            status.projected_gap = value - status.projection

    if status.state == PASSED:
        return status
    if year < current:
        found = figure(year)
        if found is None and status.latest_value is None:
            return status
        status.state = MISSED
        if found is not None:
            status.latest_year, (status.latest_value, status.latest_source) = year, found
        status.gap = value - status.latest_value
        return status
    if status.latest_value is None and status.ytd is None:
        return status
    status.state = AHEAD
    if status.latest_value is not None:
        # A target for this year is measured against what is registered so far this year;
        # one for a later year against the latest full year (the base of the growth needed).
        status.gap = value - (status.ytd if year == current and status.ytd is not None else status.latest_value)
        if status.latest_value > 0:
            span = year - status.latest_year
            ratio = value / status.latest_value
            status.needed_growth = (ratio ** (Decimal(1) / span) - 1).quantize(Decimal("0.0001"), ROUND_HALF_UP)
    else:
        status.gap = value - status.ytd
    return status


def _dimension(target: Target) -> tuple[str, str]:
    if target.scope == "city":
        return "all", ""
    return ("absorption_district" if target.measure == "absorption" else "output_district"), target.scope


def platform_series(target: Target) -> dict[int, Decimal]:
    dimension, key = _dimension(target)
    metric = getattr(TurnoverRollup, target.metric)
    rows = db.session.execute(
        select(TurnoverRollup.year, TurnoverRollup.month, TurnoverRollup.count, metric).where(
            TurnoverRollup.dimension == dimension, TurnoverRollup.key == key
        )
    )
    counts: dict[int, int] = {}
    totals: dict[int, Decimal] = {}
    for year, _month, count, amount in rows:
        counts[year] = counts.get(year, 0) + count
        totals[year] = totals.get(year, Decimal(0)) + Decimal(amount).quantize(CENT)
    return {year: totals[year] for year in sorted(totals) if counts[year] > 0}


def platform_months(target: Target, year: int) -> list[Decimal]:
    dimension, key = _dimension(target)
    metric = getattr(TurnoverRollup, target.metric)
    months = [Decimal(0)] * 12
    rows = db.session.execute(
        select(TurnoverRollup.month, metric).where(
            TurnoverRollup.dimension == dimension, TurnoverRollup.key == key, TurnoverRollup.year == year
        )
    )
    for month, amount in rows:
        months[month - 1] += Decimal(amount).quantize(CENT)
    return months


def published_series(scope: str, metric: str) -> dict[int, Decimal]:
    rows = db.session.execute(
        select(PublishedFigure.year, PublishedFigure.value).where(
            PublishedFigure.scope == scope, PublishedFigure.metric == metric
        )
    )
    return {year: Decimal(value) for year, value in rows}


def status_of(target: Target, today: date | None = None) -> TargetStatus:
    return evaluate(
        Decimal(target.value),
        target.year,
        platform_series(target),
        published_series(target.scope, target.metric),
        lambda year: platform_months(target, year),
        today or date.today(),
    )


def all_targets() -> list[Target]:
    return list(db.session.scalars(select(Target).order_by(Target.year.desc(), Target.scope != "city", Target.scope)))


def target_cards(today: date | None = None) -> list[tuple[Target, TargetStatus]]:
    return [(target, status_of(target, today)) for target in all_targets()]


def seed_defaults() -> int:
    """Add the default targets and published figures that are missing; flushes, returns how many were added."""
    added = 0
    for scope, metric, measure, year, value, base_year, base_value, source in DEFAULT_TARGETS:
        if db.session.scalar(select(Target.id).filter_by(scope=scope, metric=metric, year=year)) is None:
            db.session.add(
                Target(
                    scope=scope,
                    metric=metric,
                    measure=measure,
                    year=year,
                    value=value,
                    baseline_year=base_year,
                    baseline_value=base_value,
                    source=source,
                )
            )
            added += 1
    for scope, metric, year, value, source in DEFAULT_PUBLISHED:
        if db.session.scalar(select(PublishedFigure.id).filter_by(scope=scope, metric=metric, year=year)) is None:
            db.session.add(PublishedFigure(scope=scope, metric=metric, year=year, value=value, source=source))
            added += 1
    db.session.flush()
    return added
