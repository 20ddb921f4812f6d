"""entities

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

import engine.db


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('entities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('code', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=250), nullable=False),
    sa.Column('unit_code', sa.String(length=16), nullable=True),
    sa.Column('attributes', sa.JSON(), nullable=False),
    sa.Column('latest', sa.JSON(), nullable=False),
    sa.Column('last_seen', engine.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('registered', sa.Boolean(), nullable=False),
    sa.Column('updated_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entities')),
    sa.UniqueConstraint('kind', 'code', name=op.f('uq_entities_kind_code'))
    )
    with op.batch_alter_table('entities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_entities_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_entities_last_seen'), ['last_seen'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('entities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entities_last_seen'))
        batch_op.drop_index(batch_op.f('ix_entities_kind'))

    op.drop_table('entities')
