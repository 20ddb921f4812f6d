"""Benchmark of issue 19's handover: ``ioc export DIR`` then ``ioc import DIR`` (into a second, fresh database) of a
PostgreSQL instance, beside ``pg_dump -Fc`` then ``pg_restore`` of the same database plus a tar of its data folder
(the attachments and the evidence: the baseline moves the same files), in the same run; and the peak memory of the
export and import processes at two sizes.

For each size it builds the source database ``ioc_handoverbench`` (its ``public`` schema dropped first; then
``ioc db upgrade``) and fills it with the bare driver (psycopg COPY, not the product): events, alerts, process
instances with a 6 KB state, human tasks (an incident's four steps, most done), two audit rows per task, and
attachment rows with their files (random bytes, 20-400 KB each, under ``attachments/ab/<sha256>``). Then, each
command a child process timed on the wall clock with its peak RSS read by ``os.wait4``:

  1. baseline: ``pg_dump -Fc`` of the source + ``tar -cf`` of its data folder's attachments and evidence; then
     ``pg_restore --no-owner`` into a new database + ``tar -xf`` into a new folder (what docs/guide-deployer.md's
     daily backup and restore do);
  2. the product: ``ioc export OUT``, then ``ioc import OUT`` into a new database and folder.

It prints each step's seconds, the ratio baseline / product (the product's speed relative to the baseline's;
goal >= 0.3) and the peak RSS of ``ioc export`` and ``ioc import`` (goal <= 300 MB whatever the size), and checks
that the imported database has the source's row counts.

Usage: .venv/bin/python bench/handover.py [--quick] [--scales 0.2,1] [--events N] [--tasks N] [--attachment-mb N]
       [--server postgresql://postgres@127.0.0.1:5432] [--keep]
Defaults: 1,000,000 events, 100,000 tasks, 1,024 MB of attachments (--quick: ten times fewer), at the scales given.
See docs/benchmarks.md, section "Handover: export and import (bench/handover.py)".
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from loop import BenchError, cpu_model  # bench/loop.py: the same error kind and machine facts
from workflow import git_revision, mem_gib, section, sigterm_as_interrupt

ROOT = Path(__file__).resolve().parent.parent
SOURCE, TARGET, RESTORED = "ioc_handoverbench", "ioc_handoverbench_import", "ioc_handoverbench_restore"
SECRET = "bench-secret-key-that-is-long-enough-0123456789"  # noqa: S105 - a scratch instance's key
RATIO_GOAL, RSS_GOAL_MB = 0.3, 300
STEPS = ("triage", "handle", "report", "review")
SECTORS = ("environment", "traffic", "fisheries", "health")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="ten times smaller: 100,000 events, 10,000 tasks, 102 MB")
    p.add_argument("--scales", default="0.2,1", help="the sizes to run, as fractions of the full size (default 0.2,1)")
    p.add_argument("--events", type=int, help="events at scale 1 (default 1,000,000)")
    p.add_argument("--tasks", type=int, help="human tasks at scale 1 (default 100,000)")
    p.add_argument("--attachment-mb", type=float, help="MB of attachment files at scale 1 (default 1,024)")
    p.add_argument("--server", default=os.environ.get("IOC_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432"),
                   help="the PostgreSQL server (its databases named *handoverbench* are dropped and made again)")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder and the databases")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args(argv)
    div = 10 if a.quick else 1
    a.events = a.events if a.events is not None else 1_000_000 // div
    a.tasks = a.tasks if a.tasks is not None else 100_000 // div
    a.attachment_mb = a.attachment_mb if a.attachment_mb is not None else 1024 / div
    try:
        a.scales = [float(s) for s in a.scales.split(",") if s.strip()]
    except ValueError:
        p.error("--scales takes fractions separated by commas, e.g. 0.2,1")
    if not a.scales or min(a.scales) <= 0 or min(a.events, a.tasks) < 4 or a.attachment_mb < 0:
        p.error("sizes must be positive")
    return a


@dataclass
class Size:
    events: int
    tasks: int
    attachment_bytes: int

    def __str__(self) -> str:
        return f"{self.events:,} events, {self.tasks:,} tasks, {self.attachment_bytes / 2**20:,.0f} MB of attachments"


@dataclass
class Run:
    seconds: float
    rss_mb: float


def peak_rss_kib(pid: int, seen: list[int]) -> None:
    """Poll the process's high-water mark (``VmHWM``: since its exec, unlike ``ru_maxrss``, which also counts the
    forked copy of this script before the exec) until it ends."""
    path = Path(f"/proc/{pid}/status")
    while True:
        try:
            text = path.read_text()
        except OSError:
            return
        hwm = [int(line.split()[1]) for line in text.splitlines() if line.startswith("VmHWM:")]
        if not hwm:  # a zombie: its memory is gone
            return
        seen.append(hwm[0])
        time.sleep(0.02)


def timed(cmd: list[str], env: dict[str, str] | None = None, log: Path | None = None) -> Run:
    """A child process to its end: its wall time and its peak resident memory."""
    out = log.open("ab") if log else subprocess.DEVNULL
    seen: list[int] = [0]
    try:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT if log else None)
        watcher = threading.Thread(target=peak_rss_kib, args=(proc.pid, seen), daemon=True)
        watcher.start()
        _pid, status, _usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        watcher.join()
    finally:
        if log:
            out.close()  # type: ignore[union-attr]
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-1500:] if log else ""
        raise BenchError(f"{' '.join(cmd[:4])}… exited {proc.returncode}\n{tail}")
    return Run(seconds, max(seen) / 1024)


class Databases:
    """The scratch databases on the server, made again for each size."""

    def __init__(self, server: str) -> None:
        import psycopg

        self.server = server.rstrip("/")
        try:
            self.admin = psycopg.connect(f"{self.server}/postgres", autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            raise BenchError(f"PostgreSQL at {self.server} cannot be reached: {exc}") from None
        self.version = self.admin.execute("SHOW server_version").fetchone()[0]

    def url(self, name: str) -> str:
        assert "handoverbench" in name
        return f"{self.server}/{name}"

    def fresh(self, name: str) -> str:
        assert "handoverbench" in name  # never another database
        self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_all(self) -> None:
        for name in (SOURCE, TARGET, RESTORED):
            self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def counts(self, name: str) -> dict[str, int]:
        import psycopg

        with psycopg.connect(self.url(name)) as conn:
            names = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                                                "AND tablename <> 'alembic_version' ORDER BY 1")]
            return {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}  # noqa: S608

    def size_mb(self, name: str) -> float:
        return self.admin.execute("SELECT pg_database_size(%s)", (name,)).fetchone()[0] / 2**20


def ioc_env(url: str, data_dir: Path) -> dict[str, str]:
    env = dict(os.environ, IOC_DATABASE_URL=url, IOC_DATA_DIR=str(data_dir), IOC_SECRET_KEY=SECRET,
               IOC_RULES_DIR=str(data_dir / "rules"), PYTHONUNBUFFERED="1")
    env.pop("IOC_REDIS_URL", None)  # the handover needs no Redis
    return env


def ioc(*args: str) -> list[str]:
    return [sys.executable, "-m", "web.cli", *args]


# -- the data --------------------------------------------------------------------------------------------------------


def state_json(rnd: random.Random, i: int) -> str:
    """About 6 KB, the size of a running incident's state (docs/benchmarks.md, workflow part 4)."""
    tasks = {str(uuid.UUID(int=rnd.getrandbits(128), version=4)): {
        "id": f"t{i}-{k}", "parent": None, "children": [], "last_state_change": 1.7e9 + k, "state": 16,
        "task_spec": step, "triggered": False, "internal_data": {}, "data": {"alert_id": i, "value": k * 7.5}}
        for k, step in enumerate(STEPS * 4)}
    return json.dumps({"serializer_version": "3.0", "data": {"alert": {"id": i, "title": f"VN_AQI {150 + i % 200}"}},
                       "tasks": tasks, "root": f"t{i}-0", "success": True, "subprocesses": {}})


