"""Station files of automatic continuous monitoring (TT 24/2017 → TT 10/2021; domain-reference §3.2, §3.3).

One text file per station and measurement time, named ``<province>_<facility>_<station>_<yyyyMMddHHmmss>.txt``
(or ``<station>_<yyyyMMddHHmmss>.txt``); the station is everything before the last ``_`` (codes such as ``NUOC01``
repeat across facilities). One line per parameter, ``code value unit yyyyMMddHHmmss status``, split on any
whitespace; the §3.3 variants are read too (timestamp first, no status = 00, no unit, ``code value time``).
Times are local (Asia/Ho_Chi_Minh), kept as the logger wrote them (hourly values are hour-ending, §1.7), in UTC.

* Status 00 = measuring: a reading. 01 = calibration, 02 = device error: the value is dropped (never stored as 0)
  and the parameter listed in ``excluded``, so indices leave it out and the IOC can say why.
* Known codes map to the IOC's names (``PARAMETERS``), values to one unit per kind (``UNITS``; air concentrations
  in µg/m³, Nm³ read as m³ at 25 °C per QCVN 05:2023). ppb/ppm are refused: the reference gives no molecular
  weights. A concentration needs a unit; pH, %, °C and degrees may omit it.
* A line that cannot be read (columns, time, status, number, unit, time over ``future_tolerance_s`` ahead of
  ``now``) is a ``BadRecord`` (index = line number, field = its code); a code given twice keeps its first line, the
  later one is a ``BadRecord``. Unknown codes are listed once each in ``unknown_codes``.
* ``StationFileError`` refuses the whole file: a name off the convention; an encoding other than UTF-8 (BOM or
  not), UTF-16 with BOM or Windows-1258 read without doubt; a line for another time than the name's; no line of a
  known parameter; air and water parameters mixed, or only shared ones (Temp, Flow …): water-only parameters
  (pH, DO, COD …) make ``water_quality``, air-only ones ``air_quality``.
"""

from __future__ import annotations

import codecs
import math
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

from connectors.base import BadRecord, Item
from connectors.folder import register
from engine.events import IncomingEvent
from engine.text import line_of

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
STATUSES = {"00": "normal", "01": "calibration", "02": "device_error"}

