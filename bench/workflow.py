"""Benchmark of the workflow engine: persisted instance throughput, the inbox query at scale, timer
lateness, and bytes stored per instance.

Runs the engine in process (no HTTP), on a fresh SQLite database with an embedded Redis in a temporary
data directory, or with ``--postgres`` on IOC_DATABASE_URL / IOC_REDIS_URL from the environment (the
database's ``public`` schema is dropped and recreated first, so the database name must contain
``bench``). It prints, each beside its baseline or goal from the same run:

  1. complete ``incident`` instances per second, persisted: start N instances with
     ``engine.runtime.start_process`` and drive each through triage -> handle -> report -> review
     (accept) with ``engine.tasks.complete_task``, every action in its own ``engine.db.transaction()``;
     baseline: the same model run by plain SpiffWorkflow in memory (goal: persisted >= 0.7x baseline), and
     lower bounds: what an engine doing only part of the work (saving the state, committing one row or the
     rows a person's action must leave, with SQLAlchemy or the bare driver) reaches in the same run;
  2. the inbox page query (``engine.tasks.inbox_query(...).limit(50)``) for random officers with
     1,000,000 ``human_tasks`` rows, 100,000 open, over 200 departments: p50 / p95 (goal p95 <= 20 ms);
  3. timer lateness with 10,000 pending timers coming due over 30 s, fired by the product's timer
     loop (``web.worker._timer_loop``: ``fire_due_timers()`` every 0.25 s), from the ``timer.fired``
     audit rows: p50 / p95 / max (goal p95 <= 1 s), and the firing throughput;
  4. bytes stored per running instance (state, inbox rows, audit rows) beside the spec stored once
     and a full Spiff serialization with the spec.

Usage: .venv/bin/python bench/workflow.py [--postgres] [--quick] [--only 1234] [--profile] [--experiments]
       [--instances N] [--rows N] [--open-rows N] [--timers N] [--timer-window S] [--timers-later N]
       [--timer-workers K] [--keep]
``--profile`` adds a cProfile of part 1; ``--experiments`` tries, after part 2's measurements and on the
same scratch data, query rewrites, ANALYZE and an extra index (the product is not changed).
See docs/benchmarks.md, section "Workflow engine (bench/workflow.py)".
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from loop import BenchError, cpu_model  # bench/loop.py: the same error kind and machine facts

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "bench-password-0123"  # noqa: S105 - throwaway users of a scratch database
STEPS = (  # (BPMN id, who completes it, the form as submitted)
    ("triage", "operator", {"department": "SO-NNMT", "due_in": "PT4H",
                            "instruction": "Kiểm tra trạm quan trắc, báo cáo trong 4 giờ."}),
    ("handle", "officer", {"actions_taken": "Đã cử cán bộ kiểm tra hiện trường, phối hợp UBND xã xử lý nguồn thải."}),
    ("report", "officer", {"report_text": "Chỉ số VN_AQI đã giảm dưới ngưỡng sau khi xử lý nguồn thải.",
                           "resolved": "true"}),
    ("review", "leader", {"decision": "accept", "leader_comment": "Đồng ý."}),
)
TIMER_MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d_wfbench" targetNamespace="https://ioc.example/bench">
  <bpmn:process id="wfbench_timer" name="Bench: escalate when not handled in time" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="work" name="Xử lý" camunda:candidateGroups="role:operator" camunda:priority="60">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:boundaryEvent id="late" attachedToRef="work" cancelActivity="true">
      <bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDate>${due}</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:userTask id="escalated" name="Quá hạn: lãnh đạo xem xét" camunda:candidateGroups="role:leader">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="e1"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="e2"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="work" />
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="e1" />
    <bpmn:sequenceFlow id="f3" sourceRef="late" targetRef="escalated" />
    <bpmn:sequenceFlow id="f4" sourceRef="escalated" targetRef="e2" />
  </bpmn:process>
</bpmn:definitions>
"""
CALIBRATION_TIMERS = 100  # started first with a far-future due time, to time a start; they stay pending


# --- small helpers --------------------------------------------------------------------------------


def mem_gib() -> float:
    with suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return int(line.split()[1]) / 1024 / 1024
    return 0.0


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil
    return ordered[int(rank) - 1]


def dist(values: list[float], unit: str = "ms", digits: int = 1) -> str:
    if not values:
        return "(no samples)"
    f = f"{{:.{digits}f}}"
    return (f"p50 {f.format(percentile(values, 50))} {unit}, p95 {f.format(percentile(values, 95))} {unit}, "
            f"max {f.format(max(values))} {unit} (n={len(values)})")


