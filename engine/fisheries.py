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
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import alerts, audit, bus, entities, sea_screen, tracks, vms
from engine.alerts import Firing
from engine.bulk import paused_gc
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
    a vessel no registry knows is kept as unregistered. Remembered for the session's transaction."""
    return vessels_for(session, [code])[code]


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
    return fixes_of(session, [codes], now).get(codes[0], [])


def fixes_of(session: Session, vessels: list[list[str]], now: datetime, since: datetime | None = None
             ) -> dict[str, list[vms.Fix]]:
    """Each vessel's fixes (by its first code; a vessel may be known by several: registration and MMSI) from
    ``since`` (default: ``HISTORY`` before ``now``) to ``now``, in time order, in one query."""
    return tracks.read(session, vessels, since or now - HISTORY, now)


def _codes(row: Entity) -> list[str]:
    return [row.code] + ([f"MMSI:{row.attributes['mmsi']}"] if (row.attributes or {}).get("mmsi") else [])


def judge(session: Session, row: Entity, now: datetime, *, new_fix: bool, new_fixes: int = 1,
          track: list[vms.Fix] | None = None, open_alerts: dict[str, Alert] | None = None) -> list[vms.Finding]:
    """Evaluate one vessel now; open alerts for its findings and resolve those a good fix has cleared.

    ``new_fixes``: how many of its fixes up to ``now`` are new (a batch of positions judged at once): each of
    them is judged for where it lies (a zone entered and left within the batch still counts), the signal rules
    and the resolution once, at the last."""
    if track is None:
        track = fixes(session, _codes(row), now)
    m = sea()
    latest = dict(row.latest or {})
    fresh = max(1, min(new_fixes, len(track))) if new_fix else 0
    port_calls = [c for i in range(len(track) - fresh, len(track)) if i > 0
                  for c in vms.port_events(track[i - 1:i + 1], m.ports)] if new_fix else []
    for call in port_calls:
        latest["at_sea"] = call.kind == "departure"
        _port_call(session, row, call)
    out_there = bool(track) and vms.zone_of((track[-1].lon, track[-1].lat), m.zones) is not None
    at_sea = bool(latest.get("at_sea", out_there))
    latest["at_sea"] = at_sea
    row.latest = latest
    boundary = m.boundary or [{"type": "Polygon", "coordinates": [[[-180, -90], [180, -90], [180, 90], [-180, 90],
                                                                   [-180, -90]]]}]
    vessel = facts(row)
    found = vms.evaluate(vessel, track, at_sea, now, m.zones, boundary, ports=m.ports, land=m.land or None)
    codes_now = {f.code for f in found}
    earlier_by_code: dict[str, vms.Finding] = {}
    for i in range(len(track) - fresh, len(track) - 1):
        for f in vms.evaluate(vessel, track[:i + 1], False, now, m.zones, boundary, ports=m.ports,
                              land=m.land or None):
            if f.code in ALERTING and f.code not in codes_now:
                earlier_by_code.setdefault(f.code, f)
    earlier = list(earlier_by_code.values())
    for finding in earlier + found:
        if finding.code in ALERTING:
            _alert(session, row, finding, now)
    if new_fix:
        clear = [f"vms-{code}:{row.code}" for code in RESOLVED_BY_A_GOOD_FIX
                 if code not in codes_now and code not in {f.code for f in earlier}]
        still_open = ([open_alerts[k] for k in clear if k in open_alerts] if open_alerts is not None
                      else session.scalars(select(Alert).where(Alert.open_key.in_(clear))))
        for open_alert in still_open:
            alerts.resolve_alert(session, open_alert, "fisheries",
                                 reason=f"{open_alert.rule_id.removeprefix('vms:')} no longer holds")
    return found + earlier


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


def _store_fixes(session: Session, events: list[Event]) -> None:
    tracks.store(session, [f for ev in events if ev.entity and (f := tracks.from_values(
        ev.entity, ev.time, ev.values or {}, ev.source)) is not None])


def on_position(session: Session, event: Event) -> list[vms.Finding]:
    if not event.entity:
        return []
    _store_fixes(session, [event])
    return judge(session, vessel_for(session, event.entity), event.time, new_fix=True)


def on_positions(session: Session, events: list[Event]) -> int:
    """A batch of positions judged per vessel: one read of its recent fixes and one judgement at its latest fix,
    each new fix checked for where it lies. Returns how many vessels were judged."""
    _store_fixes(session, events)
    by_vessel: dict[int, list[Event]] = {}
    rows: dict[int, Entity] = {}
    for ev in events:
        if ev.entity:
            row = vessel_for(session, ev.entity)
            rows[row.id] = row
            by_vessel.setdefault(row.id, []).append(ev)
    return judge_batch(session, rows, {key: [e.time for e in group] for key, group in by_vessel.items()})