def fill(url: str, data_dir: Path, size: Size, seed: int) -> None:
    """The source instance's rows and files, written with the bare driver (COPY)."""
    import psycopg

    rnd = random.Random(seed)
    now = datetime.now(UTC)
    with psycopg.connect(url) as conn:
        definition = conn.execute("SELECT id FROM process_definitions WHERE process_key = 'incident' "
                                  "ORDER BY version DESC LIMIT 1").fetchone()[0]
        departments = [r[0] for r in conn.execute("SELECT id FROM departments ORDER BY id")]
        units = [r[0] for r in conn.execute("SELECT code FROM units ORDER BY code LIMIT 200")] or [None]
        cur = conn.cursor()
        with cur.copy('COPY events (source, idempotency_key, type, sector, entity, time, received_at, unit_code, '
                      'location, "values", processed_at, attempts) FROM STDIN') as copy:
            for i in range(size.events):
                t = now - timedelta(seconds=size.events - i)
                copy.write_row((f"station-{i % 400:03d}", f"k{i}", "air_quality", rnd.choice(SECTORS),
                                f"ST-{i % 400:03d}", t, t, rnd.choice(units),
                                f'{{"lat": {19.8 + rnd.random() / 10:.5f}, "lon": {105.7 + rnd.random() / 10:.5f}}}',
                                f'{{"pm25": {rnd.uniform(5, 300):.1f}, "pm10": {rnd.uniform(5, 400):.1f}, '
                                f'"aqi": {rnd.randint(10, 400)}}}', t, 0))
        alerts = max(1, size.tasks // 10)
        with cur.copy("COPY alerts (rule_id, dedupe_key, title, severity, status, sector, entity, value, count, "
                      "first_seen, last_seen, department_id, details, created_at, escalation_level, silenced) "
                      "FROM STDIN") as copy:
            for i in range(alerts):
                t = now - timedelta(minutes=alerts - i)
                copy.write_row((f"aqi_high_{i % 20}", f"ST-{i % 400:03d}", f"VN_AQI cao tại trạm ST-{i % 400:03d}",
                                "warning", "resolved", "environment", f"ST-{i % 400:03d}", 180.5, 3, t, t,
                                rnd.choice(departments), '{"evidence": null}', t, 0, False))
        instances = max(1, size.tasks // len(STEPS))
        with cur.copy("COPY process_instances (definition_id, business_key, alert_id, status, state_json, "
                      "started_at, started_by, lock_version) FROM STDIN") as copy:
            for i in range(instances):
                copy.write_row((definition, f"alert-{i % alerts + 1}", i % alerts + 1,
                                "running" if i % 10 == 0 else "completed", state_json(rnd, i),
                                now - timedelta(minutes=instances - i), "system", 1))
        with cur.copy("COPY human_tasks (instance_id, process_key, task_guid, bpmn_id, name, title, sector, unit_code, "
                      "candidate_role, candidate_department_id, about_department_id, status, priority, due_at, "
                      "created_at, completed_at, form, result, lock_version) FROM STDIN") as copy:
            for i in range(size.tasks):
                step, created = STEPS[i % len(STEPS)], now - timedelta(minutes=size.tasks - i)
                done = i % 40 >= 4  # a tenth open
                guid = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
                copy.write_row((i // len(STEPS) % instances + 1, "incident", guid,
                                step, step.capitalize(), f"VN_AQI {150 + i % 200} tại trạm ST-{i % 400:03d}",
                                "environment", rnd.choice(units), "operator" if step == "triage" else None,
                                rnd.choice(departments), rnd.choice(departments), "completed" if done else "open",
                                60, created + timedelta(hours=4), created,
                                created + timedelta(hours=1) if done else None,
                                '[{"name": "actions_taken", "type": "textarea", "label": "Biện pháp đã thực hiện"}]',
                                '{"actions_taken": "Đã cử cán bộ kiểm tra hiện trường"}' if done else None, 1))
        last = conn.execute("SELECT row_hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
        prev = last[0] if last else "0" * 64
        with cur.copy("COPY audit_log (at, actor, action, object_type, object_id, instance_id, details, prev_hash, "
                      "row_hash) FROM STDIN") as copy:
            for i in range(2 * size.tasks):
                row_hash = hashlib.sha256(f"{prev}{i}".encode()).hexdigest()
                copy.write_row((now - timedelta(seconds=2 * size.tasks - i), f"user{i % 300}",
                                "task.completed" if i % 2 else "task.claimed", "human_task", str(i // 2 + 1),
                                i // 8 % instances + 1, '{"values": {"actions_taken": "Đã xử lý"}}', prev, row_hash))
                prev = row_hash
        folder, written, n = data_dir / "attachments", 0, 0
        with cur.copy("COPY attachments (task_id, filename, kind, size, sha256, uploaded_by, uploaded_at) "
                      "FROM STDIN") as copy:
            while written < size.attachment_bytes:
                content = rnd.randbytes(min(rnd.randint(20_000, 400_000), size.attachment_bytes - written))
                digest = hashlib.sha256(content).hexdigest()
                (folder / digest[:2]).mkdir(parents=True, exist_ok=True)
                (folder / digest[:2] / digest).write_bytes(content)
                copy.write_row((rnd.randrange(size.tasks) + 1, f"biên bản {n}.pdf", "pdf", len(content), digest,
                                f"user{n % 300}", now))
                written, n = written + len(content), n + 1
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")  # as a live database is
    evidence = data_dir / "evidence" / "CAM-BENCH"
    evidence.mkdir(parents=True, exist_ok=True)
    for i in range(20):
        (evidence / f"20261125T08{i:02d}00-1-red_light.jpg").write_bytes(b"\xff\xd8\xff\xe0" + rnd.randbytes(60_000))


# -- one size --------------------------------------------------------------------------------------------------------


def one_size(dbs: Databases, size: Size, tmp: Path, seed: int) -> dict[str, Any]:
    for sub in ("src", "out", "imp", "restored", "dump"):
        shutil.rmtree(tmp / sub, ignore_errors=True)
    log = tmp / "commands.log"
    src_url = dbs.fresh(SOURCE)
    t0 = time.perf_counter()
    timed(ioc("db", "upgrade"), ioc_env(src_url, tmp / "src"), log)
    fill(src_url, tmp / "src", size, seed)
    print(f"built in {time.perf_counter() - t0:.0f} s: database {dbs.size_mb(SOURCE):,.0f} MB", flush=True)

    (tmp / "dump").mkdir()
    dump, tar = tmp / "dump" / "ioc.dump", tmp / "dump" / "files.tar"
    base = {"pg_dump": timed(["pg_dump", "-Fc", "-f", str(dump), src_url], log=log),
            "tar -cf": timed(["tar", "-cf", str(tar), "-C", str(tmp / "src"), "attachments", "evidence"], log=log)}
    restored_url = dbs.fresh(RESTORED)
    (tmp / "restored").mkdir()
    base["pg_restore"] = timed(["pg_restore", "--no-owner", "-d", restored_url, str(dump)], log=log)
    base["tar -xf"] = timed(["tar", "-xf", str(tar), "-C", str(tmp / "restored")], log=log)

    ours = {"ioc export": timed(ioc("export", str(tmp / "out")), ioc_env(src_url, tmp / "src"), log)}
    target_url = dbs.fresh(TARGET)
    ours["ioc import"] = timed(ioc("import", str(tmp / "out")), ioc_env(target_url, tmp / "imp"), log)

    source_counts, imported = dbs.counts(SOURCE), dbs.counts(TARGET)
    # the source's own "handover.exported" row came after its snapshot; the import adds "handover.imported"
    source_counts["audit_log"] -= 1
    imported["audit_log"] -= 1
    if source_counts != imported:
        differ = {k: (v, imported.get(k)) for k, v in source_counts.items() if imported.get(k) != v}
        raise BenchError(f"the imported database's rows differ from the source's: {differ}")
    return {"base": base, "ours": ours, "export_mb": sum(p.stat().st_size for p in (tmp / "out").rglob("*")
                                                         if p.is_file()) / 2**20,
            "dump_mb": (dump.stat().st_size + tar.stat().st_size) / 2**20, "rows": sum(imported.values())}


def report(size: Size, r: dict[str, Any]) -> tuple[float, float]:
    base, ours = r["base"], r["ours"]
    for name, run in (*base.items(), *ours.items()):
        print(f"  {name:<11} {run.seconds:8.1f} s   peak RSS {run.rss_mb:7.0f} MB")
    base_s, ours_s = sum(x.seconds for x in base.values()), sum(x.seconds for x in ours.values())
    ratio = base_s / ours_s
    rss = max(x.rss_mb for x in ours.values())
    print(f"  baseline (pg_dump + tar, pg_restore + tar): {base_s:.1f} s, {r['dump_mb']:,.0f} MB written")
    print(f"  ioc export + ioc import:                    {ours_s:.1f} s, {r['export_mb']:,.0f} MB written; "
          f"{r['rows']:,} rows alike in source and import")
    print(f"  speed ratio (baseline time / ours): {ratio:.2f}x (goal >= {RATIO_GOAL}x: "
          f"{'met' if ratio >= RATIO_GOAL else 'missed'}); peak RSS {rss:.0f} MB (goal <= {RSS_GOAL_MB} MB: "
          f"{'met' if rss <= RSS_GOAL_MB else 'missed'})", flush=True)
    return ratio, rss


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="ioc-handoverbench-"))
    dbs: Databases | None = None
    try:
        with sigterm_as_interrupt():
            dbs = Databases(args.server)
            print(f"machine : {cpu_model()}, {os.cpu_count()} cores, {mem_gib():.0f} GiB RAM; PostgreSQL "
                  f"{dbs.version.split()[0]} on {args.server.rsplit('@', 1)[-1]}")
            print(f"code    : {git_revision()}; {datetime.now(UTC):%Y-%m-%d}; load average "
                  f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at the start; files in {tmp}")
            results = []
            for scale in args.scales:
                size = Size(int(args.events * scale), int(args.tasks * scale),
                            int(args.attachment_mb * scale * 2**20))
                section(f"scale {scale:g}: {size}")
                results.append((size, report(size, one_size(dbs, size, tmp, args.seed))))
            section("summary")
            for size, (ratio, rss) in results:
                print(f"  {size}: ratio {ratio:.2f}x, peak RSS {rss:.0f} MB")
            print(f"  load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
            return 0
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        return 130
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if args.keep:
            print(f"kept {tmp} and the databases {SOURCE}, {TARGET}, {RESTORED}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
            if dbs is not None:
                with suppress(Exception):
                    dbs.drop_all()


if __name__ == "__main__":
    sys.exit(main())
