"""The environment sector: VN_AQI per station from its hourly readings, stored as indicators, and the derived
events that the environment rules judge.

Stations send readings (``air_quality`` events: µg/m³, hour-ending times: 10:00 ends the hour 09:00–10:00), hourly
or more often (automatic stations every 5 minutes). As a reading is evaluated it is added to its station-hour
(``air_quality_hours``: sums and counts per parameter), and when an hour is over — a reading at its end, a reading of
a later hour, or, failing both, the clock ten minutes after it (``close_due_hours``) — it is closed:

- the hourly AQI (NowCast for PM, Decision 1459) of the 24 hours ending with it is stored as indicator
  ``vn_aqi_hourly`` for the station, and a derived ``air_quality_index`` event (``aqi``, ``dominant``,
  ``device_errors``, ``calibrating``) is ingested, so that rules such as "AQI above 150 for 2 hours" and "device
  error" judge it like any event;
- when the hour ends a local day (24:00), the daily AQI is stored as ``vn_aqi_daily`` and an
  ``air_quality_daily`` event carries the day's 24-hour means (``pm25_24h``, ``pm10_24h``…) for the QCVN 05:2023
  24-hour limits.

An hour is computed once, with all its readings: a reading arriving after its hour was closed is stored (and counted
in the hour's sums) but changes neither the stored AQI nor the derived event.

Readings a station marked as calibration or device error (``values.status``) are not used (Decision 1459 §2.1:
quality-controlled data only); a device error stores nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, case, select, update
from sqlalchemy.orm import Session

from engine import aqi, indicators
from engine.db import insert as db_insert
from engine.db import utcnow
from engine.events import IncomingEvent, ingest_events
from engine.models import AirQualityHour, Entity, Event, IndicatorObservation

PARAMETERS = ("pm25", "pm10", "so2", "no2", "co", "o3")
HOURLY, DAILY = "vn_aqi_hourly", "vn_aqi_daily"
SOURCE = "ioc-vn-aqi"


def _hour_key(moment: datetime) -> datetime:
    """Readings are hour-ending: a reading at 10:20 belongs to the hour ending at 11:00."""
    top = moment.replace(minute=0, second=0, microsecond=0)
    return top if top == moment else top + timedelta(hours=1)


def _hour_number(moment: datetime) -> int:
    """``_hour_key`` as a number (hours since 1970), for the loops over many readings: exact on the hour, since
    whole hours are whole multiples of 3600 seconds."""
    return -int(-moment.timestamp() // 3600)


def _usable(values: dict[str, Any]) -> Iterator[tuple[int, float]]:
    """(index in ``PARAMETERS``, value) of each value of a reading that counts: a number, not marked calibration or
    device error in ``values.status``."""
    status = values.get("status")
    marked = status if isinstance(status, dict) else ()
    for k, param in enumerate(PARAMETERS):
        value = values.get(param)
        if value is not None and isinstance(value, int | float) and not isinstance(value, bool) \
                and param not in marked:
            yield k, float(value)


def _marks(values: dict[str, Any]) -> tuple[int, int]:
    """How many parameters a reading marks in device error, and in calibration."""
    status = values.get("status")
    marked = list(status.values()) if isinstance(status, dict) else []
    return marked.count("device_error"), marked.count("calibration")


# An hour's sums: per parameter the sum of its usable values and their number, then the most parameters one
# reading of the hour marked in device error, and in calibration (the columns of ``air_quality_hours``).
COLUMNS = tuple(f"{p}_{part}" for p in PARAMETERS for part in ("sum", "n")) + ("device_errors", "calibrating")
ERRORS, CALIBRATING = len(COLUMNS) - 2, len(COLUMNS) - 1


def _empty() -> list[float]:
    return [0.0] * len(COLUMNS)


def _add(acc: list[float], values: dict[str, Any]) -> None:
    for k, value in _usable(values):
        acc[2 * k] += value
        acc[2 * k + 1] += 1
    errors, calibrating = _marks(values)
    acc[ERRORS], acc[CALIBRATING] = max(acc[ERRORS], errors), max(acc[CALIBRATING], calibrating)


def _series(sums: dict[int, list[float]], last: int, hours: int) -> dict[str, list[float | None]]:
    """Per parameter, the means of the ``hours`` hours ending with hour number ``last``, latest first."""
    empty = _empty()
    rows = [sums.get(last - i, empty) for i in range(hours)]
    return {param: [row[2 * k] / row[2 * k + 1] if row[2 * k + 1] else None for row in rows]
            for k, param in enumerate(PARAMETERS)}


def hourly_series(rows: list[tuple[datetime, dict[str, Any]]], end: datetime,
                  hours: int) -> dict[str, list[float | None]]:
    """Per parameter, the hourly means of the ``hours`` hours ending at ``end`` (on the hour), latest first (None:
    no data). Several readings within one hour are averaged; a parameter marked calibration or device error is
    skipped."""
    sums: dict[int, list[float]] = {}
    for moment, values in rows:
        _add(sums.setdefault(_hour_number(moment), _empty()), values)
    return _series(sums, _hour_number(end), hours)


def on_air_quality(session: Session, event: Event) -> list[int]:
    """Add a station's reading to its hour and compute the AQI of the hours it closes; returns the ids of the
    derived events. A reading at the end of its hour (hour-ending: 10:00 ends 09:00–10:00) closes that hour; any
    reading closes the station's earlier hours of the last day still open; ``close_due_hours`` closes the rest
    when the clock has passed them (a station gone silent, one that reports a few seconds after the hour)."""
    if not event.entity or event.source == SOURCE:
        return []
    chunk = session.info.get("air_quality")
    if chunk is None or event.id not in chunk["added"]:
        preload(session, [event])  # judged on its own: its reading is added to its hour here
        chunk = session.info["air_quality"]
    hour = _hour_number(event.time)
    due = [h for h in chunk["hours"][event.entity] if hour - 24 <= h < hour]
    if event.time.timestamp() % 3600 == 0:
        due.append(hour)
    # A reading stamped ahead of the clock (a station whose clock runs fast) closes no hour that is not over yet:
    # the hour in progress would get the AQI of its first minutes. It is closed later, by a reading or the clock.
    over = int((utcnow() + CLOCK_AHEAD).timestamp() // 3600)
    due = [h for h in due if h <= over]
    ids: list[int] = []
    for h in sorted(due):
        if (event.entity, h) not in chunk["closed"]:
            ids += _close(session, chunk, event.entity, h, event.unit_code)
    return ids


def _close(session: Session, chunk: dict[str, Any], station: str, hour: int, unit: str | None) -> list[int]:
    """Compute and store one station-hour's AQI (and the day's, when the hour ends a local day), and post the
    derived events that the environment rules judge; the hour is closed."""
    chunk["closed"].add((station, hour))
    table = cast(Table, AirQualityHour.__table__)
    session.execute(update(table).where(table.c.entity == station, table.c.hour == hour).values(closed=True))
    sums = chunk["hours"][station]
    series = _series(sums, hour, 24)
    marks = sums.get(hour, _empty())
    end = _hour_datetime(hour)
    derived: list[IncomingEvent] = []
    result = aqi.hourly_aqi(series)
    values: dict[str, Any] = {"device_errors": int(marks[ERRORS]), "calibrating": int(marks[CALIBRATING])}
    if result is not None:
        values.update(aqi=result.aqi, dominant=result.dominant, category=result.category.code)
        indicators.record(session, indicators.get(session, HOURLY), [
            {"entity": station, "period_start": end - timedelta(hours=1), "value": result.aqi}],
            source=SOURCE, actor=SOURCE)
    if result is not None or values["device_errors"] or values["calibrating"]:  # something for the rules to judge
        derived.append(IncomingEvent(source=SOURCE, type="air_quality_index", sector="environment", time=end,
                                     values=values, entity=station, unit=unit,
                                     idempotency_key=f"{station}@{end.isoformat()}"))
    local_end = end.astimezone(indicators.tz())
    if local_end.hour == 0:  # this hour closes a local day: the day's AQI and 24-hour means
        day = daily(series)
        if day is not None:
            indicators.record(session, indicators.get(session, DAILY), [
                {"entity": station, "period_start": end - timedelta(hours=24), "value": day["aqi"]}],
                source=SOURCE, actor=SOURCE)
        if day is not None or any(v is not None for v in series["pm25"] + series["pm10"]):
            derived.append(IncomingEvent(source=SOURCE, type="air_quality_daily", sector="environment",
                                         time=end, values=day or {}, entity=station, unit=unit,
                                         idempotency_key=f"{station}@day@{end.isoformat()}"))
    return ingest_events(session, derived, SOURCE).accepted if derived else []


GRACE = timedelta(minutes=10)  # an hour still open this long after its end is closed by the clock
CLOCK_AHEAD = timedelta(minutes=5)  # a station's clock this far ahead of ours still closes the hour it ends
CLOSE_BATCH = 500


def close_due_hours(session: Session, now: datetime | None = None) -> int:
    """Close the station-hours still open although their end is more than ``GRACE`` ago (from the worker's
    housekeeping, every few seconds: one query on a partial index); returns how many were closed."""
    upto = int(((now or utcnow()) - GRACE).timestamp() // 3600)
    table = AirQualityHour.__table__
    due = sorted(session.execute(select(table.c.entity, table.c.hour).where(~table.c.closed, table.c.hour <= upto)
                                 .limit(CLOSE_BATCH)).all())  # (no ORDER BY: the partial index answers)
    if not due:
        return 0
    chunk = _chunk(session)
    stations = sorted({station for station, _ in due})
    _load_hours(session, chunk, set(stations), min(h for _, h in due) - 24, max(h for _, h in due))
    units = dict(session.execute(select(Entity.code, Entity.unit_code).where(Entity.kind == "station",
                                                                           Entity.code.in_(stations))).all())
    for station, hour in due:
        if (station, hour) not in chunk["closed"]:
            _close(session, chunk, station, hour, units.get(station))
    return len(due)


def preload(session: Session, events: list[Event]) -> None:
    """Add the air-quality readings of a chunk to their stations' hours (``air_quality_hours``: one statement),
    then read, with one query, the hours that the chunk's readings need (kept in this session for
    ``on_air_quality``). All the chunk's readings are added before any is judged, so an hour that a reading of the
    chunk closes is computed with every reading of it that the chunk holds."""
    readings = [ev for ev in events if ev.type == "air_quality" and ev.entity and ev.source != SOURCE]
    if not readings:
        return
    chunk = _chunk(session)
    sums: dict[tuple[str, int], list[float]] = {}
    for ev in readings:
        _add(sums.setdefault((str(ev.entity), _hour_number(ev.time)), _empty()), ev.values or {})
        chunk["added"].add(ev.id)
    _add_to_hours(session, sums)
    hours = [hour for _, hour in sums]
    # A reading may close the day before it, whose AQI needs the 24 hours before that
    _load_hours(session, chunk, {entity for entity, _ in sums}, min(hours) - 48, max(hours))


def _chunk(session: Session) -> dict[str, Any]:
    """What this transaction knows of stations' hours: their sums by station and hour number, the hours closed, and
    the readings already added (by event id)."""
    return session.info.setdefault("air_quality", {"hours": {}, "closed": set(), "added": set()})


def _load_hours(session: Session, chunk: dict[str, Any], stations: set[str], after: int, upto: int) -> None:
    table = AirQualityHour.__table__
    found: dict[str, dict[int, list[float]]] = {station: {} for station in stations}
    for station, hour, closed, *acc in session.execute(
            select(table.c.entity, table.c.hour, table.c.closed, *(table.c[name] for name in COLUMNS))
            .where(table.c.entity.in_(stations), table.c.hour > after, table.c.hour <= upto)):
        found[station][hour] = list(acc)
        if closed:
            chunk["closed"].add((station, hour))
    chunk["hours"].update(found)


def _hour_datetime(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * 3600, UTC)


def _add_to_hours(session: Session, sums: dict[tuple[str, int], list[float]]) -> None:
    """Add readings' sums and counts to their station-hours (made when new), in key order (two workers lock the
    rows in the same order)."""
    table = AirQualityHour.__table__
    rows = [{"entity": entity, "hour": hour, "closed": False,
             **{name: value if name.endswith("_sum") else int(value) for name, value in zip(COLUMNS, acc, strict=True)}}
            for (entity, hour), acc in sorted(sums.items())]
    stmt = db_insert(session, table)
    new = stmt.excluded
    added = {name: table.c[name] + new[name] for name in COLUMNS[:ERRORS]}
    most = {name: case((new[name] > table.c[name], new[name]), else_=table.c[name]) for name in COLUMNS[ERRORS:]}
    session.execute(stmt.on_conflict_do_update(index_elements=["entity", "hour"], set_={**added, **most}), rows)


def daily(series: dict[str, list[float | None]]) -> dict[str, Any] | None:
    """The day's AQI and the 24-hour means of PM (the series are the day's 24 hours, latest first)."""
    day = {p: list(reversed(series[p][:24])) for p in PARAMETERS}  # oldest first
    result = aqi.daily_aqi(day)
    means: dict[str, Any] = {}
    for param in ("pm25", "pm10", "so2", "no2"):
        got = [v for v in day[param] if v is not None]
        if len(got) >= 18:  # Decision 1459 §1.10: a day needs enough hours (see engine/aqi.py)
            means[f"{param}_24h"] = round(sum(got) / len(got), 1)
    if result is None and not means:
        return None
    return {**means, **({"aqi": result.aqi, "dominant": result.dominant} if result else {})}


# --- the monitor ------------------------------------------------------------------------------------------

LIMITS_1H = {"so2": 350.0, "no2": 200.0, "o3": 200.0, "co": 30000.0}  # QCVN 05:2023, µg/m³
LIMITS_24H = {"pm25": 45.0, "pm10": 100.0, "so2": 125.0, "no2": 100.0}
STALE_AFTER = timedelta(hours=1)


def stations(session: Session, now: datetime, days: int = 7) -> list[dict[str, Any]]:
    """Every air station heard from in the last ``days``: its place, newest reading and freshness, latest hourly
    AQI (with its category) and today's highest, worst first."""
    since = now - timedelta(days=days)
    latest: dict[str, tuple[datetime, dict[str, Any], Any]] = {}
    for entity, moment, values, location in session.execute(
            select(Event.entity, Event.time, Event.values, Event.location)
            .where(Event.type == "air_quality", Event.time >= since, Event.entity.is_not(None))
            .order_by(Event.time)):
        latest[entity] = (moment, values or {}, location or latest.get(entity, (None, None, None))[2])
    hourly = indicators.get(session, HOURLY)
    today = now.astimezone(indicators.tz()).replace(hour=0, minute=0, second=0, microsecond=0)
    aqi_rows = session.execute(select(IndicatorObservation.entity, IndicatorObservation.period_start,
                                      IndicatorObservation.value)
                               .where(IndicatorObservation.indicator_id == hourly.id,
                                      IndicatorObservation.period_start >= since)
                               .order_by(IndicatorObservation.period_start))
    last_aqi: dict[str, float] = {}
    today_max: dict[str, float] = {}
    for entity, start, value in aqi_rows:
        last_aqi[entity] = value
        if start >= today:
            today_max[entity] = max(value, today_max.get(entity, 0.0))
    out = []
    for entity, (moment, values, location) in latest.items():
        current = last_aqi.get(entity)
        cat = aqi.category(int(current)) if current is not None else None
        out.append({"station": entity, "time": moment, "lag_min": round((now - moment).total_seconds() / 60),
                    "stale": now - moment > STALE_AFTER, "location": location if isinstance(location, dict) else None,
                    "aqi": None if current is None else int(current), "category": cat,
                    "today_max": None if entity not in today_max else int(today_max[entity]),
                    "values": {p: values.get(p) for p in PARAMETERS if isinstance(values.get(p), int | float)},
                    "marked": values.get("status") if isinstance(values.get("status"), dict) else {}})
    return sorted(out, key=lambda s: -(s["aqi"] or -1))


