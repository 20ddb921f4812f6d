"""Benchmark of AIS: sentences per second decoded, stored and checked against the zones, beside pyais's own
decode rate on the same lines in the same run.

The traffic: 2,000 registered vessels (Thanh Hóa's mix: 18 % of 15 m or more, fishing offshore; 30 % of 12-15 m,
inshore; the rest coastal), each in a zone its length allows, one type-5 static report (two fragments) each, then
type-1 positions every 10 s per vessel (NMEA 4.10 tag block with the time), the vessel moving a few hundred
metres between reports. Timed on the same lines:
  - baseline: pyais through the same lines, the faster of its two ways: its stream reader over the whole file
    (``pyais.stream.IterMessages``: tag blocks, multi-part assembly) with ``decode()`` of every message, and
    ``pyais.decode`` of each single-fragment line (no event, nothing stored); its rate on the bare sentences (tag
    blocks cut off) is printed too;
  - ``connectors.ais.decode_lines`` alone (checksums, tag blocks, multi-part assembly, sentinels, events);
  - the whole path as the AIS connectors run it: ``decode_lines(reports=True)`` -> ``connectors.runtime.store``
    in transactions of 50,000 lines (as ``ioc ais replay`` and ``ioc ais listen`` flush a busy feed): positions
    stored as track fixes, each vessel's latest state written, every position screened against the sea map, the
    vessels the screen does not clear judged by the VMS/IUU rules; on a fresh SQLite database with an embedded Redis;
  - the same path on 20,000 lines of positions scattered at random over the sea for unregistered vessels (most of
    them in a zone they may not use, so most are judged and raise alerts: a worst case, not a real feed);
  - the previous path (every position an event, evaluated by the worker), on the first 20,000 lines of the realistic
    traffic, for comparison.
Goal: the whole path at least 0.5x pyais's decode rate.

Usage: .venv/bin/python bench/ais.py [--lines 100000] [--vessels 2000] [--skip-events]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from loop import cpu_model  # noqa: E402

NOON = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # 10:00 local: every report within one local day


def registry(vessels: int) -> list[dict[str, object]]:
    rnd = random.Random(5)
    out = []
    for v in range(vessels):
        draw = rnd.random()
        length = 16 + rnd.random() * 10 if draw < 0.18 else 12.5 + rnd.random() * 2 if draw < 0.48 else 9.0
        out.append({"code": f"TH-{90000 + v}-TS", "name": f"THANH HOA {v}", "mmsi": str(574000000 + v),
                    "length_m": round(length, 1)})
    return out


def realistic_lines(n: int, vessels: int) -> list[str]:
    """Each registered vessel somewhere in a zone its length allows, reporting every 10 s as it moves."""
    import json

    from pyais.encode import encode_dict

    from connectors import ais_fast
    from engine import vms

    sea = vms.sea_map(json.loads((ROOT / "rules/geo/thanh_hoa_sea_zones.geojson").read_text(encoding="utf-8")))
    rnd = random.Random(9)
    places = []
    for record in registry(vessels):
        allowed = vms.allowed_zones(vms.Vessel(str(record["code"]), None, float(record["length_m"]), "fishing"))
        while True:  # a point well inside an allowed zone, away from ports and land
            lon, lat = rnd.uniform(105.85, 107.8), rnd.uniform(19.3, 20.0)
            zone = vms.zone_of((lon, lat), sea.zones)
            ring = [(lon + dx, lat + dy) for dx in (-0.02, 0.02) for dy in (-0.02, 0.02)]
            if zone in allowed and all(vms.zone_of(p, sea.zones) == zone and not vms._port_at(p, sea.ports)
                                       and not vms._covers(p, sea.land) for p in ring):
                places.append([lon, lat])
                break
    lines: list[str] = []
    for v in range(vessels):
        lines += encode_dict({"type": 5, "mmsi": 574000000 + v, "shipname": f"THANH HOA {v}", "to_bow": 12,
                              "to_stern": 6}, sentence_type="VDM")
    tick = 0
    while len(lines) < n:
        for v in range(vessels):
            place = places[v]
            place[0] += rnd.uniform(-0.001, 0.001)
            place[1] += rnd.uniform(-0.001, 0.001)
            at = NOON + timedelta(seconds=10 * tick + v * 10 / vessels)
            sentence = encode_dict({"type": 1, "mmsi": 574000000 + v, "lat": round(place[1], 5),
                                    "lon": round(place[0], 5), "speed": round(rnd.uniform(2, 8), 1),
                                    "course": rnd.randrange(360), "heading": rnd.randrange(360), "status": 7},
                                   sentence_type="VDM")[0]
            block = f"s:TH01,c:{int(at.timestamp())}"
            lines.append(f"\\{block}*{ais_fast.checksum(block.encode()):02X}\\{sentence}")
        tick += 1
    return lines[:n]


def make_lines(n: int, vessels: int) -> list[str]:
    """Positions scattered at random over the sea (a vessel a line, one second apart): the worst case."""
    from pyais.encode import encode_dict

    from connectors import ais_fast

    rnd = random.Random(9)
    lines: list[str] = []
    for v in range(vessels):
        lines += encode_dict({"type": 5, "mmsi": 574000000 + v, "shipname": f"THANH HOA {v}", "to_bow": 12,
                              "to_stern": 6}, sentence_type="VDM")
    while len(lines) < n:
        v = rnd.randrange(vessels)
        sentence = encode_dict({"type": 1, "mmsi": 574000000 + v, "lat": round(rnd.uniform(19.35, 20.0), 4),
                                "lon": round(rnd.uniform(106.0, 107.6), 4), "speed": round(rnd.uniform(0, 12), 1)},
                               sentence_type="VDM")[0]
        block = f"c:{int((NOON + timedelta(seconds=len(lines))).timestamp())}"
        lines.append(f"\\{block}*{ais_fast.checksum(block.encode()):02X}\\{sentence}")
    return lines[:n]


def fresh(tmp: Path, name: str, with_registry: bool, vessels: int) -> None:
    """A new SQLite database (and settings) for one part, migrated and seeded."""
    from engine.config import settings
    from engine.db import dispose_engines, transaction
    from engine.indicators import seed_indicators
    from engine.migrate import upgrade
    from engine.org import seed_organisation
    from engine.registry import deploy_directory

    dispose_engines()
    os.environ["IOC_DATA_DIR"] = str(tmp / name)
    settings.cache_clear()
    upgrade()
    with transaction() as s:
        seed_organisation(s)
        seed_indicators(s)
        deploy_directory(s, ROOT / "processes")
        if with_registry:
            from engine import entities

            entities.register(s, "vessel", registry(vessels), actor="bench")


def through_tracks(lines: list[str]) -> float:
    """Seconds to decode, store and judge the lines as ``ioc ais replay`` does (reports, ``AIS_BATCH`` a batch)."""
    from connectors.ais import decode_lines
    from connectors.runtime import store
    from engine.db import transaction
    from web.cli import AIS_BATCH

    received = NOON + timedelta(days=1)
    t = time.perf_counter()
    for i in range(0, len(lines), AIS_BATCH):
        items = list(decode_lines(lines[i:i + AIS_BATCH], source="bench", received=received, reports=True))
        with transaction() as s:
            store(s, "bench", items, actor="bench")
    return time.perf_counter() - t


def through_events(lines: list[str]) -> float:
    """Seconds for the previous path: every position an event, then the worker's evaluation."""
    from sqlalchemy import select

    from connectors.ais import decode_lines
    from connectors.runtime import store
    from engine import jobs
    from engine.db import transaction
    from engine.models import Event

    received = NOON + timedelta(days=1)
    t = time.perf_counter()
    for i in range(0, len(lines), 1000):
        items = list(decode_lines(lines[i:i + 1000], source="bench", received=received))
        with transaction() as s:
            store(s, "bench", items, actor="bench")
    with transaction() as s:
        ids = list(s.scalars(select(Event.id).where(Event.processed_at.is_(None)).order_by(Event.id)))
    jobs.process_events(ids)
    return time.perf_counter() - t


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lines", type=int, default=100_000)
    p.add_argument("--vessels", type=int, default=2_000)
    p.add_argument("--skip-events", action="store_true", help="leave out the (slow) previous path")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ioc-aisbench-"))
    os.environ.pop("IOC_DATABASE_URL", None)
    from pyais import decode
    from pyais.stream import IterMessages

    from connectors.ais import Stats, decode_lines
    from engine.db import transaction
    from engine.models import Alert, VesselFix
    from engine.redis_server import EmbeddedRedis

    redis = EmbeddedRedis(tmp / "redis")
    os.environ["IOC_REDIS_URL"] = redis.start()
    try:
        from sqlalchemy import func, select

        lines = realistic_lines(args.lines, args.vessels)
        scattered = make_lines(min(args.lines, 20_000), args.vessels)
        print(f"machine : {cpu_model()}, {os.cpu_count()} cores; Python {sys.version.split()[0]}; "
              f"{datetime.now(UTC):%Y-%m-%d}")
        print(f"== AIS: {len(lines):,} lines ({args.vessels:,} vessels: one type-5 report each, then type-1 positions "
              f"every 10 s with a tag block)")
        data = [ln.encode() for ln in lines]
        t = time.perf_counter()
        for message in IterMessages(data):
            message.decode()
        stream_rate = len(lines) / (time.perf_counter() - t)
        single = [ln for ln in lines if "!AIVDM,1,1" in ln]
        t = time.perf_counter()
        for ln in single:
            decode(ln)
        single_rate = len(single) / (time.perf_counter() - t)
        bare = [ln.split("\\")[-1] for ln in single]
        t = time.perf_counter()
        for ln in bare:
            decode(ln)
        bare_rate = len(bare) / (time.perf_counter() - t)
        base_rate = max(stream_rate, single_rate)  # the faster of pyais's two ways through the same lines
        stats = Stats()
        t = time.perf_counter()
        list(decode_lines(lines, source="bench", received=NOON + timedelta(days=1), stats=stats))
        decode_rate = len(lines) / (time.perf_counter() - t)
        print(f"  pyais, the whole file (IterMessages + decode) : {stream_rate:10,.0f} lines/s")
        print(f"  pyais.decode, each single-fragment line       : {single_rate:10,.0f} lines/s")
        print(f"  (pyais.decode of the same without tag blocks  : {bare_rate:10,.0f} lines/s)")
        print(f"  baseline: the faster of the first two         : {base_rate:10,.0f} lines/s")
        print(f"  decode_lines (checks, events)                 : {decode_rate:10,.0f} lines/s "
              f"({decode_rate / base_rate:.2f}x; {stats.positions:,} positions, {stats.statics:,} static)")

        def part(label: str, name: str, data: list[str], with_registry: bool, run: Callable[[list[str]], float],
                 goal: bool = False) -> None:
            fresh(tmp, name, with_registry, args.vessels)
            rate = len(data) / run(data)
            with transaction() as s:
                fixes = s.scalar(select(func.count()).select_from(VesselFix))
                alerts = s.scalar(select(func.count()).select_from(Alert))
            verdict = f"; goal >= 0.5x: {'met' if rate / base_rate >= 0.5 else 'MISSED'}" if goal else ""
            print(f"  {label:46}: {rate:10,.0f} lines/s ({rate / base_rate:.3f}x{verdict}; {fixes:,} fixes, "
                  f"{alerts:,} alerts)")

        part("decoded + stored + judged (track fixes)", "tracks", lines, True, through_tracks, goal=True)
        part("same, positions scattered at random (worst)", "scattered", scattered[:20_000], False, through_tracks)
        if not args.skip_events:
            part("previous path: every position an event", "events", lines[:20_000], True, through_events)
    finally:
        redis.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
