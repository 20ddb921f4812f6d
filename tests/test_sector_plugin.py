"""A sector plugs in without a core file changed: this test declares a small one (water supply: one event type, one
derived event, one rule, one page) and sees its events derived, its alert raised and its page in the navigation.
It follows the recipe of docs/architecture.md; the three built-in sectors are declared the same way."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Blueprint
from sqlalchemy import select

from engine import jobs, sectors
from engine.config import settings
from engine.db import transaction
from engine.events import IncomingEvent, ingest_events
from engine.models import Alert, Event
from tests import factories
from tests.conftest import ROOT
from tests.test_sign_in import logged_in

bp = Blueprint("water_supply_pages", __name__)  # the sector's page, in this module (its web_module)
LOW_BAR = 1.5


@bp.route("/water-supply")
def monitor() -> str:
    return "<h1>Cấp nước</h1>"


def on_pressure(session: Any, event: Event) -> None:
    """The sector's own computation: a pressure under 1.5 bar is a derived 'low pressure' event."""
    if float(event.values.get("bar", 99)) < LOW_BAR:
        ingest_events(session, [IncomingEvent(source="water-supply", type="water_supply_low", sector="water_supply",
                                              time=event.time, entity=event.entity,
                                              values={"bar": event.values["bar"]})], "water-supply")


WATER = sectors.Sector(
    code="water_supply", name_vi="Cấp nước", name_en="Water supply",
    events=(sectors.EventKind("water_pressure", "station", handle=on_pressure),
            sectors.EventKind("water_supply_low", "station")),
    entity_kinds=("station",), rules_files=("water_supply.yaml",), processes=("incident",),
    web_module=__name__, pages=(sectors.Page("water_supply_pages.monitor", "Water supply"),),
)
RULE = """sector: water_supply
rules:
  - id: water-pressure-low
    name: Áp lực nước thấp
    kind: threshold
    event_type: water_supply_low
    field: bar
    op: "<"
    value: 1.5
    severity: cao
    dedupe_key: "water-pressure-low:{entity}"
    title: "Áp lực nước {value} bar tại {entity}"
"""


@pytest.fixture
def water_sector(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[sectors.Sector]:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "water_supply.yaml").write_text(RULE, encoding="utf-8")
    monkeypatch.setenv("IOC_RULES_DIR", str(rules_dir))
    settings.cache_clear()
    sectors.register(WATER)
    try:
        yield WATER
    finally:
        sectors.unregister(WATER.code)
        monkeypatch.delenv("IOC_RULES_DIR")
        settings.cache_clear()


def test_a_sector_declared_outside_the_core_derives_alerts_and_has_its_page(water_sector) -> None:  # type: ignore[no-untyped-def]
    at = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
    with transaction() as s:
        first = ingest_events(s, [IncomingEvent(source="scada", type="water_pressure", sector="water_supply", time=at,
                                                entity="TRAM-BOM-1", values={"bar": 1.1}),
                                  IncomingEvent(source="scada", type="water_pressure", sector="water_supply", time=at,
                                                entity="TRAM-BOM-2", values={"bar": 2.4})], "scada").accepted
    jobs.process_chunk(first)  # the worker's path for a batch
    with transaction() as s:
        derived = list(s.scalars(select(Event).where(Event.type == "water_supply_low")))
        assert [(e.entity, e.values) for e in derived] == [("TRAM-BOM-1", {"bar": 1.1})]
        derived_ids = [e.id for e in derived]
    jobs.process_events(derived_ids)
    with transaction() as s:
        alerts = list(s.scalars(select(Alert)))
        assert [(a.entity, a.sector, a.severity) for a in alerts] == [("TRAM-BOM-1", "water_supply", "cao")]

    from web.app import create_app

    app = create_app({"TESTING": True})
    factories.user("leader", name="ld-capnuoc")
    client = logged_in(app, "ld-capnuoc")
    page = client.get("/inbox").get_data(as_text=True)
    assert 'href="/water-supply"' in page and "Water supply" in page
    assert "Cấp nước" in client.get("/water-supply").get_data(as_text=True)


def test_ioc_sectors_lists_the_registered_sectors() -> None:
    env = {"PATH": "/usr/bin:/bin", "IOC_DATA_DIR": str(ROOT / ".no-data-needed")}
    out = subprocess.run([sys.executable, "-m", "web.cli", "sectors", "--json"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, env=env, check=True).stdout
    listed = {s["code"]: s for s in json.loads(out)}
    assert set(listed) >= {"environment", "fisheries", "traffic"}
    assert "air_quality" in listed["environment"]["event_types"]
    assert "vessel_position" in listed["fisheries"]["event_types"]
    assert listed["traffic"]["pages"] == ["traffic_pages.monitor"]
    lines = subprocess.run([sys.executable, "-m", "web.cli", "sectors"], cwd=ROOT, capture_output=True, text=True,
                           timeout=60, env=env, check=True).stdout.splitlines()
    assert len(lines) == len(listed) and lines[0].startswith("environment\tMôi trường / Environment")
