"""Vietnam Air Quality Index VN_AQI (Decision 1459/QĐ-TCMT of 12/11/2019) as a pure core.

Rules, sources and open points: shared docs ``domain-reference.md`` §1. Conventions here:

* every concentration in µg/m³, CO included; ``None``, NaN and negative values count as missing;
* ``hourly_aqi`` takes each parameter latest-first (c1 = current hour);
* ``daily_aqi``, ``hourly_series`` and ``daily_series`` take values oldest-first, hour-ending: a day is the 24 values
  labelled 01:00 … 00:00 (next day).
"""

from __future__ import annotations

import math
import operator
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate, repeat
from typing import cast

PM = ("PM2.5", "PM10")
PARAMS = ("PM2.5", "PM10", "SO2", "NO2", "CO", "O3")  # also the tie-break order for the dominant parameter
LEVELS = (0, 50, 100, 150, 200, 300, 400, 500)  # I_i of Bảng 2
_PM25 = (0, 25, 50, 80, 150, 250, 350, 500)
_PM10 = (0, 50, 150, 250, 350, 420, 500, 600)
# Bảng 2, the continuous table (segments share their end points); the last column entry is printed "≥".
BREAKPOINTS: dict[tuple[str, str], tuple[float, ...]] = {
    ("PM2.5", "nowcast"): _PM25, ("PM2.5", "24h"): _PM25,
    ("PM10", "nowcast"): _PM10, ("PM10", "24h"): _PM10,
    ("SO2", "1h"): (0, 125, 350, 550, 800, 1600, 2100, 2630),
    ("NO2", "1h"): (0, 100, 200, 700, 1200, 2350, 3100, 3850),
    ("CO", "1h"): (0, 10_000, 30_000, 45_000, 60_000, 90_000, 120_000, 150_000),
    ("O3", "1h"): (0, 160, 200, 300, 400, 800, 1000, 1200),
    ("O3", "8h"): (0, 100, 120, 170, 210, 400),  # stops at 400: above it the 8-h sub-index is not computed
}
_CANONICAL = {"PM25": "PM2.5", "PM10": "PM10", "SO2": "SO2", "NO2": "NO2", "CO": "CO", "O3": "O3"}
_HALF_POWERS = [0.5**k for k in range(11, -1, -1)]
_DAY, _O3_LEAD = 24, 7  # the first 8-h window of a day starts 7 hours before its 01:00


@dataclass(frozen=True)
class AqiRules:
    """The points 1459 leaves open (domain-reference §1.5, §1.6, §1.10); the defaults are the documented ones."""

    cap_beyond_scale: bool = True  # value ≥ last breakpoint → 500, flagged (D); False extrapolates the last segment
    nowcast_printed_half: bool = False  # w = ½: normalised formula (D); True uses the printed Σ(½)^i·ci
    min_hours_24h: int = 18  # PM 24-h mean needs ≥ 18 of 24 hours (D)
    min_hours_8h: int = 6  # O3 8-h mean needs ≥ 6 of 8 hours (D)
    min_hours_max: int = 1  # daily maximum of 1-h values: 1459 sets no minimum


DEFAULT_RULES = AqiRules()


@dataclass(frozen=True, slots=True)
class Category:
    code: str
    name_vi: str
    name_en: str
    hex: str
    rgb: tuple[int, int, int]
    advice_vi: str  # Bảng 5, people in normal health
    advice_en: str
    sensitive_vi: str  # Bảng 5, the sensitive group (elderly, children, respiratory or cardiovascular disease)
    sensitive_en: str
    effect_vi: str  # Bảng 4, effect on health
    effect_en: str


@dataclass(frozen=True, slots=True)
class AqiResult:
    aqi: int
    dominant: str
    sub_indices: dict[str, int]
    category: Category
    beyond_scale: tuple[str, ...] = ()  # parameters at or above the last breakpoint ("≥" in Bảng 2)


