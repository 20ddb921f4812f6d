"""Benchmark of the environment sector: VN_AQI over a year of hourly data for 100 stations, and station files.

1. Hourly and daily VN_AQI for 100 stations x 8,760 hours (synthetic readings of the six parameters with 5 %
   gaps, or the shared real data when --real and it is present): ``engine.aqi.hourly_series`` and
   ``daily_series``, beside a plain Python loop over the same numbers in the same run (for each station and
   hour, the largest of the six values divided by a constant: the bare arithmetic without the decision's rules).
2. Station files (Circular 10/2021) ingested per second: N files written with
   ``connectors.station_file.write_station_file``, then (a) parsed (``parse_station_file``), (b) parsed, stored
   and evaluated end to end in process (``ingest_events`` in batches of 500, ``jobs.process_events``: rules, the
   hourly AQI, the derived events), on a fresh SQLite database with an embedded Redis; baseline: reading the same
   bytes and splitting them into fields with ``str.split`` in a plain loop.

Usage: .venv/bin/python bench/environment.py [--stations 100] [--hours 8760] [--files 2000]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from loop import cpu_model  # noqa: E402

PARAMS = ("pm25", "pm10", "so2", "no2", "co", "o3")
SCALE = {"pm25": 60, "pm10": 90, "so2": 30, "no2": 45, "co": 1500, "o3": 70}


def synthetic(rnd: random.Random, hours: int) -> dict[str, list[float | None]]:
    out: dict[str, list[float | None]] = {}
    for p in PARAMS:
        level = SCALE[p]
        series: list[float | None] = []
        for _ in range(hours):
            level = max(1.0, level + rnd.gauss(0, SCALE[p] * 0.08))
            series.append(None if rnd.random() < 0.05 else round(level, 1))
        out[p] = series
    return out


def part1(args: argparse.Namespace) -> None:
    from engine import aqi

    rnd = random.Random(1)
    stations = [synthetic(rnd, args.hours) for _ in range(args.stations)]
    print(f"== 1. VN_AQI for {args.stations} stations x {args.hours:,} hours "
          f"({args.stations * args.hours:,} station-hours, 6 parameters, 5 % gaps)")
    t = time.perf_counter()
    total = 0.0
    for s in stations:
        cols = [s[p] for p in PARAMS]
        for h in range(args.hours):
            best = 0.0
            for col in cols:
                v = col[h]
                if v is not None and v > best:
                    best = v
            total += best / 3.0
    base = time.perf_counter() - t
    t = time.perf_counter()
    hourly = [aqi.hourly_series(s) for s in stations]
    hourly_s = time.perf_counter() - t
    t = time.perf_counter()
    daily = [aqi.daily_series(s) for s in stations]
    daily_s = time.perf_counter() - t
    n_h = sum(1 for series in hourly for r in series if r is not None)
    n_d = sum(1 for series in daily for r in series if r is not None)
    print(f"  baseline: plain loop over the same numbers : {base:7.2f} s")
    print(f"  hourly AQI (NowCast, all rules)            : {hourly_s:7.2f} s  ({hourly_s / base:.1f}x the baseline; "
          f"{n_h:,} hours with an AQI)")
    print(f"  daily AQI                                  : {daily_s:7.2f} s  ({daily_s / base:.1f}x; {n_d:,} days)")
    assert total > 0


def part2(args: argparse.Namespace, tmp: Path) -> None:
    os.environ["IOC_DATA_DIR"] = str(tmp / "var")
    os.environ.pop("IOC_DATABASE_URL", None)
    from connectors.station_file import event_for, parse_station_file, station_file_name, write_station_file
    from engine import jobs
    from engine.db import transaction
    from engine.events import ingest_events
    from engine.indicators import seed_indicators
    from engine.migrate import upgrade
    from engine.org import seed_organisation
    from engine.redis_server import EmbeddedRedis
    from engine.registry import deploy_directory

    redis = EmbeddedRedis(tmp / "var" / "redis")
    os.environ["IOC_REDIS_URL"] = redis.start()
    try:
        upgrade()
        with transaction() as s:
            seed_organisation(s)
            seed_indicators(s)
            deploy_directory(s, ROOT / "processes")
        rnd = random.Random(2)
        vn = ZoneInfo("Asia/Ho_Chi_Minh")
        start = datetime.now(vn).replace(minute=0, second=0, microsecond=0) - timedelta(hours=args.files // 20 + 1)
        files = []
        for i in range(args.files):
            station, at = f"BENCH-{i % 20:02d}", start + timedelta(hours=i // 20)
            readings = {p: round(SCALE[p] * rnd.uniform(0.5, 1.5), 1) for p in PARAMS}
            files.append((station_file_name(station, at), write_station_file(station, at, readings)))
        print(f"== 2. station files: {len(files):,} files (20 stations x {len(files) // 20} hours, 6 parameters)")
        t = time.perf_counter()
        fields = 0
        for _name, content in files:
            for line in content.decode().splitlines():
                fields += len(line.split())
        base = time.perf_counter() - t
        now = datetime.now(UTC)
        t = time.perf_counter()
        parsed = [parse_station_file(content, name, now) for name, content in files]
        parse_s = time.perf_counter() - t
        t = time.perf_counter()
        events = [event_for(p, "bench") for p in parsed]
        for i in range(0, len(events), 500):
            with transaction() as s:
                ids = ingest_events(s, events[i:i + 500], "bench").accepted
            jobs.process_events(ids)
        store_s = time.perf_counter() - t
        print(f"  baseline: read and split the same bytes : {len(files) / base:10,.0f} files/s")
        print(f"  parse (encoding, units, statuses)       : {len(files) / parse_s:10,.0f} files/s "
              f"({base / parse_s:.2f}x the baseline)")
        print(f"  parse + store + evaluate + hourly AQI   : {len(files) / (parse_s + store_s):10,.0f} files/s "
              f"(the derived AQI events are evaluated by the next job, not timed here)")
        assert fields > 0 and math.isfinite(store_s)
    finally:
        redis.stop()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stations", type=int, default=100)
    p.add_argument("--hours", type=int, default=8760)
    p.add_argument("--files", type=int, default=2000)
    p.add_argument("--only", default="12")
    args = p.parse_args()
    print(f"machine : {cpu_model()}, {os.cpu_count()} cores; Python {sys.version.split()[0]}; "
          f"{datetime.now(UTC):%Y-%m-%d}")
    tmp = Path(tempfile.mkdtemp(prefix="ioc-envbench-"))
    try:
        if "1" in args.only:
            part1(args)
        if "2" in args.only:
            part2(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
