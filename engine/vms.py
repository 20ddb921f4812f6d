"""Fishing-vessel monitoring (VMS) under the IUU rules: pure findings from one vessel's facts and its last fixes.

The rules are those of domain-reference §4.2–4.3 (Decree 26/2019 + 37/2024; Decree 41/2026 replaced 26/2019 in
January 2026, so every threshold is a ``Settings`` field to re-check, not a constant). Points are ``(lon, lat)``
and times timezone-aware. An *area* is a GeoJSON Polygon/MultiPolygon, or a list of them (``sea_map`` reads a
project sea-zones file such as ``rules/geo/thanh_hoa_sea_zones.geojson`` into areas).

Severities on the IOC's scale (``thap`` < ``trung_binh`` < ``cao`` < ``khan_cap``), see ``SEVERITY``: a §4.3
"warning" is ``trung_binh``, an "alert" ``cao``, "critical" ``khan_cap``; port calls (information) and data
quality findings are ``thap``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from engine.conditions import Point, inside, load_geometries

Geometry = Mapping[str, Any]
Area = Geometry | Sequence[Geometry]
ZONES = ("ven_bo", "long", "khoi")  # nearest the coast first: a shared edge belongs to the nearer band
ZONE_VI = {"ven_bo": "ven bờ", "long": "lộng", "khoi": "khơi"}
ZONE_EN = {"ven_bo": "coastal (ven bờ)", "long": "inshore (lộng)", "khoi": "offshore (khơi)"}
KIND_VI = {"fishing": "tàu khai thác", "logistics": "tàu hậu cần"}

SEVERITY = {
    "LATE_REPORT": "trung_binh",  # warning
    "BELOW_12_FIXES_PER_DAY": "trung_binh",  # warning: the device reports too rarely
    "LOST_SIGNAL_OVER_6H": "cao",  # alert: the master must report the position by other means every 6 h
    "ZONE_CLASS_VIOLATION": "cao",  # fishing outside the zones of the vessel's length class
    "LOST_SIGNAL_10D": "khan_cap",  # critical: the vessel must be back in port for repair
    "BOUNDARY_CROSSED": "khan_cap",  # critical, IUU
    "PORT_ARRIVAL": "thap",  # information
    "PORT_DEPARTURE": "thap",  # information
    "POSITION_ON_LAND": "thap",  # data quality
}
MESSAGES = {  # code: (Vietnamese, English); fields come from the finding's details plus ``reg``
    "LATE_REPORT": ("Tàu {reg} chậm báo vị trí: {gap_h:g} giờ chưa có vị trí mới (quá {limit_h:g} giờ)",
                    "Vessel {reg} is late reporting: no position for {gap_h:g} h (limit {limit_h:g} h)"),
    "LOST_SIGNAL_OVER_6H": ("Tàu {reg} mất kết nối VMS trên {limit_h:g} giờ ({gap_h:g} giờ); thuyền trưởng "
                            "phải báo vị trí bằng phương tiện khác",
                            "Vessel {reg} lost its VMS connection for over {limit_h:g} h ({gap_h:g} h); the master "
                            "must report the position by other means"),
    "LOST_SIGNAL_10D": ("Tàu {reg} mất kết nối trên biển quá {limit_d:g} ngày ({gap_d:g} ngày); tàu phải về bờ "
                        "sửa chữa",
                        "Vessel {reg} has been out of contact at sea for over {limit_d:g} days ({gap_d:g} days); it "
                        "must return to port for repair"),
    "BELOW_12_FIXES_PER_DAY": ("Tàu {reg} chỉ truyền {fixes} vị trí trong ngày {day} (tối thiểu {minimum}/ngày)",
                               "Vessel {reg} sent only {fixes} positions on {day} (at least {minimum} a day)"),
    "BOUNDARY_CROSSED": ("Tàu {reg} vượt ranh giới được phép khai thác trên biển ({lat:.4f}, {lon:.4f} lúc "
                         "{when})",
                         "Vessel {reg} crossed the boundary of the permitted fishing waters ({lat:.4f}, {lon:.4f} "
                         "at {when})"),
    "ZONE_CLASS_VIOLATION": ("Tàu {reg} ({kind_vi}, dài {length_m:g} m) đang ở vùng {zone_vi}, ngoài vùng được "
                             "phép ({allowed_vi}) lúc {when}",
                             "Vessel {reg} ({kind}, {length_m:g} m) is in the {zone_en} zone, outside its permitted "
                             "zones ({allowed_en}) at {when}"),
    "PORT_ARRIVAL": ("Tàu {reg} cập cảng {port} lúc {when}", "Vessel {reg} arrived at {port} port at {when}"),
    "PORT_DEPARTURE": ("Tàu {reg} rời cảng {port} lúc {when}", "Vessel {reg} left {port} port at {when}"),
    "POSITION_ON_LAND": ("Vị trí tàu {reg} ({lat:.4f}, {lon:.4f}) nằm trên đất liền: kiểm tra dữ liệu thiết bị",
                         "Vessel {reg}'s position ({lat:.4f}, {lon:.4f}) is on land: check the device data"),
}
LengthClasses = tuple[tuple[float, frozenset[str]], ...]  # (minimum length in m, zones), longest first


@dataclass(frozen=True)
class Vessel:
    registration: str  # e.g. TH-93388-TS
    mmsi: str | None
    length_m: float  # Lmax
    kind: str  # "fishing" | "logistics"
    home_province: str = "38"  # province of registration (GSO code; 38 = Thanh Hóa)
    licensed_zone: str | None = None  # the zone written in the fishing licence, when there is one


@dataclass(frozen=True)
class Fix:
    time: datetime
    lat: float
    lon: float
    speed_kn: float | None = None


@dataclass(frozen=True)
class Settings:
    late_report_s: float = 2 * 3600  # 12 positions a day = one every 2 hours
    lost_signal_s: float = 6 * 3600  # "mất kết nối VMS trên 6 giờ"
    return_to_port_s: float = 10 * 86400  # "mất kết nối trên biển quá 10 ngày"
    min_fixes_per_day: int = 12
    vms_required_length_m: float = 15.0  # Lmax at or above this must carry VMS
    fishing_zones: LengthClasses = ((15.0, frozenset({"khoi"})), (12.0, frozenset({"long"})),
                                    (0.0, frozenset({"ven_bo"})))
    logistics_zones: LengthClasses = ((15.0, frozenset(ZONES)), (12.0, frozenset({"ven_bo", "long"})),
                                      (0.0, frozenset({"ven_bo"})))
    province: str = "38"  # whose zones ``evaluate`` is given
    home_waters_only: frozenset[str] = frozenset({"ven_bo"})  # a fishing vessel may use only its own province's
    transit_speed_kn: float | None = None  # when set, a faster fix is passage, not fishing: no zone-class finding
    timezone: str = "Asia/Ho_Chi_Minh"  # for "the previous day"


DEFAULTS = Settings()


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str  # thap | trung_binh | cao | khan_cap
    message_vi: str
    message_en: str
    details: dict[str, Any] = field(default_factory=dict)


class PortEvent(NamedTuple):
    time: datetime
    kind: str  # "arrival" | "departure"
    port: str


class SeaMap(NamedTuple):
    zones: dict[str, list[dict[str, Any]]]
    boundary: list[dict[str, Any]]
    ports: dict[str, list[dict[str, Any]]]
    land: list[dict[str, Any]]


def sea_map(collection: Mapping[str, Any]) -> SeaMap:
    """The layers of a sea-zones FeatureCollection, from each feature's ``layer`` property: ``zone`` (keyed by
    its ``zone``), ``boundary``, ``port`` (keyed by its ``name``) and ``land``. Another layer raises ValueError."""
    out = SeaMap({}, [], {}, [])
    for feature in collection.get("features") or []:
        props, areas = feature.get("properties") or {}, load_geometries(feature)
        layer = props.get("layer")
        if layer == "zone":
            out.zones.setdefault(props["zone"], []).extend(areas)
        elif layer == "port":
            out.ports.setdefault(props["name"], []).extend(areas)
        elif layer in ("boundary", "land"):
            getattr(out, layer).extend(areas)
        else:
            raise ValueError(f"unknown sea-map layer {layer!r}")
    return out


def _covers(point: Point, area: Area | None) -> bool:
    if area is None:
        return False
    if isinstance(area, Mapping):
        return inside(point, area)
    return any(inside(point, g) for g in area)


def _port_at(point: Point, ports: Mapping[str, Area] | None) -> str | None:
    return next((name for name, area in (ports or {}).items() if _covers(point, area)), None)


def zone_of(point: Point, zones: Mapping[str, Area]) -> str | None:
    """``ven_bo``, ``long`` or ``khoi`` for ``(lon, lat)``; None outside all the given zones."""
    return next((name for name in ZONES if name in zones and _covers(point, zones[name])), None)


def allowed_zones(vessel: Vessel, settings: Settings = DEFAULTS) -> set[str]:
    """Where the vessel may operate: its length class's zones (fishing or logistics), less the province-only zones
    when a fishing vessel comes from another province, narrowed to its licensed zone when it has one."""
    classes = {"fishing": settings.fishing_zones, "logistics": settings.logistics_zones}.get(vessel.kind)
    if classes is None:
        raise ValueError(f"unknown vessel kind {vessel.kind!r}")
    zones = next((set(z) for least, z in classes if vessel.length_m >= least), set())
    if vessel.kind == "fishing" and vessel.home_province != settings.province:
        zones -= settings.home_waters_only
    if vessel.licensed_zone is not None:
        zones &= {vessel.licensed_zone}
    return zones


def port_events(fixes: Sequence[Fix], ports: Mapping[str, Area] | None) -> list[PortEvent]:
    """Arrivals and departures between consecutive fixes, timed at the first fix inside (or outside) the port."""
    out = []
    for before, after in zip(fixes, fixes[1:], strict=False):
        was, now = _port_at((before.lon, before.lat), ports), _port_at((after.lon, after.lat), ports)
        if was != now:
            out += [PortEvent(after.time, "departure", was)] if was else []
            out += [PortEvent(after.time, "arrival", now)] if now else []
    return out


def at_sea(history: Sequence[PortEvent], now: datetime) -> bool:
    """§4.3 AT_SEA: the latest port event at or before ``now`` is a departure (none known: in port)."""
    past = sorted((e for e in history if e.time <= now), key=lambda e: e.time)  # stable: arrival after departure
    return bool(past) and past[-1].kind == "departure"


def _finding(code: str, vessel: Vessel, **details: Any) -> Finding:
    vi, en = MESSAGES[code]
    fields = {**details, "reg": vessel.registration}
    return Finding(code, SEVERITY[code], vi.format(**fields), en.format(**fields), details)


def _local(moment: datetime, settings: Settings) -> str:
    return moment.astimezone(ZoneInfo(settings.timezone)).strftime("%H:%M %d/%m/%Y")


def _signal(vessel: Vessel, fixes: Sequence[Fix], now: datetime, settings: Settings) -> list[Finding]:
    """The most severe of LOST_SIGNAL_10D, LOST_SIGNAL_OVER_6H and LATE_REPORT (each strictly greater)."""
    gap = (now - fixes[-1].time).total_seconds()
    ladder = (("LOST_SIGNAL_10D", settings.return_to_port_s), ("LOST_SIGNAL_OVER_6H", settings.lost_signal_s),
              ("LATE_REPORT", settings.late_report_s))
    for code, limit in ladder:
        if gap > limit:
            return [_finding(code, vessel, gap_s=gap, limit_s=limit, last_fix=fixes[-1].time.isoformat(),
                             gap_h=round(gap / 3600, 1), limit_h=round(limit / 3600, 1),
                             gap_d=round(gap / 86400, 1), limit_d=round(limit / 86400, 1))]
    return []


def _daily_count(vessel: Vessel, fixes: Sequence[Fix], now: datetime, settings: Settings,
                 ports: Mapping[str, Area] | None) -> list[Finding]:
    """BELOW_12_FIXES_PER_DAY for the previous local day, when the vessel spent all of it at sea: its last fix
    before the day began was outside every port, and none of the day's fixes is in a port."""
    tz = ZoneInfo(settings.timezone)
    day = now.astimezone(tz).date() - timedelta(days=1)
    start = datetime.combine(day, time(), tzinfo=tz)
    before = [f for f in fixes if f.time <= start]
    during = [f for f in fixes if start <= f.time < start + timedelta(days=1)]
    if not before or any(_port_at((f.lon, f.lat), ports) for f in [before[-1], *during]):
        return []
    if len(during) >= settings.min_fixes_per_day:
        return []
    return [_finding("BELOW_12_FIXES_PER_DAY", vessel, day=day.isoformat(), fixes=len(during),
                     minimum=settings.min_fixes_per_day)]


