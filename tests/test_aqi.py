"""Tables of cases for VN_AQI (Decision 1459/QĐ-TCMT; shared docs domain-reference.md §1)."""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path

import pytest

from engine.aqi import (
    PARAMS,
    AqiRules,
    category,
    daily_aqi,
    daily_series,
    half_up,
    hourly_aqi,
    hourly_series,
    nowcast,
    o3_8h_means,
    sub_index,
)

pytestmark = pytest.mark.no_database  # pure: no database, no Redis (runs once, in the SQLite pass)

# Bảng 2 typed again here, independently of engine/aqi.py, so that a wrong cell there fails a test.
INDEX = (0, 50, 100, 150, 200, 300, 400, 500)
TABLE2 = {
    ("O3", "1h"): (0, 160, 200, 300, 400, 800, 1000, 1200),
    ("O3", "8h"): (0, 100, 120, 170, 210, 400),
    ("CO", "1h"): (0, 10000, 30000, 45000, 60000, 90000, 120000, 150000),
    ("SO2", "1h"): (0, 125, 350, 550, 800, 1600, 2100, 2630),
    ("NO2", "1h"): (0, 100, 200, 700, 1200, 2350, 3100, 3850),
    ("PM10", "nowcast"): (0, 50, 150, 250, 350, 420, 500, 600),
    ("PM10", "24h"): (0, 50, 150, 250, 350, 420, 500, 600),
    ("PM2.5", "nowcast"): (0, 25, 50, 80, 150, 250, 350, 500),
    ("PM2.5", "24h"): (0, 25, 50, 80, 150, 250, 350, 500),
}
N = None
BOUNDARIES = [(p, avg, bp, INDEX[i]) for (p, avg), bps in TABLE2.items() for i, bp in enumerate(bps)]
# The 1459 §2.3 worked example: PM2.5 at 09:00 … 20:00 (oldest first); the functions want the latest first.
PM25_0900_2000 = [26.9, 24.7, 20.5, 23.5, 19.5, 16.5, 19.0, 16.5, 20.3, 22.4, 19.6, 20.6]
O3_1800_0000 = [15.7, 14.2, 17.7, 18.9, 19.3, 15.7, 19.7, 22.6, 27.1, 29.0, 31.9, 25.3, 34.7, 35.2, 41.6, 45.7,
                49.2, 55.8, 69.6, 78.3, 91.5, 97.7, 81.2, 71.8, 43.5, 34.3, 21.5, 20.5, 19.4, 20.4, 21.3]
O3_8H_PRINTED = [18.0, 19.4, 21.2, 23.0, 23.8, 25.8, 28.2, 30.9, 33.8, 36.6, 39.9, 44.7, 51.3, 58.4, 66.2, 71.1,
                 74.4, 73.7, 71.0, 65.0, 57.8, 48.7, 39.1, 31.6]


@pytest.mark.parametrize("param, averaging, conc, expected", BOUNDARIES)
def test_every_breakpoint_gives_its_index(param: str, averaging: str, conc: float, expected: int) -> None:
    assert sub_index(param, conc, averaging) == expected


@pytest.mark.parametrize("param, averaging, conc, expected", [
    ("PM2.5", "nowcast", 12.5, 25), ("PM2.5", "24h", 37.5, 75), ("PM2.5", "24h", 200, 250),
    ("PM10", "24h", 100, 75), ("PM10", "nowcast", 385, 250), ("PM10", "24h", 550, 450),
    ("CO", "1h", 20_000, 75), ("CO", "1h", 135_000, 450), ("SO2", "1h", 1850, 350), ("NO2", "1h", 2725, 350),
    ("O3", "1h", 900, 350), ("O3", "8h", 110, 75), ("O3", "8h", 305, 250),
    # continuous table: just above a shared end point stays next to it (no US-EPA 51/101 jump, no gap)
    ("PM2.5", "nowcast", 25.05, 50), ("PM2.5", "nowcast", 25.3, 51), ("PM10", "24h", 50.4, 50),
])
def test_linear_interpolation(param: str, averaging: str, conc: float, expected: int) -> None:
    assert sub_index(param, conc, averaging) == expected


@pytest.mark.parametrize("x, expected", [
    (0.5, 1), (1.5, 2), (2.5, 3), (59.35, 59), (109.5, 110), (109.49999999999999, 110), (109.4999, 109), (0.0, 0),
])
def test_half_up(x: float, expected: int) -> None:
    assert half_up(x) == expected  # Python's round() would give 0, 2, 2 for the first three


