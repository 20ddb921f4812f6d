"""Text files of automatic monitoring stations (TT 10/2021, domain-reference §3): tables of real-looking files."""

from __future__ import annotations

import csv
import math
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.base import BadRecord
from connectors.folder import PARSERS, Folder
from connectors.station_file import (
    LOCAL,
    StationFile,
    StationFileError,
    event_for,
    import_directory,
    parse_station_file,
    station_file_name,
    write_station_file,
)
from engine.events import IncomingEvent

pytestmark = pytest.mark.no_database  # pure: no database, no Redis (runs once, in the SQLite pass)

NOW = datetime(2025, 7, 1, 4, 0, tzinfo=UTC)  # 11:00 in Thanh Hóa
STAMP = "20250701103000"  # 10:30 local = 03:30 UTC
AT = datetime(2025, 7, 1, 3, 30, tzinfo=UTC)
NAME = f"TH_NMXMNS_KHITH01_{STAMP}.txt"
WATER = f"TH_NMGIAY_NUOC01_{STAMP}.txt"
PRSA = sorted((Path(__file__).resolve().parents[2] / "shared" / "data" / "air_quality").glob("PRSA_Data_*.csv"))


def line(code: str, value: str, unit: str = "mg/Nm3", stamp: str = STAMP, status: str = "00") -> str:
    return "\t".join(c for c in (code, value, unit, stamp, status) if c) + "\r\n"


def station_file(*lines: str, encoding: str = "utf-8") -> bytes:
    return "".join(lines).encode(encoding)


# The example of §3.2: a stack-emission station, one parameter in calibration, one in device error.
EXAMPLE = station_file(line("SO2", "125.4"), line("NOx", "310.2"), line("CO", "48.0"),
                       line("PM", "22.5", status="01"), line("O2", "12.1", "%"), line("Temp", "142.0", "oC"),
                       line("Flow", "85000", "m3/h", status="02"))


def parse(content: bytes, name: str = NAME, **kw: float) -> StationFile:
    return parse_station_file(content, name, NOW, **kw)


def test_the_reference_example_is_read_in_the_ioc_names_and_units() -> None:
    parsed = parse(EXAMPLE)
    assert (parsed.station, parsed.time, parsed.encoding, parsed.event_type) == \
        ("TH_NMXMNS_KHITH01", AT, "utf-8", "air_quality")
    assert parsed.readings == pytest.approx({"so2": 125_400, "nox": 310_200, "co": 48_000, "o2": 12.1, "temp": 142})
    assert parsed.statuses == {"so2": "00", "nox": "00", "co": "00", "pm": "01", "o2": "00", "temp": "00",
                               "flow": "02"}
    assert parsed.excluded == {"pm": "calibration", "flow": "device_error"}
    assert (parsed.unknown_codes, parsed.bad_lines) == ([], [])


@pytest.mark.parametrize(("status", "reading", "excluded"), [
    ("00", 35.5, None),
    ("01", None, "calibration"),
    ("02", None, "device_error"),
    ("2", None, "device_error"),  # a logger that drops the leading zero
])
def test_status_decides_whether_the_value_counts(status: str, reading: float | None, excluded: str | None) -> None:
    parsed = parse(station_file(line("PM2,5", "35.5", "µg/m3", status=status), line("PM10", "60", "µg/m3")))
    assert parsed.readings.get("pm25") == reading
    assert parsed.excluded.get("pm25") == excluded
    assert parsed.readings["pm10"] == 60


def test_a_device_error_stores_nothing_not_zero_and_is_reported_in_the_event() -> None:
    parsed = parse(station_file(line("PM2,5", "0", "µg/m3", status="02"), line("PM10", "0.0", "µg/m3", status="02"),
                                line("SO2", "20", "µg/m3")))
    assert "pm25" not in parsed.readings and "pm10" not in parsed.readings
    event = event_for(parsed, "ftp-sotnmt")
    assert event.values == {"so2": 20.0, "status": {"pm25": "device_error", "pm10": "device_error"}}


