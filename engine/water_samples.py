"""Water samples as a monitoring sheet gives them: the VN_WQI parameters of Decision 1460/QĐ-TCMT with their units,
the names a header may give them, and the reading of a sheet's header row into parameters.

A pure core, tested with tables of cases (``tests/test_water_samples.py``). The unit is part of a parameter: DO in
mg/L and DO in % saturation are two parameters, so ``DO (mg/L)`` and ``DO mg/l`` are the first, ``DO %``, ``DO%``
and ``DO (% bão hòa)`` the second, and a header without a unit is the parameter that name usually means (``DO``:
mg/L, as QCVN 08 reports it). A header is refused rather than guessed when:

- two headers read alike (the same parameter, or the same text without case and diacritics): both are named;
- its unit is not the unit of the parameter its name gives (``DO (µg/L)``, ``pH (mg/L)``), or is not a unit at all.

A header that names no parameter is reported (a warning naming it) and its column is not read; nothing is dropped
without a word.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.errors import N_

MG_L, UG_L, MPN, PERCENT, CELSIUS, NO_UNIT = "mg/L", "µg/L", "MPN/100 mL", "% saturation", "°C", ""


@dataclass(frozen=True, slots=True)
class Parameter:
    """A VN_WQI input: its code (as ``engine.wqi`` names it; ``T`` is the water temperature, ``DO%`` the DO
    saturation), its unit, the names a header gives it, and whether a header with one of those names and no unit
    means this parameter when another one shares the name (DO without a unit is in mg/L, not % saturation)."""

    code: str
    unit: str
    names: tuple[str, ...]
    usual: bool = True


# §2.3 and §2.4 of Decision 1460 (domain-reference §2): groups I–V, pesticides in µg/L, Coliform/E.coli in MPN.
PARAMETERS: tuple[Parameter, ...] = (
    Parameter("pH", NO_UNIT, ("pH",)),
    Parameter("T", CELSIUS, ("T", "t°", "Nhiệt độ", "Nhiệt độ nước", "Temperature", "Water temperature")),
    Parameter("DO", MG_L, ("DO", "Oxy hòa tan", "Ôxy hòa tan", "Dissolved oxygen")),
    Parameter("DO%", PERCENT, ("DO", "Oxy hòa tan", "Ôxy hòa tan", "Dissolved oxygen", "DO bão hòa",
                               "DO saturation"), usual=False),
    Parameter("BOD5", MG_L, ("BOD5", "BOD5 (20°C)", "BOD")),
    Parameter("COD", MG_L, ("COD",)),
    Parameter("TOC", MG_L, ("TOC",)),
    Parameter("N-NH4", MG_L, ("N-NH4", "N-NH4+", "NH4+-N", "NH4-N", "Amoni", "Amoni (NH4+ tính theo N)")),
    Parameter("N-NO3", MG_L, ("N-NO3", "N-NO3-", "NO3--N", "NO3-N", "Nitrat", "Nitrat (NO3- tính theo N)")),
    Parameter("N-NO2", MG_L, ("N-NO2", "N-NO2-", "NO2--N", "NO2-N", "Nitrit", "Nitrit (NO2- tính theo N)")),
    Parameter("P-PO4", MG_L, ("P-PO4", "P-PO43-", "PO43--P", "PO4-P", "Phosphat", "Photphat",
                              "Phosphat (PO43- tính theo P)")),
    Parameter("Coliform", MPN, ("Coliform", "Coliforms", "Tổng Coliform", "Total coliform")),
    Parameter("E.coli", MPN, ("E.coli", "E. coli", "Escherichia coli")),
    Parameter("As", MG_L, ("As", "Asen", "Arsenic")),
    Parameter("Cd", MG_L, ("Cd", "Cadimi", "Cadmium")),
    Parameter("Pb", MG_L, ("Pb", "Chì", "Lead")),
    Parameter("Cr6+", MG_L, ("Cr6+", "Cr(VI)", "Crom VI", "Crom VI (Cr6+)", "Chromium VI")),
    Parameter("Cu", MG_L, ("Cu", "Đồng", "Copper")),
    Parameter("Zn", MG_L, ("Zn", "Kẽm", "Zinc")),
    Parameter("Hg", MG_L, ("Hg", "Thủy ngân", "Mercury")),
    Parameter("Aldrin", UG_L, ("Aldrin",)),
    Parameter("BHC", UG_L, ("BHC",)),
    Parameter("Dieldrin", UG_L, ("Dieldrin",)),
    Parameter("DDTs", UG_L, ("DDTs", "DDT", "Tổng DDT", "Tổng DDTs")),
    Parameter("Heptachlor", UG_L, ("Heptachlor & Heptachlorepoxide", "Heptachlor và Heptachlorepoxide",
                                   "Heptachlor + Heptachlorepoxide", "Heptachlor and Heptachlorepoxide",
                                   "Heptachlor & Heptachlor epoxide", "Heptachlor")),
)
CODES = frozenset(p.code for p in PARAMETERS)

# How sheets write each unit (compared without case, spaces or diacritics; µ and u alike).
UNITS: dict[str, tuple[str, ...]] = {
    MG_L: ("mg/L", "mg/dm3"),
    UG_L: ("µg/L", "ug/L", "mcg/L"),
    MPN: ("MPN/100 mL", "MPN/100mL", "CFU/100 mL", "MPN hoặc CFU/100 mL"),
    PERCENT: ("%", "% bão hòa", "% saturation", "%sat", "% DO"),
    CELSIUS: ("°C", "oC", "độ C", "C"),
    NO_UNIT: ("-", ""),
}

SAME_PARAMETER = N_("%(first)s and %(second)s are both %(name)s: keep one of them")
SAME_TEXT = N_("%(first)s and %(second)s are the same header but for case, diacritics or spaces: keep one of them")
WRONG_UNIT = N_("%(header)s: %(unit)s is not a unit of %(name)s (%(units)s)")
UNKNOWN_UNIT = N_("%(header)s: unknown unit %(unit)s for %(name)s")
UNKNOWN_COLUMN = N_("%(header)s is not a VN_WQI parameter: its values are not read")
MISSING_COLUMN = N_("there is no column %(name)s")


def _folded(text: str) -> str:
    """Without case, diacritics (đ → d), white space or ``-_.,:``; sub- and superscripts as plain digits (NFKC)."""
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    bare = "".join(ch for ch in text if not unicodedata.combining(ch)).replace("đ", "d").replace("μ", "u")
    return re.sub(r"[\s\-_.,:]+", "", bare)


_BY_NAME: dict[str, list[Parameter]] = {}
for _p in PARAMETERS:
    for _name in _p.names:
        _BY_NAME.setdefault(_folded(_name), []).append(_p)
_UNIT_OF = {_folded(spelling): unit for unit, spellings in UNITS.items() for spelling in spellings}
_UNIT_SUFFIX = re.compile(r"^(?P<name>.*?\S)\s*(?:[(\[]\s*(?P<paren>[^()\[\]]*?)\s*[)\]]|,\s*(?P<comma>.+)"
                          r"|(?P<percent>%))$")


def _splits(header: str) -> Iterator[tuple[str, str]]:
    """The ways a header may write a unit after its name, as (name, unit): in brackets, after a comma, a ``%``,
    or last words that are a unit (``DO mg/l``, ``Coliform MPN/100 mL``)."""
    m = _UNIT_SUFFIX.match(header)
    if m:
        yield m["name"], m["paren"] if m["paren"] is not None else m["comma"] or m["percent"] or ""
    words = header.split(" ")
    for i in range(1, len(words)):
        name, unit = " ".join(words[:i]).strip(), " ".join(words[i:])
        if name and _folded(unit) in _UNIT_OF:
            yield name, unit


@dataclass(frozen=True, slots=True)
class HeaderProblem:
    """A header that cannot be read as it stands: its columns (0-based; none for a missing column), a message id
    and its parameters."""

    columns: tuple[int, ...]
    message: str
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message % self.params


def parameter_for(header: str, column: int = 0) -> Parameter | HeaderProblem | None:
    """The parameter a header names, a problem (a unit that is not the parameter's), or None (no parameter)."""
    candidates = _BY_NAME.get(_folded(header))
    if candidates:  # the name alone: the usual parameter of that name
        return next((p for p in candidates if p.usual), candidates[0])
    split = next(((name, unit) for name, unit in _splits(header) if _folded(name) in _BY_NAME), None)
    if split is None:
        return None
    name, written = split
    candidates = _BY_NAME[_folded(name)]
    unit = _UNIT_OF.get(_folded(written))
    quoted = f"«{header}»"
    if unit is None:
        return HeaderProblem((column,), UNKNOWN_UNIT, {"header": quoted, "unit": f"«{written}»", "name": name})
    found = next((p for p in candidates if p.unit == unit), None)
    if found is None:
        units = ", ".join(p.unit or "-" for p in candidates)
        return HeaderProblem((column,), WRONG_UNIT, {"header": quoted, "unit": unit or "-", "name": name,
                                                     "units": units})
    return found


@dataclass
class Headers:
    """A header row read: the column of each parameter (by code) and of each other wanted column (by its name);
    ``errors`` refuse the file; ``unknown`` are warnings (columns not read)."""

    columns: dict[str, int] = field(default_factory=dict)
    errors: list[HeaderProblem] = field(default_factory=list)
    unknown: list[HeaderProblem] = field(default_factory=list)


def read_headers(headers: Sequence[str], wanted: Collection[str] = ()) -> Headers:
    """Each header as a parameter, or as one of the ``wanted`` columns (the site, the time: matched without case
    and diacritics, and required); see the module's rules. Headers that name nothing are warned of once per text
    (a merged header spans several columns)."""
    out = Headers()
    wanted_by_key = {_folded(w): w for w in wanted}
    unknown: set[str] = set()
    for column, header in enumerate(headers):
        if not header.strip():
            continue
        folded = _folded(header)
        found = wanted_by_key.get(folded) or parameter_for(header, column)
        if isinstance(found, HeaderProblem):
            out.errors.append(found)
            continue
        if found is None:
            if folded not in unknown:
                unknown.add(folded)
                out.unknown.append(HeaderProblem((column,), UNKNOWN_COLUMN, {"header": f"«{header}»"}))
            continue
        key, name = (found, found) if isinstance(found, str) else (found.code, _label(found))
        earlier = out.columns.setdefault(key, column)
        if earlier != column:
            alike = _folded(headers[earlier]) == folded
            out.errors.append(HeaderProblem((earlier, column), SAME_TEXT if alike else SAME_PARAMETER, {
                "first": f"«{headers[earlier]}»", "second": f"«{header}»", "name": name}))
    for w in wanted:
        if w not in out.columns:
            out.errors.append(HeaderProblem((), MISSING_COLUMN, {"name": f"«{w}»"}))
    return out


def _label(p: Parameter) -> str:
    return f"{p.code}, {p.unit}" if p.unit else p.code
