"""End-to-end benchmark of the event loop: HTTP ingest -> worker evaluation -> alert -> process -> task.

Starts its own ``ioc run`` (embedded SQLite + embedded Redis by default; ``--postgres`` uses
IOC_DATABASE_URL and IOC_REDIS_URL from the environment, in a scratch schema it drops afterwards)
on a free port in a temporary data directory, and prints:

  (a) events/s accepted over HTTP and events/s evaluated end to end (every event has
      ``processed_at``), beside a baseline measured in the same run: a plain SQLAlchemy Core
      insert of the same rows, in batches of the same size, into a copy of the ``events`` table
      in a scratch database (SQLite file) or schema (PostgreSQL);
  (b) latency from the POST of one above-threshold event (new entity each time) to its ``triage``
      task being listed by ``GET /api/v1/tasks``: p50 and p95 over K samples.

Usage: .venv/bin/python bench/loop.py [--events N] [--batch B] [--latency-samples K] [--postgres]
See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from sqlalchemy import Engine, MetaData, Table, create_engine, event, text  # noqa: E402

from engine.models import Event  # noqa: E402  - only the table definition is used, for the baseline

SOURCE = "bench"
THRESHOLD = 150  # rules/environment.yaml: aqi-poor fires when values.aqi > 150
START_TIMEOUT_S = 90
LATENCY_TIMEOUT_S = 30
STALL_TIMEOUT_S = 120  # give up waiting for evaluation when no event was evaluated for this long
TASK_POLL_S = 0.02
DB_POLL_S = 0.05


RATES: dict[str, float] = {}  # the last throughput run's rates (events/s, rows/s), for bench/ingest.py's verdicts


class BenchError(Exception):
    """A one-line reason to stop; printed as ``error: ...`` with exit status 1."""


# --- the machine ----------------------------------------------------------------------------------

def cpu_model() -> str:
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil
    return ordered[int(rank) - 1]


# --- the server -----------------------------------------------------------------------------------

class Server:
    def __init__(self, env: dict[str, str], port: int, log: Path, workers: int) -> None:
        self.env, self.port, self.log, self.workers = env, port, log, workers
        self.base = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "web.cli", "run", "--host", "127.0.0.1", "--port", str(self.port),
                 "--workers", str(self.workers)],
                env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            with suppress(requests.RequestException):
                if requests.get(f"{self.base}/api/v1/openapi.json", timeout=2).ok:
                    return
            if self.proc.poll() is not None:
                raise BenchError(f"ioc run exited with status {self.proc.returncode} before serving: "
                                 f"{self.last_log_line()}")
            time.sleep(0.3)
        raise BenchError(f"ioc run did not answer on {self.base} within {START_TIMEOUT_S} s: "
                         f"{self.last_log_line()}")

    def last_log_line(self) -> str:
        lines = [ln for ln in self.log.read_text(errors="replace").splitlines() if ln.strip()]
        return lines[-1].strip() if lines else "(empty server log)"

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def ioc(self, *args: str) -> str:
        r = subprocess.run([sys.executable, "-m", "web.cli", *args], env=self.env, cwd=ROOT, text=True,
                           capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise BenchError(f"ioc {' '.join(args)} failed: {(r.stderr or r.stdout).strip().splitlines()[-1:]}")
        return r.stdout.strip()


# --- databases ------------------------------------------------------------------------------------

def _sqlite_like_product(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")       # the same settings as engine/db.py
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def reader_engine(url: str) -> Engine:
    """A read-only engine on the server's database, for counting."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        eng = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true", connect_args={"timeout": 30})
    else:
        eng = create_engine(url, pool_size=2)

        @event.listens_for(eng, "connect")
        def _read_only(dbapi_connection: Any, _record: Any) -> None:
            cur = dbapi_connection.cursor()
            cur.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            cur.close()
            dbapi_connection.commit()
    return eng


