"""Declarative field mapping: one source record (parsed JSON) → one ``IncomingEvent``. Shared by connectors.

A mapping is data (a connector's ``mapping`` config)::

    {"type": "air_quality",                    # a literal ...
     "sector": "$.sector",                     # ... or, with "$.", a path into the record
     "entity": "$.station.code",
     "time": "$.observed_at", "time_format": "iso",   # or "epoch_s" / "epoch_ms"
     "unit": "$.commune_code",
     "location": {"lat": "$.pos.0", "lon": "$.pos.1"},
     "values": {"aqi": "$.readings.0.aqi", "pm25": "$.readings.0.pm25"},
     "idempotency_key": "{entity}:{time}"}     # a path, or a template

Paths are dotted keys with list indexes (``a.b.0.c``; ``-1`` is the last item). ``type``, ``sector``, ``time``
and ``values`` are required; ``entity``, ``unit``, ``location`` and ``idempotency_key`` may be left out, but a
field that the mapping names must be present (not null) in each record. ISO times must carry a zone; every
time comes out in UTC. Values must be JSON numbers (not strings, not booleans). A template's placeholders
are the mapped ``type``, ``sector``, ``entity``, ``unit``, ``time`` (ISO, UTC) or ``$.paths`` into the record.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

from engine.events import IncomingEvent

PATH_PREFIX = "$."
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
_TEMPLATE_FIELDS = ("type", "sector", "entity", "unit", "time")
_SPEC = {"type": "string", "minLength": 1}
_PATH = {"type": "string", "pattern": r"^\$\..+"}
_NUMBER_SPEC = {"oneOf": [_PATH, {"type": "number"}]}

MAPPING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type", "sector", "time", "values"],
    "properties": {
        "type": _SPEC,
        "sector": _SPEC,
        "entity": _SPEC,
        "unit": _SPEC,
        "time": _SPEC,
        "time_format": {"enum": ["iso", "epoch_s", "epoch_ms"], "default": "iso"},
        "values": {"type": "object", "minProperties": 1, "additionalProperties": _PATH},
        "location": {"type": "object", "additionalProperties": False, "required": ["lat", "lon"],
                     "properties": {"lat": _NUMBER_SPEC, "lon": _NUMBER_SPEC}},
        "idempotency_key": {"type": "string", "pattern": r"^(\$\..+|.*\{[^{}]+\}.*)$"},
    },
}


class MappingError(Exception):
    """A record does not fit the mapping: which output ``field`` and why."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(f"{field or '(record)'}: {reason}")
        self.field = field
        self.reason = reason


MISSING = object()


def get_path(data: Any, path: str) -> Any:
    """The value at a dotted path (list indexes allowed; ``""`` is the data itself); ``MISSING`` when absent."""
    node = data
    for part in path.split(".") if path else []:
        if isinstance(node, dict):
            node = node.get(part, MISSING)
        elif isinstance(node, list) and re.fullmatch(r"-?\d+", part):
            i = int(part)
            node = node[i] if -len(node) <= i < len(node) else MISSING
        else:
            return MISSING
        if node is MISSING:
            return MISSING
    return node


def resolve(spec: Any, record: Any, field: str) -> Any:
    """A ``$.path`` read from the record (present and not null), or the literal itself."""
    if not (isinstance(spec, str) and spec.startswith(PATH_PREFIX)):
        return spec
    value = get_path(record, spec[len(PATH_PREFIX):])
    if value is MISSING or value is None:
        raise MappingError(field, f"missing: {spec}")
    return value


def _text(value: Any, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MappingError(field, f"not a text or an integer: {value!r}")
    return str(value)


def _number(value: Any, field: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise MappingError(field, f"not a number: {value!r}")
    return value


def parse_time(value: Any, time_format: str = "iso", field: str = "time") -> datetime:
    """An aware UTC datetime from an ISO 8601 text with a zone, or from epoch seconds / milliseconds."""
    if time_format == "iso":
        if not isinstance(value, str):
            raise MappingError(field, f"not an ISO 8601 text: {value!r}")
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise MappingError(field, f"not an ISO 8601 time: {value!r}") from None
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise MappingError(field, f"no time zone: {value!r}")
        return parsed.astimezone(UTC)
    seconds = _number(value, field) / (1000 if time_format == "epoch_ms" else 1)
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise MappingError(field, f"epoch time out of range: {value!r}") from None


def mapping_problems(mapping: dict[str, Any]) -> list[str]:
    """What the JSON Schema cannot see: template placeholders that name no mapped field or path."""
    template = mapping.get("idempotency_key", "")
    if template.startswith(PATH_PREFIX):
        return []
    return [f"mapping.idempotency_key: {{{name}}} names no mapped field or $.path"
            for name in _PLACEHOLDER.findall(template)
            if not name.startswith(PATH_PREFIX) and (name not in _TEMPLATE_FIELDS or name not in mapping)]


def _render(template: str, fields: dict[str, Any], record: Any) -> str:
    if template.startswith(PATH_PREFIX):
        return _text(resolve(template, record, "idempotency_key"), "idempotency_key")

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith(PATH_PREFIX):
            return _text(resolve(name, record, "idempotency_key"), "idempotency_key")
        if fields.get(name) is None:
            raise MappingError("idempotency_key", f"{{{name}}} is not mapped")
        value = fields[name]
        return value.isoformat() if isinstance(value, datetime) else str(value)

    return _PLACEHOLDER.sub(one, template)


def map_record(mapping: dict[str, Any], record: Any, source: str) -> IncomingEvent:
    """The event a record describes; ``MappingError`` names the first field that does not fit."""
    if not isinstance(record, dict):
        raise MappingError(None, f"a record must be a JSON object, not {type(record).__name__}")
    fields: dict[str, Any] = {name: _text(resolve(mapping[name], record, name), name)
                              for name in ("type", "sector", "entity", "unit") if name in mapping}
    fields["time"] = parse_time(resolve(mapping["time"], record, "time"), mapping.get("time_format", "iso"))
    values = {out: _number(resolve(spec, record, f"values.{out}"), f"values.{out}")
              for out, spec in mapping["values"].items()}
    location = None
    if "location" in mapping:
        location = {axis: _number(resolve(spec, record, f"location.{axis}"), f"location.{axis}")
                    for axis, spec in mapping["location"].items()}
    key = _render(mapping["idempotency_key"], fields, record) if "idempotency_key" in mapping else None
    return IncomingEvent(source=source, type=fields["type"], sector=fields["sector"], time=fields["time"],
                         values=values, entity=fields.get("entity"), unit=fields.get("unit"),
                         location=location, idempotency_key=key)
