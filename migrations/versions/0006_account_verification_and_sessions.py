"""accounts: e-mail verification flag and per-user auth version (ends all sessions when bumped)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 18:10:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    # Existing accounts count as verified. Cookies issued before this carry no version: users sign in once more.
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_verified", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column("auth_version", sa.Integer(), server_default="0", nullable=False))


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("auth_version")
        batch_op.drop_column("email_verified")
