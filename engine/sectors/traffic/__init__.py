"""Traffic safety and public order (sector 4): AI cameras, violations and their review, plate watch lists and
tracing. Its computations live in ``engine.traffic`` and ``engine.cameras`` for now."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from engine import traffic
from engine.db import utcnow
from engine.errors import N_
from engine.sectors import EventKind, Page, Periodic, Sector, register


def _purge_evidence(_session: Session) -> Any:
    return traffic.purge_evidence(utcnow())


SECTOR = register(Sector(
    code="traffic", name_vi="Giao thông và trật tự", name_en="Traffic and public order",
    events=(EventKind("traffic_violation", "camera", handle=traffic.on_violation),
            EventKind("plate_sighting", handle=traffic.check_watchlist),
            EventKind("traffic_count", "camera")),
    entity_kinds=("camera",),
    rules_files=("lists/watchlist.yaml",),
    processes=("traffic_violation_review",),
    web_module="web.traffic_pages",
    api_module="web.api.traffic",
    pages=(Page("traffic_pages.monitor", N_("Traffic")),),
    periodic=(Periodic("camera evidence past its keeping time", _purge_evidence, 600.0),),
))
