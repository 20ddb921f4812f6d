"""Benchmark of data coming in: the HTTP batch API at 1,000 events per request, and an indicator's roll-up.

1. Events per second through ``POST /api/v1/events`` with 1,000 events per request, with storage and rule
   evaluation on, beside a raw SQLAlchemy Core bulk insert of the same rows in the same run. This part is
   ``bench/loop.py --batch 1000 --latency-samples 0`` (see its docstring): it prints the accepted rate (the last
   202), the evaluated rate (the last event evaluated by the worker) and the baseline. Goals: at least 0.5x the
   raw rate, and at least 5,000 events/s on PostgreSQL on a 2-core machine.
2. One indicator over 5 years x 166 communes (monthly values: 9,960 rows, plus 5 more indicators of the same size
   in the table), rolled up by month for the province: ``engine.indicators.series`` in process and
   ``GET /api/v1/indicators/{code}/observations?period=month`` through the Flask test client. p50 / p95 over K
   runs (goal p95 <= 100 ms), beside a baseline: the plain ``SELECT`` of the same rows without roll-up.
3. A real-time indicator: hourly values for S stations over a year (S x 8,760 rows), each station's series by
   month and the province's by month, read from the day/month roll-up rows (``indicator_rollups``, what the API
   does) beside the same series added up from the hourly rows (what it did before the roll-up tables).

Usage: .venv/bin/python bench/ingest.py [--only 123] [--events N] [--samples K] [--stations S] [--postgres]
With --postgres, part 1 uses IOC_DATABASE_URL and IOC_REDIS_URL (a scratch schema) and part 2 uses
IOC_DATABASE_URL (the database name must contain 'bench': its public schema is dropped and recreated); so does
part 3.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import loop  # noqa: E402
from loop import BenchError, percentile  # noqa: E402

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def fresh_database(args: argparse.Namespace, tmp: Path) -> None:
    """A scratch database (SQLite in ``tmp``, or the emptied PostgreSQL schema), migrated and seeded."""
    os.environ["IOC_DATA_DIR"] = str(tmp / "var")
    if not args.postgres:
        os.environ.pop("IOC_DATABASE_URL", None)
    elif "bench" not in os.environ.get("IOC_DATABASE_URL", ""):
        raise BenchError("--postgres needs IOC_DATABASE_URL naming a database whose name contains 'bench'")
    from engine.db import get_engine, transaction
    from engine.indicators import seed_indicators
    from engine.migrate import upgrade
    from engine.org import seed_organisation

    if args.postgres:
        with get_engine().begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    upgrade()
    with transaction() as s:
        seed_organisation(s)
        seed_indicators(s)


def part2(args: argparse.Namespace, tmp: Path) -> str:
    fresh_database(args, tmp)
    from sqlalchemy import insert, select

    from engine import indicators
    from engine.db import get_engine, refresh_statistics, session_factory, transaction
    from engine.models import IndicatorObservation, Unit
    from web.app import create_app

    with transaction() as s:
        communes = [u for u in s.scalars(select(Unit.code)) if u != "38"]
        codes = ["budget_revenue", "retail_sales", "new_enterprises", "traffic_accidents", "overdue_applications",
                 "online_applications_share"]
        ids = {c: indicators.get(s, c).id for c in codes}
    rnd = random.Random(5)
    t = time.perf_counter()
    rows = []
    for code in codes:
        for year in range(2021, 2026):
            for month in range(1, 13):
                start = datetime(year, month, 1, tzinfo=VN)
                for unit in communes:
                    rows.append({"indicator_id": ids[code], "unit_code": unit, "entity": "", "period_start": start,
                                 "local_date": start.date(), "year": year, "month": month,
                                 "value": round(rnd.uniform(1, 100), 2), "source": "bench"})
    with get_engine().begin() as conn:
        for i in range(0, len(rows), 5000):
            conn.execute(insert(IndicatorObservation), rows[i:i + 5000])
        indicators.rebuild_rollups(conn)  # rows loaded straight into the table: add them up as record() would
    refresh_statistics()
    print(f"== 2. indicator roll-up: {len(communes)} communes x 60 months x {len(codes)} indicators = "
          f"{len(rows):,} rows (inserted in {time.perf_counter() - t:.1f} s)")
    read = session_factory(write=False)
    client = create_app({"TESTING": True}).test_client()
    with transaction() as s:
        from engine.scopes import SCOPES
        from engine.tokens import create_token

        token = create_token(s, "bench", "leader", scope_list=list(SCOPES))

    def timed(fn: object) -> list[float]:
        out = []
        for _ in range(args.samples):
            t0 = time.perf_counter()
            fn()  # type: ignore[operator]
            out.append((time.perf_counter() - t0) * 1000)
        return out

    def baseline() -> None:
        with read() as s:
            obs = IndicatorObservation
            s.execute(select(obs.unit_code, obs.period_start, obs.value)
                      .where(obs.indicator_id == ids["budget_revenue"])).all()

    def in_process() -> None:
        with read() as s:
            points = indicators.series(s, indicators.get(s, "budget_revenue"), granularity="month")
            assert len(points) == 60

    def over_http() -> None:
        r = client.get("/api/v1/indicators/budget_revenue/observations?period=month",
                       headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and len(r.get_json()) == 60

    for fn in (baseline, in_process, over_http):  # warm up
        fn()
    results = {name: timed(fn) for name, fn in (("baseline: plain SELECT of the 9,960 rows", baseline),
                                                ("engine.indicators.series (province, month)", in_process),
                                                ("GET /observations?period=month (Flask client)", over_http))}
    for name, ms in results.items():
        print(f"  {name:<48}: p50 {percentile(ms, 50):6.1f} ms, p95 {percentile(ms, 95):6.1f} ms (n={len(ms)})")
    p95 = percentile(results["GET /observations?period=month (Flask client)"], 95)
    verdict = "met" if p95 <= 100 else "MISSED"
    print(f"  goal p95 <= 100 ms: {verdict}")
    return f"2. indicator roll-up, 5 years x {len(communes)} communes by month: HTTP p95 {p95:.1f} ms ({verdict})"


def part3(args: argparse.Namespace, tmp: Path) -> str:
    fresh_database(args, tmp)
    from datetime import timedelta

    from engine import indicators
    from engine.db import refresh_statistics, session_factory, transaction
    from engine.models import Indicator

    with transaction() as s:
        s.add(Indicator(code="bench_hourly", sector="environment", name="PM2.5 giờ", period="realtime",
                        aggregation="mean", targets={}))
    rnd = random.Random(7)
    first = datetime(2025, 1, 1, tzinfo=VN)
    t = time.perf_counter()
    with transaction() as s:
        ind = indicators.get(s, "bench_hourly")
        for station in range(args.stations):
            items = [{"entity": f"ST-{station:03d}", "time": first + timedelta(hours=h),
                      "value": round(rnd.uniform(5, 120), 1)} for h in range(8760)]
            for i in range(0, len(items), indicators.BATCH_LIMIT):
                indicators.record(s, ind, items[i:i + indicators.BATCH_LIMIT], source="bench", actor="bench")
    refresh_statistics()
    rows = args.stations * 8760
    print(f"== 3. real-time indicator: {args.stations} stations x 8,760 hours = {rows:,} rows, stored through "
          f"engine.indicators.record with its roll-ups in {time.perf_counter() - t:.1f} s "
          f"({rows / (time.perf_counter() - t):,.0f} rows/s)")
    read = session_factory(write=False)
    results: dict[str, list[float]] = {}
    for label, fn in (("station by month, from the hourly rows (before)", "_from_observations"),
                      ("station by month, from the roll-ups (now)", "_from_rollups"),
                      ("province by month, from the hourly rows (before)", "_from_observations"),
                      ("province by month, from the roll-ups (now)", "_from_rollups")):
        entity = "ST-000" if label.startswith("station") else None
        ms = []
        for k in range(args.samples // 5 + 2):
            with read() as s:
                ind = indicators.get(s, "bench_hourly")
                t0 = time.perf_counter()
                if fn == "_from_rollups":
                    rolled = indicators._from_rollups(s, ind, "month", "month", None, entity, None, None)
                else:
                    rolled = indicators._from_observations(s, ind, "month", None, entity, None, None)
                points = indicators._to_level(rolled, "entity" if entity else "province", ind.aggregation)
                if k >= 2:  # two warm-up runs
                    ms.append((time.perf_counter() - t0) * 1000)
                assert len(points) == 12, len(points)
        results[label] = ms
        print(f"  {label:<50}: p50 {percentile(ms, 50):7.1f} ms, p95 {percentile(ms, 95):7.1f} ms (n={len(ms)})")
    before = percentile(results["province by month, from the hourly rows (before)"], 50)
    now = percentile(results["province by month, from the roll-ups (now)"], 50)
    return (f"3. hourly data, {args.stations} stations x 1 year, province by month: p50 {now:.1f} ms from the "
            f"roll-ups vs {before:.1f} ms from the hourly rows ({before / now:.0f}x)")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default="123")
    p.add_argument("--stations", type=int, default=50)
    p.add_argument("--events", type=int, default=20_000)
    p.add_argument("--samples", type=int, default=50)
    p.add_argument("--postgres", action="store_true")
    args = p.parse_args()
    summary = []
    if "1" in args.only:
        print("== 1. events through the HTTP batch API, 1,000 per request (bench/loop.py)")
        argv = ["--batch", "1000", "--events", str(args.events), "--latency-samples", "0"]
        code = loop.main(argv + (["--postgres"] if args.postgres else []))
        if code:
            return code
        rates = loop.RATES
        ratio = rates["accepted"] / rates["baseline"]
        verdicts = [f"accepted / raw insert = {ratio:.2f}x (goal >= 0.5x: {'met' if ratio >= 0.5 else 'missed'})"]
        if args.postgres:
            verdicts.append(f"accepted {rates['accepted']:,.0f} events/s (goal >= 5,000 on PostgreSQL: "
                            f"{'met' if rates['accepted'] >= 5000 else 'missed'})")
        summary.append(f"1. {'; '.join(verdicts)}; evaluated end to end {rates['evaluated']:,.0f} events/s")
    if "2" in args.only:
        tmp = Path(tempfile.mkdtemp(prefix="ioc-ingestbench-"))
        try:
            summary.append(part2(args, tmp))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if "3" in args.only:
        tmp = Path(tempfile.mkdtemp(prefix="ioc-ingestbench-"))
        try:
            summary.append(part3(args, tmp))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print("== summary")
    for line in summary:
        print("  " + line)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"error: {exc}")
        sys.exit(1)
