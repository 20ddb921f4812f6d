"""AIS positions stored as track fixes and judged in batches (``fisheries.record_reports``) end where the event
path ends: the same alerts, port calls, vessels' latest state and tracks — while the screen spares the vessels
that had nothing to judge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pyais.encode import encode_dict
from sqlalchemy import func, select, text

from connectors import ais_fast
from connectors.ais import Stats, decode_lines, replay
from connectors.runtime import store
from engine import db as engine_db
from engine import entities, fisheries, jobs, redis_conn
from engine.db import transaction
from engine.indicators import seed_indicators
from engine.models import Alert, Entity, Event, ProcessInstance, VesselFix
from engine.tracks import PositionReport
from tests.conftest import MUTABLE_TABLES

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "ais" / "pyais"
START = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)  # 01:00 local on the 24th
RECEIVED = START + timedelta(days=3)
REGISTRY = [  # registration, MMSI, length: 574000001-2 offshore (≥ 15 m), 3 inshore (12-15 m); 5 is not registered
    {"code": "TH-90001-TS", "name": "TH-90001-TS", "mmsi": "574000001", "length_m": 20},
    {"code": "TH-90002-TS", "name": "TH-90002-TS", "mmsi": "574000002", "length_m": 18},
    {"code": "TH-90003-TS", "name": "TH-90003-TS", "mmsi": "574000003", "length_m": 13},
    {"code": "TH-90004-TS", "name": "TH-90004-TS", "mmsi": "574000004", "length_m": 20},
]


def line(mmsi: int, at: datetime, lat: float, lon: float) -> bytes:
    sentence = encode_dict({"type": 1, "mmsi": mmsi, "lat": lat, "lon": lon, "speed": 6.0, "course": 90,
                            "heading": 90, "status": 7}, sentence_type="VDM")[0]
    block = f"s:TH01,c:{int(at.timestamp())}"
    return f"\\{block}*{ais_fast.checksum(block.encode()):02X}\\{sentence}".encode()


def scenario() -> list[list[bytes]]:
    """Batches of AIS lines over two local days: quiet work in permitted zones, and each kind of finding once."""
    assert START.hour == 18
    batches: list[list[bytes]] = []
    for step in range(48):  # one batch an hour, to 00:00 local on the 26th
        at = START + timedelta(hours=step)
        wobble = (step % 5) * 0.01
        batch = [
            line(574000001, at, 19.80 + wobble, 106.70),  # offshore all along: allowed
            line(574000002, at, 19.50 + wobble, 107.20) if step != 12 else line(574000002, at, 19.80, 106.15),
            # ^ 18 m: offshore, once inside vùng lộng (a zone-class violation, cleared at the next fix)
            line(574000005, at, 19.60 + wobble / 10, 105.95),  # not registered: vùng ven bờ only; allowed
        ]
        if step < 3:
            batch.append(line(574000003, at, 19.78, 105.91))  # in Lạch Hới port ...
        else:
            batch.append(line(574000003, at, 19.80 + wobble, 106.15))  # ... then out to vùng lộng (13 m: allowed)
        if step % 8 == 0 or step == 47:  # 20 m, reporting rarely: three fixes a day
            batch.append(line(574000004, at, 19.40, 107.00 if step != 16 else 108.00))  # once beyond the boundary
        if step == 20:
            batch += [line(574000005, at + timedelta(minutes=10), 19.80, 105.70),  # on land: a data-quality alert
                      line(574000001, at - timedelta(hours=5, minutes=30), 19.81, 106.71)]  # late
        batches.append(batch)
    return batches


def wipe() -> None:
    from engine import audit

    with engine_db.get_engine().begin() as conn:
        audit.allow_maintenance(conn)  # audit_log refuses DELETE otherwise (PostgreSQL)
        for table in MUTABLE_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - fixed table names
    with transaction() as s:
        seed_indicators(s)
        entities.register(s, "vessel", [dict(r) for r in REGISTRY], actor="test")
    redis_conn.redis_client().flushdb()


def outcome() -> dict[str, Any]:
    with transaction() as s:
        instances = s.execute(select(Alert.rule_id, Alert.entity, ProcessInstance.status).join(
            ProcessInstance, ProcessInstance.alert_id == Alert.id)).all()
        return {
            "alerts": sorted(s.execute(select(Alert.rule_id, Alert.entity, Alert.status, Alert.first_seen)).all()),
            "processes": sorted(instances),
            "port calls": sorted((e.entity, e.time, e.values["event"], e.values["port"]) for e in s.scalars(
                select(Event).where(Event.type == "vessel_port"))),
            "vessels": sorted((v.code, v.last_seen, (v.latest or {}).get("location"), (v.latest or {}).get("at_sea"),
                               (v.latest or {}).get("values")) for v in s.scalars(select(Entity))),
            "fixes": sorted(s.execute(select(VesselFix.vessel, VesselFix.time, VesselFix.lat, VesselFix.lon,
                                             VesselFix.speed_kn)).all()),
        }


def test_batched_track_judgement_ends_where_the_event_path_ends() -> None:
    batches = scenario()
    wipe()
    for batch in batches:  # the event path: every position an event, judged by the worker
        items = list(decode_lines(batch, source="ais", received=RECEIVED))
        with transaction() as s:
            store(s, "ais", items, actor="test")
            ids = list(s.scalars(select(Event.id).where(Event.processed_at.is_(None))))
        jobs.process_events(ids)
    by_events = outcome()
    wipe()
    judged = reports = 0
    for batch in batches:  # AIS positions as track fixes, judged in batches behind the screen
        items = list(decode_lines(batch, source="ais", received=RECEIVED, reports=True))
        assert items and all(isinstance(i, PositionReport) for i in items)
        with transaction() as s:
            judged += fisheries.record_reports(s, items).judged
            assert s.scalar(select(func.count()).select_from(Event).where(Event.type == "vessel_position")) == 0
        reports += len({i.fix.vessel for i in items})
    by_tracks = outcome()
    assert by_tracks == by_events
    found = {(rule, entity) for rule, entity, *_ in by_tracks["alerts"]}
    assert found >= {("vms:ZONE_CLASS_VIOLATION", "TH-90002-TS"), ("vms:BOUNDARY_CROSSED", "TH-90004-TS"),
                     ("vms:POSITION_ON_LAND", "MMSI:574000005"), ("vms:BELOW_12_FIXES_PER_DAY", "TH-90004-TS")}
    assert ("TH-90003-TS", "departure", "Lạch Hới") in {(v, k, p) for v, _, k, p in by_tracks["port calls"]}
    assert len(by_tracks["fixes"]) == sum(len(b) for b in batches)
    assert judged < reports / 2  # most vessel-batches needed no judgement


def test_positions_from_a_stream_become_fixes_or_events_when_a_rule_reads_them(tmp_path, monkeypatch) -> None:
    wipe()
    batch = scenario()[5]
    with transaction() as s:
        out = store(s, "ais", list(decode_lines(batch, source="ais", received=RECEIVED, reports=True)), actor="t")
    assert (out.positions, out.events) == (len(batch), 0)
    with transaction() as s:
        assert s.scalar(select(func.count()).select_from(VesselFix)) == len(batch)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "boats.yaml").write_text("rules:\n  - id: any-boat\n    name: Tàu\n    kind: threshold\n"
                                      "    event_type: vessel_position\n    field: sog_kn\n    op: '>'\n"
                                      "    value: 50\n    severity: thap\n    dedupe_key: 'fast:{entity}'\n",
                                      encoding="utf-8")
    monkeypatch.setenv("IOC_RULES_DIR", str(rules))
    from engine.config import settings

    settings.cache_clear()
    try:
        later = [line(574000001, RECEIVED - timedelta(minutes=1), 19.9, 106.8)]
        with transaction() as s:
            out = store(s, "ais", list(decode_lines(later, source="ais", received=RECEIVED, reports=True)), actor="t")
        assert (out.positions, out.events) == (0, 1)  # an administrator's rule reads positions: the event path
    finally:
        settings.cache_clear()


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared AIS corpus (../shared/data/ais) is not here")
def test_a_replayed_log_without_tag_blocks_stores_every_position() -> None:
    wipe()
    stats = Stats()
    items = list(replay(CORPUS / "nmea_data_sample.txt", "ais-replay", stats, reports=True))
    with transaction() as s:
        out = store(s, "ais-replay", items, actor="test")
    assert out.positions == stats.positions > 700  # every line arrived "now": each its own instant, none merged
    with transaction() as s:
        assert s.scalar(select(func.count()).select_from(VesselFix)) == stats.positions


def test_track_fixes_older_than_the_retention_are_purged() -> None:
    from engine import retention
    from engine.tracks import NewFix

    wipe()
    now = datetime(2026, 11, 26, tzinfo=UTC)
    with transaction() as s:
        from engine import tracks

        entities.ensure(s, "vessel", ["MMSI:574000001"])
        tracks.store(s, [NewFix("MMSI:574000001", now - timedelta(days=d), 19.8, 106.7) for d in (1, 399, 401, 800)])
    with transaction() as s:
        assert retention.purge_fixes(s, now=now) == 2
        assert retention.purge_fixes(s, now=now, days=0) == 0  # 0 keeps them forever
    with transaction() as s:
        left = s.scalars(select(VesselFix.time).order_by(VesselFix.time)).all()
    assert left == [now - timedelta(days=399), now - timedelta(days=1)]


def test_the_monitor_shows_a_registered_vessel_reporting_by_ais_once_as_registered(client) -> None:
    import json as json_
    import re

    from tests import factories
    from tests.test_api import login

    wipe()
    with transaction() as s:  # 574000001 is registered (TH-90001-TS); 574000005 is not
        fisheries.record_reports(s, list(decode_lines(scenario()[5], source="ais", received=RECEIVED, reports=True)))
    factories.user("admin", name="fleet_admin")
    login(client, "fleet_admin")
    page = client.get("/fisheries").get_data(as_text=True)
    points = json_.loads(re.search(r'<script id="points-data" type="application/json">(.*?)</script>', page,
                                   re.S).group(1))
    by_code = {p["code"]: p for p in points}
    assert "MMSI:574000001" not in by_code and by_code["TH-90001-TS"]["registered"] is True
    assert by_code["TH-90001-TS"]["lat"] == pytest.approx(19.80, abs=0.06)
    assert by_code["MMSI:574000005"]["registered"] is False
    assert "5 tàu," in page and "1 tàu chưa có trong sổ đăng ký" in page  # 4 registered (one silent) + 1
