"""The demo's simulator speaks the public API correctly, its stations are real places, and its data crosses the
shipped rules: the Giàng water level within a minute, and the VN_AQI the IOC computes from the Nghi Sơn
station's readings (over 150 for two hours in the backlog a logger sends when it connects)."""

from __future__ import annotations

import random

from sqlalchemy import select

from connectors.simulator import STATIONS, backlog, reading
from engine import jobs
from engine.db import transaction
from engine.evaluation import Observation, evaluate_all
from engine.events import IncomingEvent, ingest_events
from engine.models import Alert, Event, IndicatorObservation, ProcessInstance, Unit
from engine.rules import check_directory
from tests.conftest import ROOT
from web.api.schemas import EventIn


def test_every_station_is_in_a_real_commune_or_ward(session) -> None:
    known = set(session.scalars(select(Unit.code)))
    assert {s.unit for s in STATIONS} <= known


def test_readings_validate_and_the_water_level_fires_within_the_first_minute() -> None:
    rules, problems = check_directory(ROOT / "rules")
    assert problems == []
    rng = random.Random(1)
    fired: set[str] = set()
    for tick in range(12):  # 12 ticks of 5 s = one minute
        for station in STATIONS:
            event = EventIn().load(reading(station, tick, rng))
            obs = Observation(type=event["type"], sector=event["sector"], entity=event["entity"],
                              unit_code=event["unit"], time=event["time"], values=event["values"])
            fired |= {f.rule_id for f in evaluate_all(rules, obs)}
    assert "water-level-alarm-3" in fired


def test_the_flood_lasts_long_enough_to_be_taken_up_and_only_the_flood_crosses_the_alarm() -> None:
    """Over hours of demo, the Giàng level is above alarm III (6.0 m) for 3 minutes in every 5 (an operator has time
    to take the alert up) and never outside the flood (no stray alerts as the random walk drifts)."""
    import copy

    giang = copy.deepcopy(next(s for s in STATIONS if s.code == "TH-TV-GIANG"))
    rng = random.Random(7)
    above = [reading(giang, tick, rng)["values"]["level_m"] >= 6.0 for tick in range(3000)]  # 250 minutes
    for cycle in range(0, 3000, 60):
        ticks = above[cycle:cycle + 60]
        assert sum(ticks) == 36 and all(ticks[5:41]), cycle  # 36 readings of 5 s in a row: 3 minutes


def evaluate_everything() -> None:
    """What the worker does: evaluate the events, then the events that evaluation derived (the AQI)."""
    for _ in range(3):
        with transaction() as s:
            ids = list(s.scalars(select(Event.id).where(Event.processed_at.is_(None)).order_by(Event.id)))
        if not ids:
            return
        jobs.process_events(ids)


def test_the_backlog_gives_hourly_aqi_and_an_alert_that_starts_the_environment_process(session) -> None:
    events = [EventIn().load(e) for e in backlog(random.Random(3))]
    with transaction() as s:
        ingest_events(s, [IncomingEvent(**e) for e in events], "demo-simulator")
    evaluate_everything()
    session.rollback()
    hourly = session.scalars(select(IndicatorObservation).where(IndicatorObservation.entity == "TH-AQ-NGHISON")).all()
    assert len(hourly) >= 10 and all(0 < o.value <= 500 for o in hourly)
    alert = session.scalar(select(Alert).where(Alert.rule_id == "aqi-poor-2h"))
    assert alert is not None and alert.entity == "TH-AQ-NGHISON", [a.rule_id for a in session.scalars(select(Alert))]
    instance = session.get(ProcessInstance, alert.instance_id)
    assert instance.definition.process_key == "environment_incident"
