"""Tables of cases for VN_WQI (Decision 1460/QĐ-TCMT; shared docs domain-reference.md §2)."""

from __future__ import annotations

import math

import pytest

from engine.wqi import band, do_percent, do_saturation, sub_index, wqi

pytestmark = pytest.mark.no_database  # pure: no database, no Redis (runs once, in the SQLite pass)

# The 1460 §2.3 worked example (mg/L; Aldrin, Dieldrin µg/L; Coliform MPN/100 mL; T °C).
EXAMPLE = {"pH": 7.2, "Cu": 0.05, "As": 0.02, "T": 27.5, "DO": 5.7, "BOD5": 20, "COD": 25, "N-NH4": 0.2,
           "P-PO4": 0.3, "Aldrin": 0.05, "Dieldrin": 0.05, "Coliform": 10_000}


@pytest.mark.parametrize("param, value, expected", [
    # Bảng 1, group IV: "≤" level 1, interpolated up to the "≥" level 5
    ("BOD5", 3, 100), ("BOD5", 4, 100), ("BOD5", 5, 87.5), ("BOD5", 6, 75), ("BOD5", 15, 50), ("BOD5", 25, 25),
    ("BOD5", 30, 22), ("BOD5", 50, 10), ("BOD5", 80, 10),
    ("COD", 10, 100), ("COD", 15, 75), ("COD", 30, 50), ("COD", 50, 25), ("COD", 100, 17.5), ("COD", 150, 10),
    ("TOC", 4, 100), ("TOC", 6, 75), ("TOC", 15, 50), ("TOC", 25, 25), ("TOC", 50, 10),
    ("P-PO4", 0.1, 100), ("P-PO4", 0.2, 75), ("P-PO4", 0.3, 50), ("P-PO4", 0.5, 25), ("P-PO4", 2.25, 17.5),
    ("P-PO4", 4, 10),
    # level 1 printed "< 0.3": a jump 100 → 75 at 0.3
    ("N-NH4", 0.29, 100), ("N-NH4", 0.3, 75), ("N-NH4", 0.45, 62.5), ("N-NH4", 0.6, 50), ("N-NH4", 0.9, 25),
    ("N-NH4", 2.95, 17.5), ("N-NH4", 5, 10), ("N-NH4", 9, 10),
    # level 5 printed "> 15": a jump 25 → 10 just above 15
    ("N-NO3", 2, 100), ("N-NO3", 3.5, 87.5), ("N-NO3", 5, 75), ("N-NO3", 10, 50), ("N-NO3", 15, 25),
    ("N-NO3", 15.1, 10),
    ("N-NO2", 0.01, 100), ("N-NO2", 0.05, 100), ("N-NO2", 0.051, 10),  # binary
    # group V, level 5 printed "> …"
    ("Coliform", 2500, 100), ("Coliform", 3750, 87.5), ("Coliform", 5000, 75), ("Coliform", 7500, 50),
    ("Coliform", 10_000, 25), ("Coliform", 10_001, 10),
    ("E.coli", 20, 100), ("E.coli", 50, 75), ("E.coli", 100, 50), ("E.coli", 200, 25), ("E.coli", 201, 10),
    # Bảng 2, group III
    ("As", 0.01, 100), ("As", 0.02, 75), ("As", 0.05, 50), ("As", 0.1, 25), ("As", 0.11, 10),
    ("Cd", 0.0049, 100), ("Cd", 0.005, 75), ("Cd", 0.008, 50), ("Cd", 0.01, 25), ("Cd", 0.055, 17.5),
    ("Cd", 0.1, 10),
    ("Pb", 0.019, 100), ("Pb", 0.02, 75), ("Pb", 0.04, 50), ("Pb", 0.05, 25), ("Pb", 0.5, 10),
    ("Cr6+", 0.01, 100), ("Cr6+", 0.02, 75), ("Cr6+", 0.04, 50), ("Cr6+", 0.05, 25), ("Cr6+", 0.075, 17.5),
    ("Cr6+", 0.1, 10),
    ("Cu", 0.1, 100), ("Cu", 0.2, 75), ("Cu", 0.5, 50), ("Cu", 1.0, 25), ("Cu", 1.5, 17.5), ("Cu", 2, 10),
    ("Zn", 0.5, 100), ("Zn", 1.0, 75), ("Zn", 1.5, 50), ("Zn", 2.0, 25), ("Zn", 2.5, 17.5), ("Zn", 3, 10),
    ("Hg", 0.0009, 100), ("Hg", 0.001, 75), ("Hg", 0.0015, 50), ("Hg", 0.002, 25), ("Hg", 0.01, 10),
    # Bảng 4, pH: equal to a BP → its q (5.5 and 9 → 50)
    ("pH", 5.4, 10), ("pH", 5.5, 50), ("pH", 5.75, 75), ("pH", 6, 100), ("pH", 7, 100), ("pH", 8.5, 100),
    ("pH", 8.75, 75), ("pH", 9, 50), ("pH", 9.1, 10),
    # Bảng 3, DO % saturation
    ("DO", 19.9, 10), ("DO", 20, 25), ("DO", 35, 37.5), ("DO", 50, 50), ("DO", 75, 75), ("DO", 81.5, 87.5),
    ("DO", 88, 100), ("DO", 100, 100), ("DO", 112, 100), ("DO", 118.5, 87.5), ("DO", 125, 75), ("DO", 150, 50),
    ("DO", 175, 37.5), ("DO", 200, 25), ("DO", 200.1, 10),
    # group II (µg/L): at or below the limit 100, above it 10
    ("Aldrin", 0.1, 100), ("Aldrin", 0.11, 10), ("BHC", 0.02, 100), ("BHC", 0.021, 10),
    ("Dieldrin", 0.1, 100), ("Dieldrin", 0.2, 10), ("DDTs", 1.0, 100), ("DDTs", 1.01, 10),
    ("Heptachlor", 0.2, 100), ("Heptachlor", 0.21, 10),
])
def test_sub_index(param: str, value: float, expected: float) -> None:
    assert sub_index(param, value) == pytest.approx(expected)


