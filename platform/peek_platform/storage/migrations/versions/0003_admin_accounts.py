"""admin accounts

Revision ID: 0003_admin_accounts
Revises: 0002_action_outcomes
Create Date: 2026-11-30 10:15:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_admin_accounts"
down_revision = "0002_action_outcomes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "AdminAccount",
        sa.Column("userName", sa.String(length=64), nullable=False),
        sa.Column("passwordHash", sa.Text(), nullable=False),
        sa.Column("passwordSetAt", sa.Float(), nullable=False),
        sa.Column("createdAt", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("userName"),
        schema="peek_platform",
    )


def downgrade() -> None:
    op.drop_table("AdminAccount", schema="peek_platform")