def test_an_unknown_status_is_a_bad_line() -> None:
    parsed = parse(station_file(line("SO2", "20", "µg/m3", status="03"), line("NO2", "30", "µg/m3")))
    assert parsed.bad_lines == [BadRecord(index=1, field="SO2", reason="unknown status '03' (00, 01 or 02)",
                                          raw="SO2\t20\tµg/m3\t20250701103000\t03")]
    assert parsed.readings == {"no2": 30.0}


def test_unknown_codes_are_listed_once_and_reported_by_the_folder_parser() -> None:
    content = station_file(line("SO2", "20", "µg/m3"), line("XYZ", "1"), line("ORP", "255", "mV"), line("XYZ", "2"))
    parsed = parse(content)
    assert parsed.unknown_codes == ["XYZ", "ORP"]
    assert parsed.readings == {"so2": 20.0} and parsed.bad_lines == []
    items = list(PARSERS["station_file"](content, NAME, "ftp-sotnmt"))
    assert items[-1] == BadRecord(index=0, field="unknown_codes", raw=["XYZ", "ORP"],
                                  reason="2 unknown parameter codes: XYZ, ORP")


def cp1258(text: str) -> bytes:
    """Windows-1258 as Vietnamese loggers write it: base letters precomposed, tone marks as combining characters."""
    tones = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
    out = []
    for char in unicodedata.normalize("NFC", text):
        try:
            out.append(char.encode("cp1258"))
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", char)
            base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in tones))
            out.append((base + "".join(c for c in parts if c in tones)).encode("cp1258"))
    return b"".join(out)


VIETNAMESE = line("Temp", "28.5", "°C") + line("Độ_đục", "12", "NTU") + line("PM10", "45", "µg/m3")


@pytest.mark.parametrize(("content", "encoding"), [
    (VIETNAMESE.encode("utf-8"), "utf-8"),
    (b"\xef\xbb\xbf" + VIETNAMESE.encode("utf-8"), "utf-8 (BOM)"),
    (VIETNAMESE.encode("utf-16"), "utf-16"),
    (b"\xfe\xff" + VIETNAMESE.encode("utf-16-be"), "utf-16"),
    (cp1258(VIETNAMESE), "windows-1258"),
])
def test_encodings_read_the_same_text(content: bytes, encoding: str) -> None:
    parsed = parse(content)
    assert parsed.encoding == encoding
    assert parsed.readings == {"temp": 28.5, "pm10": 45.0}
    assert parsed.unknown_codes == ["Độ_đục"]  # NFC: the same string whichever way the accents were written


@pytest.mark.parametrize(("content", "reason"), [
    (VIETNAMESE.encode("utf-16-le"), "NUL bytes without a byte order mark"),
    (line("PM10", "45", "µg/m3").encode() + b"\x81\x8d\r\n", "not readable as utf-8 or windows-1258"),
    (b"\xef\xbb\xbf" + line("PM10", "45", "µg/m3").encode("cp1258"), "not readable as utf-8 (BOM)"),
    (line("PM10", "45", "µg/m3").encode() + b"\x1b[0m\x07", "control characters"),
])
def test_text_that_cannot_be_read_without_doubt_is_refused(content: bytes, reason: str) -> None:
    with pytest.raises(StationFileError, match=re.escape(reason)):
        parse(content)


@pytest.mark.parametrize(("bad", "field", "reason"), [
    ("SO2\t125.4\tmg/Nm3\t00\r\n", "SO2", "4 columns, expected code, value, unit, yyyyMMddHHmmss, status"),
    (f"SO2\t{STAMP}\t00\r\n", "SO2", "3 columns"),
    (f"SO2\t125.4\t{STAMP}\t00\r\n", "SO2", "unit '(none)' cannot be converted to µg/m3 for so2"),
    ("SO2\r\n", "SO2", "1 columns"),
    (line("SO2", "abc"), "SO2", "value 'abc' is not a number"),
    (line("SO2", "12,5"), "SO2", "value '12,5' is not a number"),  # decimal comma: 12.5 or 125? refused
    (line("SO2", "nan"), "SO2", "value 'nan' is not a number"),
    (line("SO2", "1e999"), "SO2", "value '1e999' is not a number"),
    (line("SO2", "12", stamp="20250732103000"), "SO2", "20250732103000 is not a valid time"),
    (line("SO2", "12", "ppb"), "SO2", "no molecular weights in the reference"),
    (line("SO2", "12", "kg"), "SO2", "accepted: ug/m3, mg/m3"),
    (line("SO2", "12", stamp="20250701112000"), "SO2", "time 20250701112000 is in the future"),
])
def test_a_bad_line_is_reported_and_the_rest_of_the_file_is_kept(bad: str, field: str, reason: str) -> None:
    parsed = parse(station_file(line("NO2", "40", "µg/m3"), bad, line("CO", "1.5", "mg/m3")))
    assert len(parsed.bad_lines) == 1
    record = parsed.bad_lines[0]
    assert (record.index, record.field, record.raw) == (2, field, bad.rstrip("\r\n"))
    assert reason in record.reason
    assert parsed.readings == {"no2": 40.0, "co": 1500.0}