_FREE_VI = "Tự do thực hiện các hoạt động ngoài trời"
_FREE_EN = "Outdoor activities are fine."
_MASK_VI = "Nếu cần thiết phải ra ngoài, hãy đeo khẩu trang đạt tiêu chuẩn."
_MASK_EN = "If you must go out, wear a mask that meets the standard."
_INDOORS_VI = "Mọi người nên ở trong nhà, đóng cửa ra vào và cửa sổ. " + _MASK_VI  # one merged cell for both groups
_INDOORS_EN = "Everyone should stay indoors with doors and windows closed. " + _MASK_EN
# (upper bound, code, name_vi, name_en, hex, advice_vi, advice_en, sensitive_vi, sensitive_en, effect_vi, effect_en)
_CATEGORY_ROWS = (
    (50, "good", "Tốt", "Good", "#00E400", _FREE_VI, _FREE_EN, _FREE_VI, _FREE_EN,
     "Chất lượng không khí tốt, không ảnh hưởng tới sức khỏe", "Air quality is good and does not affect health."),
    (100, "moderate", "Trung bình", "Moderate", "#FFFF00", _FREE_VI, _FREE_EN,
     "Nên theo dõi các triệu chứng như ho hoặc khó thở, nhưng vẫn có thể hoạt động bên ngoài.",
     "Watch for symptoms such as coughing or shortness of breath; outdoor activity is still possible.",
     "Chất lượng không khí ở mức chấp nhận được. Tuy nhiên, đối với những người nhạy cảm (người già, trẻ em, "
     "người mắc các bệnh hô hấp, tim mạch…) có thể chịu những tác động nhất định tới sức khỏe.",
     "Air quality is acceptable; sensitive people (the elderly, children, people with respiratory or "
     "cardiovascular disease) may feel some effects on their health."),
    (150, "poor", "Kém", "Poor", "#FF7E00",
     "Những người thấy có triệu chứng đau mắt, ho hoặc đau họng… nên cân nhắc giảm các hoạt động ngoài trời. "
     "Đối với học sinh, có thể hoạt động bên ngoài, nhưng nên giảm bớt việc tập thể dục kéo dài.",
     "People with sore eyes, a cough or a sore throat should consider reducing outdoor activity. Pupils may "
     "be active outdoors but should cut down prolonged exercise.",
     "Nên giảm các hoạt động mạnh và giảm thời gian hoạt động ngoài trời. Những người mắc bệnh hen suyễn có "
     "thể cần sử dụng thuốc thường xuyên hơn.",
     "Reduce strenuous activity and time outdoors. People with asthma may need their medication more often.",
     "Những người nhạy cảm gặp phải các vấn đề về sức khỏe, những người bình thường ít ảnh hưởng.",
     "Sensitive people have health problems; other people are little affected."),
    (200, "bad", "Xấu", "Bad", "#FF0000",
     "Mọi người nên giảm các hoạt động mạnh khi ở ngoài trời, tránh tập thể dục kéo dài và nghỉ ngơi nhiều hơn "
     "trong nhà.",
     "Everyone should reduce strenuous outdoor activity, avoid prolonged exercise and rest more indoors.",
     "Nên ở trong nhà và giảm hoạt động mạnh. " + _MASK_VI,
     "Stay indoors and reduce strenuous activity. " + _MASK_EN,
     "Những người bình thường bắt đầu có các ảnh hưởng tới sức khỏe, nhóm người nhạy cảm có thể gặp những vấn đề "
     "sức khỏe nghiêm trọng hơn.",
     "Everyone begins to feel effects on health; sensitive people may have more serious problems."),
    (300, "very_bad", "Rất xấu", "Very bad", "#8F3F97",
     "Mọi người hạn chế tối đa các hoạt động ngoài trời và chuyển tất cả các hoạt động vào trong nhà. " + _MASK_VI,
     "Everyone should keep outdoor activity to a minimum and move all activities indoors. " + _MASK_EN,
     "Nên ở trong nhà và giảm hoạt động mạnh.", "Stay indoors and reduce strenuous activity.",
     "Cảnh báo hưởng tới sức khỏe: mọi người bị ảnh hưởng tới sức khỏe nghiêm trọng hơn.",  # sic, as transcribed
     "Health warning: everyone is more seriously affected."),
    (math.inf, "hazardous", "Nguy hại", "Hazardous", "#7E0023", _INDOORS_VI, _INDOORS_EN, _INDOORS_VI, _INDOORS_EN,
     "Cảnh báo khẩn cấp về sức khỏe: Toàn bộ dân số bị ảnh hưởng tới sức khỏe tới mức nghiêm trọng.",
     "Health emergency: the whole population is seriously affected."),
)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16)


CATEGORIES = tuple(Category(code, vi, en, hx, _rgb(hx), *texts) for _, code, vi, en, hx, *texts in _CATEGORY_ROWS)
_UPPER = tuple(row[0] for row in _CATEGORY_ROWS)


def category(aqi: int) -> Category:
    """Bảng 1: 0–50 Tốt, 51–100 Trung bình, 101–150 Kém, 151–200 Xấu, 201–300 Rất xấu, 301–500 (and above) Nguy hại."""
    if aqi < 0:
        raise ValueError(f"AQI cannot be negative: {aqi}")
    return CATEGORIES[bisect_left(_UPPER, aqi)]


_HALF_UP = 0.5 + 1e-9  # the guard: 109.49999999999999 from float noise is still 109.5


def half_up(x: float) -> int:
    """Round half up (§1.8): 109.5 → 110, 59.35 → 59."""
    return math.floor(x + _HALF_UP)


