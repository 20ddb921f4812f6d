"""No input stops the engine (issue 19): NUL characters, unbounded numbers and nesting, NaN and Infinity, times and
readings out of range, and names written in composed and decomposed Unicode each get a clear answer, never a 500."""

from __future__ import annotations

import json
import math
import unicodedata
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engine import entities
from engine.db import transaction
from engine.event_check import check_event, event_problems
from engine.models import Entity, Event
from engine.org import add_user, authenticate
from tests import factories
from tests.test_api import assert_error, bearer, login
from web.input_guard import FiniteJSON, json_body_problem, not_finite

NFC_NAME = "Trạm Đông Sơn – Hữu Lộc"
NFD_NAME = unicodedata.normalize("NFD", NFC_NAME)


def test_a_nul_is_refused_by_its_field_everywhere_and_a_batch_keeps_its_good_events(client, session) -> None:
    """PostgreSQL refuses NUL in text: today each of these answered 500 there."""
    token = factories.token("admin")
    good = factories.aqi_event(entity="TH-AQ-GOOD")
    bad_value = factories.aqi_event(values={"aqi": 50, "note": "a\x00b"})
    bad_name = factories.aqi_event(values={"a\x00": 1})
    resp = client.post("/api/v1/events", json={"events": [good, factories.aqi_event(entity="TH\x00"), bad_value,
                                                           bad_name]}, headers=bearer(token))
    assert resp.status_code == 202, resp.get_data(as_text=True)
    out = resp.get_json()
    assert out["accepted"] == 1
    assert [(e["index"], e["field"]) for e in out["errors"]] == [(1, "entity"), (2, "values.note"),
                                                                 (3, "values.a\\u0000")]
    assert session.scalars(select(Event.entity)).all() == ["TH-AQ-GOOD"]

    factories.user("admin", name="nul-admin")
    csrf = {"X-CSRFToken": login(client, "nul-admin")}
    deadline = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    for method, url, body, field in [
        ("post", "/api/v1/tasks/1/comments", {"body": "xin chào\x00"}, "body"),
        ("post", "/api/v1/directives", {"title": "Chỉ đạo\x00", "deadline": deadline, "departments": ["SO-NNMT"]},
         "title"),
        ("post", "/api/v1/notifications/silences", {"ends_at": deadline, "reason": "bảo trì", "entity": "A\x00"},
         "entity"),
        ("post", "/api/v1/cameras", {"code": "CAM-NUL", "name": "Ngã tư\x00", "source": "synthetic:720p"}, "name"),
        ("get", "/api/v1/instances?q=a%00b", None, "q"),
        ("get", "/api/v1/alerts?sector=%00", None, "sector"),
        ("get", "/api/v1/sources/a%00b", None, "name"),
    ]:
        resp = getattr(client, method)(url, json=body, headers=csrf)
        assert assert_error(resp, 422, "invalid")["details"]["fields"] == {field: ["chứa ký tự NUL"]}, url
    assert client.get("/instances?q=%00").status_code == 422  # a page's filter
    assert client.post("/login", data={"username": "a\x00", "password": "x"}).status_code == 422  # a form


def test_ids_offsets_long_numbers_and_deep_nesting_are_bounded(client) -> None:
    token = factories.token("admin")
    assert_error(client.get("/api/v1/alerts/99999999999", headers=bearer(token)), 404, "not_found")
    offset = assert_error(client.get(f"/api/v1/alerts?offset={2**63}", headers=bearer(token)), 422, "invalid")
    assert "offset" in offset["details"]["fields"]["query"]
    assert_error(client.get(f"/api/v1/events/quarantined?before_id={2**63}", headers=bearer(token)), 422)
    event = json.dumps(factories.aqi_event())
    huge = '{"events": [' + event.replace('"aqi": 180', '"aqi": ' + "9" * 5001) + "]}"
    assert_error(client.post("/api/v1/events", data=huge, content_type="application/json", headers=bearer(token)),
                 400, "number_too_long")
    deep = '{"events": [' + "[" * 10_000 + "]" * 10_000 + "]}"
    assert_error(client.post("/api/v1/events", data=deep, content_type="application/json", headers=bearer(token)),
                 400, "too_deep")
    spec = client.get("/api/v1/openapi.json").get_json()
    alert_id = spec["paths"]["/api/v1/alerts/{alert_id}"]["parameters"][0]["schema"]
    assert alert_id["maximum"] == 2**31 - 1


@pytest.mark.no_database
@pytest.mark.parametrize("body, problem", [
    (b'{"a": [1, 2, {"b": "c"}]}', None),
    (b'{"a": "' + b"[" * 100 + b'"}', None),  # brackets in a text are no nesting
    (b'{"a": "' + b"9" * 100 + b'"}', None),  # digits in a text are no number
    (b'{"a": "\\"' + b"[" * 100 + b'"}', None),  # nor after an escaped quote
    (b'{"a": ' + b"1" * 40 + b"}", None),
    (b'{"a": ' + b"1" * 41 + b"}", "number_too_long"),
    (b'{"a": 0.' + b"1" * 41 + b"}", "number_too_long"),
    (b"[" * 64 + b"]" * 64, None),
    (b"[" * 65 + b"]" * 65, "too_deep"),
    (b"[]" * 1000, None),  # many, not deep
])
def test_json_bodies_are_checked_before_they_are_parsed(body: bytes, problem: str | None) -> None:
    found = json_body_problem(body)
    assert (found.code if found else None) == problem