# IOC name: (code written by write_station_file, medium, unit kind, other codes seen in files). Codes are
# compared without case and punctuation ("PM2,5" = "PM2.5" = "pm25"). Written codes follow TT 10/2021 Bảng 34.
PARAMETERS: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "pm25": ("PM2,5", "air", "air", ()), "pm10": ("PM10", "air", "air", ()), "pm": ("PM", "air", "air", ("Dust",)),
    "tsp": ("TSP", "air", "air", ()), "so2": ("SO2", "air", "air", ()), "no2": ("NO2", "air", "air", ()),
    "no": ("NO", "air", "air", ()), "nox": ("NOx", "air", "air", ()), "co": ("CO", "air", "air", ()),
    "o3": ("O3", "air", "air", ()), "h2s": ("H2S", "air", "air", ()), "nh3": ("NH3", "air", "air", ()),
    "hg": ("VHg", "air", "air", ("Hg",)), "o2": ("O2", "air", "percent", ()),
    "humidity": ("RH", "air", "percent", ("Humidity", "Hum")), "pressure": ("P", "air", "hpa", ("PRES", "Pressure")),
    "wind_speed": ("WS", "air", "speed", ("WSPM",)), "wind_dir": ("WD", "air", "degree", ()),
    "rain": ("Rain", "air", "mm", ()), "dew_point": ("DEWP", "air", "celsius", ()),
    "temp": ("Temp", "any", "celsius", ("Temperature",)), "flow": ("Flow", "any", "flow", ()),
    "ph": ("pH", "water", "ph", ()), "do": ("DO", "water", "water", ()), "cod": ("COD", "water", "water", ()),
    "bod5": ("BOD5", "water", "water", ("BOD",)), "tss": ("TSS", "water", "water", ()),
    "nh4": ("NH4", "water", "water", ("N-NH4", "NH4-N", "Amoni")), "no3": ("NO3", "water", "water", ("N-NO3",)),
    "po4": ("PO4", "water", "water", ("P-PO4",)), "tp": ("TP", "water", "water", ()),
    "tn": ("TN", "water", "water", ()), "toc": ("TOC", "water", "water", ()), "cl": ("Cl", "water", "water", ()),
    "color": ("Color", "water", "color", ("Colour",)), "turbidity": ("Turb", "water", "ntu", ("Turbidity",)),
    "conductivity": ("EC", "water", "conductivity", ("Cond",)), "salinity": ("Sal", "water", "salinity", ()),
}
# unit kind: (unit of the IOC, factor from each unit as normalised by _unit_key: lower case, µ → u, Nm3 → m3, ° → o)
UNITS: dict[str, tuple[str, dict[str, float]]] = {
    "air": ("µg/m3", {"ug/m3": 1, "mg/m3": 1000}), "water": ("mg/L", {"mg/l": 1, "g/m3": 1, "ug/l": 0.001}),
    "percent": ("%", {"%": 1, "%rh": 1, "%vol": 1, "": 1}), "ph": ("pH", {"ph": 1, "-": 1, "": 1}),
    "celsius": ("°C", {"oc": 1, "c": 1, "degc": 1, "": 1}), "hpa": ("hPa", {"hpa": 1, "mbar": 1, "kpa": 10}),
    "flow": ("m3/h", {"m3/h": 1, "m3/s": 3600}), "speed": ("m/s", {"m/s": 1}), "mm": ("mm", {"mm": 1}),
    "degree": ("°", {"o": 1, "deg": 1, "": 1}), "color": ("Pt-Co", {"pt-co": 1, "ptco": 1, "pt/co": 1}),
    "ntu": ("NTU", {"ntu": 1, "fnu": 1}), "conductivity": ("µS/cm", {"us/cm": 1, "ms/cm": 1000}),
    "salinity": ("‰", {"‰": 1, "ppt": 1, "psu": 1}),
}
# Where the timestamp sits, for each column count: its index → indexes of (code, value, unit, status); §3.3.
LAYOUTS: dict[int, dict[int, tuple[int, int, int | None, int | None]]] = {
    5: {3: (0, 1, 2, 4), 0: (1, 2, 3, 4)}, 4: {3: (0, 1, 2, None), 2: (0, 1, None, 3)}, 3: {2: (0, 1, None, None)},
}
_FILE_NAME = re.compile(r"(?P<station>[^\s/\\]+)_(?P<time>\d{14})\.txt", re.IGNORECASE)
_STAMP = re.compile(r"\d{14}")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _code_key(code: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKC", code).upper() if c.isalnum())


def _unit_key(unit: str) -> str:
    text = unicodedata.normalize("NFKC", unit).lower().replace(" ", "").replace("μ", "u").replace("°", "o")
    return text.replace("nm3", "m3")


ALIASES = {_code_key(code): name for name, (written, _, _, others) in PARAMETERS.items() for code in (written, *others)}


class StationFileError(ValueError):
    """The whole file cannot be read (the folder connector reports it and may quarantine it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class StationFile:
    station: str
    time: datetime  # aware, UTC
    readings: dict[str, float]  # status 00 only, in the IOC's units
    statuses: dict[str, str]  # every known parameter read: "00" | "01" | "02"
    excluded: dict[str, str]  # parameter → "calibration" | "device_error"
    unknown_codes: list[str]
    bad_lines: list[BadRecord]
    encoding: str
    event_type: str = "air_quality"  # or "water_quality"


class _Line(NamedTuple):
    code: str
    param: str | None  # None: an unknown code
    value: float | None  # None unless status 00
    time: datetime
    status: str


class _BadLine(Exception):
    """A line that cannot be used: ``args`` = (why, its parameter code or None)."""


def _local_time(stamp: str) -> datetime | None:
    try:
        return datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=LOCAL).astimezone(UTC)
    except ValueError:
        return None


def _file_name(filename: str) -> tuple[str, datetime]:
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    match = _FILE_NAME.fullmatch(name)
    when = _local_time(match["time"]) if match else None
    if match is None or when is None:
        raise StationFileError(f"file name {name!r} is not <province>_<facility>_<station>_<yyyyMMddHHmmss>.txt")
    return match["station"], when


def _decode(content: bytes) -> tuple[str, str]:
    """The text (NFC) and its encoding, when it can be read without doubt."""
    if content.startswith(codecs.BOM_UTF8):
        tries = [("utf-8-sig", "utf-8 (BOM)")]
    elif content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        tries = [("utf-16", "utf-16")]
    elif b"\x00" in content:
        line = line_of(content.decode("latin-1"), content.index(b"\x00"))
        raise StationFileError(f"NUL bytes without a byte order mark (UTF-16 without BOM?) from line {line}: the "
                               "encoding is unclear")
    else:
        tries = [("utf-8", "utf-8"), ("cp1258", "windows-1258")]
    for codec, label in tries:
        try:
            text = content.decode(codec)
        except UnicodeDecodeError:
            continue
        where = next((i for i, c in enumerate(text) if unicodedata.category(c) == "Cc" and c not in "\t\r\n"), None)
        if where is not None:
            raise StationFileError(f"control characters in the text read as {label} (line {line_of(text, where)}, "
                                   f"U+{ord(text[where]):04X}): not a station text file")
        return unicodedata.normalize("NFC", text), label
    raise StationFileError(f"not readable as {' or '.join(label for _, label in tries)}")


def _read_line(tokens: list[str], latest: datetime) -> _Line:
    """One line's reading; ``_BadLine`` says why it cannot be used."""
    at = next((i for i in LAYOUTS.get(len(tokens), {}) if _STAMP.fullmatch(tokens[i])), None)
    if at is None:
        code = next((t for t in tokens if not _STAMP.fullmatch(t)), None)
        raise _BadLine(f"{len(tokens)} columns, expected code, value, unit, yyyyMMddHHmmss, status", code)
    c, v, u, s = LAYOUTS[len(tokens)][at]
    code, text, unit = tokens[c], tokens[v], tokens[u] if u is not None else ""
    when = _local_time(tokens[at])
    if when is None:
        raise _BadLine(f"{tokens[at]} is not a valid time", code)
    if when > latest:
        raise _BadLine(f"time {tokens[at]} is in the future", code)
    status = tokens[s].zfill(2) if s is not None else "00"
    if status not in STATUSES:
        raise _BadLine(f"unknown status {tokens[s] if s is not None else ''!r} (00, 01 or 02)", code)
    param = ALIASES.get(_code_key(code))
    if param is None or status != "00":
        return _Line(code, param, None, when, status)
    if not _NUMBER.fullmatch(text) or not math.isfinite(value := float(text)):
        raise _BadLine(f"value {text!r} is not a number", code)
    target, factors = UNITS[PARAMETERS[param][2]]
    factor = factors.get(_unit_key(unit))
    if factor is None:
        why = "no molecular weights in the reference" if _unit_key(unit) in ("ppb", "ppm") else \
            f"accepted: {', '.join(k or '(none)' for k in factors)}"
        raise _BadLine(f"unit {unit or '(none)'!r} cannot be converted to {target} for {param} ({why})", code)
    return _Line(code, param, value * factor, when, status)


def _event_type(params: list[str]) -> str:
    media = {PARAMETERS[p][1] for p in params} - {"any"}
    if len(media) == 1:
        return f"{media.pop()}_quality"
    if media:
        raise StationFileError(f"the file mixes air and water parameters ({', '.join(sorted(params))})")
    raise StationFileError(f"only parameters shared by air and water stations ({', '.join(params)}): "
                           "cannot tell air from water")


def parse_station_file(content: bytes, filename: str, now: datetime, *, future_tolerance_s: float = 600
                       ) -> StationFile:
    """The file's readings; ``StationFileError`` when the whole file cannot be read."""
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    station, file_time = _file_name(filename)
    text, encoding = _decode(content)
    latest = now + timedelta(seconds=future_tolerance_s)
    readings, statuses, excluded, first_line = dict[str, float](), dict[str, str](), dict[str, str](), dict[str, int]()
    unknown, bad = list[str](), list[BadRecord]()
    for number, raw in enumerate(re.split(r"\r\n|\r|\n", text), start=1):
        if not (tokens := raw.split()):
            continue
        try:
            line = _read_line(tokens, latest)
        except _BadLine as err:
            bad.append(BadRecord(index=number, reason=err.args[0], field=err.args[1], raw=raw))
            continue
        if line.time != file_time:
            raise StationFileError(f"line {number} is for {line.time.astimezone(LOCAL):%Y-%m-%d %H:%M:%S}, the file "
                                   f"name for {file_time.astimezone(LOCAL):%Y-%m-%d %H:%M:%S}: one file, one time")
        if line.param is None:
            unknown += [line.code] if line.code not in unknown else []
        elif line.param in first_line:
            bad.append(BadRecord(index=number, field=line.code, raw=raw,
                                 reason=f"{line.param} already given on line {first_line[line.param]}, which is kept"))
        else:
            first_line[line.param], statuses[line.param] = number, line.status
            if line.value is not None:
                readings[line.param] = line.value
            else:
                excluded[line.param] = STATUSES[line.status]
    if not statuses:
        raise StationFileError(f"no readable line of a known parameter ({len(bad)} bad lines, "
                               f"unknown codes: {', '.join(unknown) or 'none'})")
    return StationFile(station, file_time, readings, statuses, excluded, unknown, bad, encoding,
                       _event_type(list(statuses)))


def idempotency_key(station: str, time: datetime) -> str:
    return f"{station}@{time.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def event_for(parsed: StationFile, source: str) -> IncomingEvent:
    """The file as one event: readings (status 00) plus ``status``: parameter → "calibration" | "device_error"."""
    return IncomingEvent(source=source, type=parsed.event_type, sector="environment", time=parsed.time,
                         entity=parsed.station, values={**parsed.readings, "status": dict(parsed.excluded)},
                         idempotency_key=idempotency_key(parsed.station, parsed.time))


@register("station_file")
def station_file_items(content: bytes, filename: str, source: str) -> Iterator[Item]:
    """Folder / FTP parser: one event per file, then its bad lines and one record naming the unknown codes."""
    parsed = parse_station_file(content, filename, datetime.now(UTC))
    yield event_for(parsed, source)
    yield from parsed.bad_lines
    if parsed.unknown_codes:
        codes = parsed.unknown_codes
        yield BadRecord(index=0, field="unknown_codes", raw=list(codes),
                        reason=f"{len(codes)} unknown parameter codes: {', '.join(codes)}")


def import_directory(path: Path, now: datetime) -> Iterator[tuple[Path, StationFile | StationFileError]]:
    """Every ``*.txt`` under ``path`` (any folder layout of §3.2), by file name; a bad file never stops the rest."""
    files = sorted((p for p in path.rglob("*") if p.suffix.lower() == ".txt" and p.is_file()),
                   key=lambda p: (p.name, str(p)))
    for file in files:
        try:
            yield file, parse_station_file(file.read_bytes(), file.name, now)
        except StationFileError as err:
            yield file, err
        except OSError as exc:
            yield file, StationFileError(f"cannot read the file: {exc}")


def station_file_name(station: str, time: datetime) -> str:
    return f"{station}_{time.astimezone(LOCAL):%Y%m%d%H%M%S}.txt"


def write_station_file(station: str, time: datetime, readings: Mapping[str, float],
                       statuses: Mapping[str, str] | None = None) -> bytes:
    """A station file (UTF-8, CRLF) in the IOC's units; a parameter with status 01 / 02 and no reading gets NaN.

    ``statuses`` takes "00" / "01" / "02" or "normal" / "calibration" / "device_error"; the default is 00."""
    if time.tzinfo is None or not _FILE_NAME.fullmatch(station_file_name(station, time)):
        raise ValueError(f"{station!r} at {time} cannot name a station file (a time zone is needed)")
    codes = {name: code for code, name in STATUSES.items()}
    lines = []
    for param in dict.fromkeys([*readings, *(statuses or {})]):
        code, _, kind, _ = PARAMETERS[param]
        status = (statuses or {}).get(param, "00")
        value = readings.get(param, math.nan)
        lines.append(f"{code}\t{float(value)!r}\t{UNITS[kind][0]}\t{time.astimezone(LOCAL):%Y%m%d%H%M%S}\t"
                     f"{codes.get(status, status)}\r\n")
    return "".join(lines).encode()
