"""Fisheries end to end: a registered vessel's positions are judged against the VMS/IUU rules; a port departure
is recorded; a 16.5 m vessel inside vùng lộng raises an alert that starts the fisheries control process and a
position back in vùng khơi resolves it; a vessel silent for over 6 hours at sea is flagged by the clock; a
position from a vessel no registry knows is kept and shown as unregistered."""

from __future__ import annotations

import io
from datetime import timedelta

from sqlalchemy import select

from engine import fisheries, jobs
from engine.db import transaction, utcnow
from engine.events import IncomingEvent, ingest_events
from engine.models import Alert, Entity, Event, ProcessInstance
from tests import factories


def position(code: str, at, lat: float, lon: float) -> IncomingEvent:
    return IncomingEvent(source="vms-provider", type="vessel_position", sector="fisheries", time=at,
                         values={"lat": lat, "lon": lon, "speed_kn": 8.0}, entity=code,
                         location={"lat": lat, "lon": lon})


def send(*events: IncomingEvent) -> None:
    with transaction() as s:
        ids = ingest_events(s, list(events), "test").accepted
    jobs.process_events(ids)


def register(client) -> None:
    resp = client.post("/api/v1/entities/registry", headers={"Authorization": f"Bearer {factories.token('admin')}"},
                       json={"kind": "vessel", "records": [
                           {"code": "TH-93388-TS", "name": "TH-93388-TS", "length_m": 16.5, "mmsi": "574001234",
                            "owner": "Lê Văn Biển", "home_port": "Lạch Hới"}]})
    assert resp.status_code == 200


def test_a_vessel_leaves_port_fishes_in_the_wrong_zone_and_is_flagged_then_cleared(client, session) -> None:
    register(client)
    t0 = utcnow() - timedelta(hours=3)
    send(position("TH-93388-TS", t0, 19.78, 105.91))  # in Lạch Hới port
    send(position("TH-93388-TS", t0 + timedelta(minutes=60), 19.80, 106.70))  # out in vùng khơi: departed
    session.rollback()
    vessel = session.scalar(select(Entity).where(Entity.code == "TH-93388-TS"))
    assert vessel.latest["at_sea"] is True and vessel.registered
    port_calls = session.scalars(select(Event).where(Event.type == "vessel_port")).all()
    assert [(e.values["event"], e.values["port"]) for e in port_calls] == [("departure", "Lạch Hới")]
    assert session.scalar(select(Alert)) is None  # ≥ 15 m in vùng khơi: allowed
    send(position("MMSI:574001234", t0 + timedelta(minutes=120), 19.80, 106.15))  # AIS, in vùng lộng
    session.rollback()
    alert = session.scalar(select(Alert).where(Alert.rule_id == "vms:ZONE_CLASS_VIOLATION"))
    assert alert is not None and alert.entity == "TH-93388-TS" and alert.severity == "cao"
    instance = session.get(ProcessInstance, alert.instance_id)
    assert instance.definition.process_key == "fisheries_control"
    send(position("TH-93388-TS", t0 + timedelta(minutes=150), 19.80, 106.70))  # back in vùng khơi
    session.rollback()
    assert session.get(Alert, alert.id).status in ("resolved", "closed")


def test_a_vessel_silent_at_sea_for_over_six_hours_is_flagged_by_the_clock(client, session) -> None:
    register(client)
    t0 = utcnow() - timedelta(hours=8)
    send(position("TH-93388-TS", t0, 19.78, 105.91), position("TH-93388-TS", t0 + timedelta(minutes=30), 19.8, 106.7))
    with transaction() as s:
        assert fisheries.tick(s, utcnow()) >= 1
    session.rollback()
    alert = session.scalar(select(Alert).where(Alert.rule_id == "vms:LOST_SIGNAL_OVER_6H"))
    assert alert is not None and "TH-93388-TS" in alert.title


def test_a_position_from_an_unknown_vessel_is_kept_as_unregistered(session) -> None:
    send(position("TH-99999-TS", utcnow(), 19.8, 106.7))
    session.rollback()
    row = session.scalar(select(Entity).where(Entity.code == "TH-99999-TS"))
    assert row is not None and not row.registered and row.latest["location"]["lat"] == 19.8


