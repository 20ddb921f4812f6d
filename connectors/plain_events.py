"""Events as a source writes them plainly: one JSON object, a JSON list of them, or a CSV table.

The one shape shared by MQTT ``json`` payloads and the ``json_events`` / ``csv_events`` file parsers::

    {"type": "air_quality", "sector": "environment", "entity": "TH-AQ-NGHISON",
     "time": "2026-11-25T08:00:00+07:00", "values": {"aqi": 162, "pm25": 88.1},
     "unit": "16654", "location": {"type": "Point", "coordinates": [105.8, 19.322]}}

``unit``, ``location`` and ``idempotency_key`` may be left out; ``time`` must carry a time zone (``Z`` or
``+07:00``), as the HTTP API asks, so a device clock in local time without a zone is refused, not shifted
(``connectors.mapping.parse_time``, the one reader of connector times; a refused record is a ``MappingError``).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator

from connectors.base import BadRecord, Item
from connectors.mapping import MappingError, parse_time
from engine.events import IncomingEvent

EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type", "sector", "entity", "time", "values"],
    "properties": {
        "type": {"type": "string", "minLength": 1, "maxLength": 100},
        "sector": {"type": "string", "minLength": 1, "maxLength": 40},
        "entity": {"type": "string", "minLength": 1, "maxLength": 200},
        "time": {"type": "string", "minLength": 1},
        "values": {"type": "object"},
        "unit": {"type": ["string", "null"], "maxLength": 16},
        "location": {"type": ["object", "null"], "required": ["type", "coordinates"]},  # a GeoJSON geometry
        "idempotency_key": {"type": ["string", "null"], "minLength": 1, "maxLength": 200},
    },
}
_VALIDATOR = Draft202012Validator(EVENT_SCHEMA)
CSV_HEADER = ["entity", "time", "type", "sector"]


def event_from_object(obj: Any, source: str) -> IncomingEvent:
    """The event an object describes (its time in UTC); ``MappingError`` names the first problem."""
    err = next(iter(sorted(_VALIDATOR.iter_errors(obj), key=lambda e: list(e.absolute_path))), None)
    if err is not None:
        raise MappingError(".".join(str(p) for p in err.absolute_path) or None, err.message)
    return IncomingEvent(source=source, type=obj["type"], sector=obj["sector"], entity=obj["entity"],
                         time=parse_time(obj["time"].strip()), values=obj["values"], unit=obj.get("unit"),
                         location=obj.get("location"), idempotency_key=obj.get("idempotency_key"))


def json_events(content: bytes, filename: str, source: str) -> Iterator[Item]:
    """A JSON list of event objects; a bad object is a ``BadRecord`` at its list index."""
    data = json.loads(content)
    if not isinstance(data, list):
        raise ValueError("expected a JSON list of events")
    for index, obj in enumerate(data):
        try:
            yield event_from_object(obj, source)
        except MappingError as bad:
            yield BadRecord(index=index, reason=bad.reason, field=bad.field, raw=obj)


def _cell(text: str) -> float | int | str | None:
    """A number when the cell is one; None for NaN and infinities (how station exports write "missing")."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else None


def csv_events(content: bytes, filename: str, source: str) -> Iterator[Item]:
    """A CSV table: header ``entity,time,type,sector`` then one column per value. A bad row is a
    ``BadRecord`` whose index is its line number; empty and NaN cells are left out of ``values``."""
    try:
        rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    except csv.Error as exc:
        raise ValueError(f"not a CSV table: {exc}") from None
    header = [h.strip() for h in rows[0]] if rows else []
    if [h.lower() for h in header[:4]] != CSV_HEADER or len(header) < 5 or "" in header[4:]:
        raise ValueError(f"the header must be {','.join(CSV_HEADER)} then named value columns")
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield BadRecord(index=line, reason=f"{len(row)} cells, the header has {len(header)}", raw=row)
            continue
        cells = [cell.strip() for cell in row]
        cells_by_name = zip(header[4:], cells[4:], strict=True)
        values = {name: value for name, text in cells_by_name if text and (value := _cell(text)) is not None}
        obj = {"entity": cells[0], "time": cells[1], "type": cells[2], "sector": cells[3], "values": values}
        try:
            if not values:
                raise MappingError("values", "the row has no values")
            yield event_from_object(obj, source)
        except MappingError as bad:
            yield BadRecord(index=line, reason=bad.reason, field=bad.field, raw=row)
