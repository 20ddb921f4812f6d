"""Benchmark of alert rule evaluation and of the way from an event's POST to its alert on the live stream.

1. Rule evaluations per second with 500 rules over 10,000 entities. 500 rules over 50 event types (10 per
   type: thresholds with pending and keep-firing periods, rates, counts, composites), 10,000 entities;
   N events (each of one type, so 10 rules judge it; about 2 % of the values break a rule). Measured:
   (a) the pure core: ``applies`` + ``check`` + the state machine ``step``, states in a dict;
   (b) the product: ``engine.rule_engine.judge_event`` per event, each in its own transaction, states in
       the ``rule_states`` table (what the worker does), on a fresh SQLite (or ``--postgres``) database;
   baseline, in the same run: the bare comparisons (``value > limit``) of the same rule/event pairs in a
   plain Python loop.
2. POST → alert on the SSE stream: starts ``ioc run`` (embedded SQLite + embedded Redis), listens on
   ``/api/v1/stream``, and posts K above-threshold events one at a time (a new station each time); the
   time from just before the POST to the arrival of its ``alert.opened`` change. p50 and p95 (goal p95
   ≤ 300 ms on the embedded default), beside the POST's own round trip in the same run.

Usage: .venv/bin/python bench/alerts.py [--events N] [--samples K] [--only 12] [--postgres]
See docs/benchmarks.md, section "Alerts (bench/alerts.py)".
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from loop import BenchError, Server, cpu_model, free_port, percentile  # noqa: E402

RULES, TYPES, ENTITIES = 500, 50, 10_000


def make_rules() -> list[Any]:
    from engine.evaluation import Rule

    rnd = random.Random(7)
    rules = []
    for i in range(RULES):
        etype = f"metric_{i % TYPES}"
        kind = rnd.choices(("threshold", "rate", "count", "composite"), weights=(70, 10, 10, 10))[0]
        params: dict[str, Any] = {}
        if kind == "rate":
            params = {"window_minutes": 60}
        elif kind == "count":
            params = {"window_minutes": 10}
        elif kind == "composite":
            params = {"mode": "all", "conditions": [{"field": "v", "op": ">", "value": 95},
                                                    {"field": "w", "op": "<", "value": 10}]}
        rules.append(Rule(id=f"r{i}", name=f"Rule {i}", sector="environment", kind=kind, event_type=etype,
                          field="v", op=">", value=(40.0 if kind == "rate" else 30.0 if kind == "count" else 98.0),
                          severity="trung_binh", dedupe_key=f"r{i}:{{entity}}", title="", scenario={},
                          pending_s=rnd.choice((0, 0, 300)), keep_firing_s=rnd.choice((0, 600)), params=params))
    return rules


def make_events(n: int) -> list[Any]:
    from engine.evaluation import Observation

    rnd = random.Random(11)
    t0 = datetime.now(UTC) - timedelta(hours=1)
    return [Observation(type=f"metric_{rnd.randrange(TYPES)}", sector="environment",
                        entity=f"E{rnd.randrange(ENTITIES):05d}", unit_code=None, time=t0 + timedelta(seconds=i * 0.3),
                        values={"v": rnd.gauss(60, 15), "w": rnd.uniform(0, 100)}) for i in range(n)]


def part1(args: argparse.Namespace) -> str:
    from engine import rule_engine
    from engine.db import transaction
    from engine.evaluation import applies, check, subject
    from engine.rule_engine import MEMORYLESS
    from engine.rule_state import RuleState, step

    rules, events = make_rules(), make_events(args.events)
    by_type: dict[str, list[Any]] = {}
    for r in rules:
        by_type.setdefault(r.event_type, []).append(r)
    pairs = sum(len(by_type.get(e.type, [])) for e in events)
    print(f"== 1. rule evaluations: {RULES} rules over {TYPES} event types, {ENTITIES:,} entities, "
          f"{len(events):,} events ({pairs:,} rule/event pairs)")
    # baseline: bare comparisons of the same pairs
    t = time.perf_counter()
    hits = 0
    for e in events:
        v = e.values["v"]
        for r in by_type.get(e.type, []):
            hits += v > r.value
    base_s = time.perf_counter() - t
    # (a) the pure core
    states: dict[tuple[str, str], RuleState] = {}
    memory: dict[tuple[str, str], dict[str, Any]] = {}
    fired = 0
    t = time.perf_counter()
    for e in events:
        key = subject(e)
        for r in by_type.get(e.type, []):
            if not applies(r, e):
                continue
            verdict = check(r, e, memory.get((r.id, key)))
            if verdict is None:
                continue
            memory[(r.id, key)] = verdict.memory
            before = states.get((r.id, key))
            if not verdict.breached and r.kind in MEMORYLESS and (before is None or before.status == "normal"):
                continue  # as the product does: normal stays normal, nothing to compute or store
            states[(r.id, key)], tr = step(states.get((r.id, key), RuleState()), r.timing, e.time,
                                           verdict.breached, verdict.value)
            fired += tr == "fire"
    core_s = time.perf_counter() - t
    # (b) the product, with its database
    local = events[: args.db_events]
    db_pairs = sum(len(by_type.get(e.type, [])) for e in local)
    t = time.perf_counter()
    opened = 0
    for e in local:
        with transaction() as s:
            opened += len(rule_engine.judge_event(s, rules, e, e.time))
    db_s = time.perf_counter() - t
    base_rate, core_rate, db_rate = pairs / base_s, pairs / core_s, db_pairs / db_s
    print(f"  baseline: bare comparisons in a loop      {base_rate:>14,.0f} evaluations/s ({hits:,} over the limit)")
    print(f"  (a) pure core (check + state machine)    {core_rate:>14,.0f} evaluations/s "
          f"({core_rate / base_rate:.3f}x the baseline; {fired:,} alerts would fire)")
    print(f"  (b) product, states in the database      {db_rate:>14,.0f} evaluations/s "
          f"({db_rate / base_rate:.5f}x; {len(local):,} events, {len(local) / db_s:,.0f} events/s, "
          f"{opened:,} alerts opened or repeated)")
    return (f"1. rule evaluations/s: baseline {base_rate:,.0f}, pure core {core_rate:,.0f} "
            f"({core_rate / base_rate:.3f}x), product with DB {db_rate:,.0f} ({db_rate / base_rate:.5f}x)")


def part2(args: argparse.Namespace, tmp: Path) -> str:
    import requests

    print(f"== 2. POST -> alert on the live stream (embedded default), {args.samples} samples")
    env = dict(os.environ, IOC_DATA_DIR=str(tmp / "var2"), PYTHONUNBUFFERED="1")
    env.pop("IOC_DATABASE_URL", None)
    env.pop("IOC_REDIS_URL", None)
    srv = Server(env, free_port(), tmp / "server.log", 1)
    srv.start()
    try:
        token = srv.ioc("token", "create", "bench", "--role", "operator")
        headers = {"Authorization": f"Bearer {token}"}
        arrived: dict[str, float] = {}
        stop = threading.Event()

        def listen() -> None:
            with requests.get(f"{srv.base}/api/v1/stream", headers=headers, stream=True, timeout=60) as r:
                for line in r.iter_lines(decode_unicode=True):
                    if stop.is_set():
                        return
                    if line and line.startswith("data:"):
                        change = json.loads(line[5:])
                        if change.get("kind") == "alert.opened":
                            arrived[str(change.get("title"))] = time.perf_counter()

        threading.Thread(target=listen, daemon=True).start()
        time.sleep(1.0)
        latencies, posts = [], []
        for i in range(args.samples):
            station = f"BENCH-{i:04d}"
            ev = {"source": "bench", "type": "air_quality", "sector": "environment", "entity": station,
                  "time": datetime.now(UTC).isoformat(), "values": {"aqi": 180}}
            t = time.perf_counter()
            resp = requests.post(f"{srv.base}/api/v1/events", json={"events": [ev]}, headers=headers, timeout=10)
            posts.append((time.perf_counter() - t) * 1000)
            if resp.status_code != 202:
                raise BenchError(f"POST answered {resp.status_code}")
            deadline = time.perf_counter() + 10
            title = f"VN_AQI 180 tại trạm {station}"
            while title not in arrived and time.perf_counter() < deadline:
                time.sleep(0.002)
            if title not in arrived:
                raise BenchError(f"no alert.opened for {station} within 10 s")
            latencies.append((arrived[title] - t) * 1000)
            time.sleep(0.05)
        stop.set()
    finally:
        srv.stop()
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    print(f"  POST round trip alone: p50 {percentile(posts, 50):.1f} ms, p95 {percentile(posts, 95):.1f} ms")
    print(f"  POST -> alert.opened on the stream: p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(latencies):.1f} ms "
          f"(goal p95 <= 300 ms: {'met' if p95 <= 300 else 'MISSED'})")
    return f"2. POST -> alert on the stream: p50 {p50:.1f} ms, p95 {p95:.1f} ms (goal p95 <= 300 ms)"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=200_000, help="events for the pure core and the baseline")
    p.add_argument("--db-events", type=int, default=5_000, help="events judged by the product with its database")
    p.add_argument("--samples", type=int, default=200, help="POST -> stream samples")
    p.add_argument("--only", default="12")
    p.add_argument("--postgres", action="store_true", help="part 1 (b) on IOC_DATABASE_URL (name must contain bench)")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ioc-alertbench-"))
    os.environ["IOC_DATA_DIR"] = str(tmp / "var")
    if not args.postgres:
        os.environ.pop("IOC_DATABASE_URL", None)
    elif "bench" not in os.environ.get("IOC_DATABASE_URL", ""):
        raise BenchError("--postgres needs IOC_DATABASE_URL naming a database whose name contains 'bench'")
    print(f"machine : {cpu_model()}, {os.cpu_count()} cores; Python {sys.version.split()[0]}")
    print(f"date    : {datetime.now(UTC):%Y-%m-%d}")
    summary: list[str] = []
    cleanup: list[Any] = []
    try:
        if "1" in args.only:
            from engine.db import get_engine
            from engine.migrate import upgrade
            from engine.redis_server import EmbeddedRedis

            if not os.environ.get("IOC_REDIS_URL"):  # the engine publishes live changes after each commit
                redis = EmbeddedRedis(tmp / "var" / "redis")
                os.environ["IOC_REDIS_URL"] = redis.start()
                cleanup.append(redis.stop)
            if args.postgres:
                with get_engine().begin() as conn:
                    conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            upgrade()
            summary.append(part1(args))
        if "2" in args.only:
            summary.append(part2(args, tmp))
    finally:
        for undo in cleanup:
            undo()
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
