"""human_tasks: unit_code, follow_up_at, sector index; task_comments

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

import engine.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("human_tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unit_code", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("follow_up_at", engine.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_human_tasks_unit_code"), ["unit_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_human_tasks_sector"), ["sector"], unique=False)
    op.create_table(
        "task_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=80), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["human_tasks.id"], name=op.f("fk_task_comments_task_id_human_tasks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_comments")),
    )
    with op.batch_alter_table("task_comments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_comments_task_id"), ["task_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("task_comments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_comments_task_id"))
    op.drop_table("task_comments")
    with op.batch_alter_table("human_tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_human_tasks_sector"))
        batch_op.drop_index(batch_op.f("ix_human_tasks_unit_code"))
        batch_op.drop_column("follow_up_at")
        batch_op.drop_column("unit_code")
