"""Tables of cases for the rule-kind conditions: thresholds, rates, absence, geofences, counts, composites, scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.conditions import (
    Sample,
    absent,
    composite,
    count_in_window,
    geofence,
    in_scope,
    inside,
    load_geometries,
    rate_of_change,
    threshold,
)

pytestmark = pytest.mark.no_database  # pure: no database, no Redis (runs once, in the SQLite pass)

T0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.mark.parametrize("op, x, limit, expected", [
    (">", 150.1, 150, True),
    (">", 150, 150, False),
    (">=", 150, 150, True),
    ("<", 4.9, 5, True),
    ("<", 5, 5, False),
    ("<=", 5, 5, True),
    ("between", 10, (10, 20), True),  # both ends belong to the range
    ("between", 20, (10, 20), True),
    ("between", 20.01, (10, 20), False),
    ("outside", 9.99, (10, 20), True),
    ("outside", 10, (10, 20), False),
])
def test_threshold(op: str, x: float, limit: float | tuple[float, float], expected: bool) -> None:
    assert threshold(op, x, limit) is expected


@pytest.mark.parametrize("op, limit", [("!=", 1.0), ("between", 1.0), (">", (1.0, 2.0))])
def test_threshold_refuses_bad_operators(op: str, limit: float | tuple[float, float]) -> None:
    with pytest.raises(ValueError):
        threshold(op, 1.0, limit)


def s(minutes: float, value: float | None) -> Sample:
    return Sample(at(minutes), value)


@pytest.mark.parametrize("samples, window_s, op, limit, percent, expected", [
    ([s(0, 10), s(5, 25)], 600, ">", 10, False, (15, True)),
    ([s(0, 10), s(5, 15)], 600, ">", 10, False, (5, False)),
    ([s(5, 25), s(0, 10)], 600, ">", 10, False, (15, True)),  # order does not matter
    ([s(0, 100), s(5, 10), s(10, 25)], 300, ">", 10, False, (15, True)),  # 0 is outside the 5-minute window
    ([s(0, 100), s(5, 10), s(10, 25)], 600, "<", -50, False, (-75, True)),  # window start is included
    ([s(0, 100), s(4, 10), s(10, 25)], 360, ">", 0, False, (15, True)),
    ([s(0, 10), s(3, None), s(5, 25)], 600, ">", 10, False, (15, True)),  # missing values are skipped
    ([s(0, 50), s(5, 75)], 600, ">=", 50, True, (50, True)),
    ([s(0, 50), s(5, 25)], 600, "<=", -50, True, (-50, True)),
    ([s(0, -10), s(5, -5)], 600, ">", 0, True, (50, True)),  # percent of |base|: a rise stays positive
    ([s(0, 0), s(5, 25)], 600, ">", 10, True, (None, False)),  # zero base in percent mode
    ([s(0, 0), s(5, 25)], 600, ">", 10, False, (25, True)),  # zero base is fine in absolute mode
    ([s(5, 25)], 600, ">", 0, False, (None, False)),
    ([s(0, 10), s(5, None)], 600, ">", 0, False, (None, False)),
    ([s(0, 10), s(10, 25)], 300, ">", 0, False, (None, False)),  # only the newest is in the window
    ([], 600, ">", 0, False, (None, False)),
    ([s(0, 10), s(5, 25)], 600, "outside", (-10, 10), False, (15, True)),
])
def test_rate_of_change(samples: list[Sample], window_s: float, op: str, limit: float | tuple[float, float],
                        percent: bool, expected: tuple[float | None, bool]) -> None:
    change, breached = rate_of_change(samples, window_s, op, limit, percent)
    assert (change if change is None else pytest.approx(change), breached) == expected


@pytest.mark.parametrize("last_seen, now, minutes, expected", [
    (None, at(0), 10, True),
    (at(0), at(9), 10, False),
    (at(0), at(10), 10, False),  # exactly the limit is not yet absent
    (at(0), at(10.01), 10, True),
])
def test_absent(last_seen: datetime | None, now: datetime, minutes: float, expected: bool) -> None:
    assert absent(last_seen, now, minutes) is expected


SQUARE_WITH_HOLE = {"type": "Polygon", "coordinates": [
    [[106.0, 10.0], [107.0, 10.0], [107.0, 11.0], [106.0, 11.0], [106.0, 10.0]],
    [[106.4, 10.4], [106.6, 10.4], [106.6, 10.6], [106.4, 10.6], [106.4, 10.4]],
]}
TWO_ISLANDS = {"type": "MultiPolygon", "coordinates": [
    [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]],
    [[[2, 0], [3, 0], [3, 1], [2, 1], [2, 0]]],
]}
# a "U" open at the top: the notch between x=1 and x=2 above y=1 is outside
U_SHAPE = {"type": "Polygon", "coordinates": [[[0, 0], [3, 0], [3, 3], [2, 3], [2, 1], [1, 1], [1, 3], [0, 3]]]}
TRIANGLE = {"type": "Polygon", "coordinates": [[[0, 0], [4, 0], [0, 4], [0, 0]]]}


@pytest.mark.parametrize("point, geometry, expected", [
    ((106.2, 10.2), SQUARE_WITH_HOLE, True),
    ((106.5, 10.5), SQUARE_WITH_HOLE, False),  # in the hole
    ((106.4, 10.5), SQUARE_WITH_HOLE, True),  # on the hole's edge
    ((106.4, 10.4), SQUARE_WITH_HOLE, True),  # on the hole's corner
    ((107.0, 10.5), SQUARE_WITH_HOLE, True),  # on the outer edge
    ((106.0, 10.0), SQUARE_WITH_HOLE, True),  # on the outer corner
    ((107.01, 10.5), SQUARE_WITH_HOLE, False),
    ((105.0, 10.5), SQUARE_WITH_HOLE, False),  # left of it, on a line through both rings
    ((0.5, 0.5), TWO_ISLANDS, True),
    ((2.5, 0.5), TWO_ISLANDS, True),
    ((1.5, 0.5), TWO_ISLANDS, False),  # between the islands
    ((3, 1), TWO_ISLANDS, True),
    ((1.5, 2), U_SHAPE, False),  # in the notch
    ((0.5, 2), U_SHAPE, True),
    ((2.5, 2), U_SHAPE, True),
    ((1.5, 1), U_SHAPE, True),  # on the notch's floor (a ring without its closing point)
    ((1.5, 0.5), U_SHAPE, True),
    ((2, 2), TRIANGLE, True),  # on the slanted edge
    ((2.01, 2.01), TRIANGLE, False),
    ((1.99, 1.99), TRIANGLE, True),
    ((0.5, 0.5), {"type": "Polygon", "coordinates": []}, False),
    ((0.5, 0.5), {"type": "MultiPolygon", "coordinates": []}, False),
])
def test_inside(point: tuple[float, float], geometry: dict[str, Any], expected: bool) -> None:
    assert inside(point, geometry) is expected


def test_inside_refuses_non_areas() -> None:
    with pytest.raises(ValueError):
        inside((0, 0), {"type": "Point", "coordinates": [0, 0]})


def feature(geometry: dict[str, Any] | None) -> dict[str, Any]:
    return {"type": "Feature", "properties": {}, "geometry": geometry}


@pytest.mark.parametrize("data, expected", [
    (SQUARE_WITH_HOLE, [SQUARE_WITH_HOLE]),
    (feature(TWO_ISLANDS), [TWO_ISLANDS]),
    (feature(None), []),
    ({"type": "FeatureCollection", "features": [feature(SQUARE_WITH_HOLE), feature(None), feature(TWO_ISLANDS)]},
     [SQUARE_WITH_HOLE, TWO_ISLANDS]),
    ({"type": "FeatureCollection", "features": []}, []),
    ({"type": "GeometryCollection", "geometries": [TRIANGLE, U_SHAPE]}, [TRIANGLE, U_SHAPE]),
])
def test_load_geometries(data: dict[str, Any], expected: list[dict[str, Any]]) -> None:
    assert load_geometries(data) == expected


@pytest.mark.parametrize("data", [
    {"type": "Point", "coordinates": [0, 0]},
    {"type": "FeatureCollection", "features": [feature({"type": "LineString", "coordinates": [[0, 0], [1, 1]]})]},
    {"coordinates": []},
])
def test_load_geometries_refuses_non_areas(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        load_geometries(data)


@pytest.mark.parametrize("previous, now, mode, expected", [
    (False, True, "enter", True),
    (True, True, "enter", False),
    (None, True, "enter", False),  # first sighting is not an entry
    (False, False, "enter", False),
    (True, False, "exit", True),
    (False, False, "exit", False),
    (None, False, "exit", False),
    (True, True, "exit", False),
    (None, True, "inside", True),
    (True, False, "inside", False),
    (None, False, "outside", True),
    (False, True, "outside", False),
])
def test_geofence(previous: bool | None, now: bool, mode: str, expected: bool) -> None:
    assert geofence(previous, now, mode) is expected


def test_geofence_refuses_unknown_modes() -> None:
    with pytest.raises(ValueError):
        geofence(False, True, "cross")


@pytest.mark.parametrize("times, minutes, n, expected", [
    ([at(-1), at(-2), at(-3)], 5, 3, (3, True)),
    ([at(-1), at(-2), at(-3)], 5, 4, (3, False)),
    ([at(-5), at(0)], 5, 2, (2, True)),  # both ends of the window count
    ([at(-5.01), at(0)], 5, 2, (1, False)),
    ([at(0.5), at(-1)], 5, 2, (1, False)),  # the future does not count
    ([], 5, 1, (0, False)),
    ([], 5, 0, (0, True)),
])
def test_count_in_window(times: list[datetime], minutes: float, n: int, expected: tuple[int, bool]) -> None:
    assert count_in_window(times, at(0), minutes, n) == expected


@pytest.mark.parametrize("mode, children, expected", [
    ("all", [True, True], True),
    ("all", [True, False], False),
    ("all", [], False),
    ("any", [False, True], True),
    ("any", [False, False], False),
    ("any", [], False),
])
def test_composite(mode: str, children: list[bool], expected: bool) -> None:
    assert composite(mode, children) is expected


def test_composite_refuses_unknown_modes() -> None:
    with pytest.raises(ValueError):
        composite("most", [True])


GROUPS = {"pumps": {"P1", "P2"}}
WED_2300 = datetime(2026, 11, 25, 23, 0)  # a Wednesday (ISO 3), local time


def local(hour: int, minute: int = 0, day: int = 25) -> datetime:
    return datetime(2026, 11, day, hour, minute)


@pytest.mark.parametrize("scope, unit, entity, when, expected", [
    ({}, None, None, WED_2300, True),
    ({"units": ["Q1", "Q3"]}, "Q3", "S1", WED_2300, True),
    ({"units": ["Q1", "Q3"]}, "Q2", "S1", WED_2300, False),
    ({"units": ["Q1"]}, None, "S1", WED_2300, False),  # no unit is not in a list of units
    ({"units": []}, "Q2", "S1", WED_2300, True),  # an empty list filters nothing
    ({"entities": ["S1"]}, "Q1", "S1", WED_2300, True),
    ({"entities": ["S1"]}, "Q1", "S2", WED_2300, False),
    ({"entity_group": "pumps"}, None, "P2", WED_2300, True),
    ({"entity_group": "pumps"}, None, "S1", WED_2300, False),
    ({"entity_group": "valves"}, None, "P2", WED_2300, False),  # an unknown group holds nobody
    ({"hours": "22:00-05:00"}, None, None, local(22), True),  # start included
    ({"hours": "22:00-05:00"}, None, None, local(23, 30), True),
    ({"hours": "22:00-05:00"}, None, None, local(0), True),
    ({"hours": "22:00-05:00"}, None, None, local(4, 59), True),
    ({"hours": "22:00-05:00"}, None, None, local(5), False),  # end excluded
    ({"hours": "22:00-05:00"}, None, None, local(21, 59), False),
    ({"hours": "22:00-05:00"}, None, None, local(12), False),
    ({"hours": "08:00-17:30"}, None, None, local(8), True),
    ({"hours": "08:00-17:30"}, None, None, local(17, 29), True),
    ({"hours": "08:00-17:30"}, None, None, local(17, 30), False),
    ({"hours": "08:00-17:30"}, None, None, local(7, 59), False),
    ({"hours": "20:00-24:00"}, None, None, local(23, 59), True),
    ({"hours": "00:00-00:00"}, None, None, local(13), True),  # equal ends: the whole day
    ({"weekdays": [6, 7]}, None, None, local(12, day=28), True),  # Saturday
    ({"weekdays": [6, 7]}, None, None, local(12, day=29), True),  # Sunday
    ({"weekdays": [6, 7]}, None, None, local(12, day=30), False),  # Monday
    ({"weekdays": [1, 2, 3, 4, 5], "hours": "22:00-05:00"}, None, None, local(2, day=26), True),  # Thu 02:00
    ({"weekdays": [1, 2, 3, 4, 5], "hours": "22:00-05:00"}, None, None, local(2, day=28), False),  # Sat 02:00
    ({"units": ["Q1"], "entity_group": "pumps", "hours": "22:00-05:00"}, "Q1", "P1", WED_2300, True),
    ({"units": ["Q1"], "entity_group": "pumps", "hours": "22:00-05:00"}, "Q1", "P1", local(12), False),
    ({"units": ["Q1"], "entity_group": "pumps", "hours": "22:00-05:00"}, "Q2", "P1", WED_2300, False),
])
def test_in_scope(scope: dict[str, Any], unit: str | None, entity: str | None, when: datetime,
                  expected: bool) -> None:
    assert in_scope(scope, unit, entity, GROUPS, when) is expected


@pytest.mark.parametrize("scope", [{"unit": ["Q1"]}, {"hours": "10pm-5am"}, {"hours": "22:60-05:00"},
                                   {"hours": "24:30-05:00"}])
def test_in_scope_refuses_bad_scopes(scope: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        in_scope(scope, "Q1", "S1", GROUPS, WED_2300)

