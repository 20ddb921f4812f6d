"""Fishing vessels (sector 5): AIS/VMS positions, tracks, the IUU checks (Decree 37/2024, the sea zones) and the
vessel register. Its computations live in ``engine.fisheries``, ``engine.vms``, ``engine.tracks`` and
``engine.sea_screen`` for now."""

from __future__ import annotations

from engine import fisheries
from engine.errors import N_
from engine.sectors import EventKind, Page, Periodic, Sector, register

SECTOR = register(Sector(
    code="fisheries", name_vi="Thủy sản", name_en="Fisheries",
    events=(EventKind("vessel_position", "vessel", handle=fisheries.on_position, batch=fisheries.on_positions),
            EventKind("vessel_static", "vessel")),
    entity_kinds=("vessel",),
    rules_files=("geo/thanh_hoa_sea_zones.geojson",),
    processes=("fisheries_control",),
    web_module="web.fisheries_pages",
    pages=(Page("fisheries_pages.monitor", N_("Fisheries")),),
    periodic=(Periodic("vessels' lost signals", fisheries.tick, 60.0),),
))
