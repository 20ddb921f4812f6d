"""indicator_rollups: observations added up per local day and month, for roll-ups that do not read every
observation (and outlive raw observations purged by the retention); filled from the stored observations

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

import engine.db

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "indicator_rollups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("grain", sa.String(length=8), nullable=False),
        sa.Column("unit_code", sa.String(length=16), nullable=False),
        sa.Column("entity", sa.String(length=200), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("total", sa.Double(), nullable=False),
        sa.Column("low", sa.Double(), nullable=False),
        sa.Column("high", sa.Double(), nullable=False),
        sa.Column("last_at", engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_value", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(["indicator_id"], ["indicators.id"],
                                name=op.f("fk_indicator_rollups_indicator_id_indicators")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_rollups")),
        sa.UniqueConstraint("indicator_id", "grain", "unit_code", "entity", "local_date",
                            name=op.f("uq_indicator_rollups_indicator_id_grain_unit_code_entity_local_date")),
    )
    op.create_index("ix_indicator_rollups_series", "indicator_rollups", ["indicator_id", "grain", "year", "month"])
    _fill()


def _fill() -> None:
    """Add up what is already stored, one indicator at a time (the arithmetic of
    ``engine.indicators.rollup_parts``, kept here so that this migration does not change with the code)."""
    conn = op.get_bind()
    typed = {"local_date": sa.Date(), "period_start": sa.DateTime(timezone=True),
             "last_at": sa.DateTime(timezone=True)}
    obs = sa.table("indicator_observations", *(sa.column(c, typed.get(c)) for c in (
        "indicator_id", "unit_code", "entity", "local_date", "year", "month", "period_start", "value")))
    rollups = sa.table("indicator_rollups", *(sa.column(c, typed.get(c)) for c in (
        "indicator_id", "grain", "unit_code", "entity", "local_date", "year", "month", "n", "total", "low", "high",
        "last_at", "last_value")))
    ids = [r[0] for r in conn.execute(sa.text("SELECT id FROM indicators"))]
    for ind in ids:
        parts: dict[tuple, list] = {}
        stored = conn.execute(sa.select(obs.c.unit_code, obs.c.entity, obs.c.local_date, obs.c.year, obs.c.month,
                                        obs.c.period_start, obs.c.value).where(obs.c.indicator_id == ind))
        for unit, entity, day, year, month, start, value in stored:
            for grain, bucket in (("day", day), ("month", day.replace(day=1))):
                p = parts.get((grain, unit, entity, bucket))
                if p is None:
                    parts[(grain, unit, entity, bucket)] = [year, month, 1, value, value, value, start, value]
                    continue
                p[2], p[3], p[4], p[5] = p[2] + 1, p[3] + value, min(p[4], value), max(p[5], value)
                if start >= p[6]:
                    p[6], p[7] = start, value
        rows = [{"indicator_id": ind, "grain": g, "unit_code": u, "entity": e, "local_date": d, "year": p[0],
                 "month": p[1], "n": p[2], "total": p[3], "low": p[4], "high": p[5], "last_at": p[6],
                 "last_value": p[7]} for (g, u, e, d), p in parts.items()]
        for i in range(0, len(rows), 5000):
            conn.execute(rollups.insert(), rows[i:i + 5000])

def downgrade() -> None:
    op.drop_index("ix_indicator_rollups_series", table_name="indicator_rollups")
    op.drop_table("indicator_rollups")
