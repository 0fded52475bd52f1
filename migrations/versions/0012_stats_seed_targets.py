"""seed the plans' turnover targets and the city's published turnover series (data only)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 21:30:00

The rows are written out here (not imported from the application) so that this revision always
inserts the same data whatever the code later says; `flask stats seed-targets` adds the same rows
to a database built without migrations. Values in 元.
"""

from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

YI = Decimal(100_000_000)
TARGETS = [
    # 技术合同成交额 ≥ 500 亿元 in 2025, from 286.6 亿元 in 2020.
    ("city", "contract_amount", "output", 2025, 500 * YI, 2020, Decimal("286.6") * YI, "青岛市“十四五”科技创新规划"),
    # The West Coast plan's 技术合同交易额 ≥ 100 亿元, read as the area's registered 成交额 on output.
    ("huangdao", "contract_amount", "output", 2025, 100 * YI, None, None, "青岛西海岸新区“十四五”科技创新规划"),
]
PUBLISHED = [
    ("city", "contract_amount", 2012, Decimal("25.4") * YI, "青岛市科学技术局公布"),
    ("city", "contract_amount", 2020, Decimal("286.6") * YI, "青岛市“十四五”科技创新规划"),
    ("city", "contract_amount", 2021, Decimal("320.1") * YI, "青岛市科学技术局公布"),
    ("city", "contract_amount", 2024, Decimal("709.58") * YI, "青岛市科学技术局公布"),
]


def upgrade():
    connection = op.get_bind()
    now = datetime.now(UTC)
    money, text, integer = sa.Numeric(18, 2), sa.Text(), sa.Integer()
    stamp = sa.DateTime(timezone=True)
    targets = sa.table(
        "turnover_targets",
        sa.column("scope", text),
        sa.column("metric", text),
        sa.column("measure", text),
        sa.column("year", integer),
        sa.column("value", money),
        sa.column("baseline_year", integer),
        sa.column("baseline_value", money),
        sa.column("source", text),
        sa.column("created_at", stamp),
        sa.column("updated_at", stamp),
    )
    published = sa.table(
        "published_turnover",
        sa.column("scope", text),
        sa.column("metric", text),
        sa.column("year", integer),
        sa.column("value", money),
        sa.column("source", text),
        sa.column("created_at", stamp),
        sa.column("updated_at", stamp),
    )
    for scope, metric, measure, year, value, base_year, base_value, source in TARGETS:
        exists = connection.execute(
            sa.text("SELECT 1 FROM turnover_targets WHERE scope = :s AND metric = :m AND year = :y"),
            {"s": scope, "m": metric, "y": year},
        ).first()
        if not exists:
            op.execute(
                targets.insert().values(
                    scope=scope,
                    metric=metric,
                    measure=measure,
                    year=year,
                    value=value,
                    baseline_year=base_year,
                    baseline_value=base_value,
                    source=source,
                    created_at=now,
                    updated_at=now,
                )
            )
    for scope, metric, year, value, source in PUBLISHED:
        exists = connection.execute(
            sa.text("SELECT 1 FROM published_turnover WHERE scope = :s AND metric = :m AND year = :y"),
            {"s": scope, "m": metric, "y": year},
        ).first()
        if not exists:
            op.execute(
                published.insert().values(
                    scope=scope, metric=metric, year=year, value=value, source=source, created_at=now, updated_at=now
                )
            )


def downgrade():
    connection = op.get_bind()
    for scope, metric, _measure, year, *_rest in TARGETS:
        connection.execute(
            sa.text("DELETE FROM turnover_targets WHERE scope = :s AND metric = :m AND year = :y"),
            {"s": scope, "m": metric, "y": year},
        )
    for scope, metric, year, *_rest in PUBLISHED:
        connection.execute(
            sa.text("DELETE FROM published_turnover WHERE scope = :s AND metric = :m AND year = :y"),
            {"s": scope, "m": metric, "y": year},
        )
