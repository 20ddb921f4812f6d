"""The shape of an incoming event, checked by hand: a pure function, about ten times faster than a
marshmallow schema per event, so that a 1,000-event batch spends its time storing rather than validating.
The published contract (the OpenAPI ``EventIn`` schema, docs/data-exchange.md) says the same.

Beyond the shape, what no reading can be: text holding a NUL character (PostgreSQL refuses it), a value that is
NaN or Infinity (not JSON), a time before 2000 or more than a day ahead of the IOC's clock, and a value outside the
plausible range of its kind (``VALUE_LIMITS``: a negative concentration is a device or mapping fault, not a
reading). Each is named by its field; ``event_problems`` says the same of an event a connector made."""

from __future__ import annotations

import math
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.events import IncomingEvent
from engine.text import NUL

FIELDS = {"source", "type", "sector", "entity", "time", "unit", "location", "values", "idempotency_key"}
TEXT_LIMITS = {"source": 100, "type": 100, "sector": 40, "entity": 200, "unit": 16, "idempotency_key": 200}
_SOURCE, _TYPE, _SECTOR, _ENTITY, _UNIT, _KEY = (TEXT_LIMITS[k] for k in ("source", "type", "sector", "entity", "unit",
                                                                        "idempotency_key"))
REQUIRED = ("source", "type", "sector", "time", "values")
Problem = tuple[str | None, str]

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
AHEAD = timedelta(days=1)  # a station clock running fast is stored (docs/data-exchange.md §5); a wrong year is not
TIME_RANGE = "from 2000-01-01 to one day ahead of the IOC's clock"
NO_NUL = "text without NUL characters"
FINITE = "a finite number (not NaN or Infinity)"

# The plausible range of each kind of value, by its name in ``values`` (docs/data-exchange.md §6), in the IOC's units.
_CONCENTRATIONS = ("pm1", "pm25", "pm10", "pm", "tsp", "so2", "no2", "no", "nox", "co", "co2", "o3", "h2s", "nh3",
                   "c6h6", "pb", "hg", "voc", "do", "bod", "bod5", "cod", "toc", "tss", "tds", "nh4", "no3", "po4",
                   "p_po4", "tp", "tn", "n_total", "p_total", "cl", "as", "cd", "cr6", "cr3", "cu", "zn", "ni", "fe",
                   "chla", "coliform", "e_coli", "turbidity", "color", "conductivity", "salinity")
_COUNTS = ("vehicles", "rain", "precipitation", "wind_speed", "speed_kn", "sog_kn", "sog_ms", "flow")
UNBOUNDED = sys.float_info.max  # the largest float: an infinity is still refused
VALUE_LIMITS: dict[str, tuple[float, float]] = {
    **{name: (0, UNBOUNDED) for name in _CONCENTRATIONS + _COUNTS},
    "aqi": (0, 1000),  # VN_AQI: 0-500, and above 500 in the worst episodes
    "wqi": (0, 100),  # VN_WQI
    "ph": (0, 14),
    "humidity": (0, 100), "relative_humidity": (0, 100), "o2": (0, 100),  # per cent
    "level_m": (-100, 3000),  # metres above the national datum: below the sea to the highest reservoirs
    "lat": (-90, 90), "lon": (-180, 180),
    "course": (0, 360), "cog": (0, 360), "wind_dir": (0, 360), "wind_direction": (0, 360),
}


def _range_reason(limits: tuple[float, float]) -> str:
    low, high = limits
    return f"a number of at least {low:g}" if high == UNBOUNDED else f"a number from {low:g} to {high:g}"


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) < 16:
        return None
    try:
        moment = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def latest_time(now: datetime | None = None) -> datetime:
    """The latest time an event may carry: one day ahead of the IOC's clock."""
    return (now or datetime.now(UTC)) + AHEAD


def check_event(raw: Any, latest: datetime | None = None) -> tuple[IncomingEvent | None, list[Problem]]:
    """The event, or the problems of ``raw`` as (field, reason) — every problem, not just the first. ``latest``:
    the latest time allowed (``latest_time()``, computed once for a batch)."""
    latest = latest or latest_time()
    if type(raw) is dict and FIELDS.issuperset(raw):  # the usual case, checked in one pass (a batch has 1,000)
        get = raw.get
        source, type_, sector, values = get("source"), get("type"), get("sector"), get("values")
        entity, unit, key, location = get("entity"), get("unit"), get("idempotency_key"), get("location")
        if (type(source) is str and 0 < len(source) <= _SOURCE and type(type_) is str and 0 < len(type_) <= _TYPE
                and type(sector) is str and 0 < len(sector) <= _SECTOR and type(values) is dict
                and (entity is None or type(entity) is str and 0 < len(entity) <= _ENTITY)
                and (unit is None or type(unit) is str and 0 < len(unit) <= _UNIT)
                and (key is None or type(key) is str and 0 < len(key) <= _KEY)
                and NUL not in f"{source}{type_}{sector}{entity}{unit}{key}"
                and (location is None or not _location(location))
                and (moment := parse_time(get("time"))) is not None and EARLIEST <= moment <= latest
                and _plain_values(values)):
            return IncomingEvent(source=source, type=type_, sector=sector, time=moment, values=values, entity=entity,
                                 unit=unit, location=location, idempotency_key=key), []
    problems = problems_of(raw, latest)
    moment = parse_time(raw.get("time")) if not problems else None
    if moment is None:
        return None, problems
    return IncomingEvent(source=raw["source"], type=raw["type"], sector=raw["sector"], time=moment,
                         values=raw["values"], entity=raw.get("entity"), unit=raw.get("unit"),
                         location=raw.get("location"), idempotency_key=raw.get("idempotency_key")), []


