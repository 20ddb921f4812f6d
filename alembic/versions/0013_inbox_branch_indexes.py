"""human_tasks: the role and department indexes in the inbox page's order (each branch of the inbox's union reads
only its first page)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

ORDER = [sa.text("priority DESC"), sa.text("(due_at IS NULL)"), "due_at", "id"]


def upgrade() -> None:
    op.create_index("ix_human_tasks_role_page", "human_tasks", ["status", "candidate_role", *ORDER])
    op.create_index("ix_human_tasks_department_page", "human_tasks", ["status", "candidate_department_id", *ORDER])
    op.drop_index("ix_human_tasks_status_role", table_name="human_tasks")
    op.drop_index("ix_human_tasks_status_department", table_name="human_tasks")


def downgrade() -> None:
    op.create_index("ix_human_tasks_status_department", "human_tasks", ["status", "candidate_department_id"])
    op.create_index("ix_human_tasks_status_role", "human_tasks", ["status", "candidate_role"])
    op.drop_index("ix_human_tasks_department_page", table_name="human_tasks")
    op.drop_index("ix_human_tasks_role_page", table_name="human_tasks")
