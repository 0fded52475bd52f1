"""Keep ``turnover_rollups`` in step with contracts, in the same transaction as the change.

Every service that changes a contract in a way that could move a total calls
``record_change(before, after)`` with the contract's facts before and after (``facts_of``), so a
registration adds, a cancellation subtracts and an amendment moves the difference. Bulk imports
collect changes and call ``apply`` once per batch: one upsert per touched row, not per contract.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import case, delete, extract, func, literal, select, text
from sqlalchemy.dialects import sqlite

from marketplace.contracts.models import COUNTED_STATUSES
from marketplace.contracts.models import TechContract as C
from marketplace.extensions import db
from marketplace.stats.models import PartyRollup, TurnoverRollup

CENT = Decimal("0.01")

# dimension -> the contract attribute giving its key ("all" sums everything).
ROLLUP_DIMENSIONS = {
    "all": None,
    "output_district": "seller_district",  # 输出: by the seller's district
    "absorption_district": "buyer_district",  # 吸纳: by the buyer's district
    "contract_type": "contract_type",
    "tech_field": "tech_field",
    "seller_kind": "seller_kind",
    "via_platform": "via_platform",  # "deal" when linked to a platform deal, else "other"
}


@dataclass(frozen=True)
class ContractFacts:
    year: int
    month: int
    seller_district: str
    buyer_district: str
    contract_type: str
    tech_field: str
    seller_kind: str
    via_platform: str
    contract_amount: Decimal
    tech_amount: Decimal
    # For the yearly per-party roll-ups (top sellers and buyers); "" adds to none.
    seller_name: str = ""
    buyer_name: str = ""


def facts_of(contract) -> ContractFacts | None:
    """What a contract adds to the totals now; None when it counts for nothing (draft, cancelled)."""
    if not contract.counted or contract.registered_on is None:
        return None
    return ContractFacts(
        year=contract.registered_on.year,
        month=contract.registered_on.month,
        seller_district=contract.seller_district or "outside",
        buyer_district=contract.buyer_district or "outside",
        contract_type=contract.contract_type,
        tech_field=contract.tech_field or "",
        seller_kind=contract.seller_kind or "other",
        via_platform="deal" if contract.deal_id else "other",
        contract_amount=Decimal(contract.contract_amount),
        tech_amount=Decimal(contract.tech_amount),
        seller_name=(contract.seller_name or "").strip()[:200],
        buyer_name=(contract.buyer_name or "").strip()[:200],
    )


def record_change(before: ContractFacts | None, after: ContractFacts | None) -> None:
    changes = []
    if before is not None:
        changes.append((before, -1))
    if after is not None:
        changes.append((after, 1))
    if before != after:
        apply(changes)


def apply(changes: Iterable[tuple[ContractFacts, int]]) -> None:
    """Add (sign=+1) or remove (sign=-1) each contract's facts; flushes, never commits."""
    totals: dict[tuple[str, str, int, int], list] = defaultdict(lambda: [0, Decimal(0), Decimal(0)])
    parties: dict[tuple[str, int, str], list] = defaultdict(lambda: [0, Decimal(0), Decimal(0)])
    for facts, sign in changes:
        for dimension, attribute in ROLLUP_DIMENSIONS.items():
            key = "" if attribute is None else getattr(facts, attribute)
            _add(totals[(dimension, key, facts.year, facts.month)], facts, sign)
        for role, name in (("seller", facts.seller_name), ("buyer", facts.buyer_name)):
            if name:
                _add(parties[(role, facts.year, name)], facts, sign)
    rows = [
        {"dimension": d, "key": k, "year": y, "month": m, "count": c, "contract_amount": a, "tech_amount": t}
        for (d, k, y, m), (c, a, t) in totals.items()
        if c or a or t
    ]
    party_rows = [
        {"role": r, "year": y, "name": n, "count": c, "contract_amount": a, "tech_amount": t}
        for (r, y, n), (c, a, t) in parties.items()
        if c or a or t
    ]
    if not rows and not party_rows:
        return
    db.session.flush()
    # Sorted so that two transactions touching the same rows lock them in the same order (no deadlock).
    rows.sort(key=lambda r: (r["dimension"], r["key"], r["year"], r["month"]))
    party_rows.sort(key=lambda r: (r["role"], r["year"], r["name"]))
    _upsert(TurnoverRollup.__table__, rows, ["dimension", "key", "year", "month"])
    _upsert(PartyRollup.__table__, party_rows, ["role", "year", "name"])


def _add(row: list, facts: ContractFacts, sign: int) -> None:
    row[0] += sign
    row[1] += sign * facts.contract_amount
    row[2] += sign * facts.tech_amount


_INTEGER_COLUMNS = {"year", "month", "count"}
_MONEY_COLUMNS = {"contract_amount", "tech_amount"}


def _upsert(table, rows: list[dict], keys: list[str]) -> None:
    """Add ``rows`` to ``table``'s totals: insert a missing row, add to an existing one."""
    if not rows:
        return
    if db.session.get_bind().dialect.name == "postgresql":
        _upsert_postgresql(table, rows, keys)
        return
    # SQLite runs in-process: one compiled statement executed for every row is fast enough.
    statement = sqlite.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=keys,
        set_={
            "count": table.c.count + statement.excluded.count,
            "contract_amount": table.c.contract_amount + statement.excluded.contract_amount,
            "tech_amount": table.c.tech_amount + statement.excluded.tech_amount,
        },
    )
    db.session.execute(statement, rows)


