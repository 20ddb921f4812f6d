"""Retention: raw events are kept for ``IOC_EVENT_RETENTION_DAYS`` (default 400: a year and a month, so that
the same period a year earlier can still be looked at), then deleted by the worker, a bounded batch at a time.
Quarantined events (kept for a person to look at) and the alerts, processes and indicator values that events
led to are not touched. ``0`` keeps events forever.

Raw real-time indicator observations (hourly AQI, sensor readings) are kept for
``IOC_OBSERVATION_RETENTION_DAYS`` (default ``0``: forever); their day and month roll-ups
(``indicator_rollups``) are kept whatever the setting, so that series by day, month, quarter and year still answer
after the raw rows are gone. Observations of daily, monthly, quarterly and yearly indicators are never purged.

The hourly sums of air-quality readings (``air_quality_hours``, what a station's hourly VN_AQI is computed from)
go with the events: kept for ``IOC_EVENT_RETENTION_DAYS``.

Vessels' track fixes (``vessel_fixes``: every AIS/VMS position) are kept for ``IOC_TRACK_RETENTION_DAYS``
(default 400, as events were when positions were events; the VMS rules read two days, the monitor ten)."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine import audit
from engine.db import utcnow
from engine.models import AirQualityHour, Entity, Event, Indicator, IndicatorObservation, VesselFix

BATCH = 5000


def event_retention_days() -> int:
    return int(os.environ.get("IOC_EVENT_RETENTION_DAYS", "400"))


def purge_events(session: Session, now: datetime | None = None, days: int | None = None) -> int:
    """Delete up to ``BATCH`` evaluated events older than the retention; returns how many."""
    days = event_retention_days() if days is None else days
    if days <= 0:
        return 0
    cutoff = (now or utcnow()) - timedelta(days=days)
    ids = list(session.scalars(select(Event.id).where(Event.time < cutoff, Event.processed_at.is_not(None),
                                                      Event.error.is_(None)).order_by(Event.id).limit(BATCH)))
    if ids:
        session.execute(delete(Event).where(Event.id.in_(ids)))
        audit.record(session, "retention", "events.purged", "event_batch", ids[0], count=len(ids),
                     before=cutoff.isoformat())
    return len(ids)


def observation_retention_days() -> int:
    return int(os.environ.get("IOC_OBSERVATION_RETENTION_DAYS", "0"))


def purge_observations(session: Session, now: datetime | None = None, days: int | None = None) -> int:
    """Delete up to ``BATCH`` raw real-time observations older than the retention; returns how many."""
    days = observation_retention_days() if days is None else days
    if days <= 0:
        return 0
    cutoff = (now or utcnow()) - timedelta(days=days)
    realtime = select(Indicator.id).where(Indicator.period == "realtime")
    obs = IndicatorObservation
    ids = list(session.scalars(select(obs.id).where(obs.indicator_id.in_(realtime), obs.period_start < cutoff)
                               .order_by(obs.id).limit(BATCH)))
    if ids:
        session.execute(delete(obs).where(obs.id.in_(ids)))
        audit.record(session, "retention", "observations.purged", "observation_batch", ids[0], count=len(ids),
                     before=cutoff.isoformat())
    return len(ids)


def track_retention_days() -> int:
    return int(os.environ.get("IOC_TRACK_RETENTION_DAYS", "400"))


def purge_fixes(session: Session, now: datetime | None = None, days: int | None = None, batch: int = BATCH) -> int:
    """Delete track fixes older than the retention, up to ``batch`` per vessel (every vessel the IOC knows: each
    reported position made its entity); returns how many. The fixes are read by vessel and time only (no index on
    time alone, which would slow every insert of a busy feed), so the purge goes vessel by vessel."""
    days = track_retention_days() if days is None else days
    if days <= 0:
        return 0
    cutoff = (now or utcnow()) - timedelta(days=days)
    total = 0
    for code in session.scalars(select(Entity.code).where(Entity.kind == "vessel")):
        ids = select(VesselFix.id).where(VesselFix.vessel == code, VesselFix.time < cutoff).limit(batch)
        done = session.execute(delete(VesselFix).where(VesselFix.id.in_(ids.scalar_subquery())))
        total += done.rowcount  # type: ignore[attr-defined]
    if total:
        audit.record(session, "retention", "vessel_fixes.purged", "vessel_fix_batch", cutoff.date().isoformat(),
                     count=total, before=cutoff.isoformat())
    return total


def purge_air_quality_hours(session: Session, now: datetime | None = None, days: int | None = None) -> int:
    """Delete the hourly sums of air-quality readings older than the events' retention, station by station (read
    by station and hour: the primary key); returns how many."""
    days = event_retention_days() if days is None else days
    if days <= 0:
        return 0
    before = int(((now or utcnow()) - timedelta(days=days)).timestamp() // 3600)  # an hour ending by the cutoff
    total = 0
    for station in session.scalars(select(AirQualityHour.entity).distinct()):
        done = session.execute(delete(AirQualityHour).where(AirQualityHour.entity == station,
                                                            AirQualityHour.hour <= before))
        total += done.rowcount  # type: ignore[attr-defined]
    if total:
        audit.record(session, "retention", "air_quality_hours.purged", "air_quality_hour_batch", str(before),
                     count=total, before=before)
    return total
