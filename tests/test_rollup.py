"""Turnover roll-ups: kept in step with contract changes, verifiable and rebuildable from the contracts."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from marketplace.contracts.models import ContractStatus, TechContract
from marketplace.extensions import db
from marketplace.stats import rollup
from marketplace.stats.models import TurnoverRollup


def add_contract(number: str, amount: str, tech: str, registered_on=date(2025, 3, 1), **fields) -> TechContract:
    contract = TechContract(
        registration_no=number,
        registered_on=registered_on,
        project_name=f"项目{number}",
        contract_type=fields.pop("contract_type", "development"),
        tech_field=fields.pop("tech_field", "new_materials"),
        contract_amount=Decimal(amount),
        tech_amount=Decimal(tech),
        seller_name="青岛大学",
        seller_kind="university",
        seller_district=fields.pop("seller_district", "shinan"),
        buyer_name="青岛某公司",
        buyer_kind="enterprise",
        buyer_district=fields.pop("buyer_district", "huangdao"),
        status=fields.pop("status", ContractStatus.REGISTERED),
        **fields,
    )
    db.session.add(contract)
    db.session.flush()
    rollup.record_change(None, rollup.facts_of(contract))
    return contract


def row(dimension: str, key: str, year: int = 2025, month: int = 3) -> tuple[int, Decimal, Decimal] | None:
    found = db.session.scalar(select(TurnoverRollup).filter_by(dimension=dimension, key=key, year=year, month=month))
    return None if found is None else (found.count, found.contract_amount, found.tech_amount)


def test_registration_amendment_and_cancellation_move_the_rollups(app):
    first = add_contract("A1", "1000000.00", "800000.00")
    add_contract("A2", "250000.50", "250000.50", seller_district="huangdao", buyer_district="outside")
    add_contract("D1", "999.00", "999.00", status=ContractStatus.DRAFT)
    assert row("all", "") == (2, Decimal("1250000.50"), Decimal("1050000.50"))
    # Output (seller) and absorption (buyer) are separate measures.
    assert row("output_district", "huangdao") == (1, Decimal("250000.50"), Decimal("250000.50"))
    assert row("absorption_district", "huangdao") == (1, Decimal("1000000.00"), Decimal("800000.00"))

    before = rollup.facts_of(first)
    first.contract_amount, first.tech_amount, first.status = Decimal("600000"), Decimal("600000"), "amended"
    rollup.record_change(before, rollup.facts_of(first))
    assert row("all", "") == (2, Decimal("850000.50"), Decimal("850000.50"))

    before = rollup.facts_of(first)
    first.status = ContractStatus.CANCELLED
    rollup.record_change(before, rollup.facts_of(first))
    assert row("all", "") == (1, Decimal("250000.50"), Decimal("250000.50"))
    assert row("absorption_district", "huangdao") == (0, Decimal("0.00"), Decimal("0.00"))
    assert rollup.verify() == []


def test_verify_reports_a_tampered_rollup_and_rebuild_repairs_it(app):
    add_contract("B1", "300000.00", "200000.00", registered_on=date(2024, 12, 31))
    add_contract("B2", "100000.00", "100000.00", registered_on=date(2025, 1, 1), deal_id=None)
    db.session.commit()
    assert rollup.verify() == []
    tampered = db.session.scalar(select(TurnoverRollup).filter_by(dimension="all", year=2024, month=12))
    tampered.contract_amount += 1
    db.session.flush()
    problems = rollup.verify()
    assert len(problems) == 1 and problems[0].startswith("all//2024/12")
    rollup.rebuild()
    assert rollup.verify() == []
    assert row("all", "", 2024, 12) == (1, Decimal("300000.00"), Decimal("200000.00"))


def test_rollups_add_up_under_concurrent_registrations_on_postgresql(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row-level concurrency of the upsert is a PostgreSQL property; SQLite serialises writers")
    barrier = threading.Barrier(4)
    errors = []

    def register(n: int):
        with app.app_context():
            try:
                barrier.wait()
                for i in range(10):
                    add_contract(f"T{n}-{i}", "1000.00", "500.00")
                    db.session.commit()
            except Exception as error:  # noqa: BLE001 - reported by the assertion below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=register, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert row("all", "") == (40, Decimal("40000.00"), Decimal("20000.00"))
    assert rollup.verify() == []
