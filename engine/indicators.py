"""Indicators (KPIs) as data: definitions, observations, roll-ups, progress against the year's plan.

An observation is a value for a commune/ward (or the province, code ``38``) or for an entity (a station),
over the period starting at ``period_start``. Roll-ups go from commune to province and from day to month,
quarter and year, with the indicator's own aggregation (sum, mean, max, last). Province-level figures,
when sent, are used as they are rather than added up from communes (no double counting).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import Connection, case, delete, func, insert, select
from sqlalchemy.orm import Session

from engine import audit, bus
from engine.config import settings
from engine.db import insert as db_insert
from engine.errors import N_, Forbidden, Invalid, NotFound
from engine.models import Indicator, IndicatorObservation, IndicatorRollup, Unit
from engine.org import Principal

SEED = Path(__file__).parent / "data" / "indicators.yaml"
PROVINCE = "38"
PERIODS = ("realtime", "day", "month", "quarter", "year")
GRANULARITIES = ("raw", "day", "month", "quarter", "year")
AGGREGATIONS = ("sum", "mean", "max", "last")
TARGET_SETTERS = ("admin", "leader")
BATCH_LIMIT = 10_000


def tz() -> ZoneInfo:
    return ZoneInfo(settings().timezone)


def seed_indicators(session: Session) -> int:
    """Add the shipped definitions that are missing (existing ones, and their targets, are left alone)."""
    known = set(session.scalars(select(Indicator.code)))
    added = 0
    for row in yaml.safe_load(SEED.read_text(encoding="utf-8"))["indicators"]:
        if row["code"] not in known:
            session.add(Indicator(**row, targets={}))
            added += 1
    return added


def get(session: Session, code: str) -> Indicator:
    known = session.info.setdefault("indicators", {})  # found in this session: the worker asks per reading
    indicator = known.get(code)
    if indicator is not None and indicator in session:
        return indicator
    indicator = session.scalar(select(Indicator).where(Indicator.code == code))
    if indicator is None:
        raise NotFound(N_("No indicator %(indicator)s"), indicator=code)
    known[code] = indicator
    return indicator


def align(period: str, moment: datetime) -> datetime:
    """The start (UTC) of the indicator period containing ``moment``, periods being local calendar periods."""
    local = moment.astimezone(tz())
    if period in ("realtime",):
        return moment.astimezone(UTC)
    if period == "day":
        local = local.replace(hour=0, minute=0, second=0, microsecond=0)
    elif period == "month":
        local = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    elif period == "quarter":
        local = local.replace(month=3 * ((local.month - 1) // 3) + 1, day=1, hour=0, minute=0, second=0,
                              microsecond=0)
    else:
        local = local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    return local.astimezone(UTC)


@dataclass
class RecordResult:
    stored: int = 0
    duplicates: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


def record(session: Session, indicator: Indicator, items: Sequence[dict[str, Any]], *, source: str,
           actor: str) -> RecordResult:
    """Store a batch of observations: the good ones are stored, each bad one is answered with its index, field
    and reason, a repeat of a stored one (same unit/entity and period) is ignored."""
    if len(items) > BATCH_LIMIT:
        raise Invalid(N_("At most %(n)s observations per request"), n=BATCH_LIMIT, code="batch_too_large")
    result = RecordResult()
    named = {str(item.get("unit")) for item in items if isinstance(item, dict) and item.get("unit")}
    units = (set() if not named else set(session.scalars(select(Unit.code))) if len(named) > 500
             else set(session.scalars(select(Unit.code).where(Unit.code.in_(named)))))
    rows: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        row, problem = _row(indicator, item, units, source)
        if problem is not None:
            result.errors.append({"index": index, **problem})
        else:
            rows.append(row)
    if rows:
        table = IndicatorObservation.__table__
        stmt = db_insert(session, table).on_conflict_do_nothing(
            index_elements=["indicator_id", "unit_code", "entity", "period_start"]).returning(
            table.c.unit_code, table.c.entity, table.c.local_date, table.c.year, table.c.month,
            table.c.period_start, table.c.value)
        stored = [tuple(r) for r in session.execute(stmt, rows)]
        result.stored = len(stored)
        result.duplicates = len(rows) - result.stored
        _add_to_rollups(session, indicator.id, stored)
    if result.stored:
        audit.record(session, actor, "indicator.observations", "indicator", indicator.code, stored=result.stored,
                     duplicates=result.duplicates, bad=len(result.errors), source=source)
        bus.publish(session, "indicator.observations", indicator=indicator.code, stored=result.stored)
    return result


def rollup_parts(stored: Iterable[tuple[str, str, date, int, int, datetime, float]]
                 ) -> dict[tuple[str, str, str, date], list[Any]]:
    """Stored observations ``(unit, entity, local_date, year, month, period_start, value)`` added up per
    ``(grain, unit, entity, bucket date)`` into ``[year, month, n, total, low, high, last_at, last_value]``."""
    parts: dict[tuple[str, str, str, date], list[Any]] = {}
    for unit, entity, day, year, month, start, value in stored:
        for grain, bucket_date in (("day", day), ("month", day.replace(day=1))):
            part = parts.get((grain, unit, entity, bucket_date))
            if part is None:
                parts[(grain, unit, entity, bucket_date)] = [year, month, 1, value, value, value, start, value]
                continue
            part[2] += 1
            part[3] += value
            part[4] = min(part[4], value)
            part[5] = max(part[5], value)
            if start >= part[6]:
                part[6], part[7] = start, value
    return parts


def rollup_rows(indicator_id: int, parts: Iterable[tuple[tuple[str, str, str, date], list[Any]]]
                ) -> list[dict[str, Any]]:
    """``rollup_parts`` items as ``indicator_rollups`` rows."""
    return [{"indicator_id": indicator_id, "grain": grain, "unit_code": unit, "entity": entity,
             "local_date": bucket_date, "year": p[0], "month": p[1], "n": p[2], "total": p[3], "low": p[4],
             "high": p[5], "last_at": p[6], "last_value": p[7]} for (grain, unit, entity, bucket_date), p in parts]


def _add_to_rollups(session: Session, indicator_id: int,
                    stored: Sequence[tuple[str, str, date, int, int, datetime, float]]) -> None:
    """Fold newly stored observations into the day and month roll-up rows (created or added to in one upsert;
    keys in a fixed order so that concurrent batches on PostgreSQL take their row locks in the same order)."""
    if not stored:
        return
    table = IndicatorRollup.__table__
    rows = rollup_rows(indicator_id, sorted(rollup_parts(stored).items(), key=lambda kv: kv[0]))
    stmt = db_insert(session, table)
    new, old = stmt.excluded, table.c
    stmt = stmt.on_conflict_do_update(
        index_elements=["indicator_id", "grain", "unit_code", "entity", "local_date"],
        set_={"n": old.n + new.n, "total": old.total + new.total,
              "low": case((new.low < old.low, new.low), else_=old.low),
              "high": case((new.high > old.high, new.high), else_=old.high),
              "last_value": case((new.last_at >= old.last_at, new.last_value), else_=old.last_value),
              "last_at": case((new.last_at >= old.last_at, new.last_at), else_=old.last_at)})
    for i in range(0, len(rows), 2000):
        session.execute(stmt, rows[i:i + 2000])


def rebuild_rollups(conn: Connection | Session, indicator_id: int | None = None) -> int:
    """Make the roll-up rows again from the stored observations (all indicators, or one); returns how many. For
    data loaded straight into the observations table with SQL. It replaces the indicator's roll-ups with what its
    observations hold now: after the retention has purged raw observations, their periods' roll-ups would go."""
    obs, table = IndicatorObservation.__table__, IndicatorRollup.__table__
    ids = [indicator_id] if indicator_id is not None else list(conn.execute(select(Indicator.__table__.c.id)).scalars())
    made = 0
    for ind in ids:
        conn.execute(delete(IndicatorRollup).where(table.c.indicator_id == ind))
        stored = conn.execute(select(obs.c.unit_code, obs.c.entity, obs.c.local_date, obs.c.year, obs.c.month,
                                     obs.c.period_start, obs.c.value).where(obs.c.indicator_id == ind))
        rows = rollup_rows(ind, rollup_parts(tuple(r) for r in stored).items())
        for i in range(0, len(rows), 5000):
            conn.execute(insert(IndicatorRollup), rows[i:i + 5000])
        made += len(rows)
    return made