def _upsert_postgresql(table, rows: list[dict], keys: list[str]) -> None:
    """One statement for the whole batch (the rows as arrays, unnested): a row per round trip, even
    pipelined, made roll-ups slower than the contracts they sum. Keys are unique within ``rows``."""
    columns = list(rows[0])

    def array_type(column: str) -> str:
        if column in _INTEGER_COLUMNS:
            return "integer[]"
        return "numeric[]" if column in _MONEY_COLUMNS else "text[]"

    arrays = ", ".join(f"CAST(:{column} AS {array_type(column)})" for column in columns)
    name = table.name
    statement = text(
        f"INSERT INTO {name} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"
        f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET count = {name}.count + EXCLUDED.count,"
        f" contract_amount = {name}.contract_amount + EXCLUDED.contract_amount,"
        f" tech_amount = {name}.tech_amount + EXCLUDED.tech_amount"
    )
    db.session.execute(statement, {column: [row[column] for row in rows] for column in columns})


def rebuild(batch_size: int = 5000) -> int:
    """Recompute every roll-up from the counted contracts (repair, or backfill after a restore); flushes.

    Returns how many contracts were counted. The caller commits once, so readers never see it half done.
    """
    db.session.execute(delete(TurnoverRollup))
    db.session.execute(delete(PartyRollup))
    counted = 0
    batch: list[tuple[ContractFacts, int]] = []
    statement = select(C).where(C.status.in_([str(status) for status in COUNTED_STATUSES]))
    for contract in db.session.scalars(statement.execution_options(yield_per=batch_size)):
        facts = facts_of(contract)
        if facts is not None:
            batch.append((facts, 1))
            counted += 1
        if len(batch) >= batch_size:
            apply(batch)
            batch = []
    apply(batch)
    return counted


def _dimension_expressions():

    return {
        "all": literal(""),
        "output_district": func.coalesce(C.seller_district, "outside"),
        "absorption_district": func.coalesce(C.buyer_district, "outside"),
        "contract_type": C.contract_type,
        "tech_field": func.coalesce(C.tech_field, ""),
        "seller_kind": func.coalesce(C.seller_kind, "other"),
        "via_platform": case((C.deal_id.is_not(None), "deal"), else_="other"),
    }


def computed_totals() -> dict[tuple[str, str, int, int], tuple[int, Decimal, Decimal]]:
    """What the roll-ups should hold, aggregated in SQL straight from the contracts (one query per dimension)."""

    year, month = extract("year", C.registered_on), extract("month", C.registered_on)
    totals = {}
    for dimension, key in _dimension_expressions().items():
        statement = (
            select(key, year, month, func.count(), func.sum(C.contract_amount), func.sum(C.tech_amount))
            .where(C.status.in_([str(s) for s in COUNTED_STATUSES]), C.registered_on.is_not(None))
            .group_by(key, year, month)
        )
        for k, y, m, count, amount, tech in db.session.execute(statement):
            totals[(dimension, k, int(y), int(m))] = (
                count,
                Decimal(amount).quantize(CENT),
                Decimal(tech).quantize(CENT),
            )
    return totals


def stored_totals() -> dict[tuple[str, str, int, int], tuple[int, Decimal, Decimal]]:

    rows = db.session.execute(select(TurnoverRollup))
    return {
        (r.dimension, r.key, r.year, r.month): (r.count, Decimal(r.contract_amount), Decimal(r.tech_amount))
        for (r,) in rows
        if r.count or r.contract_amount or r.tech_amount
    }


def computed_party_totals() -> dict[tuple[str, int, str], tuple[int, Decimal, Decimal]]:
    """What the per-party roll-ups should hold, aggregated in SQL from the contracts."""
    year = extract("year", C.registered_on)
    totals = {}
    for role, column in (("seller", C.seller_name), ("buyer", C.buyer_name)):
        name = func.substr(func.trim(column), 1, 200)
        statement = (
            select(name, year, func.count(), func.sum(C.contract_amount), func.sum(C.tech_amount))
            .where(C.status.in_([str(s) for s in COUNTED_STATUSES]), C.registered_on.is_not(None), name != "")
            .group_by(name, year)
        )
        for n, y, count, amount, tech in db.session.execute(statement):
            totals[(role, int(y), n)] = (count, Decimal(amount).quantize(CENT), Decimal(tech).quantize(CENT))
    return totals


def stored_party_totals() -> dict[tuple[str, int, str], tuple[int, Decimal, Decimal]]:
    rows = db.session.execute(select(PartyRollup))
    return {
        (r.role, r.year, r.name): (r.count, Decimal(r.contract_amount), Decimal(r.tech_amount))
        for (r,) in rows
        if r.count or r.contract_amount or r.tech_amount
    }


def verify() -> list[str]:
    """Differences between the roll-ups and the contracts they summarise; empty when they agree."""
    problems = []
    for computed, stored in (
        (computed_totals(), stored_totals()),
        (computed_party_totals(), stored_party_totals()),
    ):
        for key in sorted(set(computed) | set(stored)):
            if computed.get(key) != stored.get(key):
                problems.append(f"{'/'.join(map(str, key))}: contracts {computed.get(key)} roll-up {stored.get(key)}")
    return problems
