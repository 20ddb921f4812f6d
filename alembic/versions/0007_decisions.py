"""decision_definitions: DMN decision tables, versioned like processes

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

import engine.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decision_definitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("decision_key", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=250), nullable=False),
        sa.Column("dmn_xml", sa.Text(), nullable=False),
        sa.Column("deployed_at", engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deployed_by", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_definitions")),
        sa.UniqueConstraint("content_hash", name=op.f("uq_decision_definitions_content_hash")),
        sa.UniqueConstraint("decision_key", "version", name=op.f("uq_decision_definitions_decision_key_version")),
    )
    with op.batch_alter_table("decision_definitions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_decision_definitions_decision_key"), ["decision_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("decision_definitions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_decision_definitions_decision_key"))
    op.drop_table("decision_definitions")