def _row(indicator: Indicator, item: dict[str, Any], units: set[str], source: str
         ) -> tuple[dict[str, Any], dict[str, str] | None]:
    value = item.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(float(value)):
        return {}, {"field": "value", "reason": "must be a number"}
    unit, entity = str(item.get("unit") or ""), str(item.get("entity") or "")
    if not unit and not entity:
        return {}, {"field": "unit", "reason": "give a commune/ward code (or 38 for the province) or an entity"}
    if unit and unit not in units:
        return {}, {"field": "unit", "reason": f"unknown unit code {unit}"}
    moment = item.get("period_start") or item.get("time")
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        except ValueError:
            return {}, {"field": "period_start", "reason": "not an ISO 8601 date-time"}
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        return {}, {"field": "period_start", "reason": "a date-time with its time zone is required"}
    if moment > datetime.now(UTC) + timedelta(days=1):
        return {}, {"field": "period_start", "reason": "in the future"}
    start = align(indicator.period, moment)
    local = start.astimezone(tz())
    return {"indicator_id": indicator.id, "unit_code": unit, "entity": entity, "period_start": start,
            "local_date": local.date(), "year": local.year, "month": local.month, "value": float(value),
            "source": source}, None


# --- reading ------------------------------------------------------------------------------------------------

def bucket(granularity: str, obs_date: date, year: int, month: int, start: datetime) -> str:
    if granularity == "day":
        return obs_date.isoformat()
    if granularity == "month":
        return f"{year:04d}-{month:02d}"
    if granularity == "quarter":
        return f"{year:04d}-Q{(month - 1) // 3 + 1}"
    if granularity == "year":
        return f"{year:04d}"
    return start.isoformat()


