"""The declarative record → event mapping shared by connectors: a table of cases per behaviour."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.base import check_config
from connectors.mapping import MAPPING_SCHEMA, MISSING, MappingError, get_path, map_record, mapping_problems

pytestmark = pytest.mark.no_database  # pure: no database, no Redis (runs once, in the SQLite pass)

RECORD: dict[str, Any] = {
    "station": {"code": "TH-AQ-NGHISON", "name": "Nghi Sơn (KKT)", "id": 17},
    "observed_at": "2026-03-01T08:00:00+07:00",
    "epoch_s": 1772326800,
    "epoch_ms": 1772326800000,
    "readings": [{"aqi": 135, "pm25": 74.3}, {"aqi": 120}],
    "pos": [19.322, 105.8],
    "commune": "16654",
    "linh_vuc": "môi trường",
    "flag": True,
    "label": "cao",
    "empty": None,
}
T0 = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
BASE: dict[str, Any] = {"type": "air_quality", "sector": "environment", "time": "$.observed_at",
                        "values": {"aqi": "$.readings.0.aqi"}}


@pytest.mark.parametrize(("path", "expected"), [
    ("station.code", "TH-AQ-NGHISON"),
    ("readings.0.pm25", 74.3),
    ("readings.1.aqi", 120),
    ("readings.-1.aqi", 120),
    ("pos.1", 105.8),
    ("", RECORD),
    ("empty", None),
    ("station.missing", MISSING),
    ("readings.2.aqi", MISSING),
    ("readings.x", MISSING),
    ("station.code.0", MISSING),
])
def test_paths(path: str, expected: Any) -> None:
    found = get_path(RECORD, path)
    assert (found is MISSING) if expected is MISSING else (found == expected)


@pytest.mark.parametrize(("override", "field", "expected"), [
    ({}, "type", "air_quality"),                                   # a literal
    ({"sector": "$.linh_vuc"}, "sector", "môi trường"),            # a path, Vietnamese intact
    ({"entity": "$.station.name"}, "entity", "Nghi Sơn (KKT)"),
    ({"entity": "$.station.id"}, "entity", "17"),                  # integer ids become text
    ({"unit": "$.commune"}, "unit", "16654"),
    ({}, "entity", None),                                          # not mapped: left out
    ({}, "time", T0),                                              # +07:00 → UTC
    ({"time": "2026-03-01T01:00:00Z"}, "time", T0),                # a literal time, Z
    ({"time": "$.epoch_s", "time_format": "epoch_s"}, "time", T0),
    ({"time": "$.epoch_ms", "time_format": "epoch_ms"}, "time", T0),
    ({"values": {"aqi": "$.readings.0.aqi", "pm25": "$.readings.0.pm25"}}, "values", {"aqi": 135, "pm25": 74.3}),
    ({"location": {"lat": "$.pos.0", "lon": "$.pos.1"}}, "location", {"lat": 19.322, "lon": 105.8}),
    ({"location": {"lat": 19.8, "lon": 105.77}}, "location", {"lat": 19.8, "lon": 105.77}),
    ({}, "idempotency_key", None),
    ({"idempotency_key": "$.station.code"}, "idempotency_key", "TH-AQ-NGHISON"),
    ({"entity": "$.station.code", "idempotency_key": "{entity}:{time}"}, "idempotency_key",
     "TH-AQ-NGHISON:2026-03-01T01:00:00+00:00"),
    ({"idempotency_key": "{$.station.id}/{$.readings.0.aqi}/{type}"}, "idempotency_key", "17/135/air_quality"),
])
def test_fields(override: dict[str, Any], field: str, expected: Any) -> None:
    event = map_record({**BASE, **override}, RECORD, "so-tnmt")
    assert getattr(event, field) == expected
    assert event.source == "so-tnmt"
    assert event.time.tzinfo is UTC


@pytest.mark.parametrize(("override", "record", "field", "reason"), [
    ({"time": "$.when"}, RECORD, "time", "missing: $.when"),
    ({"entity": "$.station.nope"}, RECORD, "entity", "missing: $.station.nope"),
    ({"unit": "$.empty"}, RECORD, "unit", "missing: $.empty"),                       # null counts as missing
    ({"values": {"aqi": "$.readings.5.aqi"}}, RECORD, "values.aqi", "missing"),
    ({"values": {"aqi": "$.label"}}, RECORD, "values.aqi", "not a number"),
    ({"values": {"aqi": "$.flag"}}, RECORD, "values.aqi", "not a number"),           # booleans are not numbers
    ({"values": {"aqi": "$.station.code"}}, RECORD, "values.aqi", "not a number"),
    ({"entity": "$.station"}, RECORD, "entity", "not a text"),
    ({"time": "$.label"}, RECORD, "time", "not an ISO 8601 time"),
    ({"time": "2026-03-01T08:00:00"}, RECORD, "time", "no time zone"),
    ({"time": "$.epoch_s"}, RECORD, "time", "not an ISO 8601 text"),
    ({"time": "$.label", "time_format": "epoch_s"}, RECORD, "time", "not a number"),
    ({"time": 1e20, "time_format": "epoch_s"}, RECORD, "time", "out of range"),
    ({"location": {"lat": "$.pos.0", "lon": "$.label"}}, RECORD, "location.lon", "not a number"),
    ({"idempotency_key": "{unit}-{time}"}, RECORD, "idempotency_key", "{unit} is not mapped"),
    ({"idempotency_key": "{$.nope}"}, RECORD, "idempotency_key", "missing: $.nope"),
    ({}, ["not", "an", "object"], None, "must be a JSON object"),
])
def test_errors(override: dict[str, Any], record: Any, field: str | None, reason: str) -> None:
    with pytest.raises(MappingError) as caught:
        map_record({**BASE, **override}, record, "so-tnmt")
    assert caught.value.field == field
    assert reason in caught.value.reason


@pytest.mark.parametrize(("mapping", "problem"), [
    ({**BASE, "colour": "red"}, "Additional properties are not allowed ('colour' was unexpected)"),
    ({k: v for k, v in BASE.items() if k != "time"}, "'time' is a required property"),
    ({**BASE, "values": {"aqi": "readings.0.aqi"}}, "does not match"),           # values must be paths
    ({**BASE, "values": {}}, "should be non-empty"),
    ({**BASE, "time_format": "epoch_us"}, "is not one of"),
    ({**BASE, "idempotency_key": "constant"}, "does not match"),                 # would merge every event
])
def test_schema_refuses(mapping: dict[str, Any], problem: str) -> None:
    assert any(problem in p for p in check_config(MAPPING_SCHEMA, mapping))


@pytest.mark.parametrize(("key", "problems"), [
    ("{type}:{time}", []),
    ("{$.anything}", []),
    ("$.station.code", []),
    ("{entity}:{time}", ["mapping.idempotency_key: {entity} names no mapped field or $.path"]),
    ("{when}", ["mapping.idempotency_key: {when} names no mapped field or $.path"]),
])
def test_template_placeholders_checked(key: str, problems: list[str]) -> None:
    mapping = {**BASE, "idempotency_key": key}
    assert check_config(MAPPING_SCHEMA, mapping) == []
    assert mapping_problems(mapping) == problems
