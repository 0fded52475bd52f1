"""Turnover figures for the dashboard, the exports, the CLI and the API.

Totals come from ``turnover_rollups`` (a handful of rows per month whatever the volume); only the
lists of named parties and of contracts made through the platform read ``tech_contracts``, through
its (status, registered_on) index. Counted as the registration system counts: by the year and month
of registration (认定登记). Output (输出, seller's district) and absorption (吸纳, buyer's district)
are separate measures and are never added together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import Integer, cast, func, select, text

from marketplace.contracts.models import COUNTED_STATUSES, TechContract
from marketplace.core import taxonomy
from marketplace.core.money import CENT
from marketplace.extensions import db
from marketplace.stats.models import PartyRollup, TurnoverRollup

# What `flask stats turnover --by` and the API's `by=` accept; month needs a year.
BY_CHOICES = ("year", "output_district", "absorption_district", "contract_type", "tech_field", "seller_kind")
DASHBOARD_BY = (*BY_CHOICES, "month", "via_platform", "seller_group")
MIN_YEAR, MAX_YEAR = 1980, 2100
UNSPECIFIED = "unspecified"  # a contract registered without a technology field

# Each taxonomy dimension lists every code, in the taxonomy's order, even when it is zero.
_VOCABULARIES = {
    "output_district": taxonomy.DISTRICTS,
    "absorption_district": taxonomy.DISTRICTS,
    "contract_type": taxonomy.CONTRACT_TYPES,
    "tech_field": taxonomy.TECH_FIELDS,
    "seller_kind": taxonomy.PARTY_KINDS,
}
VIA_PLATFORM = ("deal", "other")
# Universities and institutes against enterprises, as technology-market statistics group sellers.
SELLER_GROUPS = {"academic": ("university", "institute"), "enterprise": ("enterprise",), "other": ("other",)}


class StatsParameterError(ValueError):
    """A bad ``by`` or ``year``: the CLI turns it into a usage error, the API into a 400."""


@dataclass
class Totals:
    count: int = 0
    contract_amount: Decimal = Decimal("0.00")
    tech_amount: Decimal = Decimal("0.00")

    def add(self, other: Totals) -> None:
        self.count += other.count
        self.contract_amount += other.contract_amount
        self.tech_amount += other.tech_amount

    def as_json(self) -> dict:
        return {
            "count": self.count,
            "contract_amount": f"{self.contract_amount:.2f}",
            "tech_amount": f"{self.tech_amount:.2f}",
        }


def parse_year(raw: object) -> int | None:
    if raw is None or str(raw).strip() == "":
        return None
    text = str(raw).strip()
    if not text.isdigit() or not MIN_YEAR <= int(text) <= MAX_YEAR:
        raise StatsParameterError(_("年份应为 %(low)d–%(high)d 之间的四位数字", low=MIN_YEAR, high=MAX_YEAR))
    return int(text)


def parse_by(raw: object, allowed: tuple[str, ...] = BY_CHOICES) -> str:
    text = str(raw or "").strip()
    if text not in allowed:
        raise StatsParameterError(_("统计维度应为以下之一：%(choices)s", choices=", ".join(allowed)))
    return text


def _money_sum(column):
    """SUM exact to the fen: PostgreSQL sums NUMERIC exactly; SQLite stores REAL, so sum whole fen."""
    if db.session.get_bind().dialect.name == "sqlite":
        return func.sum(cast(func.round(column * 100), Integer))
    return func.sum(column)


def _to_yuan(value, in_fen: bool) -> Decimal:
    if value is None:
        return Decimal("0.00")
    if in_fen:
        return (Decimal(int(value)) / 100).quantize(CENT)
    return Decimal(value).quantize(CENT)


def _rollup_rows(dimension: str, group_by, year: int | None):
    in_fen = db.session.get_bind().dialect.name == "sqlite"
    statement = (
        select(
            group_by,
            func.sum(TurnoverRollup.count),
            _money_sum(TurnoverRollup.contract_amount),
            _money_sum(TurnoverRollup.tech_amount),
        )
        .where(TurnoverRollup.dimension == dimension)
        .group_by(group_by)
    )
    if year is not None:
        statement = statement.where(TurnoverRollup.year == year)
    for key, count, contract_amount, tech_amount in db.session.execute(statement):
        yield key, Totals(int(count or 0), _to_yuan(contract_amount, in_fen), _to_yuan(tech_amount, in_fen))


def by_year(year: int | None = None) -> dict[str, Totals]:
    """Registered turnover per year of registration, oldest first; years without contracts left out."""
    rows = sorted(_rollup_rows("all", TurnoverRollup.year, year))
    return {str(key): totals for key, totals in rows if totals.count}


def by_month(year: int) -> dict[str, Totals]:
    """The twelve months of ``year`` ("01" … "12"), zeros included."""
    result = {f"{month:02d}": Totals() for month in range(1, 13)}
    for month, totals in _rollup_rows("all", TurnoverRollup.month, year):
        result[f"{month:02d}"] = totals
    return result


def by_dimension(dimension: str, year: int | None = None) -> dict[str, Totals]:
    """Every code of the dimension's vocabulary in order (zeros too), then any other key met in the data."""
    codes = _VOCABULARIES.get(dimension) or dict.fromkeys(VIA_PLATFORM)
    result = {code: Totals() for code in codes}
    for key, totals in _rollup_rows(dimension, TurnoverRollup.key, year):
        result.setdefault(key or UNSPECIFIED, Totals()).add(totals)
    return {key: totals for key, totals in result.items() if key in codes or totals.count}