@pytest.mark.parametrize(("minutes_ahead", "tolerance_s", "accepted"), [
    (5, 600, True), (9, 600, True), (11, 600, False), (5, 60, False), (0, 0, True),
])
def test_future_tolerance(minutes_ahead: int, tolerance_s: float, accepted: bool) -> None:
    when = NOW + timedelta(minutes=minutes_ahead)
    content = write_station_file("TH_KK_KHI01", when, {"pm25": 30.0})
    if accepted:
        assert parse(content, station_file_name("TH_KK_KHI01", when), future_tolerance_s=tolerance_s).readings \
            == {"pm25": 30.0}
    else:
        with pytest.raises(StationFileError, match="no readable line"):
            parse(content, station_file_name("TH_KK_KHI01", when), future_tolerance_s=tolerance_s)


@pytest.mark.parametrize(("text", "param", "value"), [
    (f"{STAMP}\tPM10\t45\tµg/m3\t00", "pm10", 45.0),  # timestamp first
    (f"PM10\t45\tug/m3\t{STAMP}", "pm10", 45.0),  # no status: 00
    (f"pH\t7.2\t{STAMP}\t01", "ph", None),  # no unit, in calibration
    (f"pH\t7.2\t{STAMP}", "ph", 7.2),  # code value time
    (f"PM10 45 µg/m3 {STAMP} 00", "pm10", 45.0),  # spaces instead of tabs
])
def test_the_column_variants_of_the_reference(text: str, param: str, value: float | None) -> None:
    parsed = parse(station_file(text + "\r\n"), WATER if param == "ph" else NAME)
    assert parsed.readings.get(param) == value and param in parsed.statuses


@pytest.mark.parametrize(("code", "unit", "value", "param", "expected"), [
    ("PM2,5", "µg/m3", "35.5", "pm25", 35.5),
    ("PM2.5", "μg/m³", "35.5", "pm25", 35.5),  # Greek mu and superscript three
    ("PM10", "mg/m3", "0.15", "pm10", 150.0),
    ("CO", "mg/Nm3", "1.2", "co", 1200.0),
    ("SO2", "ug/Nm3", "80", "so2", 80.0),
    ("Temp", "°C", "31.2", "temp", 31.2),
    ("Temp", "oC", "31.2", "temp", 31.2),
    ("RH", "%", "78", "humidity", 78.0),
    ("P", "kPa", "101.3", "pressure", 1013.0),
    ("Flow", "m3/s", "2", "flow", 7200.0),
])
def test_air_units_are_converted(code: str, unit: str, value: str, param: str, expected: float) -> None:
    parsed = parse(station_file(line(code, value, unit), line("O3", "50", "µg/m3")))
    assert parsed.readings == {param: pytest.approx(expected), "o3": 50.0}


@pytest.mark.parametrize(("code", "unit", "value", "param", "expected"), [
    ("COD", "mg/L", "25", "cod", 25.0),
    ("N-NH4", "µg/L", "300", "nh4", 0.3),
    ("BOD", "mg/l", "6", "bod5", 6.0),
    ("pH", "-", "7.2", "ph", 7.2),
    ("EC", "mS/cm", "0.45", "conductivity", 450.0),
])
def test_water_units_are_converted(code: str, unit: str, value: str, param: str, expected: float) -> None:
    parsed = parse(station_file(line(code, value, unit)), WATER)
    assert parsed.readings == {param: pytest.approx(expected)} and parsed.event_type == "water_quality"