def canonical(name: str) -> str | None:
    """'PM2.5', 'pm25', 'PM2_5' → 'PM2.5'; None for a name that is not a VN_AQI parameter."""
    return _CANONICAL.get(name.upper().replace(".", "").replace("_", "").replace(" ", ""))


def _clean(values: Sequence[float | None]) -> list[float | None]:
    return [v if v is not None and v >= 0 else None for v in values]  # NaN >= 0 is False


def _exact(table: tuple[float, ...], c: float | None, rules: AqiRules) -> float | None:
    """Công thức 1/2 before rounding: linear between the breakpoints around c."""
    if c is None:
        return None
    top = len(table) - 1
    if c >= table[-1] and top == len(LEVELS) - 1:
        if rules.cap_beyond_scale:
            return float(LEVELS[-1])
        i = top  # extrapolate along the last segment
    else:
        i = bisect_left(table, c)  # table[i-1] < c <= table[i]
        if i > top:
            return None  # O3 8-h above 400 µg/m³: not computed (§1.7)
        if i == 0:
            return 0.0
    lo, hi = table[i - 1], table[i]
    return (LEVELS[i] - LEVELS[i - 1]) / (hi - lo) * (c - lo) + LEVELS[i - 1]


def _table(param: str, averaging: str) -> tuple[float, ...]:
    key = (canonical(param) or param, averaging)
    if key not in BREAKPOINTS:
        raise ValueError(f"no VN_AQI breakpoints for {param!r} with averaging {averaging!r}")
    return BREAKPOINTS[key]


def sub_index(param: str, conc: float, averaging: str, rules: AqiRules = DEFAULT_RULES) -> int | None:
    """AQIx of one concentration (µg/m³). ``averaging``: 'nowcast' or '24h' for PM, '1h' for gases, '8h' for O3.

    None when the value is missing or negative, or for an O3 8-h mean above 400 µg/m³."""
    exact = _exact(_table(param, averaging), _clean([conc])[0], rules)
    return None if exact is None else half_up(exact)


def _nowcast(window: list[float | None], printed_half: bool) -> float | None:
    """NowCast of ``window``, oldest first with c1 last (at most 12 values)."""
    recent = window[-3:]
    if len(recent) - recent.count(None) < 2:  # needs 2 of c1, c2, c3
        return None
    valid = [c for c in window if c is not None] if None in window else cast(list[float], window)
    cmax = max(valid)
    if cmax == 0:
        return 0.0
    w = max(min(valid) / cmax, 0.5)  # w* ≤ ½ → w = ½
    n = len(window)
    if w == 0.5:
        weights = _HALF_POWERS[-n:]  # w^(i-1), oldest first
    else:
        weights = list(accumulate(repeat(w, n - 1), operator.mul, initial=1.0))[::-1]
    if len(valid) < n:  # a missing c_i gets weight 0
        weights = [0.0 if c is None else k for c, k in zip(window, weights, strict=True)]
        window = [c or 0.0 for c in window]
    num = sum(map(operator.mul, window, weights))
    return num * 0.5 if printed_half and w == 0.5 else num / sum(weights)


def nowcast(hourly: Sequence[float | None], rules: AqiRules = DEFAULT_RULES) -> float | None:
    """NowCast of the 12 latest 1-h means, latest first (§1.6); None without 2 of the 3 latest hours."""
    return _nowcast(_clean(hourly[:12])[::-1], rules.nowcast_printed_half)


def _result(exact: Mapping[str, float]) -> AqiResult | None:
    """Station AQI from unrounded sub-indices given in ``PARAMS`` order (the first of equals is dominant)."""
    if "PM2.5" not in exact and "PM10" not in exact:
        return None  # no AQI without PM2.5 or PM10 (§2.1)
    dominant, top = "", -1.0
    for p, v in exact.items():
        if v > top:
            dominant, top = p, v
    aqi = half_up(top)
    beyond = tuple(p for p, v in exact.items() if v >= LEVELS[-1]) if top >= LEVELS[-1] else ()
    return AqiResult(aqi, dominant, {p: int(v + _HALF_UP) for p, v in exact.items()}, category(aqi), beyond)


def _ordered(exact: Mapping[str, float | None]) -> dict[str, float]:
    return {p: v for p in PARAMS if (v := exact.get(p)) is not None}


def hourly_aqi(series: Mapping[str, Sequence[float | None]], rules: AqiRules = DEFAULT_RULES) -> AqiResult | None:
    """AQI^h from each parameter's latest 1-h means, latest first: NowCast of 12 hours for PM, the current hour
    for SO2, NO2, CO and O3 (O3 on its 1-h table only). Unknown names are ignored."""
    exact: dict[str, float | None] = {}
    for name, values in series.items():
        p = canonical(name)
        if p is None:
            continue
        if p in PM:
            c, table = nowcast(values, rules), BREAKPOINTS[(p, "nowcast")]
        else:
            c, table = _clean(values[:1])[0] if values else None, BREAKPOINTS[(p, "1h")]
        exact[p] = _exact(table, c, rules)
    return _result(_ordered(exact))