@pytest.mark.parametrize("param, value", [("TSS", 10), ("BOD5", -1), ("pH", math.nan)])
def test_sub_index_refuses_bad_input(param: str, value: float) -> None:
    with pytest.raises(ValueError):
        sub_index(param, value)


def test_do_saturation() -> None:
    # 1460 §2.3 prints DO_sat = 7.78 and DO% = 73.3 at 27.5 °C; its own polynomial gives 7.797 and 73.11
    # (domain-reference §2.6). We follow the polynomial.
    assert do_saturation(27.5) == pytest.approx(7.797, abs=0.001)
    assert do_percent(5.7, 27.5) == pytest.approx(73.11, abs=0.01)
    assert do_saturation(0) == pytest.approx(14.652)


def test_worked_example_sub_indices() -> None:
    result = wqi(EXAMPLE)
    assert result is not None
    assert result.sub_indices == pytest.approx({
        "pH": 100, "Cu": 100, "As": 75, "DO": 73.11, "BOD5": 37.5, "COD": 58.33, "N-NH4": 100, "P-PO4": 50,
        "Aldrin": 100, "Dieldrin": 100, "Coliform": 25}, abs=0.01)


@pytest.mark.parametrize("weighted, expected, exact", [(False, 35, 34.58), (True, 40, 40.43)])
def test_worked_example(weighted: bool, expected: int, exact: float) -> None:
    # The copy of 1460 prints WQI = 16 (formula 3) and 19 (formula 5), which no reading of the formulas gives
    # from its printed sub-indices: both imply a factor ≈ 0.40 for groups I–III where pH 100, Aldrin and
    # Dieldrin 100, √(Cu 100 × As 75) give 0.866 (domain-reference §2.6). We implement the formulas:
    # 0.866 × √(63.79 × 25) = 34.58 → 35 and 0.866 × ∛(63.79² × 25) = 40.43 → 40. To confirm on the signed text.
    result = wqi(EXAMPLE, weighted=weighted)
    assert result is not None
    assert (result.wqi, round(result.exact, 2)) == (expected, exact)
    assert result.band.name_vi == "Xấu"


BASE = {"pH": 7, "BOD5": 4, "COD": 10, "N-NH4": 0.1, "Coliform": 1000}


