"""Vietnam Water Quality Index VN_WQI (Decision 1460/QĐ-TCMT of 12/11/2019) for periodic surface-water samples.

A pure core; rules, sources and open points in shared docs ``domain-reference.md`` §2. Units: mg/L for groups III
and IV, µg/L for the pesticides (group II), MPN/100 mL for Coliform and E.coli, °C for the water temperature ``T``.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass

# Every sub-index table is a piecewise-linear curve through (BP, q) points, ``below`` its first point and 10 above
# its last one; a value equal to a tabulated BP gets that q (§2.4). Where Bảng 1/2 print level 1 as "<" the first
# point is level 2 (N-NH4 0.29 → 100, 0.30 → 75); where they print level 5 as ">" the last point is level 4, so
# the value jumps to 10 just above it (N-NO3 15 → 25, 15.1 → 10); "≥" is interpolated towards the level-5 value.
Curve = tuple[tuple[tuple[float, float], ...], float]


def _levels(*bps: float) -> tuple[tuple[float, float], ...]:
    """(BP, q) points from level 1 on (q = 100, 75, 50, 25, 10); fewer BPs stop before level 5."""
    return tuple((bp, q) for bp, q in zip(bps, (100, 75, 50, 25, 10), strict=False))


def _from_level2(*bps: float) -> tuple[tuple[float, float], ...]:
    """(BP, q) points from level 2 on: level 1 is printed "< BP of level 2"."""
    return tuple((bp, q) for bp, q in zip(bps, (75, 50, 25, 10), strict=False))


CURVES: dict[str, Curve] = {
    # group I — Bảng 4: 5.5 < pH < 6 by formula 2, 6–8.5 → 100, 8.5 < pH < 9 by formula 1, outside 5.5–9 → 10
    "pH": (((5.5, 50), (6, 100), (8.5, 100), (9, 50)), 10),
    # group II (µg/L): at or below the limit → 100, above → 10
    "Aldrin": (((0.1, 100),), 100), "BHC": (((0.02, 100),), 100), "Dieldrin": (((0.1, 100),), 100),
    "DDTs": (((1.0, 100),), 100), "Heptachlor": (((0.2, 100),), 100),  # Heptachlor & Heptachlorepoxide
    # group III — Bảng 2 (mg/L)
    "As": (_levels(0.01, 0.02, 0.05, 0.1), 100),  # level 5 "> 0.1"
    "Cd": (_from_level2(0.005, 0.008, 0.01, 0.1), 100),  # level 1 "< 0.005"
    "Pb": (_from_level2(0.02, 0.04, 0.05, 0.5), 100),  # level 1 "< 0.02"
    "Cr6+": (_levels(0.01, 0.02, 0.04, 0.05, 0.1), 100),
    "Cu": (_levels(0.1, 0.2, 0.5, 1.0, 2), 100),
    "Zn": (_levels(0.5, 1.0, 1.5, 2.0, 3), 100),
    "Hg": (_from_level2(0.001, 0.0015, 0.002, 0.01), 100),  # level 1 "< 0.001"
    # group IV — Bảng 1 (mg/L); DO is computed from DO % saturation, Bảng 3
    "DO": (((20, 25), (50, 50), (75, 75), (88, 100), (112, 100), (125, 75), (150, 50), (200, 25)), 10),
    "BOD5": (_levels(4, 6, 15, 25, 50), 100),
    "COD": (_levels(10, 15, 30, 50, 150), 100),
    "TOC": (_levels(4, 6, 15, 25, 50), 100),
    "N-NH4": (_from_level2(0.3, 0.6, 0.9, 5), 100),  # level 1 "< 0.3"
    "N-NO3": (_levels(2, 5, 10, 15), 100),  # level 5 "> 15"
    "N-NO2": (_levels(0.05), 100),  # "≤ 0.05" → 100, "> 0.05" → 10
    "P-PO4": (_levels(0.1, 0.2, 0.3, 0.5, 4), 100),
    # group V — Bảng 1 (MPN/100 mL), level 5 "> …"
    "Coliform": (_levels(2500, 5000, 7500, 10_000), 100),
    "E.coli": (_levels(20, 50, 100, 200), 100),
}
GROUPS: dict[str, tuple[str, ...]] = {
    "I": ("pH",),
    "II": ("Aldrin", "BHC", "Dieldrin", "DDTs", "Heptachlor"),
    "III": ("As", "Cd", "Pb", "Cr6+", "Cu", "Zn", "Hg"),
    "IV": ("DO", "BOD5", "COD", "TOC", "N-NH4", "N-NO3", "N-NO2", "P-PO4"),
    "V": ("Coliform", "E.coli"),
}


@dataclass(frozen=True, slots=True)
class Band:
    code: str
    name_vi: str
    name_en: str
    hex: str
    rgb: tuple[int, int, int]
    use_vi: str  # Bảng 7, suitability for use
    use_en: str


@dataclass(frozen=True, slots=True)
class WqiResult:
    wqi: int
    sub_indices: dict[str, float]  # unrounded WQI_SI by parameter
    band: Band
    exact: float  # WQI before rounding


# §1.4 labels and colours (Bảng 7 labels 26–50 and 10–25 differently; §1.4 is used, see domain-reference §2.2).
# The uses follow Bảng 7 as summarised in English by the reference; the Vietnamese wording is ours, to be
# checked against the signed decision.
BANDS = (
    (91, Band("very_good", "Rất tốt", "Very good", "#3333FF", (51, 51, 255),
              "Sử dụng tốt cho mục đích cấp nước sinh hoạt", "Good for domestic water supply")),
    (76, Band("good", "Tốt", "Good", "#00E400", (0, 228, 0),
              "Sử dụng cho mục đích cấp nước sinh hoạt nhưng cần các biện pháp xử lý phù hợp",
              "Domestic water supply with appropriate treatment")),
    (51, Band("medium", "Trung bình", "Medium", "#FFFF00", (255, 255, 0),
              "Sử dụng cho mục đích tưới tiêu và các mục đích tương đương khác",
              "Irrigation and equivalent uses")),
    (26, Band("bad", "Xấu", "Bad", "#FF7E00", (255, 126, 0),
              "Sử dụng cho giao thông thủy và các mục đích tương đương khác",
              "Waterway transport and equivalent uses")),
    (10, Band("poor", "Kém", "Poor", "#FF0000", (255, 0, 0),
              "Nước ô nhiễm nặng, cần các biện pháp xử lý trong tương lai",
              "Heavily polluted; needs treatment")),
    (-math.inf, Band("very_polluted", "Ô nhiễm rất nặng", "Very heavily polluted", "#7E0023", (126, 0, 35),
                     "Nước nhiễm độc, cần có biện pháp khắc phục, xử lý", "Toxic water; remediation needed")),
)


def band(wqi: int) -> Band:
    """§1.4: 91–100 Rất tốt, 76–90 Tốt, 51–75 Trung bình, 26–50 Xấu, 10–25 Kém, < 10 Ô nhiễm rất nặng."""
    return next(b for lower, b in BANDS if wqi >= lower)


def do_saturation(temperature: float) -> float:
    """Saturated dissolved oxygen (mg/L) at ``temperature`` °C, the decision's polynomial."""
    t = temperature
    return 14.652 - 0.41022 * t + 0.0079910 * t**2 - 0.000077774 * t**3


