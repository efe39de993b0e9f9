"""Added AppliedTask Table

Revision ID: 0003_added_applied_task_table
Revises: 0002_added_setting_table
Create Date: 2026-11-30 07:45:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_added_applied_task_table"
down_revision = "0002_added_setting_table"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "AppliedTask",
        sa.Column("taskId", sa.String(length=64), nullable=False),
        sa.Column("appliedDate", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("taskId"),
        schema="pl_tutorial",
    )


def downgrade() -> None:
    op.drop_table("AppliedTask", schema="pl_tutorial")
