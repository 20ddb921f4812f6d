"""The screen in front of the VMS/IUU rules is one-sided: it never clears a position the exact rules would flag."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from engine import sea_screen, vms

pytestmark = pytest.mark.no_database  # pure: no database, no Redis (runs once, in the SQLite pass)

SEA = vms.sea_map(json.loads((Path(__file__).resolve().parents[1] / "rules/geo/thanh_hoa_sea_zones.geojson")
                             .read_text(encoding="utf-8")))


def exact_flags(point: tuple[float, float], allowed: set[str]) -> bool:
    """Whether the exact rules say anything about a fix here: a port, land, beyond the boundary, a barred zone."""
    zone = vms.zone_of(point, SEA.zones)
    return bool(vms._port_at(point, SEA.ports) or vms._covers(point, SEA.land)
                or not vms._covers(point, SEA.boundary) or (zone is not None and zone not in allowed))


def points(n: int) -> list[tuple[float, float]]:
    rnd = random.Random(4)
    out = [(rnd.uniform(105.5, 108.2), rnd.uniform(19.0, 20.3)) for _ in range(n)]
    # and points on the map's own vertices and edges' midpoints, where a careless screen would slip
    for layer in (*SEA.zones.values(), *SEA.ports.values(), SEA.land, SEA.boundary):
        for area in layer:
            ring = area["coordinates"][0]
            out += [tuple(p) for p in ring]
            out += [((a[0] + b[0]) / 2, (a[1] + b[1]) / 2) for a, b in zip(ring, ring[1:], strict=False)]
    return out


@pytest.mark.parametrize("allowed", [{"khoi"}, {"long"}, {"ven_bo"}, {"ven_bo", "long"}, set(vms.ZONES), set()])
def test_a_cleared_position_is_one_the_exact_rules_say_nothing_about(allowed: set[str]) -> None:
    pts = points(6000)
    look = sea_screen.Screen.of(SEA).look([p[0] for p in pts], [p[1] for p in pts])
    cleared = look.clear(allowed)
    assert not [p for p, ok in zip(pts, cleared, strict=True) if ok and exact_flags(p, allowed)]
    assert cleared.sum() > len(pts) / 10  # and it does clear most of the open sea


def test_in_a_zone_agrees_with_the_exact_rule_or_says_it_cannot_tell() -> None:
    pts = points(6000)
    look = sea_screen.Screen.of(SEA).look([p[0] for p in pts], [p[1] for p in pts])
    answers = [look.in_a_zone(i) for i in range(len(pts))]
    assert all(a is None or a == (vms.zone_of(p, SEA.zones) is not None) for p, a in zip(pts, answers, strict=True))
    assert answers.count(None) < len(pts) / 10
    edges = [tuple(p) for areas in SEA.zones.values() for area in areas for p in area["coordinates"][0]]
    on_edges = sea_screen.Screen.of(SEA).look([p[0] for p in edges], [p[1] for p in edges])
    said = [on_edges.in_a_zone(i) for i in range(len(edges))]
    assert False not in said  # a zone's own vertex is in the zone (edges count as inside) ...
    assert said.count(None) >= len(edges) / 3  # ... and, on the zones' outer rim, too near the edge to say


def test_a_map_with_an_area_that_crosses_itself_clears_nothing_instead_of_failing() -> None:
    bowtie = {"type": "Polygon", "coordinates": [[[106.0, 19.0], [106.2, 19.2], [106.2, 19.0], [106.0, 19.2],
                                                  [106.0, 19.0]]]}
    bad = vms.SeaMap(SEA.zones, SEA.boundary, SEA.ports, [*SEA.land, bowtie])
    pts = points(200)
    look = sea_screen.Screen.of(bad).look([p[0] for p in pts], [p[1] for p in pts])  # shapely's union raised here
    assert not look.clear(set(vms.ZONES)).any()  # every position goes to the exact rules
    assert {look.in_a_zone(i) for i in range(len(pts))} == {None}
