"""Reading the values of a statistics spreadsheet: headers, unit codes, periods, numbers, units of measure.

Pure functions, tested with tables of cases. A reader returns the value, or ``None`` when the text does not
say one unambiguously — the caller reports the cell; nothing here guesses.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
PROVINCE_CODE = "38"  # Thanh Hóa
PERIODS = ("month", "quarter", "year")
EMPTY_MARKS = {"-", "–", "—", "...", "…"}  # statistical tables' "no phenomenon" / "no data": nothing to store

_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4}


def exact_key(text: str) -> str:
    """A header as written, NFC-normalised, with runs of white space (line breaks in a cell) made one space."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def folded_key(text: str) -> str:
    """A header without case and diacritics: ``Thu ngân sách`` and ``THU NGAN SACH`` fold alike (đ → d)."""
    decomposed = unicodedata.normalize("NFD", exact_key(text).casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return bare.replace("đ", "d")


def find_column(headers: list[str], wanted: str) -> int | str:
    """The index of ``wanted`` among ``headers``, matched without case and diacritics. A reason (``missing column``,
    ``ambiguous column``) when there is not exactly one: two headers that read alike are refused, not chosen
    between, even when one of them is spelt exactly as wanted (``matching_columns`` names them)."""
    hits = matching_columns(headers, wanted)
    if len(hits) == 1:
        return hits[0]
    return "ambiguous column" if hits else "missing column"


def matching_columns(headers: list[str], wanted: str) -> list[int]:
    """The indexes of the headers that read as ``wanted`` (without case and diacritics)."""
    key = folded_key(wanted)
    return [i for i, header in enumerate(headers) if folded_key(header) == key]


def column_name(index: int) -> str:
    """A column as a spreadsheet shows it: 0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def unit_code(value: object) -> str | None:
    """A commune/ward code (5 digits) or the province code ``38``; a number cell counts as its digits."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    text = str(value).strip()
    return text if re.fullmatch(r"\d{5}", text) or text == PROVINCE_CODE else None


def _start(year: int, month: int) -> datetime | None:
    if not (1900 <= year <= 2999 and 1 <= month <= 12):
        return None
    return datetime(year, month, 1, tzinfo=LOCAL_TZ).astimezone(UTC)


def period_start(value: object, period: str) -> datetime | None:
    """The first instant (00:00 Asia/Ho_Chi_Minh, as UTC) of the ``period`` (month|quarter|year) that ``value``
    names: ``2026-09``, ``09/2026``, ``Tháng 9/2026``; ``Q3/2026``, ``2026-Q3``, ``Quý III/2026``; ``2026``.
    A date cell names its month. None when the value does not name a period of that kind."""
    if isinstance(value, date) and period == "month":
        return _start(value.year, value.month)
    if isinstance(value, int) and not isinstance(value, bool) and period == "year":
        return _start(value, 1)
    if not isinstance(value, str):
        return None
    text = folded_key(value).replace(" ", "")
    if period == "month":
        m = re.fullmatch(r"(\d{4})-(\d{1,2})", text) or re.fullmatch(r"(?:thang|t)?(\d{1,2})/(\d{4})", text)
        if not m:
            return None
        year, month = (m[1], m[2]) if len(m[1]) == 4 else (m[2], m[1])
        return _start(int(year), int(month))
    if period == "quarter":
        m = re.fullmatch(r"(\d{4})-q([1-4])", text) or re.fullmatch(r"(?:q|quy)([1-4]|i{1,3}|iv)/(\d{4})", text)
        if not m:
            return None
        year, quarter = (m[1], m[2]) if len(m[1]) == 4 else (m[2], m[1])
        return _start(int(year), 3 * (_ROMAN.get(quarter) or int(quarter)) - 2)
    if period == "year" and re.fullmatch(r"(?:nam)?(\d{4})", text):
        return _start(int(text[-4:]), 1)
    return None


_DAY_FIRST = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?")


def moment(value: object) -> datetime | None:
    """A date and time as a sheet writes it: a date or date-time cell, ISO 8601 text (``2026-10-05 09:30``, with or
    without its offset), or the Vietnamese day-first ``05/10/2026 09:30`` (a date alone is its midnight). Naive
    when nothing gives the time zone (the caller says which); None when the value is not a moment — a US
    month-first date is never guessed: ``10/05/2026`` is 10 May."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if m := _DAY_FIRST.fullmatch(text):
        day, month, year, hour, minute, second = (int(g) if g else 0 for g in m.groups())
        try:
            return datetime(year, month, day, hour, minute, second)
        except ValueError:
            return None
    try:
        return datetime.fromisoformat(text) if re.match(r"\d{4}-\d{2}-\d{2}", text) else None
    except ValueError:
        return None


_GROUPED_DOTS = re.compile(r"[1-9]\d{0,2}(?:\.\d{3})+")
_GROUPED_COMMAS = re.compile(r"[1-9]\d{0,2}(?:,\d{3})+")


def number(value: object) -> float | None:
    """A number as written in a Vietnamese or English sheet; None when it is not one.

    The rules: a number cell is its value. In text, when both ``.`` and ``,`` appear the last one is the decimal
    separator and the other groups thousands (``1.234,5``, ``1,234.5``); a lone ``,`` is decimal (``12,5``,
    ``1,234`` = 1.234); a lone ``.`` is decimal (``12.5``, ``0.123``) except when it groups thousands, i.e. one
    to three digits not starting with 0, then exactly three (``1.234`` = 1234); repeated separators of one kind
    group thousands (``1.234.567``, ``1,234,567``). Spaces around the number are ignored, not inside it."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    m = re.fullmatch(r"([-+\u2212]?)(\d[\d.,]*)", value.strip())
    if not m:
        return None
    sign, body = "-" if m[1] in ("-", "\u2212") else "", m[2]
    dots, commas = body.count("."), body.count(",")
    if dots and commas:
        decimal = "," if body.rfind(",") > body.rfind(".") else "."
        whole, _, fraction = body.rpartition(decimal)
        grouped = _GROUPED_DOTS if decimal == "," else _GROUPED_COMMAS
        if not fraction.isdigit() or not grouped.fullmatch(whole):
            return None
        return float(f"{sign}{whole.replace('.', '').replace(',', '')}.{fraction}")
    if commas == 1 and not body.endswith(","):
        return float(sign + body.replace(",", "."))
    if dots == 1 and not _GROUPED_DOTS.fullmatch(body) and not body.endswith("."):
        return float(sign + body)
    if _GROUPED_DOTS.fullmatch(body) or _GROUPED_COMMAS.fullmatch(body):
        return float(sign + body.replace(".", "").replace(",", ""))
    return float(sign + body) if body.isdigit() else None


def is_empty(value: object) -> bool:
    """A cell with nothing to store: blank, white space, or a statistical table's dash or ellipsis."""
    return value is None or (isinstance(value, str) and (not value.strip() or value.strip() in EMPTY_MARKS))


# Units of measure by dimension, each with its factor to the dimension's base unit.
_UNITS: dict[str, dict[str, float]] = {
    "concentration": {"ng/m3": 1e-6, "ug/m3": 1e-3, "mg/m3": 1.0, "g/m3": 1e3},
    "money": {"dong": 1.0, "nghin dong": 1e3, "trieu dong": 1e6, "ty dong": 1e9, "ti dong": 1e9},
    "mass": {"g": 1e-3, "kg": 1.0, "ta": 100.0, "tan": 1e3, "nghin tan": 1e6},
    "length": {"mm": 1e-3, "cm": 1e-2, "m": 1.0, "km": 1e3},
    "area": {"m2": 1.0, "ha": 1e4, "km2": 1e6},
    "volume": {"l": 1e-3, "m3": 1.0, "nghin m3": 1e3, "trieu m3": 1e6},
}


def _unit_key(unit: str) -> str:
    key = folded_key(unit.replace("µ", "u").replace("μ", "u"))
    return key.replace("³", "3").replace("²", "2").replace("ngan ", "nghin ")


def conversion_factor(source: str, target: str) -> float | None:
    """The factor that turns a value in ``source`` units into ``target`` units (mg/m3 → ug/m3 = 1000); None when
    either unit is unknown or they measure different things."""
    a, b = _unit_key(source), _unit_key(target)
    for units in _UNITS.values():
        if a in units and b in units:
            return units[a] / units[b]
    return None


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralised(text: str) -> str:
    """A CSV cell that a spreadsheet will not run as a formula: a leading ``'`` before ``=``, ``+``, ``-``, ``@``,
    tab or carriage return — except a plain negative number (``-12.5``), which stays a number."""
    if text.startswith(_FORMULA_START) and not re.fullmatch(r"-\d+(?:[.,]\d+)*", text):
        return "'" + text
    return text
