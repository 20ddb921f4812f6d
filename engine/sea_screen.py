"""A quick, conservative look at many positions at once: which of them certainly need no VMS/IUU judgement.

The exact rules (``engine.vms``) test one point at a time against the sea map. A busy AIS feed brings tens of
thousands of positions a second, almost all of vessels going about their business in their own zone. The screen
tests a whole batch at once (shapely's vectorised predicates) against the map's layers widened (ports, land, the
zones a vessel may not use) or narrowed (the permitted boundary) by ``MARGIN``, so that a point on or near an edge is
never called clean: only the positions the screen clears skip the exact judgement, and the exact judgement decides
everything else.

An invalid area in the map (a polygon that crosses itself: ``ioc rules check`` refuses it, but the file may be
replaced on a running system) would make shapely's union fail for every batch: the screen then clears nothing, and
every position is judged exactly, one at a time, until the file is repaired.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.errors import GEOSException
from shapely.geometry import shape

from engine.vms import ZONES, SeaMap

log = logging.getLogger(__name__)
MARGIN = 1e-5  # degrees (about a metre): nearer an edge than this, a point is judged exactly


def _area(areas: Sequence[Mapping[str, Any]], grow: float) -> Any:
    if not areas:
        return None
    shapes = [shape(a) for a in areas]
    if not all(s.is_valid for s in shapes):
        raise ValueError("the sea map has an invalid area (run ioc rules check)")
    geometry = shapely.union_all(shapes).buffer(grow)
    shapely.prepare(geometry)
    return geometry


@dataclass(frozen=True)
class Screen:
    ports: Any  # every port, widened (None: no port)
    land: Any  # widened
    boundary: Any  # narrowed (None: no boundary, the whole sea is permitted)
    zones: dict[str, Any]  # each zone, widened
    sea: Any  # all the zones together, narrowed (None: no zone)
    clears_nothing: bool = False  # the map could not be screened: every position is judged exactly

    @classmethod
    def of(cls, sea: SeaMap) -> Screen:
        try:
            return cls(ports=_area([a for areas in sea.ports.values() for a in areas], MARGIN),
                       land=_area(sea.land, MARGIN), boundary=_area(sea.boundary, -MARGIN),
                       zones={z: _area(sea.zones[z], MARGIN) for z in ZONES if sea.zones.get(z)},
                       sea=_area([a for z in ZONES for a in sea.zones.get(z, [])], -MARGIN))
        except (ValueError, GEOSException) as exc:
            log.error("sea map: %s; every position is judged exactly until it is repaired", exc)
            return cls(ports=None, land=None, boundary=None, zones={}, sea=None, clears_nothing=True)

    def look(self, lon: Sequence[float], lat: Sequence[float]) -> Look:
        x, y = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
        none = np.zeros(len(x), dtype=bool)
        if self.clears_nothing:  # near everything, within nothing: nothing is cleared, nothing is taken as known
            return Look(near_port=~none, near_land=~none, within_boundary=none,
                        near_zone={z: ~none for z in ZONES}, within_sea=none)

        def hits(area: Any) -> NDArray[np.bool_]:
            return none if area is None else shapely.intersects_xy(area, x, y)

        return Look(near_port=hits(self.ports), near_land=hits(self.land),
                    within_boundary=~none if self.boundary is None else hits(self.boundary),
                    near_zone={z: hits(area) for z, area in self.zones.items()}, within_sea=hits(self.sea))


@dataclass(frozen=True)
class Look:
    near_port: NDArray[np.bool_]
    near_land: NDArray[np.bool_]
    within_boundary: NDArray[np.bool_]
    near_zone: dict[str, NDArray[np.bool_]]
    within_sea: NDArray[np.bool_]  # well inside one zone or another

    def in_a_zone(self, i: int) -> bool | None:
        """Whether point ``i`` lies in some zone (``vms.zone_of`` is not None): None when too near an edge to say."""
        if self.within_sea[i]:
            return True
        if not any(near[i] for near in self.near_zone.values()):
            return False
        return None

    def clear(self, allowed: set[str] | frozenset[str]) -> NDArray[np.bool_]:
        """Positions that certainly raise no position finding for a vessel allowed in ``allowed``: away from ports
        and land, well inside the boundary, and away from every zone it may not use."""
        ok = ~self.near_port & ~self.near_land & self.within_boundary
        for zone, near in self.near_zone.items():
            if zone not in allowed:
                ok &= ~near
        return ok
