"""NGSI-LD notifications (ETSI GS CIM 009) from a context broker: Smart Data Models entities → engine events.

A subscription's notification ``{"id", "type": "Notification", "subscriptionId", "notifiedAt", "data": [...]}``
(a bare list of entities, or one entity, is read too) in the normalized form (``{"type": "Property",
"value": 42, "observedAt": ...}``), the concise form (``{"value": 42}``) or keyValues (``42``), as
``application/json`` or ``application/ld+json`` with an ``@context`` (expanded names such as
``https://smartdatamodels.org/dataModel.Environment/pm25`` are read by their last segment).

Each entity becomes one event: its type through ``TYPE_MAP`` (or the configured ``type_map``), ``entity`` the
full entity id (``urn:ngsi-ld:AirQualityObserved:TH-AQ-01``, less ``entity_prefix_strip`` when configured),
``time`` its ``dateObserved``, else its ``observedAt``, else the latest ``observedAt`` of its attributes (a zone
is UTC when missing, as the standard says), ``location`` its GeoJSON ``location``, and the idempotency key the
entity id and that time, so a broker notifying the same observation twice stores it once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from hashlib import sha256
from typing import Any, ClassVar

from connectors.base import BadRecord, Connector, Item
from engine.events import IncomingEvent
from engine.isotime import parse_datetime

# Smart Data Models attribute names (docs/domain-reference §7.2) → the IOC's value names.
TYPE_MAP: dict[str, dict[str, Any]] = {
    "AirQualityObserved": {"type": "air_quality", "sector": "environment", "values": {
        "airQualityIndex": "aqi", "airQualityLevel": "aqi_level", "dominantPollutant": "dominant_pollutant",
        "pm1": "pm1", "pm25": "pm25", "pm10": "pm10", "tsp": "tsp", "no2": "no2", "no": "no", "nox": "nox",
        "so2": "so2", "co": "co", "co2": "co2", "o3": "o3", "c6h6": "c6h6", "pb": "pb",
        "volatileOrganicCompoundsTotal": "voc", "temperature": "temperature", "relativeHumidity": "relative_humidity",
        "windSpeed": "wind_speed", "windDirection": "wind_direction", "precipitation": "precipitation",
        "reliability": "reliability", "name": "name"}},
    "WaterQualityObserved": {"type": "water_quality", "sector": "environment", "values": {
        "waterQualityIndex": "wqi", "pH": "ph", "O2": "do", "bod": "bod", "cod": "cod", "NH4": "nh4", "NO3": "no3",
        "NO2": "no2", "PO4": "po4", "P-PO4": "p_po4", "N-TOT": "n_total", "P-TOT": "p_total", "tss": "tss",
        "tds": "tds", "turbidity": "turbidity", "temperature": "temperature", "conductivity": "conductivity",
        "salinity": "salinity", "escherichiaColi": "e_coli", "enterococci": "enterococci", "As": "as", "Cd": "cd",
        "Pb": "pb", "Hg": "hg", "Cr-VI": "cr6", "Cr-III": "cr3", "Cu": "cu", "Zn": "zn", "Ni": "ni", "Fe": "fe",
        "Chla": "chla", "name": "name"}},
    "Vessel": {"type": "vessel_position", "sector": "fisheries", "lat_lon": True, "values": {
        "mmsi": "mmsi", "imo": "imo", "callSign": "call_sign", "name": "name", "vesselType": "vessel_type",
        "navigationStatus": "navigation_status", "speedOverGround": "sog_ms", "courseOverGround": "cog",
        "heading": "heading", "rateOfTurn": "rate_of_turn", "draught": "draught",
        "destinationPort": "destination_port", "flagCode": "flag"}},
}
# Attribute kinds of the normalized form and the member that holds each one's value.
_MEMBER = {"Property": "value", "GeoProperty": "value", "Relationship": "object", "LanguageProperty": "languageMap",
           "VocabProperty": "vocab", "JsonProperty": "json", "ListProperty": "valueList"}
_NOT_VALUES = {"id", "type", "@context", "location", "dateObserved", "observedAt", "dateCreated", "dateModified",
               "createdAt", "modifiedAt", "address"}
_MEDIA = {"", "application/json", "application/ld+json"}


def _short(name: str) -> str:
    """``https://…/dataModel.Environment/pm25`` or ``sdm:pm25`` → ``pm25``; plain names unchanged."""
    return re.split(r"[/#:]", name)[-1] if name.startswith(("http://", "https://")) or ":" in name else name


def _unwrap(value: Any) -> Any:
    """A JSON-LD typed value ``{"@type": "DateTime", "@value": "…"}`` → ``"…"``."""
    return value["@value"] if isinstance(value, dict) and "@value" in value else value


def attribute(raw: Any) -> tuple[Any, str | None]:
    """An attribute in any form → (value, its observedAt or None)."""
    if isinstance(raw, list) and raw and all(isinstance(a, dict) and "type" in a for a in raw):
        raw = next((a for a in raw if "datasetId" not in a), raw[0])  # several instances: the default one
    if isinstance(raw, dict) and raw.get("type") in _MEMBER:
        return _unwrap(raw.get(_MEMBER[raw["type"]])), raw.get("observedAt")
    if isinstance(raw, dict) and "type" not in raw and ("value" in raw or "object" in raw):  # concise
        return _unwrap(raw.get("value", raw.get("object"))), raw.get("observedAt")
    return _unwrap(raw), None