def judge_batch(session: Session, vessels: dict[int, Entity], times: dict[int, list[datetime]]) -> int:
    """Judge each vessel (by id) once, at the newest of its new fixes' ``times``, each of them checked for where it
    lies: one read of all their recent fixes, one of their open alerts. Returns how many vessels were judged."""
    if not times:
        return 0
    newest = {key: max(moments) for key, moments in times.items()}
    with session.no_autoflush:
        found = fixes_of(session, [_codes(vessels[k]) for k in times], max(newest.values()),
                         since=min(newest.values()) - HISTORY)
        keys = [f"vms-{code}:{vessels[k].code}" for k in times for code in RESOLVED_BY_A_GOOD_FIX]
        open_alerts = {str(a.open_key): a for a in session.scalars(select(Alert).where(Alert.open_key.in_(keys)))}
    for key, moments in times.items():
        now = newest[key]
        track = [f for f in found[vessels[key].code] if now - HISTORY < f.time <= now]
        judge(session, vessels[key], now, new_fix=True, new_fixes=len(moments), track=track, open_alerts=open_alerts)
    return len(times)


def vessels_for(session: Session, codes: list[str]) -> dict[str, Entity]:
    """``vessel_for`` of many codes at once: the MMSIs matched to the registry in one query, the rest found or
    made (in one statement)."""
    known = session.info.setdefault("fisheries_vessels", {})
    out = {c: known[c] for c in codes if c in known and known[c] in session}
    mmsis = {c[5:]: c for c in codes if c not in out and c.startswith("MMSI:")}
    if mmsis:
        for row in session.scalars(select(Entity).where(Entity.kind == "vessel", Entity.registered.is_(True),
                                                        Entity.attributes["mmsi"].as_string().in_(list(mmsis)))):
            code = mmsis.get(str((row.attributes or {}).get("mmsi")))
            if code is not None and code not in out:
                known[code] = out[code] = row
    rest = [c for c in codes if c not in out]
    for code, row in entities.ensure(session, "vessel", rest).items():
        known[code] = out[code] = row
    return out


class Recorded(NamedTuple):
    stored: int  # new fixes (a vessel's second report of an instant is not one)
    judged: int  # vessels the exact rules judged


def record_reports(session: Session, reports: list[tracks.PositionReport]) -> Recorded:
    """Positions from a stream (AIS), a batch at a time: stored as fixes (not events), the latest state of the
    vessel each report names kept as ``entities.observe`` keeps it, and each vessel judged as ``on_positions``
    would — except the vessels the screen clears (``needs_judging``)."""
    if not reports:
        return Recorded(0, 0)
    with paused_gc():
        return _record_reports(session, reports)


def _record_reports(session: Session, reports: list[tracks.PositionReport]) -> Recorded:
    stored = tracks.store(session, [r.fix for r in reports])
    groups: dict[str, list[tracks.PositionReport]] = {}
    for r in reports:
        groups.setdefault(r.fix.vessel, []).append(r)
    codes = list(groups)
    rows = vessels_for(session, codes)
    # The entity each report names: the judged vessel itself (an unregistered MMSI, a registration number), or,
    # for a registered vessel reporting by AIS, its MMSI's own entity, read and written here without the ORM.
    aliases = entities.latest_states(session, "vessel", [c for c in codes if rows[c].code != c])
    seen_and_latest: dict[str, tuple[datetime | None, dict[str, Any]]] = {
        c: (aliases[c][1], aliases[c][2]) if c in aliases else (rows[c].last_seen, rows[c].latest or {}) for c in codes}
    before = {code: (seen_and_latest[code][0], seen_and_latest[code][1].get("location"),
                     (rows[code].latest or {}).get("location")) for code in codes}
    stamp, changes = utcnow(), []
    for code, group in groups.items():
        group.sort(key=lambda r: r.fix.time)
        last, (seen, latest) = group[-1], seen_and_latest[code]
        if seen is None or last.fix.time >= seen:
            latest = {**latest, "time": last.fix.time.isoformat(), "values": last.values, "type": "vessel_position",
                      "location": {"lat": last.fix.lat, "lon": last.fix.lon}}
            if code in aliases:
                changes.append({"id": aliases[code][0], "latest": latest, "last_seen": last.fix.time})
            else:
                row = rows[code]
                row.latest, row.last_seen, row.updated_at = latest, last.fix.time, stamp
    entities.write_latest(session, changes)
    judged: dict[int, list[datetime]] = {}
    for code in needs_judging(session, groups, rows, before):
        judged.setdefault(rows[code].id, []).extend(r.fix.time for r in groups[code])
    return Recorded(stored, judge_batch(session, {rows[c].id: rows[c] for c in codes}, judged))