def by_seller_group(year: int | None = None) -> dict[str, Totals]:
    kinds = by_dimension("seller_kind", year)
    result = {group: Totals() for group in SELLER_GROUPS}
    for group, members in SELLER_GROUPS.items():
        for kind in members:
            result[group].add(kinds.get(kind, Totals()))
    for kind, totals in kinds.items():
        if not any(kind in members for members in SELLER_GROUPS.values()):
            result["other"].add(totals)
    return result


def turnover(by: str, year: int | None = None) -> dict[str, Totals]:
    """The one function behind the CLI, the API, the dashboard's tables and the exports."""
    if by == "year":
        return by_year(year)
    if by == "month":
        if year is None:
            raise StatsParameterError(_("按月统计需要指定年份"))
        return by_month(year)
    if by == "seller_group":
        return by_seller_group(year)
    return by_dimension(by, year)


def turnover_json(by: str, year: int | None = None) -> dict[str, dict]:
    return {key: totals.as_json() for key, totals in turnover(by, year).items()}


def years_with_data() -> list[int]:
    return [int(year) for year in by_year()]


def _year_bounds(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year + 1, 1, 1)


@dataclass
class PartyTotal:
    name: str
    count: int
    contract_amount: Decimal
    tech_amount: Decimal


def top_parties(role: str, year: int, limit: int = 10) -> list[PartyTotal]:
    """The sellers (institutions, role "seller") or buyers (enterprises, "buyer") with most turnover in ``year``.

    Read from the yearly per-party roll-ups: grouping a year's contracts by name is too slow at scale.
    """
    statement = (
        select(PartyRollup.name, PartyRollup.count, PartyRollup.contract_amount, PartyRollup.tech_amount)
        .where(PartyRollup.role == role, PartyRollup.year == year, PartyRollup.count > 0)
        .order_by(PartyRollup.contract_amount.desc(), PartyRollup.name)
        .limit(limit)
    )
    return [
        PartyTotal(name, count, Decimal(contract_amount).quantize(CENT), Decimal(tech_amount).quantize(CENT))
        for name, count, contract_amount, tech_amount in db.session.execute(statement)
    ]


# A few per cent of contracts come from deals: read those through the partial index on their
# registration dates, not the whole year. PostgreSQL's statistics choose it; SQLite's planner takes
# (status, registered_on) unless told, and SQLAlchemy renders no index hint for SQLite, hence SQL here.
_SQLITE_PLATFORM_IDS = text(
    "SELECT id FROM tech_contracts INDEXED BY ix_tech_contracts_platform_registered_on"
    " WHERE deal_id IS NOT NULL AND registered_on >= :start AND registered_on < :end AND status IN (:s1, :s2)"
    " ORDER BY contract_amount DESC, id LIMIT :limit"
)


def platform_contracts(year: int, limit: int = 20) -> list[TechContract]:
    """Counted contracts registered in ``year`` that came through one of the platform's deals, largest first."""
    start, end = _year_bounds(year)
    counted = [str(value) for value in COUNTED_STATUSES]
    order = (TechContract.contract_amount.desc(), TechContract.id)
    if db.session.get_bind().dialect.name == "sqlite":
        parameters = {"start": start.isoformat(), "end": end.isoformat(), "s1": counted[0], "s2": counted[1]}
        ids = list(db.session.scalars(_SQLITE_PLATFORM_IDS, parameters | {"limit": limit}))
        return list(db.session.scalars(select(TechContract).where(TechContract.id.in_(ids)).order_by(*order)))
    statement = (
        select(TechContract)
        .where(
            TechContract.status.in_(counted),
            TechContract.registered_on >= start,
            TechContract.registered_on < end,
            TechContract.deal_id.is_not(None),
        )
        .order_by(*order)
        .limit(limit)
    )
    return list(db.session.scalars(statement))


def key_label(by: str, key: str) -> str:
    """What the page and the exports call a key of ``by``."""
    if by in _VOCABULARIES:
        return taxonomy.label(_VOCABULARIES[by], key) if key != UNSPECIFIED else _("未填写")
    if by == "via_platform":
        return _("平台撮合") if key == "deal" else _("其他登记合同")
    if by == "seller_group":
        return {"academic": _("高校院所"), "enterprise": _("企业")}.get(key, _("其他"))
    if by == "month":
        return _("%(n)d月", n=int(key))
    return key
