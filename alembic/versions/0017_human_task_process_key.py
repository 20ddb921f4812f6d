"""human_tasks.process_key: the process a task belongs to, copied from its instance's definition (an instance
changes version, never process), so that open tasks are counted by process and step from one index without
reading every open task's instance (the wall and the cockpit do it on every refresh); and the instance index
takes the status too, so that an instance's open tasks are found without reading its done ones (the cockpit's
page, each advance of an instance)

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("human_tasks", sa.Column("process_key", sa.String(length=100), nullable=True))
    op.execute("UPDATE human_tasks SET process_key = (SELECT d.process_key FROM process_instances i "
               "JOIN process_definitions d ON d.id = i.definition_id WHERE i.id = human_tasks.instance_id)")
    op.create_index("ix_human_tasks_open_steps", "human_tasks", ["status", "process_key", "bpmn_id", "due_at"])
    op.create_index("ix_human_tasks_instance_status", "human_tasks", ["instance_id", "status"])
    op.drop_index("ix_human_tasks_instance_id", table_name="human_tasks")


def downgrade() -> None:
    op.create_index("ix_human_tasks_instance_id", "human_tasks", ["instance_id"])
    op.drop_index("ix_human_tasks_instance_status", table_name="human_tasks")
    op.drop_index("ix_human_tasks_open_steps", table_name="human_tasks")
    op.drop_column("human_tasks", "process_key")
