"""The demo's simulator speaks the public API correctly and crosses the shipped rules' thresholds."""

from __future__ import annotations

import random

from sqlalchemy import select

from connectors.simulator import STATIONS, reading
from engine.evaluation import Observation, evaluate_all
from engine.models import Unit
from engine.rules import check_directory
from tests.conftest import ROOT
from web.api.schemas import EventIn


def test_every_station_is_in_a_real_commune_or_ward(session) -> None:
    known = set(session.scalars(select(Unit.code)))
    assert {s.unit for s in STATIONS} <= known


def test_readings_validate_and_fire_within_the_first_minute() -> None:
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
    assert fired == {"aqi-poor", "water-level-alarm-3"}