def test_the_vms_provider_pushes_positions_and_bad_records_are_named(client, session) -> None:
    token = factories.token("operator")
    resp = client.post("/api/v1/entities/vessels/positions", headers={"Authorization": f"Bearer {token}"}, json={
        "positions": [{"registration": "TH-93388-TS", "time": utcnow().isoformat(), "lat": 19.8, "lon": 106.7,
                       "speed_kn": 6.5},
                      {"registration": "TH-93388-TS", "time": "hôm nay", "lat": 19.8, "lon": 106.7},
                      {"time": utcnow().isoformat(), "lat": 19.8, "lon": 106.7},
                      {"registration": "TH-1", "time": utcnow().isoformat(), "lat": 95, "lon": 106.7}]})
    assert resp.status_code == 202
    assert resp.get_json() == {"accepted": 1, "errors": [
        {"index": 1, "field": "time", "reason": "an ISO 8601 date-time with its time zone"},
        {"index": 2, "field": "registration", "reason": "missing"},
        {"index": 3, "field": "lat/lon", "reason": "numbers within range"}]}
    session.rollback()
    assert session.scalar(select(Event).where(Event.type == "vessel_position")).values["speed_kn"] == 6.5


def test_a_vms_batch_with_no_good_position_is_an_error_like_any_other(client) -> None:
    """Issue 19 (found by tests/test_fuzz_api.py): the 422 was {accepted, errors}, not the API's error shape."""
    token = factories.token("operator")
    resp = client.post("/api/v1/entities/vessels/positions", headers={"Authorization": f"Bearer {token}"}, json={
        "positions": [{"time": utcnow().isoformat(), "lat": 19.8, "lon": 106.7}]})
    assert resp.status_code == 422
    assert resp.get_json() == {"code": "invalid", "message": "Không có vị trí nào trong lô hợp lệ",
                               "details": {"errors": [{"index": 0, "field": "registration", "reason": "missing"}]}}
    csv = client.post("/api/v1/entities/vessels/positions.csv", data=b"registration,time,lat,lon\nTH-1,,19,106\n",
                      headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"})
    assert csv.status_code == 422 and csv.get_json()["details"] == {"columns_not_used": [], "errors": [
        {"row": 2, "field": "time", "reason": "an ISO 8601 date-time with its time zone"}]}


def cp1258(text: str) -> bytes:
    """Text as Windows-1258 stores it: letters with their vowel marks precomposed, tone marks combining."""
    import unicodedata

    out = b""
    for ch in text:
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", ch)
            tones = "".join(m for m in parts[1:] if m in "\u0300\u0301\u0303\u0309\u0323")
            base = unicodedata.normalize("NFC", parts[0] + "".join(m for m in parts[1:] if m not in tones))
            out += base.encode("cp1258") + tones.encode("cp1258")
    return out


def test_the_vms_provider_may_push_csv_with_vietnamese_headers(client, session) -> None:
    token = factories.token("operator")
    now = utcnow().isoformat()
    csv_text = ("\ufeffSố đăng ký;Thời gian;Vĩ độ;Kinh độ;Tốc độ;Ghi chú\n"
                f"TH-93388-TS;{now};19,8;106,7;6,5;ra khơi\n"
                f"TH-93388-TS;hôm qua;19,8;106,7;;\n"
                f"TH-90001-TS;{now};19,9;abc;;\n")
    resp = client.post("/api/v1/entities/vessels/positions.csv?source=vms-viettel", data=csv_text.encode(),
                       headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"})
    assert resp.status_code == 202, resp.get_data(as_text=True)
    assert resp.get_json() == {"accepted": 1, "columns_not_used": ["Ghi chú"], "errors": [
        {"row": 3, "field": "time", "reason": "an ISO 8601 date-time with its time zone"},
        {"row": 4, "field": "lat/lon", "reason": "numbers within range"}]}
    session.rollback()
    stored = session.scalar(select(Event).where(Event.type == "vessel_position"))
    assert stored.values == {"lat": 19.8, "lon": 106.7, "speed_kn": 6.5} and stored.source == "vms-viettel"
    as_file = client.post("/api/v1/entities/vessels/positions.csv", headers={"Authorization": f"Bearer {token}"},
                          data={"file": (io.BytesIO(b"registration,time,lat,lon\n"), "vms.csv")})
    assert as_file.status_code == 422 and as_file.get_json()["code"] == "invalid"  # no rows: said, not a 500
    windows = cp1258(f"Số đăng ký,Thời gian,Vĩ độ,Kinh độ\nTH-90002-TS,{now},19.7,106.1\n")
    legacy = client.post("/api/v1/entities/vessels/positions.csv", data=windows,
                         headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"})
    assert legacy.status_code == 202 and legacy.get_json()["accepted"] == 1  # a Windows-1258 export is read too
    binary = client.post("/api/v1/entities/vessels/positions.csv", data=b"\x00\x01\x02PK\x03\x04",
                         headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"})
    assert binary.status_code == 422 and "UTF-8" in binary.get_json()["message"]  # a binary body is not text


def test_ioc_ais_replay_stores_a_log_and_its_vessels(tmp_path, session) -> None:
    import os

    from pyais.encode import encode_dict

    from tests.conftest import ioc

    lines = encode_dict({"type": 1, "mmsi": 574001234, "lat": 19.8, "lon": 106.7, "speed": 7.5}, sentence_type="VDM")
    lines += encode_dict({"type": 5, "mmsi": 574001234, "shipname": "THANH HOA 93388", "to_bow": 10, "to_stern": 7},
                         sentence_type="VDM")
    log = tmp_path / "ais.nmea"
    log.write_text("\n".join([*lines, "!AIVDM,1,1,,A,15M67FC000G?ufbE`FepT@3n00Sa,0*00", "rác \x00\x01"]) + "\n",
                   encoding="utf-8")
    result = ioc("ais", "replay", str(log), env=dict(os.environ), check=False)
    assert result.returncode == 0, result.stderr
    assert "1 positions, 1 static reports, 1 bad checksums" in result.stdout
    session.rollback()
    row = session.scalar(select(Entity).where(Entity.code == "MMSI:574001234"))
    assert row.latest["location"] == {"lat": 19.8, "lon": 106.7} and row.attributes["name"] == "THANH HOA 93388"


def test_the_departments_vessel_register_is_imported_from_a_spreadsheet(tmp_path, session) -> None:
    import os

    from openpyxl import Workbook

    from tests.conftest import ioc

    wb = Workbook()
    wb.active.append(["Số đăng ký", "Tên tàu", "MMSI", "Chiều dài (m)", "Chủ tàu", "Cảng cá", "Vùng khai thác",
                      "Ghi chú"])
    wb.active.append(["TH-93388-TS", "Thanh Hóa 93388", "574001234", "16,5", "Lê Văn Biển", "Lạch Hới", "Vùng khơi",
                      ""])
    wb.active.append(["", "Không số", "", "9", "", "", "", ""])
    sheet = tmp_path / "so-dang-ky-tau-ca.xlsx"
    wb.save(sheet)
    result = ioc("vessels", "import", str(sheet), env=dict(os.environ), check=False)
    assert result.returncode == 0 and "1 vessels added, 0 updated, 1 rows refused" in result.stdout
    assert "row 3: code" in result.stderr and "Ghi chú" in result.stderr
    session.rollback()
    vessel = session.scalar(select(Entity).where(Entity.code == "TH-93388-TS"))
    assert vessel.attributes == {"mmsi": "574001234", "length_m": 16.5, "owner": "Lê Văn Biển",
                                 "home_port": "Lạch Hới", "licensed_zone": "khoi"}


def test_a_sea_map_with_a_zone_that_crosses_itself_does_not_stop_the_ais_batches(tmp_path, monkeypatch, session):
    import json

    from connectors.ais import decode_lines
    from tests.test_ais_tracks import RECEIVED, START, line

    sea = json.loads(fisheries.zones_path().read_text(encoding="utf-8"))
    bowtie = [[[106.0, 19.0], [106.2, 19.2], [106.2, 19.0], [106.0, 19.2], [106.0, 19.0]]]  # crosses itself
    sea["features"].append({"type": "Feature", "properties": {"layer": "land"},
                            "geometry": {"type": "Polygon", "coordinates": bowtie}})
    bad = tmp_path / "sea_zones.geojson"
    bad.write_text(json.dumps(sea), encoding="utf-8")
    monkeypatch.setattr(fisheries, "zones_path", lambda: bad)
    batch = [line(574000077, START, 19.60, 105.95), line(574000078, START, 19.80, 105.70)]  # at sea; on land
    with transaction() as s:  # shapely's union of the map failed here, for every batch
        recorded = fisheries.record_reports(s, list(decode_lines(batch, source="ais", received=RECEIVED,
                                                                 reports=True)))
    assert recorded.judged == 2  # the screen clears nothing: both judged exactly
    assert [(a.rule_id, a.entity) for a in session.scalars(select(Alert))] == [("vms:POSITION_ON_LAND",
                                                                                 "MMSI:574000078")]
