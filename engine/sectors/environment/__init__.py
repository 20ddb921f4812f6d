"""Environmental monitoring (sector 6): air and water stations, VN_AQI and VN_WQI, the station files of Circular
10/2021. Its computations live in ``engine.environment``, ``engine.aqi`` and ``engine.wqi`` for now."""

from __future__ import annotations

from engine import environment
from engine.errors import N_
from engine.sectors import EventKind, Page, Periodic, Sector, register

SECTOR = register(Sector(
    code="environment", name_vi="Môi trường", name_en="Environment",
    events=(EventKind("air_quality", "station", handle=environment.on_air_quality, preload=environment.preload),
            EventKind("water_quality", "station"), EventKind("water_level", "station")),
    entity_kinds=("station",),
    rules_files=("environment.yaml",),
    processes=("environment_incident",),
    web_module="web.environment_pages",
    pages=(Page("environment_pages.monitor", N_("Environment")),),
    periodic=(Periodic("air stations' hours that no reading closed", environment.close_due_hours, 0.0),),
))
