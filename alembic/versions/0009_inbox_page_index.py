"""human_tasks: an index in the order of the inbox page (status, priority desc, due date nulls last, id)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_human_tasks_page", "human_tasks",
                    ["status", sa.text("priority DESC"), sa.text("(due_at IS NULL)"), "due_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_human_tasks_page", table_name="human_tasks")
