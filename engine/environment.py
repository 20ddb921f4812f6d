"""The environment sector: VN_AQI per station from its hourly readings, stored as indicators, and the derived
events that the environment rules judge.

Stations send hourly readings (``air_quality`` events: µg/m³, hour-ending times). After such an event is
evaluated, the station's last 24 hours are read back and:

- the hourly AQI (NowCast for PM, Decision 1459) is stored as indicator ``vn_aqi_hourly`` for the station, and a
  derived ``air_quality_index`` event (``aqi``, ``dominant``, ``device_errors``, ``calibrating``) is ingested, so
  that rules such as "AQI above 150 for 2 hours" and "device error" judge it like any event;
- when the reading closes a local day (hour-ending 24:00), the daily AQI is stored as ``vn_aqi_daily`` and an
  ``air_quality_daily`` event carries the day's 24-hour means (``pm25_24h``, ``pm10_24h``…) for the QCVN 05:2023
  24-hour limits.

Readings a station marked as calibration or device error (``values.status``) are not used (Decision 1459 §2.1:
quality-controlled data only); a device error stores nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import aqi, indicators
from engine.events import IncomingEvent, ingest_events
from engine.models import Event, IndicatorObservation

PARAMETERS = ("pm25", "pm10", "so2", "no2", "co", "o3")
HOURLY, DAILY = "vn_aqi_hourly", "vn_aqi_daily"
SOURCE = "ioc-vn-aqi"
HISTORY = timedelta(hours=24)
HOUR = timedelta(hours=1)


def _hour_key(moment: datetime) -> datetime:
    """Readings are hour-ending: a reading at 10:20 belongs to the hour ending at 11:00."""
    top = moment.replace(minute=0, second=0, microsecond=0)
    return top if top == moment else top + timedelta(hours=1)


def _hour_number(moment: datetime) -> int:
    """``_hour_key`` as a number (hours since 1970), for the loops over many readings: exact on the hour, since
    whole hours are whole multiples of 3600 seconds."""
    return -int(-moment.timestamp() // 3600)


def hourly_series(rows: list[tuple[datetime, dict[str, Any]]], end: datetime,
                  hours: int) -> dict[str, list[float | None]]:
    """Per parameter, the hourly means of the ``hours`` hours ending at ``end`` (on the hour), latest first (None:
    no data). Several readings within one hour are averaged; a parameter marked calibration or device error is
    skipped."""
    totals: dict[str, list[float]] = {param: [0.0] * hours for param in PARAMETERS}
    counts: dict[str, list[int]] = {param: [0] * hours for param in PARAMETERS}
    last = _hour_number(end)
    for moment, values in rows:
        i = last - _hour_number(moment)  # 0 for the hour ending at ``end``
        if not 0 <= i < hours:
            continue
        status = values.get("status")
        marked = status if isinstance(status, dict) else ()
        for param in PARAMETERS:
            value = values.get(param)
            if value is not None and param not in marked and isinstance(value, int | float) \
                    and not isinstance(value, bool):
                totals[param][i] += float(value)
                counts[param][i] += 1
    return {param: [t / n if n else None for t, n in zip(totals[param], counts[param], strict=True)]
            for param in PARAMETERS}


def on_air_quality(session: Session, event: Event) -> list[int]:
    """Compute and store the station's AQI after one of its readings; returns the ids of the derived events."""
    if not event.entity or event.source == SOURCE:
        return []
    end = _hour_key(event.time)
    chunk = session.info.get("air_quality")
    if chunk is not None and event.entity in chunk["history"]:
        if (event.entity, end) in chunk["done"]:  # the same hour again: nothing it could add (see preload)
            return []
        chunk["done"].add((event.entity, end))
        since = end - HISTORY - timedelta(hours=1)
        rows = [(t, v) for t, v in chunk["history"][event.entity] if since < t <= end]
    else:
        rows = [(t, v or {}) for t, v in session.execute(
            select(Event.time, Event.values).where(Event.type == "air_quality", Event.entity == event.entity,
                                                   Event.time > end - HISTORY - timedelta(hours=1),
                                                   Event.time <= end))]
    series = hourly_series(rows, end, 24)
    status = (event.values or {}).get("status")
    marked: dict[str, str] = status if isinstance(status, dict) else {}
    derived: list[IncomingEvent] = []
    result = aqi.hourly_aqi(series)
    values: dict[str, Any] = {"device_errors": len([s for s in marked.values() if s == "device_error"]),
                              "calibrating": len([s for s in marked.values() if s == "calibration"])}
    if result is not None:
        values.update(aqi=result.aqi, dominant=result.dominant, category=result.category.code)
        indicators.record(session, indicators.get(session, HOURLY), [
            {"entity": event.entity, "period_start": end - timedelta(hours=1), "value": result.aqi}],
            source=SOURCE, actor=SOURCE)
    if result is not None or values["device_errors"] or values["calibrating"]:  # something for the rules to judge
        derived.append(IncomingEvent(source=SOURCE, type="air_quality_index", sector="environment", time=end,
                                     values=values, entity=event.entity, unit=event.unit_code,
                                     idempotency_key=f"{event.entity}@{end.isoformat()}"))
    local_end = end.astimezone(indicators.tz())
    if local_end.hour == 0:  # this reading closes a local day: the day's AQI and 24-hour means
        day = daily(series)
        if day is not None:
            indicators.record(session, indicators.get(session, DAILY), [
                {"entity": event.entity, "period_start": end - timedelta(hours=24), "value": day["aqi"]}],
                source=SOURCE, actor=SOURCE)
        if day is not None or any(v is not None for v in series["pm25"] + series["pm10"]):
            derived.append(IncomingEvent(source=SOURCE, type="air_quality_daily", sector="environment",
                                         time=end, values=day or {}, entity=event.entity, unit=event.unit_code,
                                         idempotency_key=f"{event.entity}@day@{end.isoformat()}"))
    return ingest_events(session, derived, SOURCE).accepted if derived else []


