"""vessel_fixes: vessels' positions as a compact track (AIS positions are no longer stored as events); filled
from the stored vessel_position events

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

import engine.db

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vessel_fixes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vessel", sa.String(length=200), nullable=False),
        sa.Column("time", engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lat", sa.Double(), nullable=False),
        sa.Column("lon", sa.Double(), nullable=False),
        sa.Column("speed_kn", sa.Double(), nullable=True),
        sa.Column("course", sa.Double(), nullable=True),
        sa.Column("heading", sa.Integer(), nullable=True),
        sa.Column("nav_status", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vessel_fixes")),
        sa.UniqueConstraint("vessel", "time", name=op.f("uq_vessel_fixes_vessel_time")),
    )
    _fill()


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _speed_kn(values: dict) -> float | None:
    for key, factor in (("sog_kn", 1.0), ("speed_kn", 1.0), ("sog_ms", 3600 / 1852)):
        if (number := _number(values.get(key))) is not None:
            return number * factor
    return None


def _fill() -> None:
    """One fix per stored vessel_position event with a position (the first of a vessel's reports at an instant)."""
    conn = op.get_bind()
    events = sa.table("events", sa.column("id", sa.Integer()), sa.column("type", sa.String()),
                      sa.column("entity", sa.String()), sa.column("time", sa.DateTime(timezone=True)),
                      sa.column("source", sa.String()), sa.column("values", sa.JSON()))
    fixes = sa.table("vessel_fixes", *(sa.column(c) for c in (
        "vessel", "lat", "lon", "speed_kn", "course", "heading", "nav_status", "source")),
        sa.column("time", sa.DateTime(timezone=True)))
    seen: set[tuple[str, object]] = set()
    rows: list[dict[str, object]] = []
    stored = conn.execute(sa.select(events.c.entity, events.c.time, events.c.source, events.c["values"])
                          .where(events.c.type == "vessel_position", events.c.entity.is_not(None))
                          .order_by(events.c.id))
    for entity, moment, source, values in stored:
        values = values or {}
        lat, lon = _number(values.get("lat")), _number(values.get("lon"))
        if lat is None or lon is None or (entity, moment) in seen:
            continue
        seen.add((entity, moment))
        heading, status = _number(values.get("heading")), _number(values.get("nav_status"))
        rows.append({"vessel": entity, "time": moment, "lat": lat, "lon": lon, "source": source or "",
                     "speed_kn": _speed_kn(values),
                     "course": _number(values.get("cog", values.get("course"))),
                     "heading": None if heading is None else int(heading),
                     "nav_status": None if status is None else int(status)})
        if len(rows) >= 5000:
            conn.execute(fixes.insert(), rows)
            rows = []
    if rows:
        conn.execute(fixes.insert(), rows)


def downgrade() -> None:
    op.drop_table("vessel_fixes")