@pytest.mark.parametrize("param, averaging, conc, expected", [
    ("PM2.5", "24h", 55.7, 110),  # 109.5 (float 109.50000000000001) → 110
    ("PM2.5", "nowcast", 0.25, 1), ("PM2.5", "nowcast", 1.25, 3), ("O3", "1h", 4.8, 2), ("NO2", "1h", 118.7, 59),
])
def test_sub_index_rounds_half_up(param: str, averaging: str, conc: float, expected: int) -> None:
    assert sub_index(param, conc, averaging) == expected


@pytest.mark.parametrize("param, averaging, conc, expected", [
    ("PM2.5", "nowcast", 800, 500), ("PM10", "24h", 601, 500), ("CO", "1h", 200_000, 500),
    ("O3", "1h", 1500, 500),  # above the "≥" level: capped at 500 (D)
    ("O3", "8h", 400.1, None),  # 8-h O3 above 400 µg/m³ is not computed (§2.2.2.b)
    ("NO2", "1h", -1.0, None), ("SO2", "1h", math.nan, None),  # invalid data count as missing
])
def test_edges_of_the_scale(param: str, averaging: str, conc: float, expected: int | None) -> None:
    assert sub_index(param, conc, averaging) == expected


def test_beyond_scale_can_extrapolate_the_last_segment() -> None:
    assert sub_index("PM2.5", 650, "24h", AqiRules(cap_beyond_scale=False)) == 600  # 400 + 100/150 × 300


@pytest.mark.parametrize("param, averaging", [("PM2.5", "1h"), ("SO2", "8h"), ("CO", "24h"), ("TSP", "24h")])
def test_unknown_combinations_are_refused(param: str, averaging: str) -> None:
    with pytest.raises(ValueError):
        sub_index(param, 10, averaging)


def test_parameter_names_are_normalised() -> None:
    assert sub_index("pm25", 25, "nowcast") == sub_index("PM2_5", 25, "24h") == 50


@pytest.mark.parametrize("aqi, code, name_vi, hex_, rgb", [
    (0, "good", "Tốt", "#00E400", (0, 228, 0)), (50, "good", "Tốt", "#00E400", (0, 228, 0)),
    (51, "moderate", "Trung bình", "#FFFF00", (255, 255, 0)), (100, "moderate", "Trung bình", "#FFFF00", (255, 255, 0)),
    (101, "poor", "Kém", "#FF7E00", (255, 126, 0)), (150, "poor", "Kém", "#FF7E00", (255, 126, 0)),
    (151, "bad", "Xấu", "#FF0000", (255, 0, 0)), (200, "bad", "Xấu", "#FF0000", (255, 0, 0)),
    (201, "very_bad", "Rất xấu", "#8F3F97", (143, 63, 151)), (300, "very_bad", "Rất xấu", "#8F3F97", (143, 63, 151)),
    (301, "hazardous", "Nguy hại", "#7E0023", (126, 0, 35)), (500, "hazardous", "Nguy hại", "#7E0023", (126, 0, 35)),
    (600, "hazardous", "Nguy hại", "#7E0023", (126, 0, 35)),
])
def test_categories(aqi: int, code: str, name_vi: str, hex_: str, rgb: tuple[int, int, int]) -> None:
    c = category(aqi)
    assert (c.code, c.name_vi, c.hex, c.rgb) == (code, name_vi, hex_, rgb)
    assert c.advice_vi and c.advice_en and c.sensitive_vi and c.sensitive_en and c.effect_vi and c.effect_en


def test_advice_differs_for_sensitive_people() -> None:
    assert category(75).advice_vi == "Tự do thực hiện các hoạt động ngoài trời"
    assert "ho hoặc khó thở" in category(75).sensitive_vi
    assert "khẩu trang" in category(175).sensitive_vi and "khẩu trang" not in category(175).advice_vi
    assert category(400).advice_vi == category(400).sensitive_vi  # one merged cell in Bảng 5
    with pytest.raises(ValueError):
        category(-1)


def test_nowcast_worked_example() -> None:
    # 1459 §2.3.a: w* = 16.5 / 26.9 = 0.6134 (printed 0.61), Nowcast printed 20.3; unrounded w gives 20.266.
    assert nowcast(PM25_0900_2000[::-1]) == pytest.approx(20.266, abs=0.001)
    assert round(nowcast(PM25_0900_2000[::-1]) or 0, 1) == 20.3


