"""The handover's PostgreSQL fast paths (engine.handover: lines made by the server, rows loaded by COPY, the plain
indexes built after the load) give what the plain paths give, on rows made to be awkward: quotes, backslashes,
control characters and Vietnamese in text, JSON laid out over several lines, JSON null and SQL NULL, times on the
second, dates, a number that is not finite, booleans. A row the database refuses is refused with its table and line,
and nothing is left behind."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from engine import db as engine_db
from engine import handover, migrate
from engine.errors import Invalid
from engine.models import Alert, Event, Indicator, IndicatorObservation, VesselFix
from engine.notify import webpush
from tests.test_handover import scratch_database

TABLES = (Event.__table__, Alert.__table__, Indicator.__table__, IndicatorObservation.__table__, VesselFix.__table__)
AWKWARD = 'Trạm "Nghi Sơn" \\ C:\\dữ liệu\\ \t tab\nxuống dòng \x01 \u2028 😀'
ON_THE_SECOND = datetime(2026, 3, 1, 7, 0, 0, tzinfo=UTC)
PRETTY = '{\n  "pm25": 35.5,\n  "ghi chú": "bụi\\nmịn",\n  "list": [1, 2.5, null, true]\n}'


def _quiet(_line: str) -> None:
    pass


@pytest.fixture
def awkward_postgres(tmp_path: Path) -> Iterator[str]:
    with scratch_database("postgresql", tmp_path) as url:
        migrate.upgrade(engine=engine_db.get_engine(url))
        with engine_db.get_engine(url).begin() as conn:
            conn.execute(sa.insert(Event.__table__), [
                {"source": AWKWARD, "idempotency_key": "k1", "type": "air_quality", "sector": "environment",
                 "entity": None, "time": ON_THE_SECOND, "received_at": datetime(2026, 3, 1, 7, 0, 0, 1, tzinfo=UTC),
                 "location": None, "values": {"pm25": 1e-7, "ok": False, "nested": {"a": [AWKWARD]}},
                 "processed_at": None, "attempts": 0, "error": None},
                {"source": "s", "idempotency_key": "k2", "type": "t", "sector": "traffic", "entity": "CAM-1",
                 "time": ON_THE_SECOND, "received_at": ON_THE_SECOND, "location": {"lat": 19.8, "lon": 105.77},
                 "values": {}, "processed_at": ON_THE_SECOND, "attempts": 3, "error": AWKWARD}])
            conn.execute(sa.text('UPDATE events SET "values" = CAST(:v AS json) WHERE idempotency_key = \'k2\''),
                         {"v": PRETTY})
            conn.execute(sa.insert(Alert.__table__), [
                {"rule_id": "r", "dedupe_key": "d", "open_key": None, "title": AWKWARD, "severity": "warning",
                 "status": "firing", "sector": "environment", "value": float("inf"), "count": 1,
                 "first_seen": ON_THE_SECOND, "last_seen": ON_THE_SECOND, "details": {"evidence": None},
                 "created_at": ON_THE_SECOND, "escalation_level": 0, "silenced": True}])
            indicator = conn.execute(sa.insert(Indicator.__table__).returning(Indicator.__table__.c.id), {
                "code": "handover_formats", "name": "Chỉ tiêu thử", "unit_of_measure": "%", "sector": "socioeconomic",
                "period": "month", "aggregation": "sum", "targets": {}}).scalar_one()
            conn.execute(sa.insert(IndicatorObservation.__table__), [
                {"indicator_id": indicator, "unit_code": "38", "entity": "", "period_start": ON_THE_SECOND,
                 "local_date": date(2026, 3, 1), "year": 2026, "month": 3, "value": 52.5, "source": "",
                 "received_at": ON_THE_SECOND}])
            conn.execute(sa.insert(VesselFix.__table__), [
                {"vessel": "TH-90001-TS", "time": ON_THE_SECOND, "lat": 19.123456789, "lon": -0.0,
                 "speed_kn": float("nan"), "course": 100.0, "heading": None, "nav_status": 0, "source": "ais"},
                {"vessel": "TH-90002-TS", "time": ON_THE_SECOND, "lat": 1e20, "lon": 0.1 + 0.2, "speed_kn": None,
                 "course": -1.5e-300, "heading": 359, "nav_status": None, "source": ""}])
        yield url


def _exported(url: str, out: Path, *, fast: bool) -> dict[str, dict[str, Any]]:
    (out / "tables").mkdir(parents=True)
    with handover._snapshot(engine_db.get_engine(url, write=False)) as conn:
        return {t.name: handover._export_table(conn, t, out, None, False, _quiet, handover._still, fast=fast)
                for t in TABLES}


def _lines(out: Path, table: str) -> list[dict[str, Any]]:
    text = (out / "tables" / f"{table}.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.split("\n")[:-1]]  # lines end at \n only (U+2028 stays in a string)


def _loaded(url: str, folder: Path, entries: dict[str, dict[str, Any]], *, fast: bool) -> dict[str, list[Any]]:
    """The export loaded back into the emptied tables, read, and rolled back."""
    with engine_db.get_engine(url).connect() as conn:
        with conn.begin() as tx:
            for table in reversed(TABLES):
                conn.execute(table.delete())
            with handover._indexes_set_aside(conn, _quiet):
                for table in TABLES:
                    handover._load_table(conn, table, folder, entries[table.name], {}, _quiet, handover._still,
                                         fast=fast)
            rows = {t.name: [dict(r._mapping) for r in conn.execute(sa.select(t).order_by(*t.primary_key))]
                    for t in TABLES}
            indexes = conn.scalar(sa.text("SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema()"))
            tx.rollback()
        rows["(indexes)"] = [indexes]
    return rows


def test_the_server_made_lines_and_copy_give_what_the_plain_paths_give(awkward_postgres: str, tmp_path: Path) -> None:
    fast, plain = _exported(awkward_postgres, tmp_path / "fast", fast=True), \
        _exported(awkward_postgres, tmp_path / "plain", fast=False)
    for table in TABLES:
        assert _lines(tmp_path / "fast", table.name) == _lines(tmp_path / "plain", table.name), table.name
        assert {k: v for k, v in fast[table.name].items() if k not in ("bytes", "sha256")} == \
            {k: v for k, v in plain[table.name].items() if k not in ("bytes", "sha256")}
    assert fast["vessel_fixes"]["nonfinite_as_null"] == 1 and fast["alerts"]["nonfinite_as_null"] == 1
    (pretty,) = [e for e in _lines(tmp_path / "fast", "events") if e["idempotency_key"] == "k2"]
    assert pretty["values"] == json.loads(PRETTY) and pretty["received_at"] == "2026-03-01T07:00:00.000000+00:00"
    assert b"\n  " not in (tmp_path / "fast" / "tables" / "events.jsonl").read_bytes()  # one line per row

    with engine_db.get_engine(awkward_postgres, write=False).connect() as conn:
        before = {t.name: [dict(r._mapping) for r in conn.execute(sa.select(t).order_by(*t.primary_key))]
                  for t in TABLES}
        indexes = conn.scalar(sa.text("SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema()"))
    by_copy = _loaded(awkward_postgres, tmp_path / "fast", fast, fast=True)
    by_insert = _loaded(awkward_postgres, tmp_path / "plain", plain, fast=False)
    assert by_copy == by_insert and by_copy["(indexes)"] == [indexes]  # the indexes set aside are back
    # as the database had them, but for the numbers that are not finite: null (speed_kn), refused (NOT NULL: none)
    before["vessel_fixes"][0]["speed_kn"] = None
    before["alerts"][0]["value"] = None
    assert {k: v for k, v in by_copy.items() if k != "(indexes)"} == before


def test_a_row_the_database_refuses_names_its_table_and_line(awkward_postgres: str, tmp_path: Path) -> None:
    entries = _exported(awkward_postgres, tmp_path, fast=True)
    path = tmp_path / "tables" / "vessel_fixes.jsonl"
    lines = path.read_text(encoding="utf-8").split("\n")[:-1]
    lines[1] = lines[1].replace('"TH-90002-TS"', json.dumps("x" * 201))  # vessel is 200 characters at most
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for fast in (True, False):
        with pytest.raises(Invalid) as refused:
            _loaded(awkward_postgres, tmp_path, entries, fast=fast)
        assert str(refused.value).startswith("vessel_fixes, rows up to line 2: the database refused them: value too "
                                             "long for type character varying(200)"), str(refused.value)
    with engine_db.get_engine(awkward_postgres, write=False).connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(VesselFix.__table__)) == 2  # nothing changed


@pytest.mark.no_database
def test_the_push_key_file_keeps_its_name() -> None:
    assert handover.VAPID_KEY_FILENAME == webpush.VAPID_KEY_FILENAME  # the handover does not import web push
