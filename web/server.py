"""``ioc run`` and ``ioc demo``: the web server with its embedded Redis, RQ worker and (demo) simulator."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from types import FrameType

from engine import migrate, registry
from engine.config import settings
from engine.db import dispose_engines, transaction
from engine.indicators import seed_indicators
from engine.org import seed_organisation
from engine.redis_server import EmbeddedRedis

log = logging.getLogger("ioc")


def prepare(*, deploy: bool = True) -> None:
    """Migrate the database, seed the organisation, deploy the processes of IOC_PROCESSES_DIR (unless not
    ``deploy``)."""
    migrate.upgrade()
    with transaction() as session:
        seed_organisation(session)
        seed_indicators(session)
        if deploy:
            registry.deploy_directory(session, settings().processes_dir)
    from engine.notify import webpush

    webpush.ensure_vapid_key(webpush.vapid_key_path(settings().data_dir))  # browsers subscribe with its public half
    dispose_engines()  # forked or spawned children open their own connections


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "web.cli", *args], env=env)


Starter = Callable[[dict[str, str]], list[subprocess.Popen[bytes]]]


def serve(host: str, port: int, *, before_serve: Starter | None = None, workers: int = 1) -> int:
    s = settings()
    s.check_production()
    s.data_dir.mkdir(parents=True, exist_ok=True)
    embedded = EmbeddedRedis(s.data_dir) if s.embedded_redis else None
    children: list[subprocess.Popen[bytes]] = []

    def stop(_sig: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        env = dict(os.environ, IOC_DATA_DIR=str(s.data_dir))
        if embedded is not None:
            env["IOC_REDIS_URL"] = embedded.start()
            os.environ["IOC_REDIS_URL"] = env["IOC_REDIS_URL"]
            settings.cache_clear()
        prepare()
        children = [_spawn(["worker"], env) for _ in range(workers)]
        if before_serve is not None:
            children += before_serve(env)
        from waitress import serve as waitress_serve

        from web.app import create_app

        log.info("IOC serving on http://%s:%d", host, port)
        waitress_serve(create_app(), host=host, port=port, threads=256, channel_timeout=120,
                       connection_limit=500, ident="IOC")
    except KeyboardInterrupt:
        log.info("stopping")
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
        if embedded is not None:
            embedded.stop()
    return 0