def test_a_parameter_given_twice_keeps_its_first_line() -> None:
    parsed = parse(station_file(line("PM2,5", "30", "µg/m3"), line("SO2", "20", "µg/m3"),
                                line("PM2.5", "99", "µg/m3")))
    assert parsed.readings == {"pm25": 30.0, "so2": 20.0}
    assert [(b.index, b.field, b.reason) for b in parsed.bad_lines] == \
        [(3, "PM2.5", "pm25 already given on line 1, which is kept")]


@pytest.mark.parametrize(("name", "content", "reason"), [
    (NAME, b"", "no readable line of a known parameter"),
    (NAME, b"\r\n\r\n", "no readable line"),
    (NAME, station_file("garbage\r\n", line("XYZ", "1")), r"no readable line .*1 bad lines, unknown codes: XYZ"),
    ("TH_NMXMNS_KHITH01.txt", EXAMPLE, "is not <province>_<facility>_<station>_<yyyyMMddHHmmss>.txt"),
    ("TH_NMXMNS_KHITH01_20250701103000.csv", EXAMPLE, "is not <province>"),
    ("TH_NMXMNS_KHITH01_20251301103000.txt", EXAMPLE, "is not <province>"),
    (NAME, station_file(line("SO2", "1"), line("NO2", "2", stamp="20250701102500")),
     "line 2 is for 2025-07-01 10:25:00, the file name for 2025-07-01 10:30:00: one file, one time"),
    ("TH_NMXMNS_KHITH01_20250701102500.txt", EXAMPLE, "line 1 is for 2025-07-01 10:30:00"),
    (NAME, station_file(line("PM10", "45", "µg/m3"), line("COD", "20", "mg/L")), "mixes air and water"),
    (NAME, station_file(line("Temp", "30", "oC"), line("Flow", "12", "m3/h")), "cannot tell air from water"),
])
def test_a_broken_file_is_refused_with_its_reason(name: str, content: bytes, reason: str) -> None:
    with pytest.raises(StationFileError, match=reason):
        parse(content, name)


def test_the_folder_connector_yields_one_event_and_quarantines_a_refused_file(tmp_path: Path) -> None:
    (tmp_path / NAME).write_bytes(EXAMPLE + line("SO2", "x").encode())
    (tmp_path / f"TH_NMXMNS_KHITH01_{STAMP[:-4]}3500.txt").write_bytes(b"garbage\r\n")
    folder = Folder({"path": str(tmp_path), "parser": "station_file", "pattern": "*.txt", "quarantine": True,
                     "min_age_s": 0}, source="ftp-sotnmt")
    items = list(folder.poll({}))
    event = items[0]
    assert isinstance(event, IncomingEvent)
    assert (event.type, event.sector, event.entity, event.time, event.source) == \
        ("air_quality", "environment", "TH_NMXMNS_KHITH01", AT, "ftp-sotnmt")
    assert event.values.pop("status") == {"pm": "calibration", "flow": "device_error"}
    assert event.values == pytest.approx({"so2": 125_400, "nox": 310_200, "co": 48_000, "o2": 12.1, "temp": 142})
    assert event.idempotency_key == "TH_NMXMNS_KHITH01@20250701T033000Z"
    assert items[1] == BadRecord(index=8, field="SO2", reason="value 'x' is not a number",
                                 raw=f"SO2\tx\tmg/Nm3\t{STAMP}\t00")
    refused = items[2]
    assert isinstance(refused, BadRecord) and refused.field == f"TH_NMXMNS_KHITH01_{STAMP[:-4]}3500.txt"
    assert "StationFileError: no readable line" in refused.reason
    assert (tmp_path / "quarantine" / refused.field).exists() and (tmp_path / NAME).exists()


def test_the_idempotency_key_is_the_station_and_time_whatever_the_bytes() -> None:
    first = event_for(parse(EXAMPLE), "a")
    reordered = b"".join(reversed(EXAMPLE.splitlines(keepends=True)))
    assert event_for(parse(reordered), "a").key() == first.key() == "TH_NMXMNS_KHITH01@20250701T033000Z"
    assert event_for(parse(EXAMPLE.decode().encode("utf-16")), "a").key() == first.key()
    later = EXAMPLE.replace(STAMP.encode(), b"20250701103500")
    assert event_for(parse(later, NAME.replace(STAMP, "20250701103500")), "a").key() != first.key()


