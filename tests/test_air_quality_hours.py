"""A station's readings are added to its hour as they are evaluated, and the hour's VN_AQI is computed once the hour
is over, from all of its readings: automatic stations send every 5 minutes (Circular 10/2021), and an hour's AQI
frozen at its first reading would be the AQI of 5 minutes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from engine import aqi, environment, jobs
from engine.db import transaction
from engine.events import IncomingEvent, ingest_events
from engine.models import AirQualityHour, Event, IndicatorObservation

HOUR_END = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)  # 11:00 in Hà Nội: the hour 10:00–11:00 local


def send(station: str, at: datetime, pm25: float, status: dict[str, str] | None = None) -> None:
    """One reading, evaluated at once (as a live feed is)."""
    values: dict = {"pm25": pm25, "pm10": pm25 * 1.5, "no2": 30.0}
    if status:
        values["status"] = status
    with transaction() as s:
        ids = ingest_events(s, [IncomingEvent(source="station", type="air_quality", sector="environment", time=at,
                                              values=values, entity=station, unit="14797")], "test").accepted
    jobs.process_events(ids)


HISTORY = [(HOUR_END - timedelta(hours=h), 30.0) for h in range(6, 0, -1)]  # hourly, on the hour: each closes


def with_history(station: str) -> None:
    """The hours before: the hourly AQI needs the last hours (NowCast)."""
    for at, pm25 in HISTORY:
        send(station, at, pm25)


def hourly_aqi(session, station: str) -> dict[datetime, float]:
    rows = session.execute(select(IndicatorObservation.period_start, IndicatorObservation.value)
                           .where(IndicatorObservation.entity == station)
                           .where(IndicatorObservation.source == environment.SOURCE)).all()
    return {start + timedelta(hours=1): value for start, value in rows}


def derived(session, station: str) -> list[tuple[datetime, dict]]:
    return [tuple(r) for r in session.execute(select(Event.time, Event.values).where(
        Event.entity == station, Event.type == "air_quality_index").order_by(Event.time))]


def expected_aqi(readings: list[tuple[datetime, float]], end: datetime) -> int:
    rows = [(t, {"pm25": v, "pm10": v * 1.5, "no2": 30.0}) for t, v in HISTORY + readings]
    result = aqi.hourly_aqi(environment.hourly_series(rows, end, 24))
    assert result is not None
    return result.aqi


def test_a_station_reporting_every_five_minutes_gets_the_aqi_of_the_whole_hour(session) -> None:
    readings = [(HOUR_END - timedelta(minutes=55 - 5 * i), 20.0 + 15 * i) for i in range(12)]  # 10:05 … 11:00
    with_history("AQ-5MIN")
    for at, pm25 in readings[:-1]:
        send("AQ-5MIN", at, pm25)
    session.rollback()  # a new snapshot
    assert HOUR_END - timedelta(hours=1) in hourly_aqi(session, "AQ-5MIN")  # the hours before, each at its end
    assert HOUR_END not in hourly_aqi(session, "AQ-5MIN")  # the hour is not over: nothing stored yet
    send("AQ-5MIN", *readings[-1])  # 11:00 ends the hour
    session.rollback()  # a new snapshot
    whole_hour = expected_aqi(readings, HOUR_END)
    assert whole_hour != expected_aqi(readings[:1], HOUR_END)  # the case this test is about
    assert hourly_aqi(session, "AQ-5MIN")[HOUR_END] == whole_hour
    assert [(t, v["aqi"]) for t, v in derived(session, "AQ-5MIN")][-1:] == [(HOUR_END, whole_hour)]


def test_a_reading_of_a_later_hour_closes_the_hour_before(session) -> None:
    with_history("AQ-LATER")
    send("AQ-LATER", HOUR_END - timedelta(minutes=50), 40.0)
    send("AQ-LATER", HOUR_END - timedelta(minutes=20), 160.0)
    session.rollback()  # a new snapshot
    assert HOUR_END not in hourly_aqi(session, "AQ-LATER")
    send("AQ-LATER", HOUR_END + timedelta(minutes=15), 10.0)  # the first reading of the next hour
    session.rollback()  # a new snapshot
    readings = [(HOUR_END - timedelta(minutes=50), 40.0), (HOUR_END - timedelta(minutes=20), 160.0)]
    assert hourly_aqi(session, "AQ-LATER")[HOUR_END] == expected_aqi(readings, HOUR_END)
    assert max(hourly_aqi(session, "AQ-LATER")) == max(t for t, _ in derived(session, "AQ-LATER")) == HOUR_END


def test_an_hour_no_reading_closes_is_closed_by_the_clock_with_its_device_errors(session) -> None:
    with_history("AQ-SILENT")
    send("AQ-SILENT", HOUR_END - timedelta(minutes=40), 90.0)
    send("AQ-SILENT", HOUR_END - timedelta(minutes=30), 70.0, {"pm25": "device_error"})  # PM2.5 not used
    with transaction() as s:
        environment.close_due_hours(s, now=HOUR_END + timedelta(minutes=5))  # late files may still come
    session.rollback()  # a new snapshot
    assert HOUR_END not in hourly_aqi(session, "AQ-SILENT")
    with transaction() as s:
        assert environment.close_due_hours(s, now=HOUR_END + timedelta(minutes=11)) >= 1
    session.rollback()
    rows = [(t, {"pm25": v, "pm10": v * 1.5, "no2": 30.0}) for t, v in HISTORY] + [
            (HOUR_END - timedelta(minutes=40), {"pm25": 90.0, "pm10": 135.0, "no2": 30.0}),
            (HOUR_END - timedelta(minutes=30), {"pm10": 105.0, "no2": 30.0})]
    want = aqi.hourly_aqi(environment.hourly_series(rows, HOUR_END, 24))
    assert want is not None
    assert hourly_aqi(session, "AQ-SILENT")[HOUR_END] == want.aqi
    at, values = derived(session, "AQ-SILENT")[-1]
    assert (at, values["aqi"], values["device_errors"]) == (HOUR_END, want.aqi, 1)
    with transaction() as s:  # closed once: a later pass leaves it alone
        environment.close_due_hours(s, now=HOUR_END + timedelta(hours=2))
        hour = s.scalar(select(AirQualityHour).where(AirQualityHour.entity == "AQ-SILENT",
                                                     AirQualityHour.hour == int(HOUR_END.timestamp()) // 3600))
        assert hour is not None and hour.closed and (hour.pm25_n, hour.pm10_n) == (1, 2)
    session.rollback()
    assert [t for t, _ in derived(session, "AQ-SILENT")].count(HOUR_END) == 1


def test_readings_of_a_chunk_and_readings_one_by_one_give_the_same_hour(session) -> None:
    """Twenty readings of one hour judged as one chunk (a file of readings sent at once) and one by one."""
    readings = [(HOUR_END - timedelta(minutes=57 - 3 * i), 30.0 + 7 * i) for i in range(20)]  # … 11:00
    for station, chunked in (("AQ-CHUNK", True), ("AQ-SINGLE", False)):
        with_history(station)
        with transaction() as s:
            ids = ingest_events(s, [IncomingEvent(source="station", type="air_quality", sector="environment",
                                                  time=at, values={"pm25": v, "pm10": v * 1.5, "no2": 30.0},
                                                  entity=station) for at, v in readings], "test").accepted
        if chunked:
            jobs.process_events(ids)
        else:
            for event_id in ids:
                jobs.process_event(event_id)
    session.rollback()  # a new snapshot
    whole_hour = expected_aqi(readings, HOUR_END)
    assert hourly_aqi(session, "AQ-CHUNK") == hourly_aqi(session, "AQ-SINGLE")
    assert hourly_aqi(session, "AQ-CHUNK")[HOUR_END] == whole_hour


def test_a_reading_stamped_ahead_of_the_clock_does_not_close_the_hour_in_progress(session, monkeypatch) -> None:
    """A station whose clock runs hours fast: its reading must not freeze the hour still in progress at the AQI of
    its first minutes; the hour is computed when it is over, from all of its readings."""
    monkeypatch.setattr(environment, "utcnow", lambda: HOUR_END - timedelta(minutes=30))
    with_history("AQ-FAST")
    send("AQ-FAST", HOUR_END - timedelta(minutes=40), 40.0)
    send("AQ-FAST", HOUR_END + timedelta(hours=2), 45.0)  # stamped 2.5 hours ahead of the clock
    session.rollback()  # a new snapshot
    assert HOUR_END not in hourly_aqi(session, "AQ-FAST")
    monkeypatch.setattr(environment, "utcnow", lambda: HOUR_END + timedelta(minutes=1))
    send("AQ-FAST", HOUR_END, 160.0)  # the reading that ends the hour
    session.rollback()
    readings = [(HOUR_END - timedelta(minutes=40), 40.0), (HOUR_END, 160.0)]
    assert expected_aqi(readings, HOUR_END) != expected_aqi(readings[:1], HOUR_END)
    assert hourly_aqi(session, "AQ-FAST")[HOUR_END] == expected_aqi(readings, HOUR_END)
