"""The worker judges events a chunk at a time, reading what the chunk needs first (rule states, entities, the
stations' readings) and computing each station-hour once. That must give exactly what judging the same events one
at a time gives: the same hourly and daily AQI, the same derived events, rule states, alerts and entity state."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from engine import jobs
from engine.db import transaction
from engine.events import IncomingEvent, ingest_events
from engine.models import Alert, Entity, Event, IndicatorObservation, RuleState

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def readings(entity: str) -> list[IncomingEvent]:
    """A station every 10 minutes over 30 hours, across local midnight: clean air, then a long PM2.5 episode
    (AQI far above 150 for hours), an SO2 spike over its one-hour limit, and clean air again."""
    start = datetime(2026, 11, 20, 8, tzinfo=VN)
    out = []
    for i in range(30 * 6):
        t = start + timedelta(minutes=10 * i)
        pm25 = 20.0 if i < 40 or i > 140 else 180.0 + (i % 7)
        values = {"pm25": pm25, "pm10": pm25 * 1.6, "so2": 400.0 if 60 <= i < 63 else 30.0, "no2": 40.0,
                  "co": 900.0, "o3": 60.0}
        out.append(IncomingEvent(source="station", type="air_quality", sector="environment", time=t, values=values,
                                 entity=entity, idempotency_key=f"{entity}-{i}"))
    return out


def pending_ids() -> list[int]:
    with transaction() as s:
        return list(s.scalars(select(Event.id).where(Event.processed_at.is_(None)).order_by(Event.id)))


def outcome(session, entity: str) -> dict:
    obs = session.execute(select(IndicatorObservation.indicator_id, IndicatorObservation.period_start,
                                 IndicatorObservation.value).where(IndicatorObservation.entity == entity)
                          .order_by(IndicatorObservation.indicator_id, IndicatorObservation.period_start)).all()
    derived = session.execute(select(Event.type, Event.time, Event.values).where(
        Event.entity == entity, Event.source != "station").order_by(Event.type, Event.time)).all()
    states = session.execute(select(RuleState.rule_id, RuleState.status, RuleState.state).where(
        RuleState.subject == entity).order_by(RuleState.rule_id)).all()
    alerts = session.execute(select(Alert.rule_id, Alert.status, Alert.count).where(
        Alert.entity == entity).order_by(Alert.rule_id)).all()
    station = session.scalar(select(Entity).where(Entity.code == entity))
    return {"observations": [tuple(r) for r in obs], "derived": [tuple(r) for r in derived],
            "states": [tuple(r) for r in states], "alerts": [tuple(r) for r in alerts],
            "latest": (station.last_seen, station.latest["values"])}


def drain(chunked: bool) -> int:
    """Judge what is pending, and what that derives, until nothing is left; returns how many were judged."""
    judged = 0
    while ids := pending_ids():
        if chunked:
            judged += jobs.process_events(ids)
        else:
            judged += sum(jobs.process_event(event_id) for event_id in ids)
    return judged


def test_judging_a_chunk_gives_what_judging_one_at_a_time_gives(session) -> None:
    with transaction() as s:
        ingest_events(s, readings("TWIN-CHUNK"), "test")
    judged_in_chunks = drain(chunked=True)
    with transaction() as s:
        ingest_events(s, readings("TWIN-SINGLE"), "test")
    assert drain(chunked=False) == judged_in_chunks > 180  # the readings and what they derived
    session.expire_all()
    a, b = outcome(session, "TWIN-CHUNK"), outcome(session, "TWIN-SINGLE")
    assert a["observations"] and a["derived"]  # the episode did compute hourly and daily AQI
    assert {r[0] for r in a["alerts"]} == {"aqi-poor-2h", "qcvn-so2-1h"}
    assert a == b
