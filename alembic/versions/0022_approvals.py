"""second-person approval of process and rule versions (docs/adr/0012-separation-of-duties.md):
process_definitions.status (the versions deployed before are approved), reviewed_by, reviewed_at, review_note;
rule_changes, the rule changes waiting for a second administrator. (Task take-over needs no column: it assigns
the task and is audited.)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""
import sqlalchemy as sa

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("process_definitions") as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=20), nullable=False, server_default="approved"))
        batch_op.add_column(sa.Column("reviewed_by", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("review_note", sa.String(length=1000), nullable=True))
    op.create_table(
        "rule_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.String(length=100), nullable=False),
        sa.Column("file", sa.String(length=250), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("reverts", sa.Integer(), nullable=True),
        sa.Column("base_text", sa.Text(), nullable=False),
        sa.Column("new_text", sa.Text(), nullable=False),
        sa.Column("diff", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("proposed_by", sa.String(length=80), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_by", sa.String(length=80), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_note", sa.String(length=1000), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_rule_changes"),
    )
    op.create_index("ix_rule_changes_rule_id", "rule_changes", ["rule_id"])
    op.create_index("ix_rule_changes_status", "rule_changes", ["status"])


def downgrade() -> None:
    op.drop_index("ix_rule_changes_status", table_name="rule_changes")
    op.drop_index("ix_rule_changes_rule_id", table_name="rule_changes")
    op.drop_table("rule_changes")
    with op.batch_alter_table("process_definitions") as batch_op:
        for column in ("review_note", "reviewed_at", "reviewed_by", "status"):
            batch_op.drop_column(column)