def needs_judging(session: Session, groups: dict[str, list[tracks.PositionReport]], rows: dict[str, Entity],
                  before: dict[str, tuple[datetime | None, Any, Any]]) -> list[str]:
    """The codes whose vessel the exact rules must judge. A vessel is cleared only when judging it could change
    nothing: it has no open VMS/IUU alert, every new position is clear by the screen (away from ports and land,
    inside the boundary, in no zone it may not use), and either

    - it is at sea, known before this batch with its last positions clear too (so no port call), its reports are
      not older than its last, and it is not due its daily count (a new local day since its last report, for a
      vessel that must carry VMS); or
    - these are the first positions ever seen of it: then only whether it is at sea is set, as judging would."""
    codes = list(groups)
    flagged = set(session.scalars(select(Alert.entity).where(Alert.open_key.is_not(None), Alert.rule_id.like("vms:%"),
                                                             Alert.entity.in_({rows[c].code for c in codes}))))
    points: list[tuple[float, float]] = []
    spans: dict[str, tuple[int, int]] = {}
    for code in codes:
        start = len(points)
        points += [(r.fix.lon, r.fix.lat) for r in groups[code]]
        points += [(p["lon"], p["lat"]) for p in before[code][1:] if isinstance(p, dict) and "lat" in p]
        spans[code] = (start, len(points))
    look = _screen().look([p[0] for p in points], [p[1] for p in points])
    clear_for: dict[frozenset[str], Any] = {}
    allowed_for: dict[tuple[float, str, str, str | None], frozenset[str]] = {}
    zone, zones = ZoneInfo(settings().timezone), sea().zones
    out = []
    for code in codes:
        row, (seen, *_) = rows[code], before[code]
        facts_now = facts(row)
        kind = (facts_now.length_m, facts_now.kind, facts_now.home_province, facts_now.licensed_zone)
        if kind not in allowed_for:
            allowed_for[kind] = frozenset(vms.allowed_zones(facts_now))
        allowed = allowed_for[kind]
        if allowed not in clear_for:
            clear_for[allowed] = look.clear(allowed)
        start, end = spans[code]
        group = groups[code]
        nothing_before = end - start == len(group)  # no earlier position of this vessel is known
        if row.code in flagged or not clear_for[allowed][start:end].all():
            out.append(code)
        elif nothing_before and seen is None:  # first positions ever seen of this vessel
            last = group[-1].fix
            latest = dict(row.latest or {})
            if "at_sea" not in latest:
                known = look.in_a_zone(start + len(group) - 1)
                latest["at_sea"] = vms.zone_of((last.lon, last.lat), zones) is not None if known is None else known
            row.latest = latest
        elif (row.latest or {}).get("at_sea") is not True or seen is None or group[0].fix.time < seen \
                or nothing_before:
            out.append(code)
        elif facts_now.length_m >= vms.DEFAULTS.vms_required_length_m \
                and seen.astimezone(zone).date() != group[-1].fix.time.astimezone(zone).date():
            out.append(code)
    return out


@lru_cache(maxsize=4)
def _screen_of(path: str, mtime: float) -> sea_screen.Screen:
    return sea_screen.Screen.of(_sea(path, mtime))


def _screen() -> sea_screen.Screen:
    path = zones_path()
    return _screen_of(str(path), path.stat().st_mtime)


def tick(session: Session, now: datetime | None = None) -> int:
    """The clock's part: vessels at sea whose last fix is getting old (lost signal, 10 days)."""
    now = now or utcnow()
    count = 0
    for row in session.scalars(select(Entity).where(Entity.kind == "vessel",
                                                    Entity.last_seen < now - timedelta(hours=2))):
        if (row.latest or {}).get("at_sea"):
            count += len([f for f in judge(session, row, now, new_fix=False) if f.code in ALERTING])
    return count


def fleet(vessels: list[Entity], flagged: set[str]) -> list[dict[str, Any]]:
    """The monitor's vessels, one entry each: a registered vessel's MMSI entity (what its AIS reports updated) is
    folded into its registry row, so that it shows once, as registered, at the newer of the two positions."""
    by_mmsi = {str(v.attributes["mmsi"]): v for v in vessels if v.registered and (v.attributes or {}).get("mmsi")}
    entries: dict[str, dict[str, Any]] = {}
    for v in sorted(vessels, key=lambda v: not v.registered):  # registry rows first
        owner = by_mmsi.get(v.code[5:]) if v.code.startswith("MMSI:") and not v.registered else None
        row = owner or v
        entry = entries.setdefault(row.code, {"code": row.code, "registered": row.registered, "location": None,
                                              "seen": None, "at_sea": bool((row.latest or {}).get("at_sea")),
                                              "flag": row.code in flagged or v.code in flagged})
        entry["flag"] = entry["flag"] or v.code in flagged
        location = (v.latest or {}).get("location")
        if location and (entry["seen"] is None or (v.last_seen is not None and v.last_seen > entry["seen"])):
            entry["location"], entry["seen"] = location, v.last_seen
    return list(entries.values())


def recent_port_calls(session: Session, since: datetime) -> list[dict[str, Any]]:
    return [{"vessel": entity, "time": moment, **(values or {})} for entity, moment, values in session.execute(
        select(Event.entity, Event.time, Event.values).where(Event.type == "vessel_port", Event.time >= since)
        .order_by(Event.time.desc()).limit(200))]
