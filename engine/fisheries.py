"""Fisheries: each vessel position judged against the VMS/IUU rules (engine/vms.py), findings turned into alerts
that start the fisheries control process, port calls recorded, and the clock's part (lost signals).

Positions come as ``vessel_position`` events: from the VMS provider (entity = the registration number,
``TH-93388-TS``) or from AIS (entity ``MMSI:574001234``, matched to the registry by its MMSI). The sea zones,
the permitted outer boundary, the ports and the land are the GeoJSON file ``rules/geo/thanh_hoa_sea_zones.geojson``
(replace it with the official lines: it is read again when it changes).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import alerts, audit, bus, entities, vms
from engine.alerts import Firing
from engine.config import settings
from engine.db import utcnow
from engine.events import IncomingEvent, ingest_events
from engine.models import Alert, Entity, Event

ZONES_FILE = "geo/thanh_hoa_sea_zones.geojson"
ALERTING = {"LOST_SIGNAL_OVER_6H", "LOST_SIGNAL_10D", "BOUNDARY_CROSSED", "ZONE_CLASS_VIOLATION",
            "BELOW_12_FIXES_PER_DAY", "POSITION_ON_LAND"}
DATA_QUALITY = {"POSITION_ON_LAND"}  # shown to the operator as an alert, but no control process for it
RESOLVED_BY_A_GOOD_FIX = ("LATE_REPORT", "LOST_SIGNAL_OVER_6H", "LOST_SIGNAL_10D", "BOUNDARY_CROSSED",
                          "ZONE_CLASS_VIOLATION", "POSITION_ON_LAND")
HISTORY = timedelta(days=2)
PROCESS = "fisheries_control"


def zones_path() -> Path:
    return settings().rules_dir / ZONES_FILE


@lru_cache(maxsize=4)
def _sea(path: str, mtime: float) -> vms.SeaMap:
    return vms.sea_map(json.loads(Path(path).read_text(encoding="utf-8")))


def sea() -> vms.SeaMap:
    path = zones_path()
    return _sea(str(path), path.stat().st_mtime)


def vessel_for(session: Session, code: str) -> Entity:
    """The registry's vessel for an event's entity (a registration number, or ``MMSI:…`` matched by MMSI);
    a vessel no registry knows is kept as unregistered."""
    if code.startswith("MMSI:"):
        found = entities.find_by_attribute(session, "vessel", "mmsi", code[5:])
        if found is not None:
            return found
    return entities.get(session, "vessel", code, create=True)


def facts(row: Entity) -> vms.Vessel:
    a = row.attributes or {}
    try:
        length = float(a.get("length_m") or a.get("length") or 0)
    except (TypeError, ValueError):
        length = 0.0
    return vms.Vessel(registration=row.code, mmsi=str(a["mmsi"]) if a.get("mmsi") else None, length_m=length,
                      kind=str(a.get("kind") or "fishing"), home_province=str(a.get("home_province") or "38"),
                      licensed_zone=a.get("licensed_zone") or None)


def fixes(session: Session, codes: list[str], now: datetime) -> list[vms.Fix]:
    out = []
    for moment, values in session.execute(
            select(Event.time, Event.values).where(Event.type == "vessel_position", Event.entity.in_(codes),
                                                   Event.time > now - HISTORY, Event.time <= now)
            .order_by(Event.time)):
        lat, lon = (values or {}).get("lat"), (values or {}).get("lon")
        if isinstance(lat, int | float) and isinstance(lon, int | float):
            out.append(vms.Fix(time=moment, lat=float(lat), lon=float(lon),
                               speed_kn=(values or {}).get("sog_kn") or (values or {}).get("speed_kn")))
    return out


def judge(session: Session, row: Entity, now: datetime, *, new_fix: bool) -> list[vms.Finding]:
    """Evaluate one vessel now; open alerts for its findings and resolve those a good fix has cleared."""
    codes = [row.code] + ([f"MMSI:{row.attributes['mmsi']}"] if (row.attributes or {}).get("mmsi") else [])
    track = fixes(session, codes, now)
    m = sea()
    latest = dict(row.latest or {})
    port_calls = vms.port_events(track[-2:], m.ports) if new_fix else []
    for call in port_calls:
        latest["at_sea"] = call.kind == "departure"
        _port_call(session, row, call)
    out_there = bool(track) and vms.zone_of((track[-1].lon, track[-1].lat), m.zones) is not None
    at_sea = bool(latest.get("at_sea", out_there))
    latest["at_sea"] = at_sea
    row.latest = latest
    boundary = m.boundary or [{"type": "Polygon", "coordinates": [[[-180, -90], [180, -90], [180, 90], [-180, 90],
                                                                   [-180, -90]]]}]
    found = vms.evaluate(facts(row), track, at_sea, now, m.zones, boundary, ports=m.ports, land=m.land or None)
    codes_now = {f.code for f in found}
    for finding in found:
        if finding.code in ALERTING:
            _alert(session, row, finding, now)
    if new_fix:
        for code in RESOLVED_BY_A_GOOD_FIX:
            if code not in codes_now:
                open_alert = session.scalar(select(Alert).where(Alert.open_key == f"vms-{code}:{row.code}"))
                if open_alert is not None:
                    alerts.resolve_alert(session, open_alert, "fisheries", reason=f"{code} no longer holds")
    return found


def _alert(session: Session, row: Entity, finding: vms.Finding, now: datetime) -> None:
    firing = Firing(rule_id=f"vms:{finding.code}", dedupe_key=f"vms-{finding.code}:{row.code}",
                    title=finding.message_vi[:300], severity=finding.severity, sector="fisheries", entity=row.code,
                    unit_code=None, value=None, time=now,
                    scenario={"process": PROCESS, "variables": {"vessel": row.code, "finding": finding.code}},
                    details={"finding": finding.code, "message_en": finding.message_en,
                             **{k: str(v) for k, v in finding.details.items()}})
    alert, new = alerts.open_alert(session, firing, actor="fisheries")
    if new and finding.code not in DATA_QUALITY:
        from engine import jobs

        jobs.start_scenario(session, alert, firing.scenario)


def _port_call(session: Session, row: Entity, call: vms.PortEvent) -> None:
    audit.record(session, "fisheries", f"vessel.port_{call.kind}", "entity", row.code, port=call.port,
                 time=call.time.isoformat())
    bus.publish(session, "vessel.port", vessel=row.code, port=call.port, port_event=call.kind)
    ingest_events(session, [IncomingEvent(source="ioc-fisheries", type="vessel_port", sector="fisheries",
                                          time=call.time, values={"event": call.kind, "port": call.port},
                                          entity=row.code, idempotency_key=f"{row.code}@{call.kind}@{call.time}")],
                  "ioc-fisheries")


def on_position(session: Session, event: Event) -> list[vms.Finding]:
    if not event.entity:
        return []
    return judge(session, vessel_for(session, event.entity), event.time, new_fix=True)


def tick(session: Session, now: datetime | None = None) -> int:
    """The clock's part: vessels at sea whose last fix is getting old (lost signal, 10 days)."""
    now = now or utcnow()
    count = 0
    for row in session.scalars(select(Entity).where(Entity.kind == "vessel",
                                                    Entity.last_seen < now - timedelta(hours=2))):
        if (row.latest or {}).get("at_sea"):
            count += len([f for f in judge(session, row, now, new_fix=False) if f.code in ALERTING])
    return count


def recent_port_calls(session: Session, since: datetime) -> list[dict[str, Any]]:
    return [{"vessel": entity, "time": moment, **(values or {})} for entity, moment, values in session.execute(
        select(Event.entity, Event.time, Event.values).where(Event.type == "vessel_port", Event.time >= since)
        .order_by(Event.time.desc()).limit(200))]