def test_nan_and_infinity_are_refused_at_intake_and_answers_are_always_json(client) -> None:
    token = factories.token("admin")
    event = json.dumps(factories.aqi_event())
    for number in ("NaN", "Infinity", "-Infinity", "1e999"):
        body = '{"events": [' + event.replace('"aqi": 180', f'"aqi": {number}') + "]}"
        resp = client.post("/api/v1/events", data=body, content_type="application/json", headers=bearer(token))
        assert assert_error(resp, 422)["details"]["events"] == [
            {"index": 0, "field": "values.aqi", "reason": "a finite number (not NaN or Infinity)"}], number
    resp = client.post("/api/v1/entities/registry", data='{"kind": "vessel", "records": [{"code": "A", "x": NaN}]}',
                       content_type="application/json", headers=bearer(token))
    assert_error(resp, 400, "not_finite")
    assert not_finite(b'{"a": 1e309}') and not not_finite(b'{"a": "NaN", "b": 1e308}')
    provider = FiniteJSON(client.application)  # a NaN stored before intake refused them goes out as null
    assert json.loads(provider.dumps({"latest": {"aqi": math.nan, "pm25": [math.inf, 1.5]}})) == {
        "latest": {"aqi": None, "pm25": [None, 1.5]}}


NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


@pytest.mark.no_database
@pytest.mark.parametrize("change, problem", [
    ({}, None),
    ({"time": "9999-12-31T00:00:00Z"}, ("time", "from 2000-01-01 to one day ahead of the IOC's clock")),
    ({"time": "1999-12-31T23:00:00Z"}, ("time", "from 2000-01-01 to one day ahead of the IOC's clock")),
    ({"time": "2026-12-08T09:00:00Z"}, None),  # a station clock running fast: within a day
    ({"time": "2026-12-08T11:00:00Z"}, ("time", "from 2000-01-01 to one day ahead of the IOC's clock")),
    ({"values": {"pm25": -0.5}}, ("values.pm25", "a number of at least 0")),
    ({"values": {"aqi": 5000}}, ("values.aqi", "a number from 0 to 1000")),
    ({"values": {"aqi": 620}}, None),  # above 500 in the worst episodes
    ({"values": {"ph": 15}}, ("values.ph", "a number from 0 to 14")),
    ({"values": {"level_m": -2.5}}, None),  # below the datum, as a tide gauge reads
    ({"values": {"level_m": 9000}}, ("values.level_m", "a number from -100 to 3000")),
    ({"values": {"lat": 91, "lon": 105}}, ("values.lat", "a number from -90 to 90")),
    ({"values": {"vehicles": -3}}, ("values.vehicles", "a number of at least 0")),
    ({"values": {"kind": "red_light", "track": [1, 2], "plate_confidence": 0.9}}, None),
    ({"values": {"track": [1.0, math.nan]}}, ("values.track.1", "a finite number (not NaN or Infinity)")),
])
def test_times_and_readings_out_of_range_are_refused_with_their_field(change, problem) -> None:
    raw = {"source": "s", "type": "air_quality", "sector": "environment", "entity": "E",
           "time": "2026-12-07T10:00:00Z", "values": {"aqi": 80}, **change}
    event, problems = check_event(raw, NOW + timedelta(days=1))
    assert problems == ([problem] if problem else [])
    assert (event is None) == bool(problem)
    if event is None:  # an event a connector made is judged alike
        made, _ = check_event({**raw, "values": {}, "time": "2026-12-07T10:00:00Z"}, NOW + timedelta(days=1))
        assert made is not None
        bad = replace(made, **({"values": change["values"]} if "values" in change else
                               {"time": datetime.fromisoformat(change["time"])}))
        assert event_problems(bad, NOW + timedelta(days=1)) == [problem]


def test_a_name_in_composed_or_decomposed_vietnamese_is_one_entity_one_station_one_user(client, session) -> None:
    token = factories.token("admin")
    batch = [factories.aqi_event(entity=NFC_NAME), factories.aqi_event(entity=NFD_NAME)]
    assert client.post("/api/v1/events", json={"events": batch}, headers=bearer(token)).get_json()["accepted"] == 2
    assert set(session.scalars(select(Event.entity))) == {NFC_NAME}
    resp = client.post("/api/v1/entities/registry", json={"kind": "station", "records": [
        {"code": NFD_NAME, "name": NFD_NAME}]}, headers=bearer(token))
    assert resp.get_json()["added"] == 1
    found = client.get(f"/api/v1/entities/station/{NFD_NAME}", headers=bearer(token))
    assert found.status_code == 200 and found.get_json()["code"] == NFC_NAME == found.get_json()["name"]
    with transaction() as s:
        made = add_user(s, unicodedata.normalize("NFD", "Lê Thị Hồng"), "leader", factories.PASSWORD)
        assert made.username == "Lê Thị Hồng"
        assert authenticate(s, unicodedata.normalize("NFD", "Lê Thị Hồng"), factories.PASSWORD) is not None
        row = entities.get(s, "station", NFC_NAME)
        assert row.registered and s.scalar(select(Entity.id).where(Entity.code == NFD_NAME)) is None
