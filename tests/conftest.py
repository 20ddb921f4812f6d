"""Test set-up: a real database (SQLite file, or PostgreSQL from IOC_DATABASE_URL) and a real Redis
(the embedded redis-server, or IOC_REDIS_URL), migrated and seeded once per session, cleaned per test."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# pytest loads this file as ``conftest``; tests that ``from tests.conftest import …`` load it a second time as
# ``tests.conftest``. Both must use the same data directory.
DATA_DIR = Path(os.environ.get("IOC_TEST_DATA_DIR") or tempfile.mkdtemp(prefix="ioc-test-"))
os.environ["IOC_TEST_DATA_DIR"] = str(DATA_DIR)
os.environ["IOC_DATA_DIR"] = str(DATA_DIR)
os.environ.setdefault("IOC_SECRET_KEY", "test-secret-key-that-is-long-enough-0123456789")
os.environ["IOC_SWEEP_AFTER_S"] = "2"
EXTERNAL_REDIS = os.environ.get("IOC_REDIS_URL")
EMBEDDED_MODE = not EXTERNAL_REDIS and not os.environ.get("IOC_DATABASE_URL")

from engine import db as engine_db  # noqa: E402 - the environment above must be set first
from engine import migrate, redis_conn, registry  # noqa: E402
from engine.config import settings  # noqa: E402
from engine.org import seed_organisation  # noqa: E402
from engine.redis_server import EmbeddedRedis  # noqa: E402
from tests.oidc.fixtures import oidc_provider  # noqa: E402, F401 - the single sign-on tests' provider (session)

MUTABLE_TABLES = ("user_sessions", "task_candidate_users", "attachments", "task_comments", "directives",
                  "human_tasks",
                  "process_instances", "notifications", "rule_states", "silences", "push_subscriptions", "alerts",
                  "events", "audit_log", "api_tokens", "user_identities", "users", "indicator_observations",
                  "indicator_rollups",
                  "indicators", "source_runs", "sources", "entities", "vessel_fixes", "air_quality_hours",
                  "rule_changes")


def backend() -> str:
    return "postgresql" if not settings().is_sqlite else "sqlite"


def _reset_postgres() -> None:
    from sqlalchemy import text

    with engine_db.get_engine().begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))


@pytest.fixture(scope="session", autouse=True)
def stack() -> Iterator[dict[str, str]]:
    embedded = None
    if EXTERNAL_REDIS:
        url = EXTERNAL_REDIS
    else:
        embedded = EmbeddedRedis(DATA_DIR / "redis")
        url = embedded.start()
        os.environ["IOC_REDIS_URL"] = url
    settings.cache_clear()
    redis_conn.reset()
    redis_conn.redis_client().flushdb()
    if backend() == "postgresql":
        _reset_postgres()
    migrate.upgrade()
    with engine_db.transaction() as session:
        seed_organisation(session)
        registry.deploy_directory(session, settings().processes_dir)
    yield {"redis_url": url, "database_url": settings().database_url}
    engine_db.dispose_engines()
    if embedded is not None:
        embedded.stop()
    shutil.rmtree(DATA_DIR, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """CI runs the suite twice (SQLite, then PostgreSQL) and must finish within 30 minutes on a 2-core machine.
    Pure tests (``no_database``) would test nothing more against PostgreSQL; browser tests (``browser``, the
    slowest) check pages that the same API and engine tests cover on both databases, and run against the embedded
    default that the demo uses; long tests whose database work shorter tests cover on both (``once``: the demo,
    which is the embedded stack by construction, a year of real station data, video analysis) add minutes and
    nothing more. All three run in the SQLite pass only, and show as skipped, with this reason, in the PostgreSQL
    pass."""
    if not os.environ.get("IOC_DATABASE_URL", "").startswith("postgresql"):
        return
    reasons = {"no_database": "needs no database: runs in the SQLite pass",
               "browser": "browser test: runs in the SQLite pass (the embedded default)",
               "once": "long, and its database work is covered on both databases by shorter tests: runs in the "
                       "SQLite pass"}
    for item in items:
        for marker, reason in reasons.items():
            if item.get_closest_marker(marker):
                item.add_marker(pytest.mark.skip(reason=reason))
                break


@pytest.fixture(autouse=True)
def clean(request: pytest.FixtureRequest, stack: dict[str, str]) -> Iterator[None]:
    if request.node.get_closest_marker("no_database"):  # nothing to clean for a pure test
        yield
        return
    from sqlalchemy import text

    from engine import audit

    with engine_db.get_engine().begin() as conn:
        audit.allow_maintenance(conn)  # audit_log refuses DELETE otherwise (PostgreSQL)
        for table in MUTABLE_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - fixed table names
    from engine.indicators import seed_indicators

    with engine_db.transaction() as session:
        seed_indicators(session)
    redis_conn.redis_client().flushdb()
    yield


@pytest.fixture
def session() -> Iterator[object]:
    s = engine_db.session_factory(write=False)()
    try:
        yield s
    finally:
        s.rollback()
        s.close()


@pytest.fixture
def app() -> object:
    from web.app import create_app

    return create_app({"TESTING": True})


@pytest.fixture
def client(app: object) -> object:
    return app.test_client()  # type: ignore[attr-defined]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ioc_env(data_dir: Path, *, embedded: bool | None = None) -> dict[str, str]:
    """The environment for an ``ioc`` subprocess on the same database and Redis as the tests.

    In the embedded mode, the subprocess gets its own data directory and starts its own Redis.
    """
    env = dict(os.environ, IOC_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
    if embedded if embedded is not None else EMBEDDED_MODE:
        env.pop("IOC_REDIS_URL", None)
        env.pop("IOC_DATABASE_URL", None)
    return env


def ioc(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "web.cli", *args], env=env, cwd=ROOT, text=True,
                            capture_output=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"ioc {' '.join(args)} failed: {result.stderr}")
    return result


class Server:
    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env, self.port, self.log = env, port, log
        self.base = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *extra: str) -> Server:
        import requests

        with self.log.open("wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "web.cli", "run", "--host", "127.0.0.1",
                                          "--port", str(self.port), *extra], env=self.env, cwd=ROOT,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.base}/api/v1/openapi.json", timeout=2).ok:
                    return self
            except requests.RequestException:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.3)
        raise AssertionError(f"ioc run did not come up: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        import signal

        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


def without_shutdown_noise(log: str) -> str:
    """The log without what Python prints when RQ's SIGTERM handler raises its StopRequested while the worker happens
    to be inside a garbage-collection callback ("Exception ignored in …"): the worker is stopping as asked, and
    Python ignores that exception; any other traceback stays and fails the test."""
    return re.sub(r"Exception ignored in[^\n]*\nTraceback \(most recent call last\):\n(?:[ \t][^\n]*\n|\n)*?"
                  r"rq\.exceptions\.StopRequested[^\n]*(?:\n|$)", "", log)


@contextmanager
def running(srv: Server) -> Iterator[Server]:
    """``srv`` started, then stopped; its log must hold no traceback."""
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        log = without_shutdown_noise(srv.log.read_text(errors="replace"))
        assert "Traceback (most recent call last)" not in log, log[-3000:]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with running(Server(ioc_env(tmp_path / "var"), free_port(), tmp_path / "server.log")) as srv:
        yield srv
