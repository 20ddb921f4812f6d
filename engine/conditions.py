"""Condition checks for the alert rule kinds: pure functions from observed values to "breached or not".

Times are timezone-aware UTC datetimes, except ``in_scope``'s ``local_time``, which the caller has already
converted to the operating zone (Asia/Ho_Chi_Minh). Points are ``(lon, lat)``, as GeoJSON writes them.
Bad configuration (an unknown operator, mode, scope key or geometry type) raises ``ValueError``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

Limit = float | tuple[float, float]
Point = tuple[float, float]
RANGE_OPS = ("between", "outside")
OPS = (">", ">=", "<", "<=", *RANGE_OPS)
SCOPE_KEYS = frozenset({"units", "entities", "entity_group", "hours", "weekdays"})
_EDGE_EPS = 1e-12  # tolerance (degrees²) for "exactly on an edge"
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class Sample:
    """One observed value at one time; ``point`` is where it was observed, ``(lon, lat)``."""

    time: datetime
    value: float | None
    point: Point | None = None


def compare(op: str, x: float, limit: Limit) -> bool:
    """``x`` against ``limit``: ``>``, ``>=``, ``<``, ``<=``, or ``between`` / ``outside`` [low, high] (ends in)."""
    if op in ("between", "outside"):
        assert isinstance(limit, tuple)
        low, high = limit
        inside = low <= x <= high
        return inside if op == "between" else not inside
    assert not isinstance(limit, tuple)
    return {">": x > limit, ">=": x >= limit, "<": x < limit, "<=": x <= limit}[op]


def threshold(op: str, x: float, limit: Limit) -> bool:
    """``x op limit``; ``between`` and ``outside`` take ``(low, high)`` and include both ends in the range."""
    if op not in OPS:
        raise ValueError(f"unknown operator {op!r}")
    if (op in RANGE_OPS) != isinstance(limit, tuple):
        raise ValueError(f"operator {op!r} needs " + ("(low, high)" if op in RANGE_OPS else "one number"))
    return compare(op, x, limit)


def rate_of_change(
    samples: Sequence[Sample], window_s: float, op: str, limit: Limit, percent: bool = False
) -> tuple[float | None, bool]:
    """The change from the oldest to the newest sample of the window ``[newest - window_s, newest]``.

    Samples without a value are ignored; order does not matter. The change is ``new - old``, or in percent
    mode ``(new - old) / |old| * 100`` (so a rise is positive even from a negative base). Returns
    ``(change, breached)``; the change is None, and nothing is breached, when the window holds fewer than
    two distinct times, or when the base is 0 in percent mode.
    """
    known = sorted(((s.time, s.value) for s in samples if s.value is not None), key=lambda p: p[0])
    if not known:
        return None, False
    newest_time, newest = known[-1]
    start = newest_time - timedelta(seconds=window_s)
    oldest_time, oldest = next(p for p in known if p[0] >= start)
    if oldest_time == newest_time or (percent and oldest == 0):
        return None, False
    change = (newest - oldest) / abs(oldest) * 100 if percent else newest - oldest
    return change, threshold(op, change, limit)


def absent(last_seen: datetime | None, now: datetime, minutes: float) -> bool:
    """True when nothing was ever seen, or the last sighting is more than ``minutes`` old."""
    return last_seen is None or now - last_seen > timedelta(minutes=minutes)


def _on_segment(p: Point, a: Sequence[float], b: Sequence[float]) -> bool:
    (px, py), (ax, ay), (bx, by) = p, a[:2], b[:2]
    cross = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
    return abs(cross) <= _EDGE_EPS and min(ax, bx) <= px <= max(ax, bx) and min(ay, by) <= py <= max(ay, by)


def _ring_position(p: Point, ring: Sequence[Sequence[float]]) -> int:
    """1 strictly inside the ring, 0 on its boundary, -1 outside (ray casting towards +lon)."""
    px, py = p
    odd = False
    for a, b in zip(ring, [*ring[1:], *ring[:1]], strict=True):
        if _on_segment(p, a, b):
            return 0
        (ax, ay), (bx, by) = a[:2], b[:2]
        if (ay > py) != (by > py) and px < ax + (py - ay) * (bx - ax) / (by - ay):
            odd = not odd
    return 1 if odd else -1


def _in_polygon(p: Point, rings: Sequence[Sequence[Sequence[float]]]) -> bool:
    """Inside the outer ring (or on it) and not strictly inside a hole; a hole's edge belongs to the polygon."""
    if not rings or _ring_position(p, rings[0]) < 0:
        return False
    return all(_ring_position(p, hole) <= 0 for hole in rings[1:])


