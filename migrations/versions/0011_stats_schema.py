"""turnover targets' district measure; yearly per-party roll-ups; partial index of contracts from platform deals

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 21:30:00

Schema only; 0009_stats (after this one) seeds the targets. party_rollups starts empty: 0008 is
new in the same release, so no registered contract exists yet to backfill from.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("turnover_targets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("measure", sa.String(length=20), server_default="output", nullable=False))

    op.create_table(
        "party_rollups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("contract_amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("tech_amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_rollups")),
        sa.UniqueConstraint("role", "year", "name", name="uq_party_rollups_role_year_name"),
    )
    with op.batch_alter_table("party_rollups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_party_rollups_role_year_contract_amount", ["role", "year", "contract_amount"], unique=False
        )

    with op.batch_alter_table("tech_contracts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tech_contracts_platform_registered_on",
            ["registered_on"],
            unique=False,
            sqlite_where=sa.text("deal_id IS NOT NULL"),
            postgresql_where=sa.text("deal_id IS NOT NULL"),
        )


def downgrade():
    with op.batch_alter_table("tech_contracts", schema=None) as batch_op:
        batch_op.drop_index("ix_tech_contracts_platform_registered_on")

    with op.batch_alter_table("party_rollups", schema=None) as batch_op:
        batch_op.drop_index("ix_party_rollups_role_year_contract_amount")

    op.drop_table("party_rollups")

    with op.batch_alter_table("turnover_targets", schema=None) as batch_op:
        batch_op.drop_column("measure")
