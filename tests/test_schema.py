"""The schema: migrations and models agree; the organisation seed is Thanh Hóa's 2025 structure."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select

from engine.db import Base, get_engine, transaction
from engine.models import Department, Role, Unit
from engine.org import seed_organisation


@pytest.mark.filterwarnings("ignore:.*expression-based index ix_human_tasks_page")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
def test_models_and_migrations_agree() -> None:
    with get_engine().connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_constraints_are_named() -> None:
    insp = inspect(get_engine())
    for table in Base.metadata.tables:
        for fk in insp.get_foreign_keys(table):
            assert fk["name"], f"unnamed foreign key on {table}"
        for uq in insp.get_unique_constraints(table):
            assert uq["name"], f"unnamed unique constraint on {table}"


def test_thanh_hoa_units_after_the_2025_reform(session) -> None:
    province = session.scalar(select(Unit).where(Unit.kind == "province"))
    assert (province.code, province.full_name) == ("38", "Tỉnh Thanh Hóa")
    counts = dict(session.execute(select(Unit.kind, func.count()).where(Unit.parent_id == province.id)
                                  .group_by(Unit.kind)).all())
    assert counts == {"commune": 147, "ward": 19}
    ham_rong = session.scalar(select(Unit).where(Unit.code == "14758"))
    assert ham_rong.full_name == "Phường Hàm Rồng" and ham_rong.parent.code == "38"


def test_departments_roles_and_idempotent_seed(session) -> None:
    assert set(session.scalars(select(Role.code))) == {"leader", "officer", "operator", "designer", "admin"}
    communes = session.scalar(select(func.count()).select_from(Department).where(Department.kind == "commune"))
    assert communes == 166
    nnmt = session.scalar(select(Department).where(Department.code == "SO-NNMT"))
    assert nnmt.name == "Sở Nông nghiệp và Môi trường"
    with transaction() as s:
        assert seed_organisation(s) == {"roles": 0, "units": 0, "departments": 0}


def test_inbox_page_index_exists() -> None:
    """The index in the inbox page's order (an expression index: Alembic cannot compare it above)."""
    with get_engine().connect() as conn:
        if conn.dialect.name == "sqlite":
            sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'ix_human_tasks_page'").scalar()
        else:
            sql = conn.exec_driver_sql(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_human_tasks_page'").scalar()
    assert sql is not None and "priority DESC" in sql and "IS NULL" in sql


def test_the_roll_up_migration_adds_up_what_is_already_stored() -> None:
    """An installation upgraded from 0013 gets roll-ups for the observations it already holds."""
    from datetime import UTC, datetime

    from alembic import command
    from engine import indicators
    from engine.migrate import alembic_config, upgrade
    from engine.models import IndicatorObservation

    with transaction() as s:
        ind = indicators.get(s, "budget_revenue")
        before = indicators.record(s, ind, [{"unit": u, "period_start": datetime(2026, m, 1, tzinfo=UTC).isoformat(),
                                             "value": v} for m in (2, 3) for u, v in (("14758", 10.0), ("14797", 4.5))],
                                   source="test", actor="test")
        assert before.stored == 4
        expected = indicators.series(s, ind, level="unit", granularity="quarter")  # read from the roll-ups
    cfg = alembic_config()
    with get_engine().begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0013")
    try:
        with transaction() as s:
            assert s.scalar(select(func.count()).select_from(IndicatorObservation)) == 4
    finally:
        upgrade()
    with transaction() as s:
        ind = indicators.get(s, "budget_revenue")
        assert indicators.series(s, ind, level="unit", granularity="quarter") == expected
        assert [(p["unit"], p["period"], p["value"]) for p in expected] == [("14758", "2026-Q1", 20.0),
                                                                            ("14797", "2026-Q1", 9.0)]


def test_the_track_migration_keeps_the_positions_already_stored_as_events(monkeypatch: pytest.MonkeyPatch) -> None:
    """An installation upgraded from 0014 finds its vessels' tracks: each stored vessel_position event with a
    position becomes a fix (AIS, VMS and NGSI-LD speeds in knots); a vessel's second report of an instant is one."""
    from datetime import UTC, datetime, timedelta

    from alembic import command
    from engine.events import IncomingEvent, ingest_events
    from engine.migrate import alembic_config, upgrade
    from engine.models import VesselFix

    t = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    cfg = alembic_config()
    with get_engine().begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0014")
    monkeypatch.setattr("engine.audit.record", lambda *_a, **_k: None)  # no audit_log.row_hash before 0019
    try:
        with transaction() as s:
            ingest_events(s, [
                IncomingEvent(source="ais", type="vessel_position", sector="fisheries", time=t, entity="MMSI:574000001",
                              values={"lat": 19.8, "lon": 106.7, "sog_kn": 7.5, "cog": 90.0, "heading": 88,
                                      "nav_status": 7}),
                IncomingEvent(source="vms", type="vessel_position", sector="fisheries", time=t + timedelta(hours=2),
                              entity="TH-93388-TS", values={"lat": 19.7, "lon": 106.6, "speed_kn": 6.0}),
                IncomingEvent(source="ngsi", type="vessel_position", sector="fisheries", time=t + timedelta(hours=3),
                              entity="TH-93388-TS", values={"lat": 19.6, "lon": 106.5, "sog_ms": 1.0}),
                IncomingEvent(source="vms2", type="vessel_position", sector="fisheries", time=t + timedelta(hours=3),
                              entity="TH-93388-TS", values={"lat": 19.61, "lon": 106.51}),
                IncomingEvent(source="vms", type="vessel_position", sector="fisheries", time=t, entity="TH-1",
                              values={"note": "no position"}),
            ], "test")
    finally:
        upgrade()
    with transaction() as s:
        fixes = s.execute(select(VesselFix.vessel, VesselFix.time, VesselFix.lat, VesselFix.speed_kn,
                                 VesselFix.course, VesselFix.heading, VesselFix.nav_status)
                          .order_by(VesselFix.time)).all()
    assert [tuple(f) for f in fixes] == [
        ("MMSI:574000001", t, 19.8, 7.5, 90.0, 88, 7),
        ("TH-93388-TS", t + timedelta(hours=2), 19.7, 6.0, None, None, None),
        ("TH-93388-TS", t + timedelta(hours=3), 19.6, pytest.approx(1.943844, abs=1e-5), None, None, None)]


def test_the_air_quality_hours_migration_adds_up_the_readings_already_evaluated(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An installation upgraded from 0015 has its stations' hours: the evaluated readings' sums per parameter (marked
    values left out), the hours long over closed (their AQI was computed before), the current one open."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from alembic import command
    from engine.events import IncomingEvent, ingest_events
    from engine.migrate import alembic_config, upgrade
    from engine.models import AirQualityHour, Event

    past = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    cfg = alembic_config()
    with get_engine().begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0015")
    monkeypatch.setattr("engine.audit.record", lambda *_a, **_k: None)  # no audit_log.row_hash before 0019
    try:
        with transaction() as s:
            ids = ingest_events(s, [
                IncomingEvent(source="st", type="air_quality", sector="environment", time=past - timedelta(minutes=30),
                              entity="AQ-MIG", values={"pm25": 40.0, "pm10": 60}),
                IncomingEvent(source="st", type="air_quality", sector="environment", time=past, entity="AQ-MIG",
                              values={"pm25": 80.0, "pm10": 90, "status": {"pm10": "calibration"}}),
                IncomingEvent(source="st", type="air_quality", sector="environment", time=now, entity="AQ-MIG",
                              values={"pm25": 10.0}),
                IncomingEvent(source="st", type="air_quality", sector="environment", time=past, entity="AQ-WAITING",
                              values={"pm25": 10.0}),
            ], "test").accepted
            s.execute(update(Event).where(Event.id.in_(ids[:3])).values(processed_at=now))
    finally:
        upgrade()
    with transaction() as s:
        hours = {(h.entity, h.hour): (h.pm25_sum, h.pm25_n, h.pm10_sum, h.pm10_n, h.calibrating, h.closed)
                 for h in s.scalars(select(AirQualityHour).where(AirQualityHour.entity.like("AQ-%")))}
    current = -int(-now.timestamp() // 3600)
    assert hours == {("AQ-MIG", int(past.timestamp()) // 3600): (120.0, 2, 60.0, 1, 1, True),
                     ("AQ-MIG", current): (10.0, 1, 0.0, 0, 0, False)}