def station_history(session: Session, station: str, end: datetime, hours: int = 48) -> dict[str, Any]:
    """A station's hourly means of each parameter and its hourly AQI over the last ``hours``, oldest first."""
    end = _hour_key(end)
    rows = [(t, v or {}) for t, v in session.execute(
        select(Event.time, Event.values).where(Event.type == "air_quality", Event.entity == station,
                                               Event.time > end - timedelta(hours=hours + 1), Event.time <= end))]
    series = {p: list(reversed(v)) for p, v in hourly_series(rows, end, hours).items()}
    hourly = indicators.get(session, HOURLY)
    aqi_by_hour = {start + timedelta(hours=1): value for start, value in session.execute(
        select(IndicatorObservation.period_start, IndicatorObservation.value)
        .where(IndicatorObservation.indicator_id == hourly.id, IndicatorObservation.entity == station,
               IndicatorObservation.period_start >= end - timedelta(hours=hours)))}
    times = [end - timedelta(hours=hours - 1 - i) for i in range(hours)]
    return {"times": times, "series": series, "aqi": [aqi_by_hour.get(t) for t in times]}


# --- VN_WQI of periodic water samples ----------------------------------------------------------------------

WQI = "vn_wqi"


def record_water_samples(session: Session, rows: list[dict[str, Any]], *, source: str, actor: str
                         ) -> tuple[int, list[dict[str, Any]]]:
    """VN_WQI (Decision 1460) of each sample row — ``site``, ``time`` (with its time zone) and the parameters
    under their codes (``engine.water_samples.PARAMETERS``: ``DO`` in mg/L, ``DO%`` in % saturation, ``T``, …,
    read from a sheet's headers by ``water_samples.read_headers``) — stored as indicator ``vn_wqi`` for the site.
    Returns the number stored and, per refused row, its index and reason (data not sufficient under §2.3, no site,
    no time, a value that is not a number or is negative). A key that is no parameter code is a ``ValueError``:
    headers are read (and unknown ones reported) before, never guessed here."""
    from engine import water_samples, wqi

    items: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        unknown = set(row) - water_samples.CODES - {"site", "time"}
        if unknown:
            raise ValueError(f"not VN_WQI parameter codes: {sorted(unknown)}")
        site, moment = row.get("site"), row.get("time")
        if not site or not isinstance(moment, datetime) or moment.tzinfo is None:
            problems.append({"index": index, "field": "site" if not site else "time",
                             "reason": "a sample needs its site and its time with a time zone"})
            continue
        sample: dict[str, float | None] = {}
        bad: dict[str, Any] | None = None
        for name, value in row.items():
            if name in ("site", "time") or value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                bad = {"index": index, "field": name, "reason": "not a number"}
                break
            if value < 0 and name != "T":
                bad = {"index": index, "field": name, "reason": "a negative value"}
                break
            sample[name] = float(value)
        if bad:
            problems.append(bad)
            continue
        result = wqi.wqi(sample)
        if result is None:
            problems.append({"index": index, "field": None, "reason": "not enough parameters for VN_WQI (§2.3: 3 of "
                             "the 5 groups, group IV with at least 3)"})
            continue
        items.append({"entity": str(site), "period_start": moment, "value": result.wqi})
    stored = indicators.record(session, indicators.get(session, WQI), items, source=source, actor=actor).stored
    return stored, problems
