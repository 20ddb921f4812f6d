"""The environment sector end to end: station files (Circular 10/2021) in, hourly and daily VN_AQI out as
indicators, alerts from the environment rules; `ioc environment import DIR`; a year of the shared air-quality
data replayed as station files."""

from __future__ import annotations

import csv
import math
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from connectors.station_file import event_for, parse_station_file, station_file_name, write_station_file
from engine import environment, jobs
from engine.db import transaction
from engine.events import ingest_events
from engine.models import Alert, Event, Indicator, IndicatorObservation
from tests.conftest import ROOT, ioc

VN = ZoneInfo("Asia/Ho_Chi_Minh")
AIR = ROOT.parent / "shared" / "data" / "air_quality"


def evaluate_all_pending(rounds: int = 4) -> None:
    for _ in range(rounds):
        with transaction() as s:
            ids = list(s.scalars(select(Event.id).where(Event.processed_at.is_(None)).order_by(Event.id)))
        if not ids:
            return
        jobs.process_events(ids)


def aqi_of(session, code: str, station: str) -> list[IndicatorObservation]:
    ind = session.scalar(select(Indicator).where(Indicator.code == code))
    return list(session.scalars(select(IndicatorObservation).where(IndicatorObservation.indicator_id == ind.id,
                                                                    IndicatorObservation.entity == station)
                                .order_by(IndicatorObservation.period_start)))


def write_hours(folder: Path, station: str, start: datetime, hours: int, pm25: float, **extra: float) -> None:
    for h in range(hours):
        at = start + timedelta(hours=h)
        readings = {"pm25": pm25, "pm10": pm25 * 1.5, "no2": 30.0, **extra}
        (folder / station_file_name(station, at)).write_bytes(write_station_file(station, at, readings))


def test_ioc_environment_import_loads_files_computes_aqi_and_reports_a_bad_file(tmp_path: Path, session) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    start = datetime.now(VN).replace(minute=0, second=0, microsecond=0) - timedelta(hours=6)
    write_hours(folder, "TH-AQ-TEST", start, 6, pm25=120.0)
    (folder / station_file_name("TH-AQ-TEST", start + timedelta(hours=6))).write_bytes(b"\x00\x01 garbage")
    result = ioc("environment", "import", str(folder), env=dict(os.environ), check=False)  # the tests' database
    assert result.returncode == 0, result.stderr
    assert "6 files read, 1 refused, 6 readings stored" in result.stdout
    assert "refused" in result.stderr and "garbage" not in result.stdout
    session.rollback()
    hourly = aqi_of(session, environment.HOURLY, "TH-AQ-TEST")
    assert len(hourly) >= 5 and hourly[-1].value > 150  # PM2.5 120 µg/m³ is "Xấu" on the 1459 scale
    assert {a.rule_id for a in session.scalars(select(Alert))} >= {"aqi-poor-2h"}


def test_a_device_error_stores_nothing_and_raises_its_alert(tmp_path: Path, session) -> None:
    at = datetime.now(VN).replace(minute=0, second=0, microsecond=0)
    content = write_station_file("TH-AQ-LOI", at, {"pm25": 30.0, "pm10": 50.0}, {"no2": "device_error"})
    parsed = parse_station_file(content, station_file_name("TH-AQ-LOI", at), datetime.now(UTC))
    assert "no2" not in parsed.readings and parsed.excluded == {"no2": "device_error"}
    with transaction() as s:
        ingest_events(s, [event_for(parsed, "station-files")], "test")
    evaluate_all_pending()
    session.rollback()
    assert session.scalar(select(Event.values).where(Event.entity == "TH-AQ-LOI", Event.type == "air_quality")
                          ).get("no2") is None  # not 0: nothing
    alert = session.scalar(select(Alert).where(Alert.rule_id == "station-device-error"))
    assert alert is not None and alert.entity == "TH-AQ-LOI"


def _rows(path: Path, start: datetime, hours: int) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    first = next(i for i, r in enumerate(rows) if (int(r["year"]), int(r["month"]), int(r["day"]), int(r["hour"]))
                 == (start.year, start.month, start.day, start.hour))
    return rows[first:first + hours]


@pytest.mark.once  # hour sums on PostgreSQL: test_air_quality_hours
@pytest.mark.skipif(not any(AIR.glob("PRSA_Data_*.csv")), reason=f"the shared air-quality data is not at {AIR}")
def test_a_year_of_real_station_data_gives_hourly_and_daily_aqi_with_gaps_handled(session) -> None:
    source = sorted(AIR.glob("PRSA_Data_*.csv"))[0]
    start = datetime(2016, 3, 1, 1, tzinfo=VN)  # hour-ending 01:00: the first hour of a day
    hours = 24 * 365
    names = {"PM2.5": "pm25", "PM10": "pm10", "SO2": "so2", "NO2": "no2", "CO": "co", "O3": "o3"}
    events, gaps = [], 0
    for i, row in enumerate(_rows(source, start - timedelta(hours=1), hours)):
        at = start + timedelta(hours=i)
        readings = {names[k]: float(v) for k, v in row.items() if k in names and v not in ("NA", "")}
        statuses = {names[k]: "device_error" for k, v in row.items() if k in names and v in ("NA", "")}
        gaps += bool(statuses)
        content = write_station_file("BEIJING-REPLAY", at, readings, statuses)
        events.append(event_for(parse_station_file(content, station_file_name("BEIJING-REPLAY", at),
                                                   datetime.now(UTC)), "replay"))
    for i in range(0, len(events), 1000):
        with transaction() as s:
            ingest_events(s, events[i:i + 1000], "replay")
    evaluate_all_pending(rounds=6)
    session.rollback()
    hourly = aqi_of(session, environment.HOURLY, "BEIJING-REPLAY")
    daily = aqi_of(session, environment.DAILY, "BEIJING-REPLAY")
    assert gaps > 0  # the real data has holes (NA): they become device errors and store nothing
    assert 0.8 * hours < len(hourly) <= hours  # an hour without enough PM data has no AQI (NowCast 2 of 3 hours)
    assert 300 <= len(daily) <= 365  # a day without enough hours has no daily AQI
    assert all(1 <= o.value <= 500 and not math.isnan(o.value) for o in hourly + daily)
    assert max(o.value for o in daily) > 200 and min(o.value for o in daily) < 100  # a Beijing winter and summer
    assert session.scalar(select(func.count()).select_from(Alert).where(Alert.rule_id == "aqi-poor-2h")) > 0