def do_percent(do_mg_l: float, temperature: float) -> float:
    return do_mg_l / do_saturation(temperature) * 100


def _curve(c: float, curve: Curve) -> float:
    points, below = curve
    if c < points[0][0]:
        return below
    for (x0, q0), (x1, q1) in zip(points, points[1:], strict=False):
        if c == x0:
            return q0
        if c < x1:
            return q0 + (q1 - q0) / (x1 - x0) * (c - x0)  # formulas 1 and 2 are both this interpolation
    return points[-1][1] if c == points[-1][0] else 10.0


def sub_index(param: str, value: float) -> float:
    """WQI_SI of one parameter (for DO pass the % saturation, see ``do_percent``)."""
    if param not in CURVES:
        raise ValueError(f"not a VN_WQI parameter: {param!r}")
    if value < 0 or math.isnan(value):
        raise ValueError(f"invalid value for {param}: {value}")
    return float(_curve(value, CURVES[param]))


def sub_indices(sample: Mapping[str, float | None]) -> dict[str, float]:
    """WQI_SI for every known parameter present in ``sample``. DO needs ``T`` (°C), or give ``DO%`` directly."""
    values = {k: v for k, v in sample.items() if v is not None and not math.isnan(v)}
    if "DO%" in values:
        values["DO"] = values["DO%"]
    elif "DO" in values:
        if "T" in values:
            values["DO"] = do_percent(values["DO"], values["T"])
        else:
            del values["DO"]  # DO % saturation cannot be computed without the temperature
    return {p: sub_index(p, v) for p, v in values.items() if p in CURVES}


def _geo(values: list[float]) -> float:
    return math.prod(values) ** (1 / len(values))


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def wqi(sample: Mapping[str, float | None], *, weighted: bool = False,
        required_groups: Collection[str] = ()) -> WqiResult | None:
    """VN_WQI of one sample, or None when the data are not sufficient (§2.3):

    at least 3 of the 5 groups, group IV among them with at least 3 parameters, and every group in
    ``required_groups`` (e.g. {"II"} where pesticides pollute the water body, {"III"} for heavy metals).
    ``weighted`` applies formula 5 (IV weighs 2, V weighs 1) for water bodies where organic pollution matters;
    formula 3 otherwise, formula 4 when group V is missing. An absent group I, II or III counts as factor 1."""
    si = sub_indices(sample)
    groups = {g: [si[p] for p in params if p in si] for g, params in GROUPS.items()}
    present = {g for g, v in groups.items() if v}
    if len(present) < 3 or len(groups["IV"]) < 3 or not set(required_groups) <= present:
        return None
    factor = (groups["I"][0] / 100) if groups["I"] else 1.0
    for g in ("II", "III"):
        if groups[g]:
            factor *= _geo(groups[g]) / 100
    organic = _mean(groups["IV"])
    if not groups["V"]:
        tail = organic  # formula 4
    elif weighted:
        tail = (organic**2 * _mean(groups["V"])) ** (1 / 3)  # formula 5
    else:
        tail = (organic * _mean(groups["V"])) ** 0.5  # formula 3
    exact = factor * tail
    value = math.floor(exact + 0.5 + 1e-9)  # "làm tròn thành số nguyên": half up, guarded against float noise
    return WqiResult(value, si, band(value), exact)