def aggregate(how: str, values: list[tuple[datetime, float]]) -> float:
    if how == "sum":
        return sum(v for _t, v in values)
    if how == "mean":
        return sum(v for _t, v in values) / len(values)
    if how == "max":
        return max(v for _t, v in values)
    return max(values)[1]  # last: the latest period's value


def previous_bucket(key: str) -> str:
    """The same period one year earlier."""
    if len(key) >= 4 and key[:4].isdigit():
        return f"{int(key[:4]) - 1:04d}{key[4:]}"
    return key


def series(session: Session, indicator: Indicator, *, level: str = "province", granularity: str = "month",
           unit: str | None = None, entity: str | None = None, start: datetime | None = None,
           end: datetime | None = None) -> list[dict[str, Any]]:
    """Points ``{period, unit, entity, value, previous_year, change_pct}`` rolled up to ``granularity`` and to
    ``level`` (``province``: one series; ``unit``: one per commune/ward; ``entity``: one per entity)."""
    if granularity not in GRANULARITIES or level not in ("province", "unit", "entity"):
        raise Invalid(N_("Unknown roll-up"), code="invalid_rollup", details={"level": level, "period": granularity})
    if (level == "province" and granularity in ("month", "quarter", "year") and indicator.aggregation != "last"
            and indicator.period in ("month", "quarter", "year") and not unit and not entity):
        return _province_by_month(session, indicator, granularity, start, end)
    grain = rollup_grain(granularity, end)
    rolled = (_from_rollups(session, indicator, grain, granularity, unit, entity, start, end) if grain
              else _from_observations(session, indicator, granularity, unit, entity, start, end))
    lines = _to_level(rolled, level, indicator.aggregation)
    first = bucket(granularity, *(_local_parts(start))) if start is not None else None
    out = []
    for (u, e, key), value in sorted(lines.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
        if first is not None and key < first:
            continue
        prev = lines.get((u, e, previous_bucket(key)))
        out.append({"period": key, "unit": u or None, "entity": e or None, "value": round(value, 6),
                    "previous_year": None if prev is None else round(prev, 6),
                    "change_pct": None if not prev else round((value - prev) / abs(prev) * 100, 2)})
    return out


def rollup_grain(granularity: str, end: datetime | None) -> str | None:
    """The roll-up rows that answer a series exactly: months for monthly or coarser series whose range ends on a
    local month boundary (or is open), days for daily or coarser ones ending on a local day boundary; None (read
    the observations) otherwise. Where the range starts does not matter: the bucket holding the start is read
    whole either way."""
    if granularity == "raw":
        return None
    if end is None:
        return "day" if granularity == "day" else "month"
    local = end.astimezone(tz())
    if (local.hour, local.minute, local.second, local.microsecond) != (0, 0, 0, 0):
        return None
    return "month" if granularity != "day" and local.day == 1 else "day"


def _from_observations(session: Session, indicator: Indicator, granularity: str, unit: str | None,
                       entity: str | None, start: datetime | None, end: datetime | None
                       ) -> dict[tuple[str, str, str], float]:
    obs = IndicatorObservation
    stmt = select(obs.unit_code, obs.entity, obs.local_date, obs.year, obs.month, obs.period_start,
                  obs.value).where(obs.indicator_id == indicator.id)
    if unit:
        stmt = stmt.where(obs.unit_code == unit)
    if entity:
        stmt = stmt.where(obs.entity == entity)
    if start is not None:  # one more year back, for the comparison with the same period
        stmt = stmt.where(obs.period_start >= start - timedelta(days=366))
    if end is not None:
        stmt = stmt.where(obs.period_start < end)
    per_key: dict[tuple[str, str, str], list[tuple[datetime, float]]] = defaultdict(list)
    for u, e, d, y, m, t, v in session.execute(stmt):
        per_key[(u, e, bucket(granularity, d, y, m, t))].append((t, v))
    return {k: aggregate(indicator.aggregation, vs) for k, vs in per_key.items()}


def _from_rollups(session: Session, indicator: Indicator, grain: str, granularity: str, unit: str | None,
                  entity: str | None, start: datetime | None, end: datetime | None
                  ) -> dict[tuple[str, str, str], float]:
    r = IndicatorRollup
    stmt = select(r.unit_code, r.entity, r.local_date, r.year, r.month, r.n, r.total, r.high, r.last_at,
                  r.last_value).where(r.indicator_id == indicator.id, r.grain == grain)
    if unit:
        stmt = stmt.where(r.unit_code == unit)
    if entity:
        stmt = stmt.where(r.entity == entity)
    if start is not None:  # one more year back, for the comparison with the same period
        first = start.astimezone(tz()).date() - timedelta(days=366)
        stmt = stmt.where(r.local_date >= (first.replace(day=1) if grain == "month" else first))
    if end is not None:
        stmt = stmt.where(r.local_date < end.astimezone(tz()).date())
    per_key: dict[tuple[str, str, str], list[tuple[int, float, float, datetime, float]]] = defaultdict(list)
    for u, e, d, y, m, n, total, high, last_at, last_value in session.execute(stmt):
        per_key[(u, e, bucket(granularity, d, y, m, last_at))].append((n, total, high, last_at, last_value))
    how = indicator.aggregation
    out: dict[tuple[str, str, str], float] = {}
    for key, parts in per_key.items():
        if how == "sum":
            out[key] = sum(p[1] for p in parts)
        elif how == "mean":
            out[key] = sum(p[1] for p in parts) / sum(p[0] for p in parts)
        elif how == "max":
            out[key] = max(p[2] for p in parts)
        else:
            out[key] = max(parts, key=lambda p: p[3])[4]
    return out


def _province_by_month(session: Session, indicator: Indicator, granularity: str, start: datetime | None,
                       end: datetime | None) -> list[dict[str, Any]]:
    """The province's series for monthly (or coarser) indicators, added up by the database: one row per month
    for the province's own figures and one for its communes', instead of every commune's rows."""
    obs = IndicatorObservation
    how = {"sum": func.sum(obs.value), "max": func.max(obs.value), "mean": func.avg(obs.value)}[indicator.aggregation]
    is_province = obs.unit_code == PROVINCE
    stmt = (select(obs.year, obs.month, is_province, how, func.count())
            .where(obs.indicator_id == indicator.id, (obs.unit_code != "") | (obs.entity != ""))
            .group_by(obs.year, obs.month, is_province))
    if start is not None:
        stmt = stmt.where(obs.period_start >= start - timedelta(days=366))
    if end is not None:
        stmt = stmt.where(obs.period_start < end)
    own: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    parts: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for year, month, province, value, _n in session.execute(stmt):
        key = bucket(granularity, date(year, month, 1), year, month, datetime(year, month, 1, tzinfo=UTC))
        (own if province else parts)[key].append((datetime(year, month, 1, tzinfo=UTC), float(value)))
    lines: dict[tuple[str, str, str], float] = {}
    for key in set(own) | set(parts):
        values = own.get(key) or parts[key]
        lines[("", "", key)] = aggregate(indicator.aggregation, values)
    first = bucket(granularity, *(_local_parts(start))) if start is not None else None
    out = []
    for (_u, _e, key), value in sorted(lines.items()):
        if first is not None and key < first:
            continue
        prev = lines.get(("", "", previous_bucket(key)))
        out.append({"period": key, "unit": None, "entity": None, "value": round(value, 6),
                    "previous_year": None if prev is None else round(prev, 6),
                    "change_pct": None if not prev else round((value - prev) / abs(prev) * 100, 2)})
    return out


def _local_parts(moment: datetime) -> tuple[date, int, int, datetime]:
    local = moment.astimezone(tz())
    return local.date(), local.year, local.month, moment


def _to_level(rolled: dict[tuple[str, str, str], float], level: str, how: str) -> dict[tuple[str, str, str], float]:
    if level == "unit":
        return {k: v for k, v in rolled.items() if k[0]}
    if level == "entity":
        return {k: v for k, v in rolled.items() if k[1]}
    province: dict[str, float] = {}
    parts: dict[str, list[float]] = defaultdict(list)
    for (u, e, key), value in rolled.items():
        if u == PROVINCE:
            province[key] = value
        elif u or e:
            parts[key].append(value)
    for key, values in parts.items():
        if key not in province:  # the province's own figure wins over the sum of its communes
            province[key] = (sum(values) / len(values) if how == "mean" else max(values) if how == "max"
                             else sum(values))
    return {("", "", key): v for key, v in province.items()}


def progress(session: Session, indicator: Indicator, year: int) -> dict[str, Any] | None:
    """Where the year stands against its target: actual so far, share of the target, and whether that is ahead
    of or behind the share of the year elapsed (for sums), or better or worse than the target (otherwise)."""
    target = (indicator.targets or {}).get(str(year))
    points = [p for p in series(session, indicator, granularity="month") if p["period"].startswith(f"{year:04d}-")]
    if target is None or not points:
        return None
    months = max(int(p["period"][5:7]) for p in points)
    if indicator.aggregation == "sum":
        actual = sum(p["value"] for p in points)
        share = actual / target * 100 if target else 0.0
        expected = months / 12 * 100
        on_track = share >= expected - 1e-9 if indicator.direction == "higher_better" else share <= expected
    else:
        actual = aggregate(indicator.aggregation, [(datetime(year, int(p["period"][5:7]), 1), p["value"])
                                                    for p in points])
        share = actual / target * 100 if target else 0.0
        expected = 100.0
        on_track = actual >= target if indicator.direction == "higher_better" else actual <= target
    return {"year": year, "target": target, "actual": round(actual, 4), "share_pct": round(share, 1),
            "months": months, "expected_pct": round(expected, 1), "on_track": on_track}


def set_targets(session: Session, principal: Principal, indicator: Indicator, targets: dict[str, float]) -> None:
    if principal.role not in TARGET_SETTERS:
        raise Forbidden(N_("Only leaders and administrators set the plan's targets"))
    bad = [y for y in targets if not (len(y) == 4 and y.isdigit())]
    if bad:
        raise Invalid(N_("Targets are given per year, e.g. {\"2026\": 52000}"), details={"years": bad})
    indicator.targets = {**(indicator.targets or {}), **{y: float(v) for y, v in targets.items()}}
    audit.record(session, principal.name, "indicator.targets", "indicator", indicator.code, targets=targets)


def latest(session: Session, indicators: Iterable[Indicator]) -> dict[str, datetime]:
    """When each indicator's newest period starts (for freshness on the list)."""
    from sqlalchemy import func

    ids = {i.id: i.code for i in indicators}
    obs = IndicatorObservation
    rows = session.execute(select(obs.indicator_id, func.max(obs.period_start))
                           .where(obs.indicator_id.in_(ids)).group_by(obs.indicator_id))
    return {ids[i]: t for i, t in rows if t is not None}