@pytest.mark.parametrize("sample, required, expected", [
    (BASE, (), 100),  # groups I, IV (3 parameters), V
    ({**BASE, "pH": None}, (), None),  # two groups only
    ({**BASE, "pH": math.nan}, (), None),  # NaN is missing too
    ({"BOD5": 4, "COD": 10, "N-NH4": 0.1, "As": 0.01, "Aldrin": 0.01}, (), 100),  # II, III, IV without I
    ({"pH": 7, "BOD5": 4, "COD": 10, "Coliform": 1000, "Cu": 0.1}, (), None),  # group IV with 2 parameters
    ({"pH": 7, "Cu": 0.1, "Aldrin": 0.01, "Coliform": 1000}, (), None),  # group IV is mandatory
    (BASE, ("II",), None),  # a pesticide-polluted water body needs group II
    ({**BASE, "Aldrin": 0.01}, ("II",), 100),
    ({**BASE, "Aldrin": 0.01}, ("II", "III"), None),  # and one polluted by heavy metals group III
])
def test_data_sufficiency(sample: dict[str, float | None], required: tuple[str, ...], expected: int | None) -> None:
    result = wqi(sample, required_groups=required)
    assert (None if result is None else result.wqi) == expected


def test_do_needs_the_temperature_or_a_percentage() -> None:
    sample = {"pH": 7, "BOD5": 4, "COD": 10, "DO": 7.0, "Coliform": 1000}
    assert wqi(sample) is None  # DO % cannot be computed, so group IV has 2 parameters
    with_t = wqi({**sample, "T": 25})  # DO_sat(25 °C) = 8.176 mg/L → 85.62 % → 75 + 25 × 10.62 / 13 = 95.4
    assert with_t is not None and with_t.sub_indices["DO"] == pytest.approx(95.4, abs=0.05)
    given = wqi({**sample, "DO%": 100})
    assert given is not None and given.sub_indices["DO"] == 100


@pytest.mark.parametrize("sample, weighted, expected", [
    # formula 3: pH 75 × √(mean IV 50 × mean V 25) = 0.75 × 35.36 = 26.5 → 27
    ({"pH": 5.75, "BOD5": 15, "COD": 30, "TOC": 15, "Coliform": 10_000}, False, 27),
    # formula 5: 0.75 × ∛(50² × 25) = 0.75 × 39.69 = 29.8 → 30
    ({"pH": 5.75, "BOD5": 15, "COD": 30, "TOC": 15, "Coliform": 10_000}, True, 30),
    # formula 4 (no group V), weighted or not: pH 100 × mean IV; group III as a geometric mean √(100 × 25) = 50
    ({"pH": 7, "BOD5": 15, "COD": 30, "TOC": 15, "Cu": 0.1, "Zn": 2.0}, False, 25),
    ({"pH": 7, "BOD5": 15, "COD": 30, "TOC": 15, "Cu": 0.1, "Zn": 2.0}, True, 25),
    # group II as a geometric mean: √(10 × 100) / 100 × 100 = 31.6 → 32
    ({"Aldrin": 0.2, "Dieldrin": 0.05, "BOD5": 4, "COD": 10, "TOC": 4, "Coliform": 2500}, False, 32),
    # half up: mean IV (100 + 25 + 25 + 52) / 4 = 50.5 → 51
    ({"pH": 7, "Cu": 0.1, "BOD5": 4, "COD": 50, "TOC": 25, "N-NO3": 9.6}, False, 51),
])
def test_aggregation(sample: dict[str, float], weighted: bool, expected: int) -> None:
    result = wqi(sample, weighted=weighted)
    assert result is not None and result.wqi == expected


@pytest.mark.parametrize("value, code, name_vi, hex_, rgb", [
    (100, "very_good", "Rất tốt", "#3333FF", (51, 51, 255)), (91, "very_good", "Rất tốt", "#3333FF", (51, 51, 255)),
    (90, "good", "Tốt", "#00E400", (0, 228, 0)), (76, "good", "Tốt", "#00E400", (0, 228, 0)),
    (75, "medium", "Trung bình", "#FFFF00", (255, 255, 0)), (51, "medium", "Trung bình", "#FFFF00", (255, 255, 0)),
    (50, "bad", "Xấu", "#FF7E00", (255, 126, 0)), (26, "bad", "Xấu", "#FF7E00", (255, 126, 0)),
    (25, "poor", "Kém", "#FF0000", (255, 0, 0)), (10, "poor", "Kém", "#FF0000", (255, 0, 0)),
    (9, "very_polluted", "Ô nhiễm rất nặng", "#7E0023", (126, 0, 35)),
    (0, "very_polluted", "Ô nhiễm rất nặng", "#7E0023", (126, 0, 35)),
])
def test_bands(value: int, code: str, name_vi: str, hex_: str, rgb: tuple[int, int, int]) -> None:
    b = band(value)
    assert (b.code, b.name_vi, b.hex, b.rgb) == (code, name_vi, hex_, rgb)
    assert b.use_vi and b.use_en
