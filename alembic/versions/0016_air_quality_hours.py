"""air_quality_hours: per station and hour, the sums and counts of its readings' usable values (what the hourly
VN_AQI is computed from); filled from the evaluated air_quality readings already stored

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-26
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

PARAMETERS = ("pm25", "pm10", "so2", "no2", "co", "o3")
DERIVED_SOURCE = "ioc-vn-aqi"


def upgrade() -> None:
    columns = []
    for param in PARAMETERS:
        columns += [sa.Column(f"{param}_sum", sa.Double(), nullable=False),
                    sa.Column(f"{param}_n", sa.Integer(), nullable=False)]
    op.create_table(
        "air_quality_hours",
        sa.Column("entity", sa.String(length=200), nullable=False),
        sa.Column("hour", sa.Integer(), autoincrement=False, nullable=False),
        *columns,
        sa.Column("device_errors", sa.Integer(), nullable=False),
        sa.Column("calibrating", sa.Integer(), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("entity", "hour", name=op.f("pk_air_quality_hours")),
    )
    op.create_index("ix_air_quality_hours_open", "air_quality_hours", ["hour"], unique=False,
                    sqlite_where=sa.text("closed = 0"), postgresql_where=sa.text("NOT closed"))
    _fill()


def _fill() -> None:
    """The hours of every air_quality reading evaluated so far (those still waiting add themselves when the worker
    evaluates them). Hours over by more than ten minutes are closed: their AQI was computed already (at their first
    reading, before this revision). Frozen here: the rule of engine.environment at this revision."""
    conn = op.get_bind()
    events = sa.table("events", sa.column("type", sa.String()), sa.column("entity", sa.String()),
                      sa.column("time", sa.DateTime(timezone=True)), sa.column("source", sa.String()),
                      sa.column("values", sa.JSON()), sa.column("processed_at", sa.DateTime(timezone=True)),
                      sa.column("error", sa.Text()))
    sums: dict[tuple[str, int], list[float]] = {}
    stored = conn.execute(sa.select(events.c.entity, events.c.time, events.c["values"])
                          .where(events.c.type == "air_quality", events.c.entity.is_not(None),
                                 events.c.source != DERIVED_SOURCE, events.c.processed_at.is_not(None),
                                 events.c.error.is_(None)))
    for entity, moment, values in stored:
        if isinstance(moment, str):  # SQLite without the column's type
            moment = datetime.fromisoformat(moment)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        values = values or {}
        status = values.get("status")
        marked = status if isinstance(status, dict) else ()
        acc = sums.setdefault((entity, -int(-moment.timestamp() // 3600)), [0.0] * (2 * len(PARAMETERS) + 2))
        for k, param in enumerate(PARAMETERS):
            value = values.get(param)
            if isinstance(value, int | float) and not isinstance(value, bool) and param not in marked:
                acc[2 * k] += float(value)
                acc[2 * k + 1] += 1
        marks = list(marked.values()) if isinstance(marked, dict) else []
        acc[-2] = max(acc[-2], marks.count("device_error"))
        acc[-1] = max(acc[-1], marks.count("calibration"))
    hours = sa.table("air_quality_hours", sa.column("entity", sa.String()), sa.column("hour", sa.Integer()),
                     *(sa.column(f"{p}_{part}") for p in PARAMETERS for part in ("sum", "n")),
                     sa.column("device_errors"), sa.column("calibrating"), sa.column("closed"))
    closed_by = int((datetime.now(UTC) - timedelta(minutes=10)).timestamp() // 3600)
    rows = []
    for (entity, hour), acc in sorted(sums.items()):
        row: dict[str, object] = {"entity": entity, "hour": hour, "device_errors": int(acc[-2]),
                                  "calibrating": int(acc[-1]), "closed": hour <= closed_by}
        for k, param in enumerate(PARAMETERS):
            row[f"{param}_sum"], row[f"{param}_n"] = acc[2 * k], int(acc[2 * k + 1])
        rows.append(row)
        if len(rows) >= 5000:
            conn.execute(hours.insert(), rows)
            rows = []
    if rows:
        conn.execute(hours.insert(), rows)


def downgrade() -> None:
    op.drop_index("ix_air_quality_hours_open", table_name="air_quality_hours")
    op.drop_table("air_quality_hours")
