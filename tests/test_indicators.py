"""Indicators: observations in (good ones stored, bad ones named, repeats ignored), roll-ups from commune to
province and from month to quarter and year, the same period a year earlier, progress against the plan."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from engine import indicators
from engine.db import transaction
from tests import factories
from tests.test_api import assert_error, bearer

VN = ZoneInfo("Asia/Ho_Chi_Minh")
HAM_RONG, HAC_THANH = "14758", "14797"


def month(y: int, m: int) -> str:
    return datetime(y, m, 1, tzinfo=VN).isoformat()


def put(code: str, items: list[dict]) -> indicators.RecordResult:
    with transaction() as s:
        return indicators.record(s, indicators.get(s, code), items, source="test", actor="test")


def test_a_batch_stores_the_good_ones_names_the_bad_ones_and_ignores_repeats() -> None:
    result = put("budget_revenue", [
        {"unit": HAM_RONG, "period_start": month(2026, 1), "value": 120.5},
        {"unit": "99999", "period_start": month(2026, 1), "value": 3},
        {"unit": HAC_THANH, "period_start": "tháng 1", "value": 3},
        {"unit": HAC_THANH, "period_start": month(2026, 1), "value": "nhiều"},
        {"unit": HAC_THANH, "period_start": "2026-01-15T10:00:00+07:00", "value": 80},  # placed in January
    ])
    assert result.stored == 2 and result.duplicates == 0
    assert [(e["index"], e["field"]) for e in result.errors] == [(1, "unit"), (2, "period_start"), (3, "value")]
    again = put("budget_revenue", [{"unit": HAM_RONG, "period_start": month(2026, 1), "value": 999}])
    assert (again.stored, again.duplicates) == (0, 1)


def test_roll_ups_from_communes_to_province_and_months_to_quarters(session) -> None:
    put("budget_revenue", [{"unit": u, "period_start": month(y, m), "value": v}
                           for y in (2025, 2026) for m in (1, 2, 3, 4)
                           for u, v in ((HAM_RONG, 10.0 * m + (y - 2025)), (HAC_THANH, 5.0))])
    ind = indicators.get(session, "budget_revenue")
    by_month = indicators.series(session, ind, granularity="month")
    jan_2026 = next(p for p in by_month if p["period"] == "2026-01")
    assert jan_2026["value"] == 16.0 and jan_2026["previous_year"] == 15.0 and jan_2026["change_pct"] == 6.67
    quarters = {p["period"]: p["value"] for p in indicators.series(session, ind, granularity="quarter")}
    assert quarters == {"2025-Q1": 75.0, "2025-Q2": 45.0, "2026-Q1": 78.0, "2026-Q2": 46.0}
    per_unit = indicators.series(session, ind, level="unit", granularity="year")
    assert {(p["unit"], p["period"]): p["value"] for p in per_unit}[(HAC_THANH, "2026")] == 20.0
    # A figure sent for the province itself wins over the sum of its communes (no double counting).
    put("budget_revenue", [{"unit": "38", "period_start": month(2026, 1), "value": 17.5}])
    session.rollback()  # a fresh read
    assert next(p for p in indicators.series(session, ind) if p["period"] == "2026-01")["value"] == 17.5


def test_progress_against_the_plan(session) -> None:
    with transaction() as s:
        leader = factories.user("leader")
        indicators.set_targets(s, leader, indicators.get(s, "budget_revenue"), {"2026": 1200})
    put("budget_revenue", [{"unit": "38", "period_start": month(2026, m), "value": 100} for m in range(1, 10)])
    got = indicators.progress(session, indicators.get(session, "budget_revenue"), 2026)
    assert got == {"year": 2026, "target": 1200.0, "actual": 900.0, "share_pct": 75.0, "months": 9,
                   "expected_pct": 75.0, "on_track": True}
    put("budget_revenue", [{"unit": "38", "period_start": month(2025, 12), "value": 1}])  # other years don't count
    session.rollback()
    assert indicators.progress(session, indicators.get(session, "budget_revenue"), 2026)["actual"] == 900.0


def test_only_leaders_and_administrators_set_targets() -> None:
    with transaction() as s, pytest.raises(Exception, match="targets"):
        indicators.set_targets(s, factories.user("officer"), indicators.get(s, "budget_revenue"), {"2026": 1})


def test_the_api_lists_indicators_and_serves_rolled_up_observations(client) -> None:
    token = factories.token("operator")
    resp = client.post("/api/v1/indicators/retail_sales/observations", headers=bearer(token), json={
        "observations": [{"unit": HAM_RONG, "period_start": month(2026, 3), "value": 40},
                         {"unit": HAC_THANH, "period_start": month(2026, 3), "value": 2},
                         {"unit": HAC_THANH, "period_start": month(2026, 3), "value": True}]})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["stored"] == 2 and resp.get_json()["errors"][0]["index"] == 2
    listing = client.get("/api/v1/indicators?sector=socio_economic", headers=bearer(token)).get_json()
    assert "retail_sales" in [i["code"] for i in listing]
    points = client.get("/api/v1/indicators/retail_sales/observations?period=quarter&from=2026-01-01T00:00:00%2B07:00",
                        headers=bearer(token)).get_json()
    assert points == [{"period": "2026-Q1", "unit": None, "entity": None, "value": 42.0, "previous_year": None,
                       "change_pct": None}]
    by_unit = client.get(f"/api/v1/indicators/retail_sales/observations?level=unit&unit={HAM_RONG}",
                         headers=bearer(token)).get_json()
    assert [(p["unit"], p["period"], p["value"]) for p in by_unit] == [(HAM_RONG, "2026-03", 40.0)]
    assert_error(client.get("/api/v1/indicators/nope/observations", headers=bearer(token)), 404, "not_found")
    officer = factories.token("officer")
    assert_error(client.post("/api/v1/indicators/retail_sales/observations", headers=bearer(officer),
                             json={"observations": [{}]}), 403)


def test_old_evaluated_events_are_purged_and_quarantined_ones_kept(session) -> None:
    from datetime import UTC, timedelta

    from sqlalchemy import select

    from engine import jobs, retention
    from engine.events import ingest_events
    from engine.models import Event

    now = datetime.now(UTC)
    with transaction() as s:
        batch = [factories.incoming(aqi=10, entity=e) for e in ("OLD", "OLD-BAD", "NEW")]
        ids = ingest_events(s, batch, "test").accepted
        for ev in s.scalars(select(Event)):
            if ev.entity.startswith("OLD"):
                ev.time = now - timedelta(days=500)
    jobs.process_events(ids)
    with transaction() as s:
        s.scalar(select(Event).where(Event.entity == "OLD-BAD")).error = "quarantined: kept for a person"
    with transaction() as s:
        assert retention.purge_events(s, days=0) == 0  # 0 keeps everything
        assert retention.purge_events(s) == 1
    session.rollback()
    assert sorted(session.scalars(select(Event.entity))) == ["NEW", "OLD-BAD"]


@pytest.mark.parametrize("how", ["sum", "mean", "max", "last"])
def test_roll_ups_of_hourly_data_by_day_month_and_year_survive_the_raw_retention(session, how) -> None:
    """Hourly readings, sent out of order and partly twice, rolled up by day, month and year from the roll-up
    table give what adding up the readings by hand gives; after the raw readings are purged the roll-ups still
    answer."""
    import random
    import uuid
    from collections import defaultdict
    from datetime import UTC, timedelta

    from engine import retention
    from engine.models import Indicator

    code = f"rt_{how}_{uuid.uuid4().hex[:6]}"
    with transaction() as s:
        s.add(Indicator(code=code, sector="environment", name="Chỉ số thử", period="realtime", aggregation=how,
                        targets={}))
    rnd = random.Random(how)
    first = datetime(2025, 12, 30, 20, tzinfo=VN)  # crosses a month and a year boundary in local time
    readings = [(first + timedelta(hours=h), round(rnd.uniform(-5, 80), 2)) for h in range(24 * 40)]
    items = [{"entity": "TRAM-1", "time": t.isoformat(), "value": v} for t, v in readings]
    rnd.shuffle(items)
    for part in (items[:500], items[400:]):  # 100 repeats, ignored
        result = put(code, part)
        assert result.errors == []
    expected: dict[str, dict[str, list[tuple[datetime, float]]]] = {g: defaultdict(list) for g in ("day", "month",
                                                                                                    "year")}
    for t, v in readings:
        expected["day"][t.date().isoformat()].append((t, v))
        expected["month"][f"{t.year:04d}-{t.month:02d}"].append((t, v))
        expected["year"][f"{t.year:04d}"].append((t, v))

    def by_hand(values: list[tuple[datetime, float]]) -> float:
        nums = [v for _t, v in values]
        return round({"sum": sum(nums), "mean": sum(nums) / len(nums), "max": max(nums),
                      "last": max(values)[1]}[how], 6)

    ind = indicators.get(session, code)

    def answers(granularity: str) -> dict[str, float]:
        return {p["period"]: p["value"] for p in indicators.series(session, ind, level="entity",
                                                                   granularity=granularity, entity="TRAM-1")}

    for granularity in ("day", "month", "year"):
        got = answers(granularity)
        want = {k: by_hand(vs) for k, vs in expected[granularity].items()}
        assert got.keys() == want.keys()
        assert all(abs(got[k] - want[k]) < 1e-6 for k in want), granularity
    # A range that ends inside a day is read from the readings themselves: whole days from the one holding its
    # start, the last one cut at its end.
    since, until = datetime(2026, 1, 10, 12, tzinfo=VN), datetime(2026, 1, 12, 6, tzinfo=VN)
    partial = {p["period"]: p["value"] for p in indicators.series(session, ind, level="entity", granularity="day",
                                                                  entity="TRAM-1", start=since, end=until)}
    assert indicators.rollup_grain("day", until) is None
    assert partial == {"2026-01-10": answers("day")["2026-01-10"], "2026-01-11": answers("day")["2026-01-11"],
                       "2026-01-12": by_hand([(t, v) for t, v in readings if t.date().day == 12 and t < until])}
    by_month = answers("month")
    with transaction() as s:  # made again from the observations, the roll-ups give the same answers
        assert indicators.rebuild_rollups(s, ind.id) == 41 + 3  # 41 local days in 3 local months
    session.rollback()
    assert answers("month") == by_month
    with transaction() as s:
        assert retention.purge_observations(s, days=0) == 0  # 0 keeps everything
        purged = retention.purge_observations(s, now=datetime(2030, 1, 1, tzinfo=UTC), days=30)
    assert purged == len(readings)
    session.rollback()
    assert indicators.series(session, ind, level="entity", granularity="raw", entity="TRAM-1") == []
    assert answers("month") == by_month
