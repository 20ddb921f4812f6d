"""directives; human_tasks.about_department_id

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

import engine.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "directives",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("deadline", engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("departments", sa.JSON(), nullable=False),
        sa.Column("issued_by", sa.String(length=80), nullable=False),
        sa.Column("issued_at", engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instances.id"],
                                name=op.f("fk_directives_instance_id_process_instances")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directives")),
    )
    with op.batch_alter_table("directives", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_directives_deadline"), ["deadline"], unique=False)
        batch_op.create_index(batch_op.f("ix_directives_instance_id"), ["instance_id"], unique=False)
    with op.batch_alter_table("human_tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("about_department_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_human_tasks_about_department_id"), ["about_department_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_human_tasks_about_department_id_departments"), "departments",
                                    ["about_department_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("human_tasks", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_human_tasks_about_department_id_departments"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_human_tasks_about_department_id"))
        batch_op.drop_column("about_department_id")
    with op.batch_alter_table("directives", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_directives_instance_id"))
        batch_op.drop_index(batch_op.f("ix_directives_deadline"))
    op.drop_table("directives")
