"""process_instances: next_timer_at (when the earliest pending timer is due) and error (incidents)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

import engine.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("process_instances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_timer_at", engine.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_process_instances_next_timer_at"), ["next_timer_at"], unique=False)
        batch_op.add_column(sa.Column("error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("process_instances", schema=None) as batch_op:
        batch_op.drop_column("error")
        batch_op.drop_index(batch_op.f("ix_process_instances_next_timer_at"))
        batch_op.drop_column("next_timer_at")
