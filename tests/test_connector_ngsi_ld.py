"""NGSI-LD notifications, written by hand after ETSI GS CIM 009 and the Smart Data Models schemas."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.base import BadConfig, BadRecord
from connectors.ngsi_ld import NgsiLd
from engine.events import IncomingEvent

pytestmark = pytest.mark.no_database  # pure: no database, no Redis (runs once, in the SQLite pass)

CONTEXT = ["https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/context.jsonld",
           "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.7.jsonld"]
AQ_ID = "urn:ngsi-ld:AirQualityObserved:TH-AQ-NGHISON"
WQ_ID = "urn:ngsi-ld:WaterQualityObserved:TH-NM-SONGMA-01"
VESSEL_ID = "urn:ngsi-ld:Vessel:574012345"
T = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


def notification(*entities: dict[str, Any], context: bool = False) -> bytes:
    body: dict[str, Any] = {"id": "urn:ngsi-ld:Notification:5fd0fa684eb81930c97005f3",
                            "type": "Notification", "subscriptionId": "urn:ngsi-ld:Subscription:ioc-environment",
                            "notifiedAt": "2026-11-25T01:00:05.123Z", "data": list(entities)}
    if context:
        body["@context"] = CONTEXT
    return json.dumps(body, ensure_ascii=False).encode()


def prop(value: Any, **meta: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value, **meta}


AQ_NORMALIZED = {
    "id": AQ_ID, "type": "AirQualityObserved",
    "dateObserved": prop({"@type": "DateTime", "@value": "2026-11-25T01:00:00Z"}),
    "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [105.8, 19.322]}},
    "address": prop({"addressLocality": "Nghi Sơn", "addressRegion": "Thanh Hóa"}),
    "name": prop("Trạm quan trắc Khu kinh tế Nghi Sơn"),
    "airQualityIndex": prop(162, observedAt="2026-11-25T01:00:00Z"),
    "airQualityLevel": prop("Kém"),
    "pm25": prop(88.1, unitCode="GQ"), "pm10": prop(120.4, unitCode="GQ"), "no2": prop(41.0, unitCode="GQ"),
    "so2": prop(12.5), "co": prop(900), "o3": prop(55.2),
    "refDevice": {"type": "Relationship", "object": "urn:ngsi-ld:Device:aq-nghison-01"},
}
AQ_KEY_VALUES = {
    "id": "urn:ngsi-ld:AirQualityObserved:TH-AQ-SAMSON", "type": "AirQualityObserved",
    "dateObserved": "2026-11-25T08:00:00+07:00",
    "location": {"type": "Point", "coordinates": [105.905, 19.74]},
    "name": "Trạm Sầm Sơn — bãi biển", "airQualityIndex": 48, "pm25": 12.3, "pm10": 20.0, "temperature": 24.5,
}
WQ_NORMALIZED = {
    "id": WQ_ID, "type": "WaterQualityObserved", "dateObserved": prop("2026-11-25T01:00:00Z"),
    "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [105.77, 19.845]}},
    "pH": prop(7.2), "O2": prop(5.1, unitCode="M1"), "bod": prop(4.0), "cod": prop(12.0), "NH4": prop(0.3),
    "turbidity": prop(35), "temperature": prop(23.4), "measurand": prop(["pH,7.2,,", "O2,5.1,M1,"]),
}
VESSEL_NORMALIZED = {
    "id": VESSEL_ID, "type": "Vessel",
    "name": prop("TH-90123-TS Hải Âu"), "mmsi": prop("574012345"), "callSign": prop("XVTH9"),
    "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [106.12, 19.41]},
                 "observedAt": "2026-11-25T01:00:00Z"},
    "speedOverGround": prop(3.6, observedAt="2026-11-25T00:59:30Z"), "courseOverGround": prop(142.0),
    "navigationStatus": prop(7),
}


def events(connector: NgsiLd, payload: bytes, content_type: str = "application/json") -> list[Any]:
    return list(connector.parse(payload, content_type))


def test_air_quality_normalized_keeps_the_full_id_vietnamese_text_and_the_point() -> None:
    (event,) = events(NgsiLd({}, source="orion"), notification(AQ_NORMALIZED))
    assert isinstance(event, IncomingEvent)
    assert (event.source, event.type, event.sector, event.entity) == ("orion", "air_quality", "environment", AQ_ID)
    assert event.time == T
    assert event.values == {"aqi": 162, "aqi_level": "Kém", "name": "Trạm quan trắc Khu kinh tế Nghi Sơn",
                            "pm25": 88.1, "pm10": 120.4, "no2": 41.0, "so2": 12.5, "co": 900, "o3": 55.2}
    assert event.location == {"type": "Point", "coordinates": [105.8, 19.322]}
    assert event.idempotency_key == f"{AQ_ID}@2026-11-25T01:00:00+00:00"


def test_key_values_and_ld_json_with_context_read_the_same_way() -> None:
    connector = NgsiLd({}, source="orion")
    (plain,) = events(connector, notification(AQ_KEY_VALUES))
    (with_context,) = events(connector, notification(AQ_KEY_VALUES, context=True), "application/ld+json")
    assert plain == with_context
    assert plain.values == {"aqi": 48, "name": "Trạm Sầm Sơn — bãi biển", "pm25": 12.3, "pm10": 20.0,
                            "temperature": 24.5}
    assert plain.time == datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # 08:00 in Hanoi
    assert plain.location == {"type": "Point", "coordinates": [105.905, 19.74]}


def test_expanded_names_in_ld_json_are_read_by_their_last_segment() -> None:
    sdm = "https://smartdatamodels.org/dataModel.Environment/"
    entity = {"@context": CONTEXT, "id": AQ_ID, "type": sdm + "AirQualityObserved",
              sdm + "dateObserved": prop("2026-11-25T01:00:00Z"), sdm + "pm25": prop(88.1),
              "https://uri.etsi.org/ngsi-ld/location": {"type": "GeoProperty",
                                                       "value": {"type": "Point", "coordinates": [105.8, 19.3]}}}
    (event,) = events(NgsiLd({}, source="s"), json.dumps([entity]).encode(), "application/ld+json; charset=utf-8")
    assert (event.type, event.values, event.location["type"]) == ("air_quality", {"pm25": 88.1}, "Point")


def test_water_quality() -> None:
    (event,) = events(NgsiLd({}, source="s"), notification(WQ_NORMALIZED))
    assert (event.type, event.sector, event.entity, event.time) == ("water_quality", "environment", WQ_ID, T)
    assert event.values == {"ph": 7.2, "do": 5.1, "bod": 4.0, "cod": 12.0, "nh4": 0.3, "turbidity": 35,
                            "temperature": 23.4}


def test_vessel_position_gets_lat_lon_and_its_time_from_observed_at() -> None:
    (event,) = events(NgsiLd({}, source="s"), notification(VESSEL_NORMALIZED))
    assert (event.type, event.sector, event.entity) == ("vessel_position", "fisheries", VESSEL_ID)
    assert event.time == T  # the latest observedAt among the attributes
    assert event.values == {"mmsi": "574012345", "call_sign": "XVTH9", "name": "TH-90123-TS Hải Âu",
                            "navigation_status": 7, "sog_ms": 3.6, "cog": 142.0, "lat": 19.41, "lon": 106.12}
    assert event.location == {"type": "Point", "coordinates": [106.12, 19.41]}


def test_vessel_key_values_with_an_observed_at_attribute_and_a_concise_attribute() -> None:
    vessel = {"id": VESSEL_ID, "type": "Vessel", "observedAt": "2026-11-25T01:00:00Z", "mmsi": "574012345",
              "speedOverGround": {"value": 2.0}, "location": {"type": "Point", "coordinates": [106.0, 19.5]}}
    (event,) = events(NgsiLd({}, source="s"), notification(vessel))
    assert (event.time, event.values) == (T, {"mmsi": "574012345", "sog_ms": 2.0, "lat": 19.5, "lon": 106.0})


def test_the_same_observation_notified_twice_has_the_same_key() -> None:
    connector = NgsiLd({}, source="s")
    first, second = events(connector, notification(AQ_NORMALIZED, AQ_NORMALIZED))
    assert first.key() == second.key()


@pytest.mark.parametrize(("entity", "field", "reason"), [
    ({**AQ_KEY_VALUES, "dateObserved": None}, "dateObserved", "no observation time"),
    ({k: v for k, v in AQ_NORMALIZED.items() if k != "dateObserved"} | {"airQualityIndex": prop(162)},
     "dateObserved", "no observation time"),
    ({**AQ_KEY_VALUES, "dateObserved": "hôm qua"}, "dateObserved", "not an ISO 8601"),
    ({**VESSEL_NORMALIZED, "location": None}, "location", "Point"),
    ({**VESSEL_NORMALIZED, "location": {"type": "LineString", "coordinates": [[1, 2], [3, 4]]}}, "location", "Point"),
    ({"id": "urn:ngsi-ld:AirQualityObserved:x", "type": "AirQualityObserved", "dateObserved": "2026-11-25T01:00:00Z",
      "refDevice": {"type": "Relationship", "object": "urn:ngsi-ld:Device:1"}}, "values", "none of"),
    ({"id": "urn:ngsi-ld:TrafficFlowObserved:QL1A-km312", "type": "TrafficFlowObserved", "intensity": prop(870)},
     "type", "TrafficFlowObserved"),
    ({"type": "AirQualityObserved"}, "id", "id and a type"),
    ("urn:ngsi-ld:Vessel:1", "id", "id and a type"),
])
def test_entities_that_cannot_be_events_are_bad_records_and_the_rest_goes_on(entity: Any, field: str,
                                                                             reason: str) -> None:
    bad, good = events(NgsiLd({}, source="s"), notification(entity, AQ_KEY_VALUES))
    assert isinstance(bad, BadRecord) and (bad.index, bad.field) == (0, field) and reason in bad.reason
    assert isinstance(good, IncomingEvent) and good.entity == AQ_KEY_VALUES["id"]


@pytest.mark.parametrize(("payload", "content_type", "reason"), [
    (b"<xml/>", "application/json", "not JSON"),
    (b'{"subscriptionId": "urn:x", "data": "none"}', "", "not an NGSI-LD notification"),
    (b'{"type": "Notification"}', "application/json", "not an NGSI-LD notification"),
    (notification(AQ_KEY_VALUES), "application/geo+json", "not an NGSI-LD JSON body"),
])
def test_bodies_that_are_not_notifications(payload: bytes, content_type: str, reason: str) -> None:
    (bad,) = events(NgsiLd({}, source="s"), payload, content_type)
    assert isinstance(bad, BadRecord) and bad.index == 0 and reason in bad.reason


def test_type_map_adds_types_and_overrides_values_and_the_prefix_can_be_stripped() -> None:
    connector = NgsiLd({"entity_prefix_strip": "urn:ngsi-ld:", "type_map": {
        "TrafficFlowObserved": {"type": "traffic_flow", "sector": "traffic"},
        "AirQualityObserved": {"type": "air_quality", "sector": "environment", "values": {"airQualityIndex": "aqi"}},
    }}, source="s")
    traffic = {"id": "urn:ngsi-ld:TrafficFlowObserved:QL1A-km312", "type": "TrafficFlowObserved",
               "dateObserved": prop("2026-11-25T01:00:00Z"), "intensity": prop(870),
               "averageVehicleSpeed": prop(42.5), "laneId": prop(1), "address": prop({"streetAddress": "QL1A"})}
    flow, air = events(connector, notification(traffic, AQ_NORMALIZED))
    assert (flow.type, flow.sector, flow.entity) == ("traffic_flow", "traffic", "TrafficFlowObserved:QL1A-km312")
    assert flow.values == {"intensity": 870, "averageVehicleSpeed": 42.5, "laneId": 1}
    assert (air.entity, air.values) == ("AirQualityObserved:TH-AQ-NGHISON", {"aqi": 162})
    assert air.idempotency_key == f"{AQ_ID}@2026-11-25T01:00:00+00:00"  # the key keeps the full id


def test_several_instances_of_an_attribute_take_the_default_one() -> None:
    entity = {**AQ_KEY_VALUES, "pm25": [prop(99.0, datasetId="urn:ngsi-ld:Dataset:sensor-b"), prop(12.3)]}
    (event,) = events(NgsiLd({}, source="s"), notification(entity))
    assert event.values["pm25"] == 12.3


@pytest.mark.parametrize("config", [
    {"type_map": {"Vessel": {"type": "vessel_position"}}},
    {"type_map": {"Vessel": {"type": "v", "sector": "fisheries", "colour": "red"}}},
    {"entity_prefix": "urn:"},
])
def test_bad_configurations_are_refused(config: dict[str, Any]) -> None:
    with pytest.raises(BadConfig):
        NgsiLd(config, source="s")