def test_water_samples_get_their_vn_wqi_and_insufficient_ones_are_refused(tmp_path: Path, session) -> None:
    sheet = tmp_path / "mau-nuoc-song-ma.csv"
    sheet.write_text("site,time,pH,T,DO,BOD5,COD,N-NH4,P-PO4,Coliform\n"
                     "SONG-MA-01,2026-10-05 09:30,7.1,27,6.2,4,10,0.2,0.05,2500\n"
                     "SONG-MA-02,2026-10-05 10:15,7.4,,,3,,,,\n"
                     "SONG-MA-03,2026-10-05 11:00,6.9,28,5.1,ba,12,0.5,0.1,4000\n", encoding="utf-8")
    result = ioc("environment", "wqi", str(sheet), env=dict(os.environ), check=False)
    assert result.returncode == 0 and "1 samples stored with their VN_WQI, 2 refused" in result.stdout
    assert "row 3" in result.stderr and "row 4: BOD5: not a number" in result.stderr
    session.rollback()
    (obs,) = aqi_of(session, environment.WQI, "SONG-MA-01")
    assert 50 < obs.value <= 100 and obs.period_start.astimezone(VN).hour == 9  # local sampling time


def test_water_sample_headers_carry_their_units_and_are_refused_rather_than_guessed(tmp_path: Path, session) -> None:
    from engine import wqi

    sheet = tmp_path / "mau-nuoc-song-chu.csv"  # the worked example of Decision 1460 §2.3, with pesticides
    sheet.write_text("site;time;pH;Nhiệt độ (°C);DO (mg/L);BOD5;COD;N-NH4;P-PO4;Coliform (MPN/100mL);Cu;As;"
                     "Aldrin (µg/L);Heptachlor & Heptachlorepoxide (µg/L);Độ đục (NTU)\n"
                     "SONG-CHU-01;05/10/2026 09:30;7,2;27,5;5,7;20;25;0,2;0,3;10000;0,05;0,02;0,05;0,5;12\n",
                     encoding="utf-8")
    result = ioc("environment", "wqi", str(sheet), env=dict(os.environ), check=False)
    assert result.returncode == 0, result.stderr
    assert "row 1, column O: warning: «Độ đục (NTU)» is not a VN_WQI parameter" in result.stderr
    expected = wqi.wqi({"pH": 7.2, "T": 27.5, "DO": 5.7, "BOD5": 20, "COD": 25, "N-NH4": 0.2, "P-PO4": 0.3,
                        "Coliform": 10000, "Cu": 0.05, "As": 0.02, "Aldrin": 0.05, "Heptachlor": 0.5})
    assert expected is not None and expected.sub_indices["Heptachlor"] == 10  # 0.5 µg/L is above 0.2
    session.rollback()
    (obs,) = aqi_of(session, environment.WQI, "SONG-CHU-01")
    assert obs.value == expected.wqi and obs.period_start.astimezone(VN).day == 5  # day first, as written
    clash = tmp_path / "hai-cot-do.csv"
    clash.write_text("site,time,pH,DO,DO (mg/L),BOD5,COD,N-NH4\nSONG-CHU-02,2026-10-05 10:00,7,6,6.1,4,10,0.2\n",
                     encoding="utf-8")
    result = ioc("environment", "wqi", str(clash), env=dict(os.environ), check=False)
    assert result.returncode == 1
    assert "hai-cot-do.csv: row 1, columns D, E: error: «DO» and «DO (mg/L)» are both DO, mg/L" in result.stderr
    session.rollback()
    assert aqi_of(session, environment.WQI, "SONG-CHU-02") == []


def test_the_monitor_shows_readings_under_calibration_or_device_error_as_such(client, session) -> None:
    from tests import factories
    from tests.test_api import login

    at = datetime.now(VN).replace(minute=0, second=0, microsecond=0)
    content = write_station_file("TH-AQ-HC", at, {"pm25": 30.0, "pm10": 45.0}, {"so2": "calibration",
                                                                               "no2": "device_error"})
    with transaction() as s:
        ingest_events(s, [event_for(parse_station_file(content, station_file_name("TH-AQ-HC", at),
                                                       datetime.now(UTC)), "files")], "test")
    evaluate_all_pending()
    factories.user("operator", name="trucban-mt")
    login(client, "trucban-mt")
    html = client.get("/environment").get_data(as_text=True)
    assert "so2: hiệu chuẩn" in html and "no2: lỗi thiết bị" in html
