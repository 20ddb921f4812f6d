"""task_candidate_users: people named in camunda:candidateUsers

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "task_candidate_users",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["human_tasks.id"], name=op.f("fk_task_candidate_users_task_id_human_tasks")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_task_candidate_users_user_id_users")),
        sa.PrimaryKeyConstraint("task_id", "user_id", name=op.f("pk_task_candidate_users")),
    )
    with op.batch_alter_table("task_candidate_users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_candidate_users_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("task_candidate_users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_candidate_users_user_id"))
    op.drop_table("task_candidate_users")