def test_import_directory_reads_every_file_by_name_and_never_stops(tmp_path: Path) -> None:
    (tmp_path / "KHITH01" / "20250701").mkdir(parents=True)
    (tmp_path / "KHITH01" / "20250701" / NAME).write_bytes(EXAMPLE)
    (tmp_path / "A_broken_20250701103000.txt").write_bytes(b"\x00\x01")
    (tmp_path / "notes.csv").write_text("not a station file")
    results = list(import_directory(tmp_path, NOW))
    assert [(path.name, type(result).__name__) for path, result in results] == \
        [("A_broken_20250701103000.txt", "StationFileError"), (NAME, "StationFile")]


def test_the_writer_round_trips_readings_and_statuses() -> None:
    readings = {"pm25": 35.5, "co": 1234.5678, "temp": -0.7, "humidity": 81.0}
    statuses = {"co": "00", "o3": "calibration", "so2": "02", "humidity": "01"}
    content = write_station_file("TH_KK_KHI01", AT, readings, statuses)
    assert content.startswith(b"PM2,5\t35.5\t\xc2\xb5g/m3\t20250701103000\t00\r\n")
    parsed = parse(content, station_file_name("TH_KK_KHI01", AT))
    assert parsed.readings == {"pm25": 35.5, "co": 1234.5678, "temp": -0.7}
    assert parsed.excluded == {"o3": "calibration", "so2": "device_error", "humidity": "calibration"}
    with pytest.raises(ValueError, match="cannot name a station file"):
        write_station_file("TH KK", AT, readings)


PRSA_COLUMNS = {"PM2.5": "pm25", "PM10": "pm10", "SO2": "so2", "NO2": "no2", "CO": "co", "O3": "o3", "TEMP": "temp",
                "PRES": "pressure", "DEWP": "dew_point", "RAIN": "rain", "WSPM": "wind_speed"}


@pytest.mark.skipif(not PRSA, reason="the UCI Beijing air-quality CSVs are not in ../shared/data/air_quality")
def test_48_hours_of_a_real_station_replay_through_station_files(tmp_path: Path) -> None:
    with max(PRSA, key=lambda p: "Dongsi" in p.name).open(newline="") as f:  # Dongsi has gaps in its first hours
        rows = [row for _, row in zip(range(48), csv.DictReader(f), strict=False)]
    written: dict[str, tuple[dict[str, float], dict[str, str]]] = {}
    for row in rows:  # replayed as a Thanh Hóa station, the hour labels kept as local times
        when = datetime(int(row["year"]), int(row["month"]), int(row["day"]), int(row["hour"]), tzinfo=LOCAL)
        readings = {p: float(row[c]) for c, p in PRSA_COLUMNS.items() if row[c] != "NA"}
        statuses = {p: "device_error" for c, p in PRSA_COLUMNS.items() if row[c] == "NA"}
        name = station_file_name(f"BJ_UCI_{row['station'].upper()}", when)
        (tmp_path / name).write_bytes(write_station_file(f"BJ_UCI_{row['station'].upper()}", when, readings, statuses))
        written[name] = (readings, statuses)
    results = list(import_directory(tmp_path, datetime(2017, 3, 1, tzinfo=UTC)))
    assert [path.name for path, _ in results] == sorted(written) and len(results) == 48
    for path, parsed in results:
        assert isinstance(parsed, StationFile), parsed
        assert parsed.readings == written[path.name][0]  # exactly: µg/m³ in, µg/m³ out
        assert parsed.excluded == written[path.name][1]
        assert parsed.bad_lines == [] and parsed.event_type == "air_quality"
    gaps = sum(row[c] == "NA" for row in rows for c in PRSA_COLUMNS)
    assert sum(len(p.excluded) for _, p in results if isinstance(p, StationFile)) == gaps
    assert not any(math.isnan(v) for _, p in results if isinstance(p, StationFile) for v in p.readings.values())