@pytest.mark.parametrize("latest_first, expected", [
    ([10, 40], 20.0),  # w* = 0.25 ≤ ½ → w = ½: (10 + 20) / 1.5; w* itself would give 16
    ([20, 40], 40 / 1.5),  # w* = ½ exactly → w = ½
    ([30, 50], 37.5),  # w* = 0.6 → (30 + 0.6 × 50) / 1.6
    ([10, N, 40], 16.0),  # a missing c2 has weight 0: (10 + ¼ × 40) / 1.25
    ([0, 0, 0], 0.0),  # Cmax = 0 → 0 (D)
    ([20] * 12 + [999], 20.0),  # only the 12 latest hours count
    ([25, -3, 25], 25.0),  # a negative value is missing
])
def test_nowcast_weights(latest_first: list[float | None], expected: float) -> None:
    assert nowcast(latest_first) == pytest.approx(expected)


@pytest.mark.parametrize("first_three, valid", [
    ([1, 2, 3], True), ([N, 2, 3], True), ([1, N, 3], True), ([1, 2, N], True),
    ([N, N, 3], False), ([N, 2, N], False), ([1, N, N], False), ([N, N, N], False),
])
def test_nowcast_needs_two_of_the_three_latest_hours(first_three: list[float | None], valid: bool) -> None:
    assert (nowcast([*first_three, *[5.0] * 9]) is not None) is valid


def test_nowcast_printed_half_formula() -> None:
    values = [10.0, 40.0] * 6  # w* = ¼ → w = ½
    normalised = nowcast(values) or 0
    printed = nowcast(values, AqiRules(nowcast_printed_half=True)) or 0
    assert printed == pytest.approx(normalised * (1 - 2**-12))  # the 0.02 % of domain-reference §1.6


def test_hourly_worked_example() -> None:
    # 1459 §2.3.b prints AQI(NO2) = 60 and AQI^h = 60, but its own formula gives 50/100 × 18.7 + 50 = 59.35,
    # and 59.35 rounds to 59 (ceil is ruled out by the daily NO2 line, 65.4 → 65). We follow the formula: 59.
    result = hourly_aqi({"O3": [136.1], "NO2": [118.7], "PM2.5": PM25_0900_2000[::-1]})
    assert result is not None
    assert (result.aqi, result.dominant) == (59, "NO2")
    assert result.sub_indices == {"PM2.5": 41, "NO2": 59, "O3": 43}
    assert result.category.name_vi == "Trung bình"


@pytest.mark.parametrize("series, expected", [
    ({"NO2": [118.7], "O3": [136.1]}, None),  # no PM at all: no AQI
    ({"PM2.5": [30, N, N], "PM10": [N, N, 80], "NO2": [150]}, None),  # PM present but neither NowCast valid
    ({"PM10": [50, 50], "CO": [5000]}, (50, "PM10")),  # PM10 alone is enough
    ({"PM2.5": [25, 25], "PM10": [50, 50]}, (50, "PM2.5")),  # a tie goes to the first of PARAMS
    ({"PM2.5": [10, 10], "O3": [300, 100]}, (150, "O3")),  # hourly O3 uses the 1-h table (8-h would be 300)
    ({"PM2.5": [10, 10], "NO2": [N, 900]}, (20, "PM2.5")),  # gases use the current hour only
    ({"PM2.5": [600, 600], "TEMP": [30]}, (500, "PM2.5")),  # unknown names are ignored
])
def test_hourly_aqi(series: dict[str, list[float | None]], expected: tuple[int, str] | None) -> None:
    result = hourly_aqi(series)
    assert (None if result is None else (result.aqi, result.dominant)) == expected


def test_beyond_scale_is_flagged() -> None:
    result = hourly_aqi({"PM2.5": [600, 600], "PM10": [100, 100]})
    assert result is not None and result.beyond_scale == ("PM2.5",)
    result = hourly_aqi({"PM2.5": [60, 60]})
    assert result is not None and result.beyond_scale == ()


@pytest.mark.parametrize("name, param, averaging, conc, expected", [
    # 1459 §2.3.c, all ✓ with half-up rounding
    ("O3 8h", "O3", "8h", 89.3, 45), ("O3 1h", "O3", "1h", 114.6, 36), ("NO2", "NO2", "1h", 130.8, 65),
    ("PM2.5 24h", "PM2.5", "24h", 55.7, 110),
])
def test_daily_worked_example_sub_indices(name: str, param: str, averaging: str, conc: float, expected: int) -> None:
    assert sub_index(param, conc, averaging) == expected, name


