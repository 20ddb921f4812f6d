"""Tables of cases for the VMS findings (engine.vms), judged against the project's sea-zones file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.conditions import inside, load_geometries
from engine.vms import (
    DEFAULTS,
    Finding,
    Fix,
    PortEvent,
    Settings,
    Vessel,
    allowed_zones,
    at_sea,
    evaluate,
    port_events,
    sea_map,
    zone_of,
)

pytestmark = pytest.mark.no_database  # pure: no database, no Redis (runs once, in the SQLite pass)

ZONES_FILE = Path(__file__).resolve().parent.parent / "rules" / "geo" / "thanh_hoa_sea_zones.geojson"
COLLECTION = json.loads(ZONES_FILE.read_text(encoding="utf-8"))
SEA = sea_map(COLLECTION)

# Points (lon, lat) picked inside each band of the file, at Sầm Sơn's latitude.
VEN_BO, LONG, KHOI = (105.96, 19.78), (106.15, 19.78), (107.0, 19.78)
LAND, BEYOND, FAR = (105.7, 19.8), (108.2, 19.7), (110.0, 17.0)
PORTS = {"Hòa Lộc": (105.95, 19.92), "Lạch Hới": (105.91, 19.78), "Hải Châu": (105.84, 19.55),
         "Lạch Bạng": (105.81, 19.38)}
LACH_HOI = PORTS["Lạch Hới"]

NOW = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)  # 10:00 in Thanh Hóa; the previous local day is 9 March
DAY_START = datetime(2026, 3, 8, 17, 0, tzinfo=UTC)  # 00:00 on 9 March, Asia/Ho_Chi_Minh
LADDER = ("LATE_REPORT", "LOST_SIGNAL_OVER_6H", "LOST_SIGNAL_10D")


def vessel(length_m: float = 24.0, kind: str = "fishing", **kw: Any) -> Vessel:
    return Vessel(registration="TH-93388-TS", mmsi="574000123", length_m=length_m, kind=kind, **kw)


def fix(moment: datetime, where: tuple[float, float] = KHOI, speed_kn: float | None = None) -> Fix:
    return Fix(time=moment, lat=where[1], lon=where[0], speed_kn=speed_kn)


def run(v: Vessel, fixes: list[Fix], sea: bool = True, settings: Settings = DEFAULTS,
        land: bool = True) -> list[Finding]:
    return evaluate(v, fixes, sea, NOW, SEA.zones, SEA.boundary, settings, ports=SEA.ports,
                    land=SEA.land if land else None)


def codes(findings: list[Finding], only: tuple[str, ...] | None = None) -> list[str]:
    return [f.code for f in findings if only is None or f.code in only]


def every_2h(start: datetime, end: datetime, where: tuple[float, float] = KHOI) -> list[Fix]:
    out, t = [], start
    while t <= end:
        out.append(fix(t, where))
        t += timedelta(hours=2)
    return out


def test_a_vessel_reporting_every_two_hours_in_its_zone_has_no_findings() -> None:
    assert run(vessel(), every_2h(NOW - timedelta(days=3), NOW - timedelta(minutes=30))) == []


# --- the lost-signal ladder: strictly greater, only the most severe step ---

@pytest.mark.parametrize("gap, expected, severity", [
    (timedelta(hours=1, minutes=59), None, None),
    (timedelta(hours=2), None, None),
    (timedelta(hours=2, seconds=1), "LATE_REPORT", "trung_binh"),
    (timedelta(hours=6), "LATE_REPORT", "trung_binh"),
    (timedelta(hours=6, seconds=1), "LOST_SIGNAL_OVER_6H", "cao"),
    (timedelta(days=10), "LOST_SIGNAL_OVER_6H", "cao"),
    (timedelta(days=10, seconds=1), "LOST_SIGNAL_10D", "khan_cap"),
])
def test_lost_signal_ladder(gap: timedelta, expected: str | None, severity: str | None) -> None:
    found = [f for f in run(vessel(), [fix(NOW - gap)]) if f.code in LADDER]
    assert [(f.code, f.severity) for f in found] == ([] if expected is None else [(expected, severity)])


def test_lost_signal_messages_say_how_long_in_both_languages() -> None:
    [found] = [f for f in run(vessel(), [fix(NOW - timedelta(hours=7))]) if f.code in LADDER]
    assert found.message_vi.startswith("Tàu TH-93388-TS mất kết nối VMS trên 6 giờ (7 giờ)")
    assert "lost its VMS connection for over 6 h (7 h)" in found.message_en
    assert found.details["gap_s"] == 7 * 3600 and found.details["limit_s"] == 6 * 3600
    [late] = [f for f in run(vessel(), [fix(NOW - timedelta(hours=2, minutes=30))]) if f.code in LADDER]
    assert "2.5 giờ chưa có vị trí mới (quá 2 giờ)" in late.message_vi


def test_thresholds_are_settings() -> None:
    stricter = Settings(lost_signal_s=4 * 3600)
    assert codes(run(vessel(), [fix(NOW - timedelta(hours=5))], settings=stricter), LADDER) == ["LOST_SIGNAL_OVER_6H"]


@pytest.mark.parametrize("length_m, sea, where, expected", [
    (14.9, True, LONG, []),  # below the VMS length: no signal findings at all
    (11.0, True, VEN_BO, []),
    (15.0, True, KHOI, ["LOST_SIGNAL_OVER_6H", "BELOW_12_FIXES_PER_DAY"]),  # 15 m must carry VMS
    (24.0, False, KHOI, []),  # in port (not at sea): no signal findings
])
def test_signal_findings_need_vms_length_and_being_at_sea(length_m: float, sea: bool,
                                                         where: tuple[float, float], expected: list[str]) -> None:
    assert codes(run(vessel(length_m), [fix(NOW - timedelta(days=3), where)], sea=sea)) == expected


def test_no_fix_at_all_says_nothing() -> None:
    assert run(vessel(), []) == []


# --- fixes per day, over the previous local day (Asia/Ho_Chi_Minh) ---

def day_fixes(n: int) -> list[Fix]:
    return [fix(DAY_START + timedelta(hours=1, minutes=100 * i)) for i in range(n)]


@pytest.mark.parametrize("before, during, sea, expected", [
    ([fix(DAY_START - timedelta(hours=1))], day_fixes(11), True, 11),
    ([fix(DAY_START - timedelta(hours=1))], day_fixes(12), True, None),
    ([fix(DAY_START - timedelta(hours=1))], [], True, 0),  # silent all day
    ([fix(DAY_START - timedelta(seconds=1))], day_fixes(11), True, 11),  # 23:59:59 on 8 March is not the day
    ([fix(DAY_START)], day_fixes(11), True, None),  # 00:00 on 9 March is: 12 fixes
    ([fix(DAY_START - timedelta(hours=1), LACH_HOI)], day_fixes(3), True, None),  # left port during the day
    ([fix(DAY_START - timedelta(hours=1))], [*day_fixes(3), fix(DAY_START + timedelta(hours=20), LACH_HOI)],
     True, None),  # called at a port during the day
    ([], day_fixes(3), True, None),  # nothing before the day: cannot tell it was at sea all day
    ([fix(DAY_START - timedelta(hours=1))], day_fixes(3), False, None),  # not at sea now
])
def test_below_12_fixes_per_day(before: list[Fix], during: list[Fix], sea: bool, expected: int | None) -> None:
    today = [fix(DAY_START + timedelta(days=1)), fix(NOW - timedelta(minutes=30))]  # 10 March: not counted
    found = [f for f in run(vessel(), [*before, *during, *today], sea=sea) if f.code == "BELOW_12_FIXES_PER_DAY"]
    if expected is None:
        assert found == []
    else:
        assert [(f.severity, f.details) for f in found] == [
            ("trung_binh", {"day": "2026-03-09", "fixes": expected, "minimum": 12})]
        assert f"chỉ truyền {expected} vị trí trong ngày 2026-03-09" in found[0].message_vi


# --- zones by length class ---

@pytest.mark.parametrize("kind, length_m, extra, zones", [
    ("fishing", 24.0, {}, {"khoi"}),
    ("fishing", 15.0, {}, {"khoi"}),
    ("fishing", 14.9, {}, {"long"}),
    ("fishing", 12.0, {}, {"long"}),
    ("fishing", 11.9, {}, {"ven_bo"}),
    ("fishing", 8.0, {"home_province": "40"}, set()),  # ven bờ of its own province only (40: Nghệ An)
    ("fishing", 13.0, {"home_province": "40"}, {"long"}),
    ("fishing", 24.0, {"licensed_zone": "khoi"}, {"khoi"}),
    ("fishing", 24.0, {"licensed_zone": "long"}, set()),  # a licence that contradicts the class allows nothing
    ("logistics", 15.0, {}, {"ven_bo", "long", "khoi"}),
    ("logistics", 14.9, {}, {"ven_bo", "long"}),
    ("logistics", 11.9, {}, {"ven_bo"}),
    ("logistics", 8.0, {"home_province": "40"}, {"ven_bo"}),
])
def test_allowed_zones(kind: str, length_m: float, extra: dict[str, Any], zones: set[str]) -> None:
    assert allowed_zones(vessel(length_m, kind, **extra)) == zones


def test_unknown_vessel_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown vessel kind"):
        allowed_zones(vessel(kind="ferry"))


@pytest.mark.parametrize("kind, length_m, violations", [
    ("fishing", 24.0, {"ven_bo", "long"}),
    ("fishing", 15.0, {"ven_bo", "long"}),
    ("fishing", 14.9, {"ven_bo", "khoi"}),
    ("fishing", 12.0, {"ven_bo", "khoi"}),
    ("fishing", 11.9, {"long", "khoi"}),
    ("logistics", 20.0, set()),
    ("logistics", 13.0, {"khoi"}),
    ("logistics", 10.0, {"long", "khoi"}),
])
@pytest.mark.parametrize("zone, where", [("ven_bo", VEN_BO), ("long", LONG), ("khoi", KHOI)])
def test_zone_class_violation(kind: str, length_m: float, violations: set[str], zone: str,
                              where: tuple[float, float]) -> None:
    found = run(vessel(length_m, kind), [fix(NOW, where)], sea=False)
    assert codes(found) == (["ZONE_CLASS_VIOLATION"] if zone in violations else [])
    if found:
        assert found[0].severity == "cao" and found[0].details["zone"] == zone


def test_zone_class_violation_message() -> None:
    [found] = run(vessel(13.0), [fix(NOW, KHOI)], sea=False)
    assert found.message_vi == ("Tàu TH-93388-TS (tàu khai thác, dài 13 m) đang ở vùng khơi, ngoài vùng được "
                                "phép (lộng) lúc 10:00 10/03/2026")
    assert found.details["allowed"] == ["long"]


def test_small_vessel_from_another_province_may_not_fish_in_thanh_hoa_ven_bo() -> None:
    assert codes(run(vessel(8.0, home_province="40"), [fix(NOW, VEN_BO)], sea=False)) == ["ZONE_CLASS_VIOLATION"]
    assert run(vessel(8.0), [fix(NOW, VEN_BO)], sea=False) == []


@pytest.mark.parametrize("speed_kn, expected", [
    (9.0, []),  # passing through ven bờ on the way out
    (2.0, ["ZONE_CLASS_VIOLATION"]),
    (None, ["ZONE_CLASS_VIOLATION"]),  # no speed: judged
])
def test_transit_speed_setting(speed_kn: float | None, expected: list[str]) -> None:
    settings = Settings(transit_speed_kn=5.0)
    assert codes(run(vessel(24.0), [fix(NOW, VEN_BO, speed_kn)], sea=False, settings=settings)) == expected


# --- boundary, land ---

@pytest.mark.parametrize("length_m, where", [(24.0, BEYOND), (24.0, FAR), (8.0, BEYOND)])
def test_boundary_crossed(length_m: float, where: tuple[float, float]) -> None:
    [found] = run(vessel(length_m), [fix(NOW, where)], sea=False)
    assert (found.code, found.severity) == ("BOUNDARY_CROSSED", "khan_cap")
    assert "vượt ranh giới được phép khai thác" in found.message_vi
    assert found.details["lat"] == where[1] and found.details["lon"] == where[0]


def test_position_on_land_is_a_low_data_quality_finding() -> None:
    [found] = run(vessel(24.0), [fix(NOW, LAND)], sea=False)
    assert (found.code, found.severity) == ("POSITION_ON_LAND", "thap")
    assert run(vessel(24.0), [fix(NOW, LAND)], sea=False, land=False) == []  # no land layer given


# --- ports ---

@pytest.mark.parametrize("port", sorted(PORTS))
def test_port_arrival_and_departure_at_each_port(port: str) -> None:
    arrival = run(vessel(24.0), [fix(NOW - timedelta(hours=1)), fix(NOW, PORTS[port])], sea=False)
    assert [(f.code, f.severity, f.details["port"]) for f in arrival] == [("PORT_ARRIVAL", "thap", port)]
    assert arrival[0].message_vi == f"Tàu TH-93388-TS cập cảng {port} lúc 10:00 10/03/2026"
    departure = run(vessel(24.0), [fix(NOW - timedelta(hours=1), PORTS[port]), fix(NOW)], sea=False)
    assert [(f.code, f.details["port"]) for f in departure] == [("PORT_DEPARTURE", port)]


@pytest.mark.parametrize("first, second, expected", [
    (LACH_HOI, LACH_HOI, []),  # still in port: and no zone finding there though the port touches ven bờ
    (KHOI, KHOI, []),
    (LACH_HOI, VEN_BO, ["PORT_DEPARTURE", "ZONE_CLASS_VIOLATION"]),  # a 24 m vessel judged in ven bờ
    (PORTS["Hòa Lộc"], LACH_HOI, ["PORT_DEPARTURE", "PORT_ARRIVAL"]),
])
def test_port_transitions(first: tuple[float, float], second: tuple[float, float], expected: list[str]) -> None:
    assert codes(run(vessel(24.0), [fix(NOW - timedelta(hours=1), first), fix(NOW, second)], sea=False)) == expected


def test_at_sea_from_port_history() -> None:
    t = [NOW - timedelta(hours=h) for h in (10, 8, 6, 4, 2)]
    fixes = [fix(t[0], LACH_HOI), fix(t[1]), fix(t[2]), fix(t[3], PORTS["Lạch Bạng"]), fix(t[4])]
    history = port_events(fixes, SEA.ports)
    assert history == [PortEvent(t[1], "departure", "Lạch Hới"), PortEvent(t[3], "arrival", "Lạch Bạng"),
                       PortEvent(t[4], "departure", "Lạch Bạng")]
    assert [at_sea(history, moment) for moment in (t[0], t[1], t[2], t[3], NOW)] == [False, True, True, False, True]
    assert at_sea([], NOW) is False
    same_time = [PortEvent(t[0], "departure", "Hòa Lộc"), PortEvent(t[0], "arrival", "Lạch Hới")]
    assert at_sea(same_time, NOW) is False


# --- the project's sea-zones file ---

def test_zones_file_loads_with_every_feature_labelled_approximate() -> None:
    assert len(load_geometries(COLLECTION)) == 9
    for feature in COLLECTION["features"]:
        assert feature["properties"]["note"] == (
            "approximate, made by the project for the demo and tests; replace with the official lines")
    assert set(SEA.zones) == {"ven_bo", "long", "khoi"}
    assert set(SEA.ports) == set(PORTS)
    assert len(SEA.boundary) == 1 and len(SEA.land) == 1


@pytest.mark.parametrize("point, zone", [
    (VEN_BO, "ven_bo"), (LONG, "long"), (KHOI, "khoi"),
    ((105.88, 19.40), "ven_bo"), ((106.10, 19.40), "long"), ((107.80, 19.35), "khoi"),  # off Nghi Sơn
    ((106.05, 20.00), "ven_bo"), ((106.30, 20.00), "long"), ((106.50, 20.00), "khoi"),  # off Nga Sơn
    (LAND, None), (BEYOND, None), (FAR, None),
])
def test_zone_of_points_in_each_band(point: tuple[float, float], zone: str | None) -> None:
    assert zone_of(point, SEA.zones) == zone


@pytest.mark.parametrize("point, within", [(VEN_BO, True), (KHOI, True), (LAND, True), (BEYOND, False),
                                           (FAR, False)])
def test_boundary_polygon(point: tuple[float, float], within: bool) -> None:
    assert any(inside(point, g) for g in SEA.boundary) is within


@pytest.mark.parametrize("port", sorted(PORTS))
def test_each_port_polygon_holds_its_port_and_touches_the_sea(port: str) -> None:
    lon, lat = PORTS[port]
    assert all(inside((lon, lat), g) for g in SEA.ports[port])
    assert zone_of((lon + 0.012, lat), SEA.zones) == "ven_bo"
