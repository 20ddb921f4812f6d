"""A water-quality sheet's headers read as VN_WQI parameters with their units: nothing guessed, nothing dropped."""

from __future__ import annotations

import pytest

from engine import water_samples, wqi
from engine.water_samples import HeaderProblem, parameter_for, read_headers

pytestmark = pytest.mark.no_database  # pure: no database, no Redis (runs once, in the SQLite pass)


@pytest.mark.parametrize(("header", "code"), [
    ("DO", "DO"), ("DO (mg/L)", "DO"), ("DO mg/l", "DO"), ("DO, mg/L", "DO"), ("Oxy hòa tan (mg/l)", "DO"),
    ("DO %", "DO%"), ("DO%", "DO%"), ("DO (% bão hòa)", "DO%"), ("DO (%)", "DO%"), ("DO bão hòa", "DO%"),
    ("pH", "pH"), ("pH (-)", "pH"), ("Nhiệt độ (°C)", "T"), ("T (oC)", "T"),
    ("BOD5", "BOD5"), ("BOD₅ (mg/L)", "BOD5"), ("BOD5 (20°C) mg/l", "BOD5"), ("N-NH4+ (mg/L)", "N-NH4"),
    ("Amoni (NH4+ tính theo N) (mg/l)", "N-NH4"), ("P-PO4", "P-PO4"), ("Cr(VI)", "Cr6+"), ("Cr6+", "Cr6+"),
    ("Coliform (MPN/100mL)", "Coliform"), ("Tổng Coliform MPN/100 mL", "Coliform"), ("E. coli", "E.coli"),
    ("Aldrin (µg/L)", "Aldrin"), ("BHC (ug/l)", "BHC"), ("Dieldrin", "Dieldrin"), ("DDTs (µg/L)", "DDTs"),
    ("Heptachlor & Heptachlorepoxide", "Heptachlor"), ("Heptachlor & Heptachlorepoxide (µg/L)", "Heptachlor"),
    ("Độ đục (NTU)", None), ("Ghi chú", None), ("Dòng chảy", None),
])
def test_a_header_names_its_parameter_with_its_unit(header: str, code: str | None) -> None:
    found = parameter_for(header)
    assert (found.code if isinstance(found, water_samples.Parameter) else found) == code


@pytest.mark.parametrize(("header", "message"), [
    ("DO (µg/L)", water_samples.WRONG_UNIT),  # DO is mg/L or % saturation, never µg/L
    ("pH (mg/L)", water_samples.WRONG_UNIT),
    ("Aldrin (mg/L)", water_samples.WRONG_UNIT),  # pesticides are in µg/L: not converted, refused
    ("Coliform (mg/L)", water_samples.WRONG_UNIT),
    ("DO (ppm)", water_samples.UNKNOWN_UNIT),
])
def test_a_unit_that_is_not_the_parameters_is_refused(header: str, message: str) -> None:
    found = parameter_for(header, 4)
    assert isinstance(found, HeaderProblem) and found.message == message and found.columns == (4,)
    assert f"«{header}»" in str(found)


def test_headers_that_read_alike_are_refused_naming_both_and_unknown_ones_are_reported() -> None:
    read = read_headers(["site", "time", "DO", "DO %", "Độ đục (NTU)", "DO (mg/L)", "ph", "PH", "Độ đục (NTU)"],
                        ["site", "time"])
    assert read.columns == {"site": 0, "time": 1, "DO": 2, "DO%": 3, "pH": 6}
    assert [(e.columns, e.message) for e in read.errors] == [((2, 5), water_samples.SAME_PARAMETER),
                                                            ((6, 7), water_samples.SAME_TEXT)]
    assert "«DO» and «DO (mg/L)» are both DO, mg/L" in str(read.errors[0])
    assert [(w.columns, str(w)) for w in read.unknown] == [
        ((4,), "«Độ đục (NTU)» is not a VN_WQI parameter: its values are not read")]  # once for its text
    missing = read_headers(["Vị trí", "pH"], ["site", "time"]).errors
    assert [str(e) for e in missing] == ["there is no column «site»", "there is no column «time»"]


def test_every_vn_wqi_parameter_has_one_meaning_per_name_and_unit() -> None:
    codes = {p.code for p in water_samples.PARAMETERS}
    assert set(wqi.CURVES) <= codes and codes - set(wqi.CURVES) == {"T", "DO%"}
    assert {p.unit for p in water_samples.PARAMETERS} <= set(water_samples.UNITS)
    seen: dict[tuple[str, str], str] = {}
    for p in water_samples.PARAMETERS:
        for name in p.names:
            found = parameter_for(name)
            assert isinstance(found, water_samples.Parameter), name
            key = (water_samples._folded(name), p.unit)
            assert seen.setdefault(key, p.code) == p.code, f"{name} ({p.unit}) means two parameters"
            written = f"{name} ({water_samples.UNITS[p.unit][0]})" if p.unit else name
            assert getattr(parameter_for(written), "code", None) == p.code, written
