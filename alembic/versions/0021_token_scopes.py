"""api_tokens: scopes (engine.scopes), the sources an events:write token may send for, expiry, last use and who
made it. Tokens made before carried their whole role; they keep only what a sensor or a department's system needs,
events:write and alerts:read, and
expire 90 days after this upgrade (make new ones with the scopes they need: docs/security.md)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

TOKENS = sa.table("api_tokens", sa.column("scopes", sa.JSON), sa.column("expires_at", sa.DateTime(timezone=True)))


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.add_column(sa.Column("scopes", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("sources", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("created_by", sa.String(length=80), nullable=True))
    op.execute(TOKENS.update().values(scopes=["alerts:read", "events:write"],
                                      expires_at=datetime.now(UTC) + timedelta(days=90)))
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.alter_column("scopes", existing_type=sa.JSON(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch_op:
        for column in ("created_by", "last_used_at", "expires_at", "sources", "scopes"):
            batch_op.drop_column(column)
