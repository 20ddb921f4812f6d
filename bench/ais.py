"""Benchmark of AIS: sentences per second decoded, stored and checked against the zones, beside pyais's own
decode rate on the same lines in the same run.

The lines: N type-1 position reports made with ``pyais.encode.encode_dict`` for 2,000 vessels (MMSI) across the
sea zones, plus one type-5 static report (two fragments) per vessel. Timed on the same lines:
  - baseline: ``pyais.decode`` of each line (no checksum check, no event);
  - ``connectors.ais.decode_lines`` (checksums, multi-part assembly, sentinels, events with time and key);
  - the whole path in process: ``decode_lines`` -> ``connectors.runtime.store`` in transactions of 1,000 ->
    ``engine.jobs.process_events`` (the rules, the vessel's latest state, the VMS/IUU checks against the zones of
    ``rules/geo/thanh_hoa_sea_zones.geojson``), on a fresh SQLite database with an embedded Redis.
Goal: the whole path at least 0.5x pyais's decode rate.

Usage: .venv/bin/python bench/ais.py [--lines 20000] [--vessels 2000]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from loop import cpu_model  # noqa: E402


def make_lines(n: int, vessels: int) -> list[str]:
    from pyais.encode import encode_dict

    rnd = random.Random(9)
    lines: list[str] = []
    for v in range(vessels):
        lines += encode_dict({"type": 5, "mmsi": 574000000 + v, "shipname": f"THANH HOA {v}", "to_bow": 12,
                              "to_stern": 6}, sentence_type="VDM")
    while len(lines) < n:
        v = rnd.randrange(vessels)
        lines += encode_dict({"type": 1, "mmsi": 574000000 + v, "lat": round(rnd.uniform(19.35, 20.0), 4),
                              "lon": round(rnd.uniform(106.0, 107.6), 4), "speed": round(rnd.uniform(0, 12), 1)},
                             sentence_type="VDM")
    return lines[:n]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lines", type=int, default=20_000)
    p.add_argument("--vessels", type=int, default=2_000)
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ioc-aisbench-"))
    os.environ["IOC_DATA_DIR"] = str(tmp / "var")
    os.environ.pop("IOC_DATABASE_URL", None)
    from pyais import decode

    from connectors.ais import Stats, decode_lines
    from connectors.runtime import store
    from engine import jobs
    from engine.db import transaction
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
        lines = make_lines(args.lines, args.vessels)
        print(f"machine : {cpu_model()}, {os.cpu_count()} cores; Python {sys.version.split()[0]}; "
              f"{datetime.now(UTC):%Y-%m-%d}")
        print(f"== AIS: {len(lines):,} lines ({args.vessels:,} vessels: one type-5 report each, then type-1 positions)")
        single = [ln for ln in lines if ln.startswith("!AIVDM,1,1")]
        t = time.perf_counter()
        for ln in single:
            decode(ln)
        base_rate = len(single) / (time.perf_counter() - t)
        stats = Stats()
        t = time.perf_counter()
        items = list(decode_lines(lines, source="bench", received=datetime.now(UTC), stats=stats))
        decode_rate = len(lines) / (time.perf_counter() - t)
        t = time.perf_counter()
        for i in range(0, len(items), 1000):
            with transaction() as s:
                store(s, "bench", items[i:i + 1000], actor="bench")
        with transaction() as s:
            from sqlalchemy import select

            from engine.models import Event

            ids = list(s.scalars(select(Event.id).where(Event.processed_at.is_(None)).order_by(Event.id)))
        jobs.process_events(ids)
        whole = time.perf_counter() - t
        whole_rate = len(lines) / (whole + len(lines) / decode_rate)
        print(f"  baseline: pyais.decode, single-fragment lines : {base_rate:10,.0f} sentences/s")
        print(f"  decode_lines (checks, events)                 : {decode_rate:10,.0f} sentences/s "
              f"({decode_rate / base_rate:.2f}x; {stats.positions:,} positions, {stats.statics:,} static)")
        print(f"  decoded + stored + judged against the zones    : {whole_rate:10,.0f} sentences/s "
              f"({whole_rate / base_rate:.3f}x; goal >= 0.5x: {'met' if whole_rate / base_rate >= 0.5 else 'MISSED'})")
    finally:
        redis.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