def approx_bytes(value: Any) -> int:
    """What a column value takes, roughly: text as UTF-8, JSON as its text, numbers and times 8 bytes."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return 1
    if isinstance(value, int | float | datetime | date):
        return 8
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, bytes):
        return len(value)
    return len(json.dumps(value, ensure_ascii=False, default=str).encode())


def row_bytes(row: Any) -> int:
    return sum(approx_bytes(v) for v in row)


def git_revision() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True, capture_output=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)bench/workflow.py"], cwd=ROOT, text=True, capture_output=True,
                               timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"
    return f"{head}{' + uncommitted changes' if dirty else ''}" if head else "?"


def section(title: str) -> None:
    print(f"\n== {title}", flush=True)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    def raise_interrupt(_sig: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


# --- arguments ------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--postgres", action="store_true",
                   help="use IOC_DATABASE_URL and IOC_REDIS_URL (drops and recreates the database's public schema)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 100 instances, 100,000 task rows / 10,000 open, 1,000 timers over 10 s")
    p.add_argument("--instances", type=int, help="part 1: incident instances (default 1000; quick 100)")
    p.add_argument("--rows", type=int, help="part 2: human_tasks rows (default 1,000,000; quick 100,000)")
    p.add_argument("--open-rows", type=int, help="part 2: open rows among them (default rows / 10)")
    p.add_argument("--departments", type=int, default=200, help="part 2: departments (default 200)")
    p.add_argument("--samples", type=int, default=200, help="part 2: officers timed per query (default 200)")
    p.add_argument("--timers", type=int, help="part 3: timers coming due (default 10,000; quick 1,000)")
    p.add_argument("--timer-window", type=float, help="part 3: seconds over which they come due (default 30; quick 10)")
    p.add_argument("--timers-later", type=int, default=CALIBRATION_TIMERS,
                   help=f"part 3: more pending timers, due in a day, started first "
                        f"(default and minimum {CALIBRATION_TIMERS})")
    p.add_argument("--timer-workers", type=int, default=0,
                   help="part 3: 0 (default) runs the product's timer loop in a thread of this process; "
                        "K >= 1 starts K `python -m web.cli worker` processes instead")
    p.add_argument("--only", default="1234", help="which parts to run, e.g. 13 (default 1234)")
    p.add_argument("--profile", action="store_true", help="cProfile part 1 and print where the time goes")
    p.add_argument("--experiments", action="store_true",
                   help="part 2: afterwards, try ANALYZE, a rewritten filter and an extra index "
                        "on the scratch database")
    p.add_argument("--keep", action="store_true", help="keep the temporary data directory (SQLite) for a look after")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args(argv)
    a.instances = a.instances or (100 if a.quick else 1000)
    a.rows = a.rows or (100_000 if a.quick else 1_000_000)
    a.open_rows = a.open_rows if a.open_rows is not None else a.rows // 10
    a.timers = a.timers or (1_000 if a.quick else 10_000)
    a.timer_window = a.timer_window or (10.0 if a.quick else 30.0)
    if min(a.instances, a.rows, a.timers, a.departments, a.samples) < 1 or not 0 <= a.open_rows <= a.rows:
        p.error("counts must be positive and --open-rows at most --rows")
    if set(a.only) - set("1234"):
        p.error("--only takes digits 1 to 4")
    return a


# --- main -----------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="ioc-wfbench-"))
    state: dict[str, Any] = {}
    try:
        with sigterm_as_interrupt():
            return Bench(args, tmp, state).run()
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        return 130
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for proc in state.get("workers", []):
            stop_process(proc)
        if "dispose" in state:
            with suppress(Exception):
                state["dispose"]()
        if state.get("redis") is not None:
            state["redis"].stop()
        if args.keep:
            print(f"data kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path, state: dict[str, Any]) -> None:
        self.args, self.tmp, self.state = args, tmp, state
        self.rnd = random.Random(args.seed)
        self.results: dict[str, Any] = {}

    # -- set-up ------------------------------------------------------------------------------------

    def setup_environment(self) -> None:
        """The environment must be set before any engine module is imported (settings are read once)."""
        os.environ["IOC_DATA_DIR"] = str(self.tmp / "var")
        os.environ.setdefault("IOC_SECRET_KEY", "bench-secret-key-that-is-long-enough-0123456789")
        if self.args.postgres:
            db_url, redis_url = os.environ.get("IOC_DATABASE_URL", ""), os.environ.get("IOC_REDIS_URL", "")
            if not db_url.startswith(("postgres://", "postgresql")) or not redis_url.startswith(("redis://", "unix://")):
                raise BenchError("--postgres needs IOC_DATABASE_URL=postgresql://... and IOC_REDIS_URL=redis://...")
            dbname = db_url.rsplit("/", 1)[-1].split("?", 1)[0]
            if "bench" not in dbname:
                raise BenchError(f"refusing to drop the public schema of database {dbname!r}: "
                                 "use a scratch database whose name contains 'bench' (e.g. ioc_wfbench)")
            self.redis_url = redis_url
        else:
            os.environ.pop("IOC_DATABASE_URL", None)
            from engine.redis_server import EmbeddedRedis

            redis = self.state["redis"] = EmbeddedRedis(self.tmp / "var" / "redis")
            self.redis_url = os.environ["IOC_REDIS_URL"] = redis.start()

        from engine import db, redis_conn
        from engine.config import settings

        settings.cache_clear()
        redis_conn.reset()
        self.state["dispose"] = db.dispose_engines
        self.settings = settings()

    def prepare_database(self) -> None:
        from sqlalchemy import text

        from engine import db, migrate, registry
        from engine.org import seed_organisation

        if self.args.postgres:
            with db.get_engine().begin() as conn:
                conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            from engine.bus import STREAM
            from engine.redis_conn import redis_client

            redis_client().delete(STREAM)
        migrate.upgrade()
        with db.transaction() as session:
            seed_organisation(session)
            registry.deploy_directory(session, self.settings.processes_dir)

    def describe(self) -> None:
        import SpiffWorkflow
        import sqlalchemy
        from sqlalchemy import text

        from engine.db import get_engine
        from engine.redis_conn import redis_client

        try:
            from importlib.metadata import version

            spiff = version("SpiffWorkflow")
        except Exception:  # noqa: BLE001
            spiff = getattr(SpiffWorkflow, "__version__", "?")
        with get_engine().connect() as conn:
            if self.args.postgres:
                server = "PostgreSQL " + conn.execute(text("SHOW server_version")).scalar_one().split()[0]
                import psycopg

                server += f" (psycopg {psycopg.__version__})"
            else:
                server = "SQLite " + conn.execute(text("SELECT sqlite_version()")).scalar_one() + " (embedded, WAL)"
        redis_version = redis_client().info("server").get("redis_version", "?")
        print(f"machine : {cpu_model()}, {os.cpu_count()} cores, {mem_gib():.0f} GiB RAM, "
              f"{platform.system()} {platform.release()}")
        print(f"software: Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, "
              f"SpiffWorkflow {spiff}")
        print(f"backend : {server} + Redis {redis_version}"
              f"{' (embedded)' if not self.args.postgres else ''}")
        print(f"code    : {git_revision()}; date {datetime.now(UTC).date().isoformat()}; load average "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min) at the start")
        print(f"size    : {self.args.instances} instances; {self.args.rows:,} task rows "
              f"({self.args.open_rows:,} open), "
              f"{self.args.departments} departments; {self.args.timers:,} timers over {self.args.timer_window:g} s"
              + (" (--quick)" if self.args.quick else ""))

    def run(self) -> int:
        t_all = time.perf_counter()
        self.setup_environment()
        self.prepare_database()
        self.describe()
        failures: list[str] = []
        if "1" in self.args.only or "4" in self.args.only:
            failures += self.part1_and_4()
        if "3" in self.args.only:
            failures += self.part3()
        if "2" in self.args.only:
            failures += self.part2()
        section("summary")
        for line in self.results.get("summary", []):
            print("  " + line)
        print(f"  load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min)")
        print(f"  wall time {time.perf_counter() - t_all:.0f} s"
              + (f"; CHECKS FAILED: {'; '.join(failures)}" if failures else "; checks OK"))
        return 1 if failures else 0

    # -- part 1 and 4: incident instances --------------------------------------------------------

    def users(self) -> dict[str, Any]:
        from engine.db import transaction
        from engine.org import add_user, principal_for

        with transaction() as s:
            made = {"operator": add_user(s, "wf-operator", "operator", PASSWORD, department_code="TT-IOC"),
                    "officer": add_user(s, "wf-officer", "officer", PASSWORD, department_code="SO-NNMT"),
                    "leader": add_user(s, "wf-leader", "leader", PASSWORD)}
        return {role: principal_for(u) for role, u in made.items()}

    @staticmethod
    def variables(i: int) -> dict[str, Any]:
        """What engine.jobs.start_scenario gives an incident (the rule's variables and the alert's fields)."""
        value = 151 + i % 200
        return {"suggested_department": "SO-NNMT", "alert_id": None, "title": f"VN_AQI {value} tại trạm WF-{i:05d}",
                "severity": "cao", "sector": "environment", "entity": f"WF-{i:05d}", "value": float(value),
                "unit": None}

    def open_task_ids(self, instance_ids: list[int], bpmn_id: str) -> dict[int, int]:
        from sqlalchemy import select

        from engine.db import session_factory
        from engine.models import HumanTask

        with session_factory(write=False)() as s:
            rows = s.execute(select(HumanTask.instance_id, HumanTask.id).where(
                HumanTask.status == "open", HumanTask.bpmn_id == bpmn_id)).all()
        found = {iid: tid for iid, tid in rows}
        missing = [i for i in instance_ids if i not in found]
        if missing:
            raise BenchError(f"{len(missing)} instances have no open {bpmn_id} task (first: {missing[0]})")
        return found

    def part1_and_4(self) -> list[str]:
        from sqlalchemy import func, select

        from engine import registry, runtime, tasks
        from engine.db import session_factory, transaction
        from engine.forms import validate
        from engine.models import ProcessInstance

        n = self.args.instances
        section(f"1. complete incident instances per second, persisted ({n} instances, 5 transactions each)")
        who = self.users()
        with session_factory(write=False)() as s:
            definition = registry.latest(s, "incident")
            spec_json, catalog, def_id = definition.spec_json, definition.tasks, definition.id
            dept_codes = tasks.department_codes(s)
        clean = [validate(catalog[b]["form"], form, {"departments": dept_codes}) for b, _r, form in STEPS]

        profiler = cProfile.Profile() if self.args.profile else None
        phase_s: dict[str, float] = {}
        action_ms: dict[str, list[float]] = {}
        sizes: dict[str, dict[str, float]] = {}

        # start: one transaction per instance
        ids: list[int] = []
        lat: list[float] = []
        if profiler:
            profiler.enable()
        t0 = time.perf_counter()
        for i in range(n):
            a = time.perf_counter()
            with transaction() as s:
                ids.append(runtime.start_process(s, "incident", self.variables(i), actor="rules").id)
            lat.append((time.perf_counter() - a) * 1000)
        phase_s["start"], action_ms["start"] = time.perf_counter() - t0, lat
        if profiler:
            profiler.disable()
        sizes["waiting at triage"] = self.measure_sizes(ids, spec_json)

        for bpmn_id, role, form in STEPS:
            task_ids = self.open_task_ids(ids, bpmn_id)
            principal = who[role]
            lat = []
            if profiler:
                profiler.enable()
            t0 = time.perf_counter()
            for iid in ids:
                a = time.perf_counter()
                with transaction() as s:
                    tasks.complete_task(s, task_ids[iid], principal, form)
                lat.append((time.perf_counter() - a) * 1000)
            phase_s[bpmn_id], action_ms[bpmn_id] = time.perf_counter() - t0, lat
            if profiler:
                profiler.disable()
            nxt = {"triage": "waiting at handle", "handle": "waiting at report", "report": "waiting at review",
                   "review": "completed"}[bpmn_id]
            sizes[nxt] = self.measure_sizes(ids, spec_json)

        with session_factory(write=False)() as s:
            by_status = dict(s.execute(select(ProcessInstance.status, func.count()).where(
                ProcessInstance.definition_id == def_id).group_by(ProcessInstance.status)).all())
        failures = []
        if by_status.get("completed", 0) != n:
            failures.append(f"part 1: instances by status {by_status}, expected {n} completed")

        persisted_s = sum(phase_s.values())
        rate = n / persisted_s
        bounds = {how: self.spiff_in_memory(spec_json, clean, who, n, how) for how in self.VARIANTS}
        base_rate, base_ms = bounds["memory"]
        rt_rate, rt_ms = bounds["round_trip"]
        floor_rate, floor_ms = bounds["floor"]
        ms = persisted_s / n * 1000
        print(f"  persisted (engine + DB + Redis): {rate:8.1f} instances/s  ({persisted_s:.1f} s for {n}; "
              f"{ms:.1f} ms per instance)")
        for phase, values in action_ms.items():
            print(f"      {phase:<7} one transaction: {dist(values)}")
        print(f"  baseline: plain SpiffWorkflow in memory: {base_rate:8.1f} instances/s  "
              f"({base_ms:.2f} ms per instance)")
        print(f"  ratio persisted / baseline = {rate / base_rate:.3f}x   (goal >= 0.7x: "
              f"{'met' if rate / base_rate >= 0.7 else 'MISSED'})")
        print(f"  where the time goes, per instance (5 transactions): Spiff engine steps {base_ms:.2f} ms; + saving "
              f"and restoring the state at each wait state as the runtime does (split_state, restore, next_due), in "
              f"memory: {rt_ms:.2f} ms ({rt_rate:.0f} instances/s); + committing each saved state with one plain "
              f"Core statement: {floor_ms:.2f} ms ({floor_rate:.0f} instances/s, a minimal persisted engine; "
              f"persisted / that = {rate / floor_rate:.2f}x); the remaining {ms - floor_ms:.1f} ms are the "
              "product's ORM work, inbox rows, audit rows, lookups and Redis")
        print("  lower bounds: what an engine doing only this reaches, beside the in-memory rate (same run)")
        for how, label in self.VARIANTS.items():
            b_rate, b_ms = bounds[how]
            print(f"      {b_rate:7.1f}/s {b_ms:6.2f} ms  {b_rate / base_rate:5.2f}x  {label}")
        self.results["part1"] = {"rate": rate, "base": base_rate, "rt": rt_rate, "floor": floor_rate,
                                 "bounds": {how: b[0] for how, b in bounds.items()}}
        self.results.setdefault("summary", []).append(
            f"1. persisted {rate:.1f} instances/s vs Spiff in memory {base_rate:.1f}/s: {rate / base_rate:.3f}x "
            f"(goal >= 0.7x)")
        if profiler:
            self.print_profile(profiler, n * 5)
        if "4" in self.args.only:
            self.part4(sizes, spec_json, def_id)
        return failures

    # The lower bounds of part 1: the same model, data and steps in plain SpiffWorkflow, then with more of what
    # a persisted engine must do at each wait state (5 per instance). Each is a floor for any engine doing that.
    VARIANTS = {
        "memory": "plain SpiffWorkflow in memory (the baseline)",
        "round_trip": "+ the state split off and restored at each wait state, as the runtime does, in memory",
        "floor": "+ each saved state committed with one plain Core statement (a minimal persisted engine)",
        "kept": "the workflow kept in memory (no restore), each saved state committed with one Core statement",
        "log": "no state saved: one action row (task, values; ~150 B) committed per wait state, Core",
        "log_raw": "the same action row through the raw database driver (no SQLAlchemy at all)",
        "rows_raw": "raw driver: the action row + what the product must write per action (the done task's row "
                    "updated, the next task's inbox row ~800 B and an audit row ~300 B inserted) + one live message",
    }

    def spiff_in_memory(self, spec_json: str, clean: list[dict[str, Any]], who: dict[str, Any], n: int,
                        how: str = "memory") -> tuple[float, float]:
        """Instances per second and ms per instance of one of ``VARIANTS``: ``round_trip`` splits the state
        off (``split_state``) and restores it at each wait state; ``floor`` also writes and commits it (one
        plain Core INSERT or UPDATE of one row per wait state, on the product's database engine); ``kept``
        commits the state but keeps the workflow object between actions (as ``engine.live_workflows`` does),
        so no restore; ``log`` and ``log_raw`` save no state at all, only an action-log row per wait state
        (what an engine that replays actions would write), through SQLAlchemy Core or the bare driver;
        ``rows_raw`` adds, through the bare driver, the rows a person's action must leave (the inbox's rows, the
        audit row; one table with only its primary key, so fewer indexes than the product's) and the live
        stream message (``engine.bus.send``, one Redis XADD)."""
        from SpiffWorkflow.util.task import TaskState
        from sqlalchemy import Column, Integer, MetaData, Table, Text, insert, update

        from engine import bpmn, bus
        from engine.db import get_engine

        table = Table("wfbench_floor", MetaData(), Column("id", Integer, primary_key=True), Column("state", Text))
        eng = get_engine()
        persist = how in ("floor", "kept", "log", "log_raw", "rows_raw")
        if persist:
            table.drop(eng, checkfirst=True)
            table.create(eng)
        raw = eng.raw_connection() if how in ("log_raw", "rows_raw") else None
        qmark = eng.dialect.paramstyle == "qmark"
        raw_insert = ("INSERT INTO wfbench_floor (id, state) VALUES (?, ?)" if qmark
                      else "INSERT INTO wfbench_floor (id, state) VALUES (%s, %s)")
        raw_update = ("UPDATE wfbench_floor SET state = ? WHERE id = ?" if qmark
                      else "UPDATE wfbench_floor SET state = %s WHERE id = %s")
        inbox_row, audit_row = "t" * 800, "a" * 300
        serial = 0

        def save(i: int, text: str) -> None:
            nonlocal serial
            serial += 1
            if raw is not None:
                cur = raw.cursor()
                cur.execute(raw_insert, (serial, text))
                if how == "rows_raw":
                    cur.execute(raw_update, ("done", 2 - serial))  # the inbox row of the step this action completed
                    cur.execute(raw_insert, (-serial, inbox_row))
                    serial += 1
                    cur.execute(raw_insert, (serial, audit_row))
                cur.close()
                raw.commit()
                if how == "rows_raw":
                    bus.send([{"kind": "task.completed", "instance_id": i, "task_id": serial}])
                return
            with eng.begin() as conn:
                if how == "log":
                    conn.execute(insert(table).values(id=serial, state=text))
                elif conn.execute(update(table).where(table.c.id == i).values(state=text)).rowcount == 0:
                    conn.execute(insert(table).values(id=i, state=text))

        def wait_state(i: int, wf: Any, action: dict[str, Any]) -> str | None:
            if how == "memory":
                return None
            if how in ("log", "log_raw", "rows_raw"):
                bpmn.next_due(wf)
                save(i, json.dumps(action))
                return None
            state = bpmn.split_state(wf)
            bpmn.next_due(wf)
            if persist:
                save(i, state)
            return state

        def one(i: int) -> None:
            wf = bpmn.new_workflow(spec_json)
            start = wf.get_next_task(state=TaskState.READY)
            start.data.update(self.variables(i))
            wf.do_engine_steps()
            state = wait_state(i, wf, {"instance": i, "start": "incident"})
            for (bpmn_id, role, _form), values in zip(STEPS, clean, strict=True):
                if how in ("round_trip", "floor"):
                    wf = bpmn.restore(spec_json, state or "")
                ready = wf.get_tasks(state=TaskState.READY, manual=True)
                if len(ready) != 1 or ready[0].task_spec.bpmn_id != bpmn_id:
                    raise BenchError(f"baseline: expected {bpmn_id} to be waiting, found "
                                     f"{[t.task_spec.bpmn_id for t in ready]}")
                by = {f"{bpmn_id}_by": who[role].name}
                ready[0].set_data(**values, **by)
                ready[0].run()
                wf.do_engine_steps()
                state = wait_state(i, wf, {"instance": i, "task": str(ready[0].id), "values": {**values, **by}})
            if not wf.is_completed():
                raise BenchError("baseline: the workflow did not complete")

        try:
            for i in range(min(20, n)):  # warm up (lru caches, imports)
                one(-1 - i)
            t0 = time.perf_counter()
            for i in range(n):
                one(i)
            elapsed = time.perf_counter() - t0
        finally:
            if raw is not None:
                raw.close()
            if persist:
                table.drop(eng)
        return n / elapsed, elapsed / n * 1000

    def print_profile(self, profiler: cProfile.Profile, transactions: int) -> None:
        stats = pstats.Stats(profiler)
        total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
        areas: Counter[str] = Counter()
        for (filename, _line, func), v in stats.stats.items():  # type: ignore[attr-defined]
            areas[profile_area(filename, func)] += v[2]
        print(f"  cProfile of part 1 ({transactions} transactions, {total:.1f} s of own time; profiling slows it):")
        for area, secs in areas.most_common():
            print(f"      {area:<44} {secs / total * 100:5.1f} %  {secs / transactions * 1000:6.2f} ms/transaction")
        print("    top functions by own time:")
        rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:25]  # type: ignore[attr-defined]
        for (filename, line, func), v in rows:
            short = re.sub(r".*/site-packages/", "", filename).replace(str(ROOT) + "/", "")
            print(f"      {v[2] / total * 100:5.1f} %  {v[1]:>8} calls  {short}:{line} {func}")
        print("    top functions by cumulative time:")
        rows = sorted(stats.stats.items(), key=lambda kv: kv[1][3], reverse=True)  # type: ignore[attr-defined]
        shown = 0
        for (filename, line, func), v in rows:
            short = re.sub(r".*/site-packages/", "", filename).replace(str(ROOT) + "/", "")
            if "bench/workflow.py" in short or short.startswith(("~", "<")) or "contextlib" in short:
                continue
            print(f"      {v[3] / total * 100:5.1f} %  {v[1]:>8} calls  {short}:{line} {func}")
            shown += 1
            if shown >= 30:
                break

    # -- part 4: bytes per instance ----------------------------------------------------------------

    def measure_sizes(self, ids: list[int], spec_json: str, sample: int = 1000, full: int = 30) -> dict[str, float]:
        """Average bytes per instance: its state, inbox rows and audit rows, and a full Spiff serialization."""
        from sqlalchemy import func, select

        from engine import bpmn
        from engine.db import session_factory
        from engine.models import AuditEntry, HumanTask, ProcessInstance

        chosen = ids if len(ids) <= sample else self.rnd.sample(ids, sample)
        pi, ht, au = ProcessInstance.__table__, HumanTask.__table__, AuditEntry.__table__
        out: dict[str, float] = {}
        with session_factory(write=False)() as s:
            states: list[str] = []
            instance_rows = 0
            instance_bytes = tasks_bytes = audit_bytes = 0
            tasks_n = audit_n = 0
            for i in range(0, len(chosen), 500):
                part = chosen[i:i + 500]
                for row in s.execute(select(pi).where(pi.c.id.in_(part))):
                    states.append(row.state_json)
                    instance_rows += 1
                    instance_bytes += row_bytes(row)
                for row in s.execute(select(ht).where(ht.c.instance_id.in_(part))):
                    tasks_n += 1
                    tasks_bytes += row_bytes(row)
                for row in s.execute(select(au).where(au.c.instance_id.in_(part))):
                    audit_n += 1
                    audit_bytes += row_bytes(row)
            k = max(1, instance_rows)
            out["state"] = sum(len(x.encode()) for x in states) / k
            out["instance_row"] = instance_bytes / k
            out["tasks"], out["tasks_n"] = tasks_bytes / k, tasks_n / k
            out["audit"], out["audit_n"] = audit_bytes / k, audit_n / k
            if self.args.postgres:  # what PostgreSQL stores (after TOAST compression), same instances
                stored = 0.0
                for i in range(0, len(chosen), 500):
                    part = chosen[i:i + 500]
                    stored += s.scalar(select(func.sum(func.pg_column_size(pi.c.state_json))).where(
                        pi.c.id.in_(part))) or 0
                out["state_stored"] = stored / k
        full_sizes = [len(bpmn.serializer.serialize_json(bpmn.restore(spec_json, st)).encode())
                      for st in states[:full]]
        out["full_serialization"] = sum(full_sizes) / max(1, len(full_sizes))
        return out

    def part4(self, sizes: dict[str, dict[str, float]], spec_json: str, def_id: int) -> None:
        from sqlalchemy import select

        from engine.db import session_factory
        from engine.models import ProcessDefinition

        section("4. bytes stored per instance (averages; text as UTF-8, JSON as its text, numbers and times 8 B)")
        with session_factory(write=False)() as s:
            d = s.execute(select(ProcessDefinition).where(ProcessDefinition.id == def_id)).scalar_one()
            spec_b, xml_b = len(d.spec_json.encode()), len(d.bpmn_xml.encode())
            catalog_b = len(json.dumps(d.tasks, ensure_ascii=False).encode())
        stored = self.args.postgres
        print(f"  incident.bpmn, stored once per version: spec_json {spec_b:,} B, bpmn_xml {xml_b:,} B, "
              f"task catalog {catalog_b:,} B")
        head = (f"  {'instance':<20} {'state_json':>10} {'(PG stored)':>11} {'instance row':>12} "
                f"{'inbox rows':>16} {'audit rows':>16} {'total':>8} {'Spiff+spec':>10}")
        print(head if stored else head.replace(f" {'(PG stored)':>11}", ""))
        for label, v in sizes.items():
            total = v["instance_row"] + v["tasks"] + v["audit"]
            pg = f" {v.get('state_stored', 0):>11,.0f}" if stored else ""
            print(f"  {label:<20} {v['state']:>10,.0f}{pg} {v['instance_row']:>12,.0f} "
                  f"{v['tasks']:>8,.0f} ({v['tasks_n']:.0f} rows) {v['audit']:>8,.0f} ({v['audit_n']:.0f} rows) "
                  f"{total:>8,.0f} {v['full_serialization']:>10,.0f}")
        print("  (instance row includes state_json; total = instance row + inbox rows + audit rows; Spiff+spec = "
              "engine.bpmn.serializer.serialize_json(wf) of the restored instance, the spec included)")
        running = sizes.get("waiting at handle") or next(iter(sizes.values()))
        total = running["instance_row"] + running["tasks"] + running["audit"]
        self.results.setdefault("summary", []).append(
            f"4. a running incident (waiting at handle): {total:,.0f} B in all (state_json {running['state']:,.0f} B); "
            f"spec {spec_b:,} B stored once; a full Spiff serialization with spec "
            f"{running['full_serialization']:,.0f} B")
        self.results["sizes"] = sizes

    # -- part 3: timers ----------------------------------------------------------------------------

    def part3(self) -> list[str]:
        from sqlalchemy import func, select

        from engine import registry, runtime
        from engine.db import session_factory, transaction, utcnow
        from engine.models import AuditEntry, ProcessInstance

        n, window = self.args.timers, self.args.timer_window
        later = max(CALIBRATION_TIMERS, self.args.timers_later)
        section(f"3. timer lateness: {n:,} timers coming due over {window:g} s "
                f"(+{later:,} pending, due in a day), fired by "
                + ("the product's timer loop in a thread (web.worker._timer_loop)" if not self.args.timer_workers
                   else f"{self.args.timer_workers} `python -m web.cli worker` process(es)"))
        with transaction() as s:
            (definition,) = registry.deploy(s, TIMER_MODEL.encode(), "wfbench_timer.bpmn", actor="bench")
            def_id = definition.id
            spec_json = definition.spec_json

        def start(due: datetime, i: int) -> int:
            with transaction() as s:
                return runtime.start_process(s, "wfbench_timer", {"title": f"Bench timer {i}", "due": due.isoformat()},
                                             actor="bench").id

        # calibration: time a start of this model (these stay pending: their due is a day away)
        far = utcnow() + timedelta(days=1)
        t0 = time.perf_counter()
        calib_ids = [start(far, -1 - i) for i in range(later)]
        per_start = (time.perf_counter() - t0) / later
        lead = n * per_start * 1.4 + 5.0  # starts slow down as the tables grow (PostgreSQL)
        t_first_due = utcnow() + timedelta(seconds=lead)
        offsets = [window * i / max(1, n - 1) for i in range(n)]
        self.rnd.shuffle(offsets)
        print(f"  starting {n:,} instances ({per_start * 1000:.1f} ms each in calibration); the first comes due "
              f"{lead:.0f} s from now", flush=True)
        ids: list[int] = []
        t0 = time.perf_counter()
        for i, off in enumerate(offsets):
            ids.append(start(t_first_due + timedelta(seconds=off), i))
        start_s = time.perf_counter() - t0
        started_at = utcnow()
        with session_factory(write=False)() as s:
            pending = s.scalar(select(func.count()).select_from(ProcessInstance).where(
                ProcessInstance.definition_id == def_id, ProcessInstance.next_timer_at.is_not(None)))
        print(f"  started {n:,} in {start_s:.1f} s ({n / start_s:.0f} instances/s); {pending:,} timers pending; "
              f"{max(0.0, (t_first_due - started_at).total_seconds()):.1f} s to spare before the first is due",
              flush=True)
        early = (started_at - t_first_due).total_seconds()
        if early > 0:
            print(f"  WARNING: the first timers came due {early:.1f} s before the firing loop started")

        sizes = self.measure_sizes(ids, spec_json)
        self.results["timer_sizes"] = sizes

        stop, thread = threading.Event(), None
        t_loop = time.perf_counter()
        if self.args.timer_workers:
            env = dict(os.environ, PYTHONUNBUFFERED="1", IOC_REDIS_URL=self.redis_url)
            for k in range(self.args.timer_workers):
                log = (self.tmp / f"worker-{k}.log").open("wb")
                self.state.setdefault("workers", []).append(subprocess.Popen(
                    [sys.executable, "-m", "web.cli", "worker"], env=env, cwd=ROOT, stdout=log,
                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True))
        else:
            from web.worker import _timer_loop

            thread = threading.Thread(target=_timer_loop, args=(stop,), daemon=True, name="timers")
            thread.start()
        deadline_s = lead + window + max(120.0, 3.0 * n * per_start)
        fired = 0
        try:
            while True:
                time.sleep(1.0)
                with session_factory(write=False)() as s:
                    fired = s.scalar(select(func.count()).select_from(AuditEntry).where(
                        AuditEntry.action == "timer.fired")) or 0
                if fired >= n or time.perf_counter() - t_loop > deadline_s:
                    break
        finally:
            stop.set()
            if thread is not None:
                thread.join(30)
            for proc in self.state.get("workers", []):
                stop_process(proc)
            self.state["workers"] = []

        with session_factory(write=False)() as s:
            rows = s.execute(select(AuditEntry.at, AuditEntry.details, AuditEntry.instance_id).where(
                AuditEntry.action == "timer.fired")).all()
            dup = s.scalar(select(func.count()).select_from(
                select(AuditEntry.instance_id).where(AuditEntry.action == "timer.fired")
                .group_by(AuditEntry.instance_id).having(func.count() > 1).subquery()))
            left = s.scalar(select(func.count()).select_from(ProcessInstance).where(
                ProcessInstance.id.in_(calib_ids), ProcessInstance.next_timer_at.is_(None)))
        late = [float(r.details["late_ms"]) for r in rows]
        ats = sorted(r.at for r in rows)
        failures = []
        if len(rows) != n:
            failures.append(f"part 3: {len(rows)} of {n} timers fired")
        if dup:
            failures.append(f"part 3: {dup} instances fired twice")
        if left:
            failures.append(f"part 3: {left} not-yet-due calibration timers fired")
        span = (ats[-1] - ats[0]).total_seconds() if len(ats) > 1 else 0.0
        fire_rate = (len(ats) - 1) / span if span else 0.0
        due_rate = n / window
        p95 = percentile(late, 95) if late else float("nan")
        print(f"  fired {len(rows):,} of {n:,}; lateness (audit timer.fired late_ms): {dist(late, 'ms', 0)}")
        print(f"  goal p95 <= 1,000 ms: {'met' if p95 <= 1000 else 'MISSED'}")
        print(f"  firing throughput: {fire_rate:.0f} timers/s (first to last firing {span:.1f} s); they came due at "
              f"{due_rate:.0f}/s; the last fired {(ats[-1] - t_first_due).total_seconds() if ats else 0:.1f} s after "
              "the first was due")
        if late:
            tenth = max(1, len(rows) // 10)
            by_due = sorted(rows, key=lambda r: r.details["due"])
            first = [float(r.details["late_ms"]) for r in by_due[:tenth]]
            print(f"  lateness of the first 10 % to come due: {dist(first, 'ms', 0)}")
        self.results.setdefault("summary", []).append(
            f"3. {n:,} timers due over {window:g} s: lateness p50 {percentile(late, 50) if late else 0:,.0f} ms, "
            f"p95 {p95:,.0f} ms, max {max(late) if late else 0:,.0f} ms (goal p95 <= 1,000 ms); "
            f"firing {fire_rate:.0f}/s")
        if "4" in self.args.only:
            print(f"  bytes per instance waiting on its timer: state_json {sizes['state']:,.0f} B, instance row "
                  f"{sizes['instance_row']:,.0f} B, inbox rows {sizes['tasks']:,.0f} B, audit rows "
                  f"{sizes['audit']:,.0f} B; full Spiff serialization with spec {sizes['full_serialization']:,.0f} B; "
                  f"spec stored once {len(spec_json.encode()):,} B")
        return failures

    # -- part 2: the inbox query -------------------------------------------------------------------

    def part2(self) -> list[str]:
        from sqlalchemy import func, insert, select, text

        from engine.db import get_engine, session_factory, transaction, utcnow
        from engine.models import Department, HumanTask, ProcessDefinition, ProcessInstance, Unit, User

        a = self.args
        section(f"2. inbox query: {a.rows:,} human_tasks rows, {a.open_rows:,} open, {a.departments} departments")
        eng = get_engine()
        with session_factory(write=False)() as s:
            existing = s.scalar(select(func.count()).select_from(HumanTask)) or 0
            existing_open = s.scalar(select(func.count()).select_from(HumanTask).where(HumanTask.status == "open")) or 0
            incident = s.scalars(select(ProcessDefinition).where(ProcessDefinition.process_key == "incident")
                                 .order_by(ProcessDefinition.version.desc())).first()
            forms = {k: v.get("form") or [] for k, v in (incident.tasks if incident else {}).items()}
            names = {k: v.get("name") or k for k, v in (incident.tasks if incident else {}).items()}
            lanes = {k: v.get("lane") for k, v in (incident.tasks if incident else {}).items()}
            province = s.scalars(select(Unit).where(Unit.kind == "province")).first()
            unit_codes = list(s.scalars(select(Unit.code).where(Unit.kind != "province")))
            n_depts = s.scalar(select(func.count()).select_from(Department)) or 0
        to_insert, to_open = a.rows - existing, a.open_rows - existing_open
        if to_insert < 0 or to_open < 0 or to_open > to_insert:
            raise BenchError(f"part 2: {existing:,} rows ({existing_open:,} open) already exist; ask for more rows")

        t_setup = time.perf_counter()
        dept_t, user_t = Department.__table__, User.__table__
        with transaction() as s:
            extra = max(0, a.departments - n_depts)
            if extra:
                s.execute(insert(dept_t), [{"code": f"WFB-{k:03d}", "name": f"Đơn vị thử {k}",
                                            "name_en": f"Bench unit {k}",
                                            "kind": "agency", "unit_id": province.id if province else None}
                                           for k in range(extra)])
            depts = list(s.scalars(select(Department.id).order_by(Department.id)))[:a.departments]
            now = utcnow()
            s.execute(insert(user_t), [{"username": f"wfb-off-{d}-{j}", "full_name": f"Officer {d}/{j}",
                                        "password_hash": "!", "role_code": "officer", "department_id": d,
                                        "active": True, "created_at": now} for d in depts for j in range(2)]
                      + [{"username": f"wfb-{role}-{j}", "full_name": role, "password_hash": "!", "role_code": role,
                          "department_id": None, "active": True, "created_at": now}
                         for role in ("leader", "operator") for j in range(3)])
            officers: dict[int, list[int]] = {}
            for uid, d in s.execute(select(User.id, User.department_id).where(User.username.like("wfb-off-%"))):
                officers.setdefault(d, []).append(uid)
            special = {r: uid for r, uid in s.execute(select(User.role_code, User.id).where(
                User.username.in_(["wfb-leader-0", "wfb-operator-0"])))}
            def_row = ProcessDefinition(process_key="wfbench_inbox", name="Bench inbox rows", version=1,
                                        content_hash=uuid.uuid4().hex + uuid.uuid4().hex, filename="-",
                                        bpmn_xml="-", spec_json="{}", tasks={}, deployed_by="bench")
            s.add(def_row)
            s.flush()
            n_inst = 1000
            s.execute(insert(ProcessInstance.__table__), [
                {"definition_id": def_row.id, "business_key": f"wfbench:{k}", "status": "running", "state_json": "{}",
                 "started_at": now, "started_by": "bench", "lock_version": 1} for k in range(n_inst)])
            inst_ids = list(s.scalars(select(ProcessInstance.id).where(ProcessInstance.definition_id == def_row.id)))
        # department load: Zipf (1/rank), the ranks shuffled over the departments
        ranked = depts[:]
        self.rnd.shuffle(ranked)
        weights = [1.0 / (r + 1) for r in range(len(ranked))]
        heavy = ranked[:3]

        rows_t = HumanTask.__table__
        batch = 20_000
        t0 = time.perf_counter()
        made = 0
        open_left = to_open
        while made < to_insert:
            k = min(batch, to_insert - made)
            # spread the open rows evenly through the inserts, so ids of open rows are not clustered
            n_open = round(to_open * (made + k) / to_insert) - (to_open - open_left)
            open_left -= n_open
            flags = [True] * n_open + [False] * (k - n_open)
            self.rnd.shuffle(flags)
            dept_pick = self.rnd.choices(ranked, weights=weights, k=k)
            rows = [self.synthetic_task(flags[j], dept_pick[j], officers, special, inst_ids, unit_codes, forms, names,
                                        lanes, now) for j in range(k)]
            with eng.begin() as conn:
                conn.execute(insert(rows_t), rows)
            made += k
            if made % 200_000 == 0 or made == to_insert:
                el = time.perf_counter() - t0
                print(f"  inserted {made:,} rows in {el:.0f} s ({made / el:,.0f} rows/s)", flush=True)
        insert_s = time.perf_counter() - t0
        if self.args.postgres:
            with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                t1 = time.perf_counter()
                conn.execute(text("VACUUM ANALYZE human_tasks"))
                print(f"  VACUUM ANALYZE human_tasks: {time.perf_counter() - t1:.0f} s (what autovacuum does "
                      "after a bulk insert)")
        else:
            from engine.db import dispose_engines, refresh_statistics
            t1 = time.perf_counter()
            refresh_statistics()
            dispose_engines()  # connections read the statistics when they load the schema
            print(f"  engine.db.refresh_statistics(): {time.perf_counter() - t1:.1f} s (what the worker runs at "
                  "start and every 10 minutes)")
        with session_factory(write=False)() as s:
            total = s.scalar(select(func.count()).select_from(HumanTask))
            n_open = s.scalar(select(func.count()).select_from(HumanTask).where(HumanTask.status == "open"))
            overdue = s.scalar(select(func.count()).select_from(HumanTask).where(
                HumanTask.status == "open", HumanTask.due_at < utcnow()))
            per_dept = dict(s.execute(select(HumanTask.candidate_department_id, func.count()).where(
                HumanTask.status == "open", HumanTask.candidate_department_id.is_not(None))
                .group_by(HumanTask.candidate_department_id)).all())
            by_role = dict(s.execute(select(HumanTask.candidate_role, func.count()).where(
                HumanTask.status == "open").group_by(HumanTask.candidate_role)).all())
        loads = sorted(per_dept.values())
        print(f"  set-up {time.perf_counter() - t_setup:.0f} s (insert {insert_s:.0f} s, {to_insert / insert_s:,.0f} "
              f"rows/s); {total:,} rows, {n_open:,} open ({overdue:,} open and overdue); open rows by candidate "
              f"role {dict(sorted((str(k), v) for k, v in by_role.items()))}")
        print(f"  open department tasks per department: median {percentile(loads, 50):,}, max {loads[-1]:,}, "
              f"min {loads[0]:,} (Zipf over {len(per_dept)} departments)")

        # the timed queries
        from engine.org import Principal
        from engine.tasks import inbox_query

        def officer_of(d: int) -> Any:
            return Principal(name=f"off-{d}", role="officer", department_id=d, user_id=self.rnd.choice(officers[d]))

        samples = [officer_of(self.rnd.choice(depts)) for _ in range(a.samples)]
        kinds: list[tuple[str, Callable[[Any], Any]]] = [
            ("all, open", lambda p: inbox_query(p, "all", "open", window=50)),
            ("department, open", lambda p: inbox_query(p, "department", "open", window=50)),
            ("all, open, overdue", lambda p: inbox_query(p, "all", "open", overdue=True, window=50)),
        ]
        read = session_factory(write=False)

        def timed(stmt: Any) -> tuple[float, int]:
            with read() as s:
                t = time.perf_counter()
                got = len(s.scalars(stmt.limit(50)).all())
                return (time.perf_counter() - t) * 1000, got

        for p in samples[:20]:  # warm up
            for _label, make in kinds:
                timed(make(p))
        failures = []
        p95s = {}
        for label, make in kinds:
            ms, empty = [], 0
            for p in samples:
                dt, got = timed(make(p))
                ms.append(dt)
                empty += got == 0
            p95s[label] = percentile(ms, 95)
            print(f"  officers, {label:<19}: {dist(ms, 'ms', 2)}  goal p95 <= 20 ms: "
                  f"{'met' if p95s[label] <= 20 else 'MISSED'}" + (f"; {empty} empty pages" if empty else ""))
        for d in heavy[:1]:
            p = officer_of(d)
            ms = [timed(inbox_query(p, "all", "open", window=50))[0] for _ in range(20)]
            print(f"  the busiest department ({per_dept.get(d, 0):,} open tasks), all, open: {dist(ms, 'ms', 2)}")
        others = {"leader": Principal(name="wfb-leader-0", role="leader", user_id=special.get("leader")),
                  "operator": Principal(name="wfb-operator-0", role="operator", user_id=special.get("operator"))}
        slow: list[tuple[str, Any]] = []
        for role, p in others.items():
            ms = [timed(inbox_query(p, "all", "open", window=50))[0] for _ in range(20)]
            print(f"  a {role:<8} (all, open; sees {'every open task' if role == 'leader' else 'the operator role'}): "
                  f"{dist(ms, 'ms', 2)}")
            if percentile(ms, 95) > 20:
                slow.append((f"{role}, all, open", inbox_query(p, "all", "open", window=50)))
        for label, make in kinds:
            if p95s[label] > 20:
                slow.append((f"officer, {label}", make(samples[0])))
        # what the wall and the cockpit read on every refresh, at this size (no goal: the figure to watch)
        from engine import cockpit, wall

        for label, read_it in (("the wall's summary (every change)", wall.summary),
                               ("the cockpit's overview", cockpit.overview),
                               ("the cockpit's first page", lambda s: cockpit.instance_rows(
                                   s, cockpit.instance_query(status="active")))):
            ms = []
            for _ in range(10):
                with read() as s:
                    t = time.perf_counter()
                    read_it(s)
                    ms.append((time.perf_counter() - t) * 1000)
            print(f"  {label:<35}: {dist(ms, 'ms', 1)}")
        self.print_plan("officer, all, open", inbox_query(samples[0], "all", "open", window=50))
        for label, stmt in slow:
            if label != "officer, all, open":
                self.print_plan(label, stmt)
        worst = max(p95s.values())
        self.results.setdefault("summary", []).append(
            f"2. inbox page, {total:,} rows / {n_open:,} open: officers p95 "
            + ", ".join(f"{k} {v:.2f} ms" for k, v in p95s.items()) + f" (goal p95 <= 20 ms: "
            f"{'met' if worst <= 20 else 'MISSED'})")
        if self.args.experiments:
            self.inbox_experiments(samples, others["leader"], timed)
        return failures

    def inbox_experiments(self, samples: list[Any], leader: Any, timed: Callable[[Any], tuple[float, int]]) -> None:
        """What would make the inbox query fast, tried on this scratch database after the measurements
        above (the product is not changed): the same filter written so that each OR branch carries the
        status, or as a UNION of one SELECT per branch; statistics (SQLite); an index in the order of the page."""
        from sqlalchemy import Select, and_, or_, select, text, union
        from sqlalchemy.sql import operators, visitors
        from sqlalchemy.sql.elements import BooleanClauseList, Grouping
        from sqlalchemy.sql.selectable import ScalarSelect

        from engine.db import dispose_engines, get_engine
        from engine.models import HumanTask
        from engine.tasks import inbox_query

        def has_subquery(clause: Any) -> bool:
            return any(isinstance(e, Select | ScalarSelect) for e in visitors.iterate(clause))

        def without_subquery(p: Any) -> Any:
            """inbox_query(p, "all", "open") without the OR branches that are subqueries (the
            ``task_candidate_users`` branch): the filter as it was before candidate users."""
            stmt = inbox_query(p, "all", "open")
            where = stmt.whereclause
            terms = list(where.clauses) if isinstance(where, BooleanClauseList) and where.operator is operators.and_ \
                else [where]
            out = []
            for t in terms:
                q = t.element if isinstance(t, Grouping) else t
                if isinstance(q, BooleanClauseList) and q.operator is operators.or_:
                    t = or_(*(b for b in q.clauses if not has_subquery(b)))
                out.append(t)
            return select(HumanTask).where(*out).order_by(*stmt._order_by_clauses)

        def rewritten(p: Any, as_union: bool = False) -> Any:
            """inbox_query(p, "all", "open"), with its ``status = 'open'`` term copied into each branch of
            its OR (built from the product's own statement, so it follows changes to the filter)."""
            stmt = inbox_query(p, "all", "open")
            where = stmt.whereclause
            terms = list(where.clauses) if isinstance(where, BooleanClauseList) and where.operator is operators.and_ \
                else [where]
            plain = [t.element if isinstance(t, Grouping) else t for t in terms]
            ors = [t for t in plain if isinstance(t, BooleanClauseList) and t.operator is operators.or_]
            if len(ors) != 1:
                return stmt
            status_term = terms[0]
            rest = [t for t, q in zip(terms, plain, strict=True) if q is not ors[0] and t is not status_term]
            branches = [and_(status_term, b) for b in ors[0].clauses]
            if as_union:
                ids = union(*(select(HumanTask.id).where(status_term, b, *rest) for b in ors[0].clauses))
                return select(HumanTask).where(HumanTask.id.in_(ids.scalar_subquery())).order_by(
                    *stmt._order_by_clauses)
            return select(HumanTask).where(or_(*branches), *rest).order_by(*stmt._order_by_clauses)

        def run(label: str, make: Callable[[Any], Any], people: list[Any]) -> None:
            for p in people[:10]:
                timed(make(p))
            ms = [timed(make(p))[0] for p in people[:50]]
            print(f"    {label:<58}: {dist(ms, 'ms', 2)}")

        def same_page(p: Any) -> bool:
            with get_engine(write=False).connect() as conn:
                a = [r.id for r in conn.execute(inbox_query(p, "all", "open").limit(50))]
                b = [r.id for r in conn.execute(rewritten(p).limit(50))]
                c = [r.id for r in conn.execute(rewritten(p, as_union=True).limit(50))]
            return a == b == c

        section("2x. experiments on the inbox query (scratch database; the product is unchanged)")
        eng = get_engine()
        print("  (a) the same filter with status = 'open' inside each OR branch, and as a UNION "
              f"(both give the product query's 50 rows for {sum(same_page(p) for p in samples[:20])} of 20 officers)")
        run("officers, all, open, status in each OR branch", rewritten, samples)
        self.print_plan("officer, all, open, status in each OR branch", rewritten(samples[0]))
        union_of = lambda p: rewritten(p, as_union=True)  # noqa: E731
        run("officers, all, open, id IN (UNION of one SELECT per branch)", union_of, samples)
        self.print_plan("officer, all, open, UNION of one SELECT per branch", union_of(samples[0]))
        if has_subquery(inbox_query(samples[0], "all", "open").whereclause):
            run("officers, all, open, without the candidate-users branch", without_subquery, samples)
            self.print_plan("officer, all, open, without the candidate-users branch", without_subquery(samples[0]))
        if not self.args.postgres:
            t = time.perf_counter()
            with eng.begin() as conn:
                conn.execute(text("ANALYZE"))
            dispose_engines()  # connections read the statistics when they load the schema
            print(f"  (b) ANALYZE again, without a limit: {time.perf_counter() - t:.1f} s")
            run("officers, all, open, product query, after ANALYZE", lambda p: inbox_query(p, "all", "open"), samples)
            run("officers, department, open, product query, after ANALYZE",
                lambda p: inbox_query(p, "department", "open"), samples)
            run("leader, all, open, product query, after ANALYZE", lambda p: inbox_query(p, "all", "open"),
                [leader] * 50)
            self.print_plan("officer, all, open, after ANALYZE", inbox_query(samples[0], "all", "open"))
        ddl = ("CREATE INDEX wfbench_open_page ON human_tasks "
               "(status, priority DESC, (due_at IS NULL), due_at, id)")
        t = time.perf_counter()
        with eng.begin() as conn:
            conn.execute(text(ddl))
            conn.execute(text("ANALYZE human_tasks"))
        dispose_engines()
        print(f"  (c) {ddl} (+ ANALYZE): {time.perf_counter() - t:.1f} s")
        run("leader, all, open, with that index", lambda p: inbox_query(p, "all", "open"), [leader] * 50)
        self.print_plan("leader, all, open, with that index", inbox_query(leader, "all", "open"))
        run("officers, all, open, product query, with that index", lambda p: inbox_query(p, "all", "open"), samples)
        run("officers, all, open, status in each OR branch, with that index", rewritten, samples)
        self.print_plan("officer, all, open, with that index", inbox_query(samples[0], "all", "open"))

    def synthetic_task(self, is_open: bool, dept: int, officers: dict[int, list[int]], special: dict[str, int],
                       inst_ids: list[int], unit_codes: list[str], forms: dict[str, Any], names: dict[str, str],
                       lanes: dict[str, Any], now: datetime) -> dict[str, Any]:
        """One inbox row as the incident process leaves it: triage (operator role), handle and report
        (the department; report assigned), review (leader role)."""
        r = self.rnd
        bpmn_id = r.choices(("triage", "handle", "report", "review"), weights=(2, 4, 2, 2))[0]
        if is_open:
            created = now - timedelta(seconds=r.uniform(0, 3 * 86400))
        else:
            created = now - timedelta(seconds=r.uniform(3 * 86400, 365 * 86400))
        role, cand_dept, assignee, prio, due = None, None, None, 60, None
        if bpmn_id == "triage":
            role, prio, due = "operator", 70, created + timedelta(minutes=30)
        elif bpmn_id == "handle":
            cand_dept, due = dept, created + timedelta(hours=r.choice((4, 24, 72)))
            if r.random() < 0.3 or not is_open:
                assignee = r.choice(officers[dept])
        elif bpmn_id == "report":
            cand_dept, assignee = dept, r.choice(officers[dept])
        else:
            role, prio, due = "leader", 80, created + timedelta(hours=8)
            assignee = special.get("leader") if not is_open else None
        status = "open" if is_open else ("completed" if r.random() < 0.95 else "cancelled")
        done = None if is_open else created + timedelta(seconds=r.uniform(60, 2 * 86400))
        value = r.randint(151, 400)
        return {
            "instance_id": r.choice(inst_ids), "process_key": "wfbench_inbox",
            "task_guid": str(uuid.UUID(int=r.getrandbits(128), version=4)),
            "bpmn_id": bpmn_id, "name": names.get(bpmn_id, bpmn_id), "lane": lanes.get(bpmn_id),
            "title": f"VN_AQI {value} tại trạm WFB-{r.randrange(5000):04d}", "sector": "environment",
            "unit_code": r.choice(unit_codes) if unit_codes and r.random() < 0.7 else None,
            "candidate_role": role, "candidate_department_id": cand_dept, "about_department_id": dept,
            "assignee_id": assignee, "status": status, "priority": prio, "due_at": due, "follow_up_at": None,
            "created_at": created, "claimed_at": created if assignee else None, "completed_at": done,
            "completed_by_id": assignee if done and status == "completed" else None,
            "form": forms.get(bpmn_id, []),
            "result": {"decision": "accept"} if status == "completed" and bpmn_id == "review" else None,
            "lock_version": 1,
        }

    def print_plan(self, label: str, stmt: Any) -> None:
        """The query plan of ``stmt.limit(50)`` as the product sends it (statement and parameters captured)."""
        from sqlalchemy import event

        from engine.db import get_engine

        eng = get_engine(write=False)
        captured: list[tuple[str, Any]] = []

        def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, _many: bool) -> None:
            captured.append((statement, parameters))

        event.listen(eng, "before_cursor_execute", capture)
        try:
            with eng.connect() as conn:
                conn.execute(stmt.limit(50)).all()
                statement, params = next((c for c in captured if "human_tasks" in c[0]), captured[-1])
                # a fresh comment each time: pysqlite caches prepared statements, and a cached EXPLAIN
                # QUERY PLAN shows the plan of when it was prepared, not the plan the query now gets
                prefix = ("EXPLAIN (ANALYZE, BUFFERS) " if self.args.postgres else "EXPLAIN QUERY PLAN ") + \
                    f"/* {uuid.uuid4().hex} */ "
                lines = conn.exec_driver_sql(prefix + statement, params).all()
        finally:
            event.remove(eng, "before_cursor_execute", capture)
        print(f"  plan ({label}):")
        if self.args.postgres:
            for (line,) in lines:
                print(f"      {line}")
        else:
            for row in lines:
                print(f"      {'  ' * (1 if row[1] else 0)}{row[-1]}")


def profile_area(filename: str, func: str) -> str:
    f = filename.replace("\\", "/")
    if "SpiffWorkflow/bpmn/serializer" in f or "SpiffWorkflow/serializer" in f:
        return "SpiffWorkflow serializer (to/from dicts)"
    if "SpiffWorkflow" in f:
        return "SpiffWorkflow engine"
    if "/json/" in f or "_json" in func or "json" in func.lower() and f == "~":
        return "json (dumps/loads)"
    if "sqlalchemy/orm" in f:
        return "SQLAlchemy ORM"
    if "sqlalchemy" in f:
        return "SQLAlchemy Core, engine, pool"
    if "sqlite3" in func or "psycopg" in f or "psycopg" in func:
        return "database driver (statements, commit; waits)"
    if "/redis/" in f or "socket" in func:
        return "Redis client (publish after commit)"
    if "engine/sandbox" in f or "RestrictedPython" in f or "<string>" in f or "builtins.compile" in func \
            or "built-in method builtins.eval" in func or "built-in method builtins.exec" in func:
        return "sandboxed expressions (compile/eval)"
    if "/engine/" in f:
        return "IOC engine code"
    if "lxml" in f or "copy.py" in f or "deepcopy" in func:
        return "copy / deepcopy"
    if "uuid" in f or "datetime" in f or "_strptime" in f:
        return "uuid, datetime"
    return "other (Python runtime, logging, ...)"


if __name__ == "__main__":
    sys.exit(main())
