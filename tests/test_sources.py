"""Data sources end to end: added and configured over the API (secrets hidden and encrypted), polled from a real
HTTP server on loopback, failing and refused sources, stale data that raises (and clears) an alert, a signed
webhook, and a department's spreadsheet with one bad row."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from connectors import runtime
from connectors.webhook import sign
from engine import sources
from engine.db import transaction, utcnow
from engine.models import Alert, Event, IndicatorObservation, Source, SourceRun
from tests import factories
from tests.test_api import assert_error, bearer

TOKEN = "so-nnmt-api-token-0123456789"


class Api(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.status = 200
        self.readings: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/quan-trac"


class Handler(BaseHTTPRequestHandler):
    server: Api

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send_response(401)
        else:
            self.send_response(self.server.status)
        body = json.dumps({"data": self.server.readings}).encode()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def api() -> Iterator[Api]:
    server = Api()
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


MAPPING = {"type": "air_quality", "sector": "environment", "entity": "$.station", "time": "$.at",
           "values": {"aqi": "$.aqi"}}


def add_pull_source(client, api: Api, admin_token: str) -> dict:
    resp = client.post("/api/v1/sources", headers=bearer(admin_token), json={
        "name": "quan-trac-so-nnmt", "kind": "http_pull", "title": "Quan trắc Sở NN&MT", "enabled": True,
        "interval_s": 60, "stale_after_s": 600,
        "config": {"url": api.url, "records": "data", "auth": {"type": "bearer", "token": TOKEN},
                   "mapping": MAPPING}})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_a_pull_source_is_configured_polled_and_its_health_kept(client, session, api) -> None:
    admin = factories.token("admin")
    shown = add_pull_source(client, api, admin)
    assert shown["config"]["auth"]["token"] == "••••••"  # shown hidden
    stored = session.scalar(select(Source.config).where(Source.name == "quan-trac-so-nnmt"))
    assert TOKEN not in json.dumps(stored, ensure_ascii=False)  # and encrypted at rest
    now = datetime.now(UTC).replace(microsecond=0)
    api.readings = [{"station": "TH-AQ-01", "at": (now - timedelta(minutes=5)).isoformat(), "aqi": 82},
                    {"station": "TH-AQ-02", "at": now.isoformat(), "aqi": "lỗi"}]
    outcome = runtime.run("quan-trac-so-nnmt")
    assert outcome is not None and outcome.events == 1 and outcome.bad[0]["field"] == "values.aqi"
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Event)) == 1
    health = client.get("/api/v1/sources/quan-trac-so-nnmt", headers=bearer(admin)).get_json()["health"]
    assert health["status"] == "ok" and health["error_count"] == 0 and health["lag_s"] >= 290
    newest = datetime.fromisoformat(health["newest_data_at"])  # ISO 8601 with its zone, as the standard says
    assert newest.tzinfo is not None and (datetime.now(UTC) - newest).total_seconds() >= 290
    # The server fails: the source is marked failing and retried later, with backoff.
    api.status = 503
    assert runtime.run("quan-trac-so-nnmt") is None
    session.rollback()
    source = session.scalar(select(Source).where(Source.name == "quan-trac-so-nnmt"))
    assert source.status == "failing" and source.error_count == 1 and "503" in source.last_error
    # Wrong credentials: refused, disabled until an administrator fixes them; the secret is never in the log.
    client.patch("/api/v1/sources/quan-trac-so-nnmt", headers=bearer(admin), json={
        "config": {"url": api.url, "records": "data", "auth": {"type": "bearer", "token": "wrong-token-0000"},
                   "mapping": MAPPING}})
    assert runtime.run("quan-trac-so-nnmt") is None
    session.rollback()
    source = session.scalar(select(Source).where(Source.name == "quan-trac-so-nnmt"))
    assert source.status == "auth_failed" and not source.enabled
    runs = client.get("/api/v1/sources/quan-trac-so-nnmt/runs", headers=bearer(admin)).get_json()
    assert [r["ok"] for r in runs] == [False, False, True] and "wrong-token" not in json.dumps(runs)


def test_a_source_that_stops_sending_turns_stale_and_raises_an_alert(client, session, api) -> None:
    add_pull_source(client, api, factories.token("admin"))
    api.readings = [{"station": "TH-AQ-01", "at": utcnow().isoformat(), "aqi": 60}]
    runtime.run("quan-trac-so-nnmt")
    with transaction() as s:
        assert sources.check_stale(s, utcnow() + timedelta(minutes=5)) == 0
    with transaction() as s:
        assert sources.check_stale(s, utcnow() + timedelta(minutes=11)) == 1
    session.rollback()
    alert = session.scalar(select(Alert).where(Alert.rule_id == "source-stale"))
    assert alert.status == "firing" and "không có dữ liệu mới" in alert.title
    wall = client.get("/api/v1/wall", headers=bearer(factories.token("leader"))).get_json()
    assert wall["sources_stale"] == 1
    api.readings = [{"station": "TH-AQ-01", "at": (utcnow() + timedelta(seconds=1)).isoformat(), "aqi": 61}]
    time.sleep(1.1)
    runtime.run("quan-trac-so-nnmt")
    with transaction() as s:
        assert sources.check_stale(s) == 1  # fresh again: the alert resolves
    session.rollback()
    assert session.get(Alert, alert.id).status in ("resolved", "closed")


def test_a_signed_webhook_is_accepted_and_an_unsigned_one_refused(client, session) -> None:
    admin = factories.token("admin")
    secret = "khoa-bi-mat-webhook-2026"
    resp = client.post("/api/v1/sources", headers=bearer(admin), json={
        "name": "camera-vi-pham", "kind": "webhook", "enabled": True,
        "config": {"secret": secret, "mapping": {"type": "traffic_count", "sector": "traffic", "entity": "$.cam",
                                                 "time": "$.t", "values": {"vehicles": "$.n"}}}})
    assert resp.status_code == 201, resp.get_json()
    body = json.dumps([{"cam": "CAM-01", "t": utcnow().isoformat(), "n": 12}]).encode()
    ts = str(int(time.time()))
    ok = client.post("/api/v1/sources/camera-vi-pham/webhook", data=body, content_type="application/json",
                     headers={"X-IOC-Timestamp": ts, "X-IOC-Signature": sign(secret, body, ts)})
    assert ok.status_code == 202 and ok.get_json()["stored"] == 1
    bad = client.post("/api/v1/sources/camera-vi-pham/webhook", data=body, content_type="application/json",
                      headers={"X-IOC-Timestamp": ts, "X-IOC-Signature": sign("another-secret-xxxxx", body, ts)})
    assert_error(bad, 401)


def test_a_source_that_receives_its_data_has_nothing_to_poll(client, session) -> None:
    """Issue 19 (found by tests/test_fuzz_api.py): "run now" on a webhook source was a 500, and the worker's
    scheduled job for it failed at every interval."""
    admin = factories.token("admin")
    made = client.post("/api/v1/sources", headers=bearer(admin), json={
        "name": "camera-day-du-lieu", "kind": "webhook", "enabled": True,
        "config": {"secret": "khoa-bi-mat-webhook-2026", "mapping": {
            "type": "traffic_count", "sector": "traffic", "time": "$.t", "values": {"vehicles": "$.n"}}}})
    assert made.status_code == 201, made.get_json()
    refused = assert_error(client.post("/api/v1/sources/camera-day-du-lieu/run", headers=bearer(admin)), 409)
    assert refused["code"] == "not_polled" and refused["details"] == {"kind": "webhook"}
    runtime.run_job("camera-day-du-lieu")  # the worker's job for it: nothing to do, nothing recorded
    session.rollback()
    assert session.scalar(select(func.count()).select_from(SourceRun)) == 0


def xlsx(rows: list[list[Any]]) -> bytes:
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_a_departments_spreadsheet_lands_its_good_rows_and_shows_the_bad_one(client, session) -> None:
    admin = factories.token("admin")
    resp = client.post("/api/v1/sources", headers=bearer(admin), json={
        "name": "so-tai-chinh-thu-ngan-sach", "kind": "spreadsheet", "title": "Thu ngân sách (Sở Tài chính)",
        "config": {"period": "month", "indicators": [{"code": "budget_revenue", "column": "Thu ngân sách (tỷ đồng)"}]}})
    assert resp.status_code == 201, resp.get_json()
    content = xlsx([["Mã đơn vị", "Kỳ", "Thu ngân sách (tỷ đồng)", "Ghi chú"],
                    ["14758", "2026-09", 12.5], ["14797", "2026-09", "không rõ"], ["38", "2026-09", 1450]])
    officer = factories.token("operator")
    up = client.post("/api/v1/sources/so-tai-chinh-thu-ngan-sach/upload", headers=bearer(officer),
                     data={"file": (io.BytesIO(content), "thu-ngan-sach-t9.xlsx")}, content_type="multipart/form-data")
    assert up.status_code == 200, up.get_json()
    report = up.get_json()
    assert report["stored"] == 2 and [(b["index"], b["field"]) for b in report["bad"]] == [
        (3, "Thu ngân sách (tỷ đồng)")]
    assert [w["field"] for w in report["warnings"]] == ["Ghi chú"]  # a column nothing reads is named, not dropped
    session.rollback()
    assert session.scalar(select(func.count()).select_from(IndicatorObservation)) == 2
    # Wrong headers: nothing of the file is stored.
    broken = xlsx([["Mã", "Tháng", "Thu"], ["14758", "2026-10", 3]])
    up = client.post("/api/v1/sources/so-tai-chinh-thu-ngan-sach/upload", headers=bearer(officer),
                     data={"file": (io.BytesIO(broken), "sai.xlsx")}, content_type="multipart/form-data")
    assert up.get_json()["stored"] == 0 and up.get_json()["bad"]
    session.rollback()
    assert session.scalar(select(func.count()).select_from(IndicatorObservation)) == 2
    runs = session.scalars(select(SourceRun).order_by(SourceRun.id)).all()
    assert [r.trigger for r in runs] == ["upload", "upload"] and runs[0].report[0]["index"] == 3


def test_bad_source_configurations_are_refused_with_each_problem(client) -> None:
    admin = factories.token("admin")
    body = assert_error(client.post("/api/v1/sources", headers=bearer(admin), json={
        "name": "x-bad", "kind": "http_pull", "config": {"url": "ftp://nope", "mapping": MAPPING, "colour": 1}}),
        422, "invalid_config")
    problems = " ".join(body["details"]["problems"])
    assert "colour" in problems and "url" in problems
    assert_error(client.post("/api/v1/sources", headers=bearer(factories.token("operator")), json={
        "name": "x-ok", "kind": "webhook", "config": {}}), 403)


def test_a_streaming_mqtt_source_stores_what_arrives_and_keeps_its_health(client, session) -> None:
    import uuid

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    topic = f"ioc-test/{uuid.uuid4().hex[:8]}"
    admin = factories.token("admin")
    resp = client.post("/api/v1/sources", headers=bearer(admin), json={
        "name": "cam-bien-mqtt", "kind": "mqtt", "enabled": True,
        "config": {"host": "127.0.0.1", "port": 1883, "topics": [f"{topic}/#"], "format": "json"}})
    assert resp.status_code == 201, resp.get_json()
    stop = threading.Event()
    result: list[int] = []
    listener = threading.Thread(target=lambda: result.append(runtime.listen("cam-bien-mqtt", stop, flush_s=0.2)))
    listener.start()
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2)
    publisher.connect("127.0.0.1", 1883)
    publisher.loop_start()
    try:
        deadline = time.monotonic() + 15
        n = 0
        while time.monotonic() < deadline:  # publish until the listener has stored some (it subscribes first)
            n += 1
            publisher.publish(f"{topic}/aq", json.dumps({
                "type": "air_quality", "sector": "environment", "entity": "TH-AQ-MQTT",
                "time": (utcnow() + timedelta(milliseconds=n)).isoformat(), "values": {"aqi": 40 + n}}), qos=1)
            time.sleep(0.1)
            session.rollback()
            if session.scalar(select(func.count()).select_from(Event)) >= 3:
                break
    finally:
        stop.set()
        listener.join(10)
        publisher.loop_stop()
        publisher.disconnect()
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Event).where(Event.entity == "TH-AQ-MQTT")) >= 3
    source = session.scalar(select(Source).where(Source.name == "cam-bien-mqtt"))
    assert source.status == "ok" and source.newest_data_at is not None and result and result[0] >= 3


def test_ngsi_ld_notifications_from_a_broker_are_stored(client, session) -> None:
    admin = factories.token("admin")
    assert client.post("/api/v1/sources", headers=bearer(admin), json={
        "name": "fiware", "kind": "ngsi_ld", "enabled": True, "config": {}}).status_code == 201
    notification = {"id": "urn:ngsi-ld:Notification:1", "type": "Notification", "subscriptionId": "urn:sub:1",
                    "notifiedAt": "2026-11-25T03:00:05Z", "data": [{
                        "id": "urn:ngsi-ld:AirQualityObserved:TH-AQ-07", "type": "AirQualityObserved",
                        "dateObserved": {"type": "Property", "value": "2026-11-25T03:00:00Z"},
                        "pm25": {"type": "Property", "value": 41.2}}]}
    resp = client.post("/api/v1/sources/fiware/notifications", headers=bearer(factories.token("operator")),
                       json=notification)
    assert resp.status_code == 202 and resp.get_json()["stored"] == 1, resp.get_json()
    session.rollback()
    event = session.scalar(select(Event))
    assert (event.type, event.values["pm25"]) == ("air_quality", 41.2)
    assert event.entity == "urn:ngsi-ld:AirQualityObserved:TH-AQ-07"
    assert_error(client.post("/api/v1/sources/fiware/notifications", json=notification), 401)


def test_an_indicator_exports_as_csv_with_formulas_neutralised(client) -> None:
    from tests.test_indicators import month, put

    put("retail_sales", [{"entity": '=HYPERLINK("http://x","y")', "period_start": month(2026, 1), "value": -12.5}])
    resp = client.get("/api/v1/indicators/retail_sales/export.csv?level=entity",
                      headers=bearer(factories.token("leader")))
    assert resp.status_code == 200 and resp.data.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads Vietnamese
    text = resp.data.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("indicator,period,unit,entity")
    assert "'=HYPERLINK" in text and "-12.5" in text and "\n=" not in text