def test_daily_worked_example() -> None:
    o3 = [10.0] * 24
    o3[4:12] = [89.3] * 8  # max 8-h mean 89.3
    o3[20] = 114.6  # max 1-h mean, far from that window
    no2 = [50.0] * 23 + [130.8]
    result = daily_aqi({"PM2.5": [55.7] * 24, "NO2": no2, "O3": o3})
    assert result is not None
    assert result.sub_indices == {"PM2.5": 110, "NO2": 65, "O3": 45}  # O3 = max(45 from 8 h, 36 from 1 h)
    assert (result.aqi, result.dominant, result.category.code) == (110, "PM2.5", "poor")


def test_o3_8h_means_worked_example() -> None:
    # 1459 §2.2.2.a: 31 hourly values from 18:00 of the day before. The printed 8-h means are rounded to 0.1;
    # 21.25 is printed 21.2 and 25.75 is printed 25.8, so allow ±0.05. The 12:00 mean is printed 44.7, but its
    # window 05:00–12:00 sums to 357.1 and 357.1 / 8 = 44.64: a slip in the decision (domain-reference §1.9).
    # The maximum, 74.4 at 17:00, is right.
    means = o3_8h_means(O3_1800_0000)
    for hour, (got, printed) in enumerate(zip(means, O3_8H_PRINTED, strict=True), start=1):
        if hour == 12:
            assert got == pytest.approx(44.64, abs=0.005)
        else:
            assert got == pytest.approx(printed, abs=0.05 + 1e-9), hour
    assert max(m for m in means if m is not None) == pytest.approx(74.39, abs=0.005)
    result = daily_aqi({"PM10": [40.0] * 24, "O3": O3_1800_0000})
    assert result is not None and result.sub_indices["O3"] == 37  # 8 h: 74.39 → 37.2; 1 h: 97.7 → 30.5


@pytest.mark.parametrize("o3, expected", [
    ([450.0] * 24, 213),  # max 8-h 450 > 400: 1-h only, 200 + 100 × 50/400 = 212.5 → 213
    ([300.0] * 24, 247),  # 8-h 300 ≤ 400: max(150 from 1 h, 200 + 100 × 90/190 = 247.4 from 8 h)
    ([N] * 20 + [100.0] * 4, 31),  # too few hours for any 8-h mean: the 1-h maximum alone (100 → 31.25)
])
def test_daily_o3_rule(o3: list[float | None], expected: int) -> None:
    result = daily_aqi({"PM10": [10.0] * 24, "O3": o3})
    assert result is not None and result.sub_indices["O3"] == expected


@pytest.mark.parametrize("valid_hours, rules, expected", [
    (18, AqiRules(), 100), (17, AqiRules(), None), (24, AqiRules(min_hours_24h=24), 100),
    (23, AqiRules(min_hours_24h=24), None), (1, AqiRules(min_hours_24h=1), 100),
])
def test_daily_pm_completeness(valid_hours: int, rules: AqiRules, expected: int | None) -> None:
    pm25 = [50.0] * valid_hours + [None] * (24 - valid_hours)
    result = daily_aqi({"PM2.5": pm25, "NO2": [100.0] * 24}, rules)
    assert (None if result is None else result.aqi) == expected


@pytest.mark.parametrize("window, rules, expected", [
    ([100.0] * 6 + [N, N], AqiRules(), 100.0), ([100.0] * 5 + [N, N, N], AqiRules(), None),
    ([100.0] * 5 + [N, N, N], AqiRules(min_hours_8h=5), 100.0),
])
def test_o3_8h_completeness(window: list[float | None], rules: AqiRules, expected: float | None) -> None:
    assert o3_8h_means([*[N] * 23, *window], rules)[-1] == expected


def test_daily_uses_the_last_24_values_and_daily_maxima() -> None:
    result = daily_aqi({"PM2.5": [500.0] * 6 + [25.0] * 24, "SO2": [125.0] * 23 + [350.0], "CO": [N] * 24})
    assert result is not None and result.sub_indices == {"PM2.5": 50, "SO2": 100}
    result = daily_aqi({"PM2.5": [25.0] * 24, "SO2": [N] * 23 + [350.0]}, AqiRules(min_hours_max=2))
    assert result is not None and "SO2" not in result.sub_indices


def _synthetic(hours: int, seed: int) -> dict[str, list[float | None]]:
    rng = random.Random(seed)
    out: dict[str, list[float | None]] = {}
    for param, base in (("PM2.5", 40), ("PM10", 70), ("SO2", 20), ("NO2", 40), ("CO", 900), ("O3", 80)):
        x, values = 0.0, []
        for _ in range(hours):
            x = 0.9 * x + rng.gauss(0, 0.4)
            values.append(None if rng.random() < 0.15 else base * math.exp(x))
        out[param] = values
    return out