def preload(session: Session, events: list[Event]) -> None:
    """Read, with one query, the readings that the air-quality events of a chunk need for their stations' hours
    (kept in this session for ``on_air_quality``). Within the chunk each station-hour is computed once, at its
    first reading: the readings of that hour are all stored before the chunk is judged, so a later reading of the
    same hour finds the same series, and what it would store (the hour's AQI, the derived event) is already there
    under the same keys."""
    readings = [ev for ev in events if ev.type == "air_quality" and ev.entity and ev.source != SOURCE]
    if not readings:
        return
    ends = [_hour_key(ev.time) for ev in readings]
    history: dict[str, list[tuple[datetime, dict[str, Any]]]] = {ev.entity: [] for ev in readings if ev.entity}
    for entity, moment, values in session.execute(
            select(Event.entity, Event.time, Event.values)
            .where(Event.type == "air_quality", Event.entity.in_(history),
                   Event.time > min(ends) - HISTORY - timedelta(hours=1), Event.time <= max(ends))):
        history[entity].append((moment, values or {}))
    session.info["air_quality"] = {"history": history, "done": set()}


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
WQI_PARAMETERS = ("pH", "T", "DO", "DO%", "BOD5", "COD", "TOC", "N-NH4", "N-NO3", "N-NO2", "P-PO4", "Coliform",
                  "E.coli", "As", "Cd", "Pb", "Cr6+", "Cu", "Zn", "Hg", "Aldrin", "BHC", "Dieldrin", "DDTs",
                  "Heptachlor")


def _header_key(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def record_water_samples(session: Session, rows: list[dict[str, Any]], *, source: str, actor: str
                         ) -> tuple[int, list[dict[str, Any]]]:
    """VN_WQI (Decision 1460) of each sample row — ``site``, ``time`` (with its time zone) and the parameters
    under their Decision 1460 names (header case and punctuation ignored: "N-NH4", "nnh4") — stored as indicator
    ``vn_wqi`` for the site. Returns the number stored and, per refused row, its index and reason (data not
    sufficient under §2.3, no site, no time, a value that is not a number)."""
    from engine import wqi

    names = {_header_key(p): p for p in WQI_PARAMETERS}
    items: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        site, moment = row.get("site"), row.get("time")
        if not site or not isinstance(moment, datetime) or moment.tzinfo is None:
            problems.append({"index": index, "field": "site" if not site else "time",
                             "reason": "a sample needs its site and its time with a time zone"})
            continue
        sample: dict[str, float | None] = {}
        bad: dict[str, Any] | None = None
        for key, value in row.items():
            name = names.get(_header_key(str(key)))
            if name is None or value in (None, ""):
                continue
            try:
                sample[name] = float(str(value).replace(",", ".")) if not isinstance(value, int | float) else value
            except ValueError:
                bad = {"index": index, "field": name, "reason": "not a number"}
                break
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