def problems_of(raw: Any, latest: datetime | None = None) -> list[Problem]:
    """Every problem of an event (``check_event``'s usual case found one), each as (field, reason)."""
    if not isinstance(raw, dict):
        return [(None, "not an object")]
    problems: list[Problem] = [(k.replace(NUL, "\\u0000"), "unknown field") for k in raw if k not in FIELDS]
    problems += [(k, "missing required field") for k in REQUIRED if raw.get(k) is None]
    for key, limit in TEXT_LIMITS.items():
        value = raw.get(key)
        if value is not None and (not isinstance(value, str) or not 0 < len(value) <= limit):
            problems.append((key, f"text of 1 to {limit} characters"))
        elif isinstance(value, str) and NUL in value:
            problems.append((key, NO_NUL))
    if raw.get("time") is not None:
        moment = parse_time(raw.get("time"))
        if moment is None:
            problems.append(("time", "an ISO 8601 date-time with its time zone"))
        elif not EARLIEST <= moment <= (latest or latest_time()):
            problems.append(("time", TIME_RANGE))
    values = raw.get("values")
    if values is not None and not isinstance(values, dict):
        problems.append(("values", "an object of named values"))
    elif values is not None:
        problems += value_problems(values)
    location = raw.get("location")
    if location is not None:
        problems += _location(location)
    return problems


def event_problems(event: IncomingEvent, latest: datetime | None = None) -> list[Problem]:
    """What no reading can be, for an event made by a connector rather than sent as JSON: text with a NUL, a time
    out of range, a value NaN, infinite or outside its kind's range."""
    texts = f"{event.source}{event.type}{event.sector}{event.entity}{event.unit}{event.idempotency_key}"
    problems: list[Problem] = []
    if NUL in texts:
        problems += [(k, NO_NUL) for k in TEXT_LIMITS if NUL in (getattr(event, k) or "")]
    if event.time.tzinfo is None:
        problems.append(("time", "a date-time with its time zone"))
    elif not EARLIEST <= event.time <= (latest or latest_time()):
        problems.append(("time", TIME_RANGE))
    if not _plain_values(event.values):
        problems += value_problems(event.values)
    if event.location is not None:
        problems += _location(event.location)
    return problems


def _plain_values(values: dict[str, Any]) -> bool:
    """True in the usual case: every value a finite number within its kind's range, a text without NUL, a boolean
    or null, under a name without NUL. Anything else (nested values included) is looked at by ``value_problems``."""
    limits_of = VALUE_LIMITS.get
    for name, value in values.items():
        kind = type(value)
        if kind is float or kind is int:
            limits = limits_of(name)
            if limits is None:
                if not -math.inf < value < math.inf:  # NaN compares false, as an infinity does here
                    return False
            elif not limits[0] <= value <= limits[1]:  # each bound finite: NaN and infinities fail too
                return False
        elif kind is str:
            if NUL in value:
                return False
        elif value is not None and kind is not bool:
            return False
        if type(name) is not str or NUL in name:
            return False
    return True


def value_problems(values: dict[str, Any]) -> list[Problem]:
    """Every problem of an event's values, each named ``values.<name>`` (deeper for nested values)."""
    problems: list[Problem] = []
    for name, value in values.items():
        field = f"values.{name}".replace(NUL, "\\u0000")
        if isinstance(name, str) and NUL in name:
            problems.append((field, "a name without NUL characters"))
        problems += _value_problems(field, value, VALUE_LIMITS.get(str(name)))
    return problems


def _value_problems(field: str, value: Any, limits: tuple[float, float] | None) -> list[Problem]:
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, float) and not math.isfinite(value):
        return [(field, FINITE)]
    if isinstance(value, int | float):
        return [(field, _range_reason(limits))] if limits and not limits[0] <= value <= limits[1] else []
    if isinstance(value, str):
        return [(field, NO_NUL)] if NUL in value else []
    if isinstance(value, dict):
        out: list[Problem] = []
        for key, inner in value.items():
            name = f"{field}.{key}".replace(NUL, "\\u0000")
            if isinstance(key, str) and NUL in key:
                out.append((name, "a name without NUL characters"))
            out += _value_problems(name, inner, None)
        return out
    if isinstance(value, list | tuple):
        return [p for i, inner in enumerate(value) for p in _value_problems(f"{field}.{i}", inner, None)]
    return []  # another type made by a connector: not a question of range


def _location(location: Any) -> list[Problem]:
    if not isinstance(location, dict) or set(location) - {"lat", "lon"}:
        return [("location", "an object with lat and lon")]
    out: list[Problem] = []
    for key, limit in (("lat", 90), ("lon", 180)):
        value = location.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
                or abs(value) > limit:
            out.append((f"location.{key}", f"a number from -{limit} to {limit}"))
    return out