def _mean(values: Sequence[float | None], minimum: int) -> float | None:
    valid = [v for v in values if v is not None]
    return sum(valid) / len(valid) if valid and len(valid) >= minimum else None


def _max(values: Sequence[float | None], minimum: int) -> float | None:
    valid = [v for v in values if v is not None]
    return max(valid) if valid and len(valid) >= minimum else None


def o3_8h_means(values: Sequence[float | None], rules: AqiRules = DEFAULT_RULES) -> list[float | None]:
    """The day's 24 8-h means (labelled 01:00 … 00:00) from 1-h means oldest first: the last 24 are the day, up
    to 7 before them belong to the previous evening. A mean needs ``rules.min_hours_8h`` of its 8 hours."""
    clean = _clean(values[-(_DAY + _O3_LEAD):])
    padded: list[float | None] = [None] * (_DAY + _O3_LEAD - len(clean))
    padded.extend(clean)
    return [_mean(padded[j:j + 8], rules.min_hours_8h) for j in range(_DAY)]


def _daily_o3(values: list[float | None], rules: AqiRules) -> float | None:
    """max(AQI of the day's max 1-h mean, AQI of its max 8-h mean); the 8-h part only up to 400 µg/m³."""
    one = _exact(BREAKPOINTS[("O3", "1h")], _max(values[-_DAY:], rules.min_hours_max), rules)
    eight = _exact(BREAKPOINTS[("O3", "8h")], _max(o3_8h_means(values, rules), 1), rules)
    found = [v for v in (one, eight) if v is not None]
    return max(found) if found else None


def daily_aqi(day_hourly: Mapping[str, Sequence[float | None]], rules: AqiRules = DEFAULT_RULES) -> AqiResult | None:
    """AQI^d from each parameter's 1-h means, oldest first; the last 24 values are the day (01:00 … 00:00).

    O3 may carry up to 7 more hours before them (18:00 … 00:00 of the day before) for the 8-h means that start on
    the previous day. Shorter sequences are missing hours at the start."""
    exact: dict[str, float | None] = {}
    for name, values in day_hourly.items():
        p = canonical(name)
        if p is None:
            continue
        clean = _clean(values[-(_DAY + _O3_LEAD):])
        day = clean[-_DAY:]
        if p in PM:
            exact[p] = _exact(BREAKPOINTS[(p, "24h")], _mean(day, rules.min_hours_24h), rules)
        elif p == "O3":
            exact[p] = _daily_o3(clean, rules)
        else:
            exact[p] = _exact(BREAKPOINTS[(p, "1h")], _max(day, rules.min_hours_max), rules)
    return _result(_ordered(exact))


def _columns(values_by_param: Mapping[str, Sequence[float | None]]) -> dict[str, list[float | None]]:
    named = {canonical(name): v for name, v in values_by_param.items()}
    columns = {p: _clean(named[p]) for p in PARAMS if p in named}  # in PARAMS order
    if len({len(v) for v in columns.values()}) > 1:
        raise ValueError("all parameters need series of the same length")
    return columns


def hourly_series(values_by_param: Mapping[str, Sequence[float | None]],
                  rules: AqiRules = DEFAULT_RULES) -> list[AqiResult | None]:
    """AQI^h for every hour of equally long series (oldest first); entry t uses hours ≤ t only.

    Same result as ``hourly_aqi`` on each window, in O(n) per parameter (a 12-hour window per hour)."""
    columns = _columns(values_by_param)
    n = len(next(iter(columns.values()), []))
    per_param: list[tuple[str, list[float | None]]] = []
    for p, vals in columns.items():
        if p in PM:
            conc = [_nowcast(vals[max(0, t - 11):t + 1], rules.nowcast_printed_half) for t in range(n)]
            table = BREAKPOINTS[(p, "nowcast")]
        else:
            conc, table = vals, BREAKPOINTS[(p, "1h")]
        per_param.append((p, [_exact(table, c, rules) for c in conc]))
    names = [p for p, _ in per_param]
    rows = zip(*(col for _, col in per_param), strict=True)
    return [_result({p: v for p, v in zip(names, row, strict=True) if v is not None}) for row in rows]


def daily_series(values_by_param: Mapping[str, Sequence[float | None]],
                 rules: AqiRules = DEFAULT_RULES) -> list[AqiResult | None]:
    """AQI^d for each complete day of equally long hourly series, oldest first, starting at a day's 01:00."""
    columns = _columns(values_by_param)
    n = len(next(iter(columns.values()), []))
    return [daily_aqi({p: v[max(0, start - _O3_LEAD):start + _DAY] for p, v in columns.items()}, rules)
            for start in range(0, n - _DAY + 1, _DAY)]