def pg_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def with_search_path(url: str, schema: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


# --- events ---------------------------------------------------------------------------------------

def make_events(run: str, n: int, hot_share: float, seed: int) -> tuple[list[dict[str, Any]], set[str], int]:
    """N air_quality events: a share above the threshold, spread over many entities (a few repeats
    each, so most of them only count on an open alert), the rest below it."""
    rnd = random.Random(seed)
    hot_n = round(n * hot_share)
    hot_entities = max(1, hot_n // 5)
    base = datetime.now(UTC)
    hot_positions = set(rnd.sample(range(n), hot_n))
    events, hot_seen, h = [], set(), 0
    for i in range(n):
        if i in hot_positions:
            entity = f"BENCH-{run}-HOT-{h % hot_entities:04d}"
            aqi = rnd.randint(THRESHOLD + 1, 400)
            hot_seen.add(entity)
            h += 1
        else:
            entity = f"BENCH-{run}-ST-{rnd.randrange(500):03d}"
            aqi = rnd.randint(10, THRESHOLD)
        events.append({"source": SOURCE, "type": "air_quality", "sector": "environment", "entity": entity,
                       "time": (base + timedelta(milliseconds=i)).isoformat(), "values": {"aqi": aqi, "pm25": aqi / 4},
                       "idempotency_key": f"{run}-{i}"})
    return events, hot_seen, hot_n


def as_rows(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows ``engine.events.ingest_events`` writes for these events."""
    now = datetime.now(UTC)
    return [{"source": e["source"], "idempotency_key": e["idempotency_key"], "type": e["type"],
             "sector": e["sector"], "entity": e["entity"], "time": datetime.fromisoformat(e["time"]),
             "received_at": now, "unit_code": None, "location": None, "values": e["values"]} for e in events]


# --- (b) latency ----------------------------------------------------------------------------------

def measure_latency(srv: Server, token: str, run: str, k: int
                    ) -> tuple[list[float], list[float], list[float], int, dict[str, datetime]]:
    """POST one above-threshold event for a new entity; poll the task list until its triage task shows.
    Returns (latencies, POST times, GET times, samples timed out, idempotency key -> task created_at)."""
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {token}"
    latencies, post_ms, get_ms, timeouts = [], [], [], 0
    created: dict[str, datetime] = {}  # idempotency key -> its triage task's created_at
    for i in range(k):
        entity, key = f"BENCH-{run}-LAT-{i:03d}", f"{run}-lat-{i}"
        ev = {"source": SOURCE, "type": "air_quality", "sector": "environment", "entity": entity,
              "time": datetime.now(UTC).isoformat(), "values": {"aqi": 201}, "idempotency_key": key}
        t0 = time.perf_counter()
        r = s.post(f"{srv.base}/api/v1/events", json={"events": [ev]}, timeout=30)
        post_ms.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 202:
            raise BenchError(f"latency sample {i}: POST /api/v1/events answered {r.status_code}: {r.text[:200]}")
        suffix = f" {entity}"
        found = False
        while time.perf_counter() - t0 < LATENCY_TIMEOUT_S:
            t_get = time.perf_counter()
            tasks = s.get(f"{srv.base}/api/v1/tasks", params={"limit": 1000}, timeout=30)
            get_ms.append((time.perf_counter() - t_get) * 1000)
            if tasks.status_code != 200:
                raise BenchError(f"GET /api/v1/tasks answered {tasks.status_code}: {tasks.text[:200]}")
            mine = [t for t in tasks.json() if t["bpmn_id"] == "triage" and t["title"].endswith(suffix)]
            if mine:
                latencies.append((time.perf_counter() - t0) * 1000)
                created[key] = datetime.fromisoformat(mine[0]["created_at"])
                found = True
                break
            time.sleep(TASK_POLL_S)
        if not found:
            timeouts += 1
    return latencies, post_ms, get_ms, timeouts, created


def server_side_ms(reader: Engine, created: dict[str, datetime]) -> list[float]:
    """For each sample: the event's received_at (set when the POST stored it) to its task's created_at."""
    if not created:
        return []
    with reader.connect() as conn:
        rows = conn.execute(text("SELECT idempotency_key, received_at FROM events WHERE source = :s"),
                            {"s": SOURCE}).all()
    received = {str(k): (v if isinstance(v, datetime) else datetime.fromisoformat(v)) for k, v in rows}
    out = []
    for key, at in created.items():
        r = received[key]
        r = r if r.tzinfo else r.replace(tzinfo=UTC)
        out.append((at - r).total_seconds() * 1000)
    return out


# --- (a) throughput -------------------------------------------------------------------------------

def post_all(srv: Server, token: str, events: list[dict[str, Any]], batch: int, clients: int
             ) -> tuple[list[int], int, list[str], float, float]:
    """POST the events in batches; returns (ids, duplicates, errors, t_first_post, t_last_accept)."""
    batches = [events[i:i + batch] for i in range(0, len(events), batch)]
    local = threading.local()
    ids: list[int] = []
    errors: list[str] = []
    dup = 0
    lock = threading.Lock()

    def send(chunk: list[dict[str, Any]]) -> None:
        nonlocal dup
        if not hasattr(local, "s"):
            local.s = requests.Session()
            local.s.headers["Authorization"] = f"Bearer {token}"
        try:
            r = local.s.post(f"{srv.base}/api/v1/events", json={"events": chunk}, timeout=120)
        except requests.RequestException as exc:
            with lock:
                errors.append(f"{exc.__class__.__name__}: {exc}")
            return
        with lock:
            if r.status_code == 202:
                body = r.json()
                ids.extend(body["ids"])
                dup += body["duplicates"]
            else:
                errors.append(f"{r.status_code}: {r.text[:200]}")

    t0 = time.perf_counter()
    if clients == 1:
        for chunk in batches:
            send(chunk)
    else:
        pool = ThreadPoolExecutor(clients)
        try:
            list(pool.map(send, batches))
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
    return ids, dup, errors, t0, time.perf_counter()


def wait_evaluated(reader: Engine, lo: int, hi: int, expected: int) -> tuple[float, int, int]:
    """Poll until every event with id in [lo, hi] has processed_at; returns (t_done, processed at the
    moment the last POST returned, processed at the end)."""
    q = text("SELECT count(*), count(processed_at) FROM events WHERE id BETWEEN :lo AND :hi")
    at_last_accept = None
    last_progress, last_done = time.perf_counter(), -1
    while True:
        with reader.connect() as conn:
            total, done = conn.execute(q, {"lo": lo, "hi": hi}).one()
        now = time.perf_counter()
        if at_last_accept is None:
            at_last_accept = done
        if done >= expected:
            return now, at_last_accept, done
        if done != last_done:
            last_done, last_progress = done, now
        elif now - last_progress > STALL_TIMEOUT_S:
            raise BenchError(f"evaluation stalled: {done} of {expected} events evaluated, none for "
                             f"{STALL_TIMEOUT_S} s (lost events? see the server log)")
        time.sleep(DB_POLL_S)


def baseline_insert(url: str, rows: list[dict[str, Any]], batch: int, scratch: str | None, raw_path: Path
                    ) -> float:
    """Plain Core insert of the same rows, one transaction per batch, into a copy of ``events``."""
    md = MetaData()
    events = cast(Table, Event.__table__)
    table = events.to_metadata(md, schema=scratch) if scratch else events.to_metadata(md)
    if url.startswith("sqlite"):
        eng = create_engine(f"sqlite:///{raw_path}")
        event.listen(eng, "connect", _sqlite_like_product)
    else:
        eng = create_engine(url)
    try:
        md.create_all(eng)
        t0 = time.perf_counter()
        for i in range(0, len(rows), batch):
            with eng.begin() as conn:
                conn.execute(table.insert(), rows[i:i + batch])
        elapsed = time.perf_counter() - t0
        with eng.connect() as conn:
            stored = conn.execute(text(f"SELECT count(*) FROM {table.fullname}")).scalar_one()  # noqa: S608
        if stored != len(rows):
            raise BenchError(f"baseline stored {stored} of {len(rows)} rows")
        return elapsed
    finally:
        eng.dispose()


# --- checks after the run -------------------------------------------------------------------------

def integrity(reader: Engine, run: str, hot_entities: set[str], hot_events: int, k_found: int) -> list[str]:
    """What the run should have left behind; a list of problems (empty when all is as expected)."""
    problems = []
    like = f"BENCH-{run}-HOT-%"
    with reader.connect() as conn:
        n_alerts, n_counted = conn.execute(
            text("SELECT count(*), coalesce(sum(count), 0) FROM alerts WHERE entity LIKE :p"), {"p": like}).one()
        n_inst = conn.execute(text("SELECT count(*) FROM process_instances pi JOIN alerts a ON a.id = pi.alert_id "
                                   "WHERE a.entity LIKE :p"), {"p": like}).scalar_one()
        n_triage = conn.execute(text("SELECT count(*) FROM human_tasks WHERE bpmn_id = 'triage' AND status = 'open'")
                                ).scalar_one()
        unprocessed = conn.execute(text("SELECT count(*) FROM events WHERE processed_at IS NULL")).scalar_one()
    if n_alerts != len(hot_entities):
        problems.append(f"{n_alerts} alerts for {len(hot_entities)} hot entities")
    if n_counted != hot_events:
        problems.append(f"alerts count {n_counted} above-threshold events, {hot_events} were posted")
    if n_inst != len(hot_entities):
        problems.append(f"{n_inst} process instances for {len(hot_entities)} alerts")
    if n_triage != len(hot_entities) + k_found:
        problems.append(f"{n_triage} open triage tasks, expected {len(hot_entities) + k_found}")
    if unprocessed:
        problems.append(f"{unprocessed} events left unevaluated")
    return problems


def log_findings(log: Path) -> tuple[int, int, int, str]:
    """(tracebacks, sweeper re-enqueues, events re-enqueued, first traceback) from the server log."""
    text_ = log.read_text(errors="replace") if log.exists() else ""
    tracebacks = text_.count("Traceback (most recent call last)")
    sweeps = re.findall(r"sweeper: re-enqueueing (\d+) unevaluated events", text_)
    first = ""
    if tracebacks:
        start = text_.index("Traceback (most recent call last)")
        first = "\n".join(text_[start:].splitlines()[:40])
    return tracebacks, len(sweeps), sum(int(n) for n in sweeps), first


def wait_drained(redis_url: str, timeout: float) -> tuple[float, int]:
    """Wait for the ``ioc`` queue to empty (jobs the sweeper added for events evaluated meanwhile);
    returns (seconds waited, jobs still queued)."""
    t0 = time.perf_counter()
    while True:
        queued = redis_facts(redis_url)[1]
        if queued == 0 or time.perf_counter() - t0 > timeout:
            return time.perf_counter() - t0, queued
        time.sleep(0.1)


def redis_facts(url: str) -> tuple[str, int, int]:
    """(redis version, jobs still queued, failed jobs) of the ``ioc`` queue."""
    from redis import Redis
    from rq import Queue

    r = Redis.from_url(url)
    try:
        q = Queue("ioc", connection=r)
        return str(r.info("server").get("redis_version", "?")), q.count, q.failed_job_registry.count
    finally:
        r.close()


# --- main -----------------------------------------------------------------------------------------

@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    def raise_interrupt(_sig: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=10000, help="events posted for the throughput run (default 10000)")
    p.add_argument("--batch", type=int, default=100, help="events per POST, 1..1000 (default 100)")
    p.add_argument("--latency-samples", type=int, default=30, help="POST-to-task samples (default 30)")
    p.add_argument("--hot-share", type=float, default=0.05,
                   help="share of events above the threshold (default 0.05); ~5 per entity, so "
                        "events*share/5 alerts and processes are opened")
    p.add_argument("--clients", type=int, default=1, help="concurrent HTTP clients posting batches (default 1)")
    p.add_argument("--workers", type=int, default=1, help="RQ workers of `ioc run --workers` (default 1)")
    p.add_argument("--postgres", action="store_true",
                   help="use IOC_DATABASE_URL and IOC_REDIS_URL from the environment (in a scratch schema)")
    p.add_argument("--keep-log", metavar="PATH", help="copy the server log here before cleaning up")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args(argv)
    if not 1 <= a.batch <= 1000:
        p.error("--batch must be 1..1000")
    if a.events < 1 or a.latency_samples < 0 or a.clients < 1 or a.workers < 1 or not 0 <= a.hot_share <= 1:
        p.error("--events, --clients and --workers must be positive, --hot-share within 0..1")
    return a


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run = f"{os.getpid():x}{int(time.time()) % 100000:05d}"
    tmp = Path(tempfile.mkdtemp(prefix="ioc-bench-"))
    state: dict[str, Any] = {}  # what _bench set up, to undo in reverse
    try:
        with sigterm_as_interrupt():
            return _bench(args, run, tmp, state)
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        return 130
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        reader, srv, admin = state.get("reader"), state.get("srv"), state.get("admin")
        if reader is not None:
            reader.dispose()
        if srv is not None:
            srv.stop()
            if args.keep_log:
                with suppress(OSError):
                    shutil.copyfile(srv.log, args.keep_log)
        if state.get("redis_url_external"):
            with suppress(Exception):
                from redis import Redis
                from rq import Queue

                Queue("ioc", connection=Redis.from_url(state["redis_url_external"])).empty()
        if admin is not None:
            with suppress(Exception), admin.begin() as conn:
                for schema in state.get("schemas", []):
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()
        shutil.rmtree(tmp, ignore_errors=True)


def _bench(args: argparse.Namespace, run: str, tmp: Path, state: dict[str, Any]) -> int:
    env = dict(os.environ, IOC_DATA_DIR=str(tmp / "var"), PYTHONUNBUFFERED="1")
    if args.postgres:
        db_url, redis_url = os.environ.get("IOC_DATABASE_URL"), os.environ.get("IOC_REDIS_URL")
        if not db_url or not redis_url or not db_url.startswith(("postgres://", "postgresql")):
            raise BenchError("--postgres needs IOC_DATABASE_URL=postgresql://... and IOC_REDIS_URL=redis://...")
        try:
            _, queued, _ = redis_facts(redis_url)
        except Exception as exc:  # noqa: BLE001 - any failure to reach Redis is a one-line error
            raise BenchError(f"cannot reach IOC_REDIS_URL: {exc.__class__.__name__}: {exc}") from exc
        if queued:
            raise BenchError(f"the ioc queue in {redis_url} holds {queued} jobs; use an empty Redis database")
        state["redis_url_external"] = redis_url  # its ioc queue is emptied at the end: the jobs were ours
        schema, raw_schema = f"ioc_bench_{run}", f"ioc_bench_{run}_raw"
        admin = state["admin"] = create_engine(pg_url(db_url))
        try:
            with admin.begin() as conn:
                for s in (schema, raw_schema):
                    conn.execute(text(f'CREATE SCHEMA "{s}"'))
                    state.setdefault("schemas", []).append(s)
                pg_version = conn.execute(text("SHOW server_version")).scalar_one()
        except Exception as exc:  # noqa: BLE001
            raise BenchError(f"cannot create a scratch schema in IOC_DATABASE_URL: {exc.__class__.__name__}: "
                             f"{str(exc).splitlines()[0]}") from exc
        env["IOC_DATABASE_URL"] = with_search_path(db_url, schema)
        server_db = with_search_path(pg_url(db_url), schema)
        backend = f"PostgreSQL {pg_version.split()[0]} (schema {schema}) + Redis"
    else:
        env.pop("IOC_DATABASE_URL", None)
        env.pop("IOC_REDIS_URL", None)
        server_db = f"sqlite:///{tmp / 'var' / 'ioc.db'}"
        redis_url, raw_schema = f"unix://{tmp / 'var' / 'redis.sock'}", None
        backend = f"SQLite {sqlite3.sqlite_version} (embedded, WAL) + embedded Redis"

    print(f"machine : {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.system()} {platform.release()}")
    print(f"backend : {backend}; 1 web process (waitress), {args.workers} RQ worker(s)")

    srv = state["srv"] = Server(env, free_port(), tmp / "server.log", args.workers)
    t = time.perf_counter()
    srv.start()
    redis_version = redis_facts(redis_url)[0]
    print(f"server  : up in {time.perf_counter() - t:.1f} s on {srv.base}; Redis {redis_version}")
    token = srv.ioc("token", "create", f"bench-{run}", "--role", "operator")
    reader = state["reader"] = reader_engine(server_db)

    # (b) first, on an idle system with an empty inbox
    lat, post_ms, get_ms, timeouts, created = measure_latency(srv, token, run, args.latency_samples)
    server_ms = server_side_ms(reader, created)

    # (a)
    events, hot_entities, hot_events = make_events(run, args.events, args.hot_share, args.seed)
    ids, dup, errors, t0, t_accept = post_all(srv, token, events, args.batch, args.clients)
    if errors:
        raise BenchError(f"{len(errors)} POSTs failed; first: {errors[0]}")
    if len(ids) != args.events or dup:
        raise BenchError(f"{len(ids)} of {args.events} events accepted, {dup} duplicates")
    t_done, at_accept, _ = wait_evaluated(reader, min(ids), max(ids), len(ids))
    accept_s, e2e_s = t_accept - t0, t_done - t0
    base_s = baseline_insert(server_db if args.postgres else "sqlite", as_rows(events), args.batch, raw_schema,
                             tmp / "raw.db")

    drain_s, queued = wait_drained(redis_url, 60)
    _, _, failed = redis_facts(redis_url)
    problems = integrity(reader, run, hot_entities, hot_events, len(lat))
    tracebacks, sweeps, reenqueued, first_tb = log_findings(srv.log)

    n = args.events
    accept_rate, e2e_rate, base_rate = n / accept_s, n / e2e_s, n / base_s
    RATES.update(accepted=accept_rate, evaluated=e2e_rate, baseline=base_rate)
    print()
    print(f"(a) throughput: {n} events in batches of {args.batch}, {args.clients} client(s); "
          f"{hot_events} above threshold over {len(hot_entities)} entities ({len(hot_entities)} alerts + processes)")
    print(f"    HTTP accepted      : {accept_rate:8.0f} events/s  ({accept_s:6.2f} s until the last 202; "
          f"{at_accept} evaluated by then)")
    print(f"    evaluated (e2e)    : {e2e_rate:8.0f} events/s  ({e2e_s:6.2f} s from first POST to last processed_at)")
    print(f"    baseline Core insert: {base_rate:7.0f} rows/s    ({base_s:6.2f} s, same rows and batches, "
          f"scratch {'schema' if args.postgres else 'SQLite file'})")
    print(f"    ratio baseline/accepted = {base_rate / accept_rate:.1f}x, baseline/evaluated = "
          f"{base_rate / e2e_rate:.1f}x")
    print()
    if lat:
        print(f"(b) POST -> triage task listed: {len(lat)} samples, p50 {percentile(lat, 50):.0f} ms, "
              f"p95 {percentile(lat, 95):.0f} ms (min {min(lat):.0f}, max {max(lat):.0f})"
              f"\n    of which: POST p50 {percentile(post_ms, 50):.0f} ms; event stored -> task row created "
              f"p50 {percentile(server_ms, 50):.0f} ms, p95 {percentile(server_ms, 95):.0f} ms; "
              f"each GET /api/v1/tasks p50 {percentile(get_ms, 50):.0f} ms, polled every {TASK_POLL_S * 1000:.0f} ms"
              + (f"; {timeouts} timed out after {LATENCY_TIMEOUT_S} s" if timeouts else ""))
    elif args.latency_samples:
        print(f"(b) no triage task appeared within {LATENCY_TIMEOUT_S} s for any of {timeouts} samples")
    print()
    print(f"checks  : {'OK' if not problems else '; '.join(problems)}; failed jobs {failed}, "
          f"tracebacks in server log {tracebacks}")
    print(f"sweeper : {sweeps} passes re-enqueued {reenqueued} not-yet-evaluated events; "
          f"the queue was empty {drain_s:.1f} s after the last event was evaluated"
          + (f" (still {queued} jobs after 60 s)" if queued else ""))
    if first_tb:
        print("first traceback in the server log:\n" + first_tb)
    return 1 if problems or tracebacks or failed or timeouts else 0


if __name__ == "__main__":
    sys.exit(main())