def _position(vessel: Vessel, fixes: Sequence[Fix], zones: Mapping[str, Area], boundary: Area, settings: Settings,
              ports: Mapping[str, Area] | None, land: Area | None) -> list[Finding]:
    """Port calls from the last two fixes, then where the last fix lies: port, land, beyond the boundary, zone."""
    last = fixes[-1]
    point = (last.lon, last.lat)
    where = {"lat": last.lat, "lon": last.lon, "time": last.time.isoformat(), "when": _local(last.time, settings)}
    out = [_finding(f"PORT_{e.kind.upper()}", vessel, port=e.port, **where) for e in port_events(fixes[-2:], ports)]
    if _port_at(point, ports):
        return out
    if _covers(point, land):
        return [*out, _finding("POSITION_ON_LAND", vessel, **where)]
    if not _covers(point, boundary):
        return [*out, _finding("BOUNDARY_CROSSED", vessel, **where)]
    zone, allowed = zone_of(point, zones), allowed_zones(vessel, settings)
    passing = settings.transit_speed_kn is not None and (last.speed_kn or 0) > settings.transit_speed_kn
    if zone is None or zone in allowed or passing:
        return out
    ordered = [z for z in ZONES if z in allowed]
    return [*out, _finding("ZONE_CLASS_VIOLATION", vessel, zone=zone, allowed=ordered, kind=vessel.kind,
                           kind_vi=KIND_VI[vessel.kind], length_m=vessel.length_m, zone_vi=ZONE_VI[zone],
                           zone_en=ZONE_EN[zone], allowed_vi=", ".join(ZONE_VI[z] for z in ordered) or "không có",
                           allowed_en=", ".join(ZONE_EN[z] for z in ordered) or "none", **where)]


def evaluate(vessel: Vessel, fixes: Sequence[Fix], at_sea: bool, now: datetime, zones: Mapping[str, Area],
             boundary: Area, settings: Settings = DEFAULTS, ports: Mapping[str, Area] | None = None,
             land: Area | None = None) -> list[Finding]:
    """The findings for one vessel now, from its last fixes (sorted by time).

    Signal findings (the lost-signal ladder, and the previous day's count) are only for vessels at sea with
    Lmax >= ``vms_required_length_m``; with no fix at all the gap is unknown and nothing is said. The previous
    day is judged only if ``fixes`` reach back before it began. Position findings judge the last fix: a port call
    from the last two fixes; in a port nothing more; on ``land`` a data-quality finding; outside ``boundary`` a
    boundary crossing; inside a zone the vessel may not use, a zone-class violation (none outside all zones).
    """
    findings: list[Finding] = []
    if at_sea and fixes and vessel.length_m >= settings.vms_required_length_m:
        findings += _signal(vessel, fixes, now, settings) + _daily_count(vessel, fixes, now, settings, ports)
    if fixes:
        findings += _position(vessel, fixes, zones, boundary, settings, ports, land)
    return findings