def inside(point: Point, geometry: Mapping[str, Any]) -> bool:
    """Whether ``(lon, lat)`` lies in a GeoJSON Polygon or MultiPolygon; points on an edge count as inside."""
    kind, coords = geometry.get("type"), geometry.get("coordinates") or []
    if kind == "Polygon":
        return _in_polygon(point, coords)
    if kind == "MultiPolygon":
        return any(_in_polygon(point, polygon) for polygon in coords)
    raise ValueError(f"a geofence needs a Polygon or MultiPolygon, not {kind!r}")


def load_geometries(feature_collection_or_geometry: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The areas in a GeoJSON FeatureCollection, Feature, GeometryCollection, Polygon or MultiPolygon.

    Features without a geometry are skipped; any other geometry (a Point, a LineString) raises ``ValueError``.
    """
    obj = feature_collection_or_geometry
    kind = obj.get("type")
    if kind == "FeatureCollection":
        return [g for feature in obj.get("features") or [] for g in load_geometries(feature)]
    if kind == "Feature":
        geometry = obj.get("geometry")
        return [] if geometry is None else load_geometries(geometry)
    if kind == "GeometryCollection":
        return [g for part in obj.get("geometries") or [] for g in load_geometries(part)]
    if kind in ("Polygon", "MultiPolygon"):
        return [dict(obj)]
    raise ValueError(f"a geofence needs areas, not {kind!r}")


def geofence(previous_inside: bool | None, now_inside: bool, mode: str) -> bool:
    """Whether a geofence rule breaks.

    ``enter``: outside before, inside now; ``exit``: inside before, outside now (an unknown previous position,
    None, is never a transition); ``inside`` / ``outside``: where the point is now.
    """
    if mode == "enter":
        return previous_inside is False and now_inside
    if mode == "exit":
        return previous_inside is True and not now_inside
    if mode == "inside":
        return now_inside
    if mode == "outside":
        return not now_inside
    raise ValueError(f"unknown geofence mode {mode!r}")


def count_in_window(times: Sequence[datetime], now: datetime, minutes: float, n: int) -> tuple[int, bool]:
    """How many ``times`` fall in ``[now - minutes, now]`` (both ends included), and whether that is ``n`` or more."""
    start = now - timedelta(minutes=minutes)
    count = sum(1 for t in times if start <= t <= now)
    return count, count >= n


def composite(mode: str, children: Sequence[bool]) -> bool:
    """``all``: every child breached; ``any``: at least one. No children never breaches."""
    if mode == "all":
        return bool(children) and all(children)
    if mode == "any":
        return any(children)
    raise ValueError(f"unknown composite mode {mode!r}")


def _minute_of_day(hours: str, minutes: str, text: str) -> int:
    h, m = int(hours), int(minutes)
    if m > 59 or h > 24 or (h == 24 and m):
        raise ValueError(f"bad hours {text!r}")
    return h * 60 + m


def within_hours(window: str, t: time) -> bool:
    """Whether ``t`` falls in ``"HH:MM-HH:MM"``: start included, end excluded.

    A start later than the end wraps past midnight (``22:00-05:00`` holds 23:30 and 04:59, not 05:00);
    equal ends mean the whole day; ``24:00`` may close a window.
    """
    m = _HOURS.match(window)
    if m is None:
        raise ValueError(f"hours must look like 22:00-05:00, not {window!r}")
    start, end = _minute_of_day(m[1], m[2], window), _minute_of_day(m[3], m[4], window)
    now = t.hour * 60 + t.minute  # whole-minute ends make seconds irrelevant
    if start == end:
        return True
    return start <= now < end if start < end else now >= start or now < end


def in_scope(
    scope: Mapping[str, Any],
    unit_code: str | None,
    entity: str | None,
    entity_groups: Mapping[str, set[str]],
    local_time: datetime,
) -> bool:
    """Whether a rule's scope covers this unit, entity and local time; every key present must match.

    Keys: ``units`` (unit codes), ``entities`` (entity ids), ``entity_group`` (a name in ``entity_groups``;
    an unknown group holds nobody), ``hours`` (see ``within_hours``), ``weekdays`` (ISO, Monday = 1).
    A missing, null or empty key filters nothing, so an empty scope covers everything.
    """
    unknown = set(scope) - SCOPE_KEYS
    if unknown:
        raise ValueError(f"unknown scope keys: {', '.join(sorted(unknown))}")
    if scope.get("units") and unit_code not in scope["units"]:
        return False
    if scope.get("entities") and entity not in scope["entities"]:
        return False
    if scope.get("entity_group") and entity not in entity_groups.get(scope["entity_group"], set()):
        return False
    if scope.get("hours") and not within_hours(scope["hours"], local_time.time()):
        return False
    return not scope.get("weekdays") or local_time.isoweekday() in scope["weekdays"]
