"""Entities: a station's latest reading and place come from its events; a registry import marks vessels as
registered with their facts; the API lists them by kind."""

from __future__ import annotations

from sqlalchemy import select

from engine import jobs
from engine.db import transaction
from engine.events import ingest_events
from engine.models import Entity
from tests import factories
from tests.test_api import assert_error, bearer


def test_events_keep_each_stations_latest_state_and_the_api_lists_it(client, session) -> None:
    older = factories.incoming(entity="TH-AQ-01", aqi=40, time="2026-11-25T08:00:00+07:00")
    newer = factories.incoming(entity="TH-AQ-01", aqi=70, time="2026-11-25T09:00:00+07:00")
    with transaction() as s:
        ids = ingest_events(s, [newer, older], "test").accepted  # the older one arrives late
    jobs.process_events(ids)
    session.rollback()
    station = session.scalar(select(Entity).where(Entity.code == "TH-AQ-01"))
    assert station.kind == "station" and station.latest["values"]["aqi"] == 70 and not station.registered
    listed = client.get("/api/v1/entities?kind=station", headers=bearer(factories.token("leader"))).get_json()
    assert [(e["code"], e["latest"]["values"]["aqi"]) for e in listed] == [("TH-AQ-01", 70)]
    one = client.get("/api/v1/entities/station/TH-AQ-01", headers=bearer(factories.token("leader")))
    assert one.status_code == 200
    assert_error(client.get("/api/v1/entities/vessel/NOPE", headers=bearer(factories.token("leader"))), 404,
                 "not_found")


def test_a_vessel_registry_is_imported_and_bad_records_named(client, session) -> None:
    records = [{"code": "TH-93388-TS", "name": "Tàu cá Thanh Hóa 93388", "mmsi": "574001234", "length_m": 16.5,
                "owner": "Lê Văn Biển", "home_port": "Lạch Hới", "licensed_zone": "khoi"},
               {"name": "no code"}]
    resp = client.post("/api/v1/entities/registry", headers=bearer(factories.token("admin")),
                       json={"kind": "vessel", "records": records})
    assert resp.status_code == 200 and resp.get_json() == {
        "added": 1, "updated": 0, "errors": [{"index": 1, "field": "code", "reason": "no registration code"}]}
    session.rollback()
    vessel = session.scalar(select(Entity).where(Entity.kind == "vessel"))
    assert vessel.registered and vessel.attributes["length_m"] == 16.5 and vessel.name.startswith("Tàu cá")