@pytest.mark.parametrize("rules", [AqiRules(), AqiRules(nowcast_printed_half=True, cap_beyond_scale=False)])
def test_series_agree_with_single_computations(rules: AqiRules) -> None:
    data = _synthetic(24 * 10, seed=7)
    hourly = hourly_series(data, rules)
    assert len(hourly) == 240
    for t, result in enumerate(hourly):
        assert result == hourly_aqi({p: v[t::-1] for p, v in data.items()}, rules), t
    daily = daily_series(data, rules)
    assert len(daily) == 10
    for d, result in enumerate(daily):
        assert result == daily_aqi({p: v[max(0, 24 * d - 7):24 * d + 24] for p, v in data.items()}, rules), d
    assert any(r is None for r in hourly) and any(r is not None for r in hourly)


def test_series_need_equal_lengths() -> None:
    with pytest.raises(ValueError):
        hourly_series({"PM2.5": [1.0, 2.0], "NO2": [1.0]})


DATA = Path("/work/shared/data/air_quality")


def _month(station: str, year: int, month: int) -> dict[str, list[float | None]]:
    """The hour-ending hours 01:00 of day 1 … 00:00 of the next month (720 for April)."""
    files = sorted(DATA.glob(f"PRSA_Data_{station}_*.csv"))
    if not files:
        pytest.skip(f"no PRSA_Data_{station}_*.csv under {DATA}: shared air-quality data absent")
    with files[0].open(newline="") as f:
        rows = list(csv.DictReader(f))
    first = next(i for i, r in enumerate(rows) if (r["year"], r["month"], r["day"], r["hour"]) ==
                 (str(year), str(month), "1", "1"))
    hours = rows[first:first + 30 * 24]
    return {p: [None if r[p] == "NA" else float(r[p]) for r in hours] for p in PARAMS}  # CO already in µg/m³


def test_real_month_of_hourly_and_daily_aqi() -> None:
    data = _month("Aotizhongxin", 2014, 4)  # a 64-hour outage, single PM gaps and PM2.5-only gaps
    hourly = hourly_series(data)
    for t, result in enumerate(hourly):
        pm_valid = [sum(v is not None for v in data[p][max(0, t - 2):t + 1]) >= 2 for p in ("PM2.5", "PM10")]
        assert (result is not None) == any(pm_valid), t  # 2 of 3 latest hours, and PM is mandatory
        if result is None:
            continue
        assert 0 <= result.aqi <= 500 and result.dominant in PARAMS
        assert result.aqi == result.sub_indices[result.dominant] == max(result.sub_indices.values())
        assert result.category == category(result.aqi)
        for gas in ("SO2", "NO2", "CO", "O3"):
            assert (gas in result.sub_indices) == (data[gas][t] is not None)
    assert sum(r is None for r in hourly) >= 60  # the outage
    daily = daily_series(data)
    assert len(daily) == 30
    for d, result in enumerate(daily):
        counts = [sum(v is not None for v in data[p][24 * d:24 * d + 24]) for p in ("PM2.5", "PM10")]
        assert (result is not None) == (max(counts) >= 18), d
        if result is not None:
            assert 0 <= result.aqi <= 500 and result.dominant in PARAMS
    assert sum(r is None for r in daily) >= 2


def test_the_hour_a_reading_belongs_to_is_the_hour_it_ends_whatever_the_instant() -> None:
    import random
    from datetime import UTC, datetime, timedelta

    from engine.environment import _hour_key, _hour_number, hourly_series

    rnd = random.Random(7)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    moments = [base + timedelta(hours=h, microseconds=d) for h in range(0, 24 * 400, 37) for d in (-1, 0, 1)]
    moments += [base + timedelta(seconds=rnd.uniform(0, 3e7)) for _ in range(2000)]
    for moment in moments:
        assert _hour_number(moment) * 3600 == _hour_key(moment).timestamp(), moment
    end = base + timedelta(hours=10)  # readings at 09:00 (the hour ending 09:00), 09:00:00.000001 and 10:00
    rows = [(base + timedelta(hours=9), {"pm25": 10}), (base + timedelta(hours=9, microseconds=1), {"pm25": 20}),
            (end, {"pm25": 40, "pm10": 5, "status": {"pm10": "calibration"}})]
    assert hourly_series(rows, end, 3)["pm25"] == [30.0, 10.0, None]
    assert hourly_series(rows, end, 3)["pm10"] == [None, None, None]