class _Bad(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field, self.reason = field, reason


class NgsiLd(Connector):
    """Notifications a context broker (Orion-LD, Scorpio, Stellio) posts to the IOC's subscription endpoint."""

    kind: ClassVar[str] = "ngsi_ld"
    config_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "type_map": {"type": "object", "description": "NGSI-LD entity type → how it becomes an event",
                         "additionalProperties": {
                             "type": "object", "additionalProperties": False, "required": ["type", "sector"],
                             "properties": {
                                 "type": {"type": "string", "minLength": 1},
                                 "sector": {"type": "string", "minLength": 1},
                                 "values": {"type": "object", "additionalProperties": {"type": "string"},
                                            "description": "attribute → value name; absent: every property as is"},
                                 "lat_lon": {"type": "boolean",
                                             "description": "also put the point's lat and lon into the values"}}}},
            "entity_prefix_strip": {"type": "string", "minLength": 1,
                                    "description": "removed from the front of entity ids, e.g. urn:ngsi-ld:"},
        },
    }

    def parse(self, payload: bytes, content_type: str = "") -> Iterator[Item]:
        media = content_type.split(";")[0].strip().lower()
        if media not in _MEDIA:
            yield BadRecord(index=0, reason=f"not an NGSI-LD JSON body: {media}")
            return
        try:
            body = json.loads(payload)
        except ValueError as exc:
            yield BadRecord(index=0, reason=f"not JSON: {exc}")
            return
        if isinstance(body, dict) and body.get("type") == "Notification" and isinstance(body.get("data"), list):
            entities = body["data"]
        elif isinstance(body, list) or (isinstance(body, dict) and "id" in body and "type" in body):
            entities = body if isinstance(body, list) else [body]
        else:
            yield BadRecord(index=0, reason="not an NGSI-LD notification nor entities", raw=body)
            return
        for index, entity in enumerate(entities):
            try:
                yield self.event(entity)
            except _Bad as bad:
                yield BadRecord(index=index, reason=bad.reason, field=bad.field, raw=entity)

    def event(self, raw: Any) -> IncomingEvent:
        """The event one entity stands for; ``_Bad`` when it cannot be one."""
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not isinstance(raw.get("type"), str):
            raise _Bad("id", "not an entity with an id and a type")
        entity = {_short(k): v for k, v in raw.items() if k != "@context"}
        ngsi_type = _short(entity["type"])
        spec = {**TYPE_MAP, **self.config.get("type_map", {})}.get(ngsi_type)
        if spec is None:
            raise _Bad("type", f"no event type for the entity type {ngsi_type}")
        mapping = spec.get("values") or {k: k for k in entity if k not in _NOT_VALUES}
        values: dict[str, Any] = {}
        stamps: list[str] = []
        for name, key in mapping.items():
            value, observed = attribute(entity.get(name))
            if value is not None:
                values[key] = value
                stamps += [observed] if isinstance(observed, str) else []
        location, observed = attribute(entity.get("location"))
        stamps += [observed] if isinstance(observed, str) else []
        if location is not None and not (isinstance(location, dict) and "coordinates" in location):
            raise _Bad("location", "the location is not a GeoJSON geometry")
        if spec.get("lat_lon"):
            point = location.get("coordinates") if location and location.get("type") == "Point" else None
            if not (isinstance(point, list) and len(point) >= 2
                    and all(isinstance(c, int | float) and not isinstance(c, bool) for c in point[:2])):
                raise _Bad("location", f"a {ngsi_type} needs a GeoJSON Point location")
            values["lon"], values["lat"] = point[:2]
        if not values:
            raise _Bad("values", f"none of the {ngsi_type} attributes is mapped to a value")
        time = self._time(entity, stamps)
        entity_id = raw["id"]
        prefix = self.config.get("entity_prefix_strip")
        shown_id = entity_id[len(prefix):] if prefix and entity_id.startswith(prefix) else entity_id
        if len(shown_id) > 200:
            raise _Bad("id", "the entity id is longer than 200 characters")
        key = f"{entity_id}@{time.isoformat()}"
        return IncomingEvent(source=self.source, type=spec["type"], sector=spec["sector"], entity=shown_id,
                             time=time, values=values, location=location,
                             idempotency_key=key if len(key) <= 200 else "sha256:" + sha256(key.encode()).hexdigest())

    @staticmethod
    def _time(entity: dict[str, Any], stamps: list[str]) -> datetime:
        for name in ("dateObserved", "observedAt"):
            text = attribute(entity.get(name))[0]
            if text is not None:
                moment = parse_datetime(text) if isinstance(text, str) else None
                if moment is None:
                    raise _Bad(name, f"{name} is not an ISO 8601 date-time: {text!r}")
                return moment
        times = [t for t in (parse_datetime(s) for s in stamps) if t is not None]
        if not times:
            raise _Bad("dateObserved", "no observation time (dateObserved, observedAt)")
        return max(times)
