"""``ioc run`` and ``ioc demo``: the web server with its embedded Redis, RQ worker and (demo) simulator."""

from __future__ import annotations

import logging
import os
import resource
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
RESERVE_THREADS = 64  # server threads that live streams never take: every other request is answered by these
SPARE_CONNECTIONS = 512  # idle keep-alive connections, refused streams: accepted beyond the threads
OTHER_FILES = 256  # besides its sockets, a process holds database and Redis connections, logs, uploads…
# How long a thread may keep the GIL while another waits for it (Python's default: 5 ms). A change wakes every open
# stream's thread, and each takes the GIL two or three times (woken, socket send); behind a request busy in Python,
# each take waits up to this long, and 1,000 streams x 5 ms is seconds: the streams fell behind and the other
# requests' p95 passed a second (bench/live.py). At 1 ms the streams are served between a busy request's steps.
SWITCH_INTERVAL_S = 0.001


def sizing(max_streams: int) -> dict[str, int]:
    """Waitress's threads and connections for ``max_streams`` live streams (``IOC_LIVE_MAX_STREAMS``): each open
    stream holds a thread asleep on the live hub (web/live_hub.py), the reserve answers everything else, and the
    connection limit stays above both so that a stream over the limit is answered 503, not left unaccepted."""
    threads = max_streams + RESERVE_THREADS
    return {"threads": threads, "connection_limit": threads + SPARE_CONNECTIONS}


def raise_file_limit(needed: int) -> int:
    """Raise this process's soft limit of open files to its hard limit (1,024 is a common default, and a thousand
    streams are a thousand sockets); log when that is still below ``needed``. Returns the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-files limit from %d to %d: %s", soft, target, exc)
    if soft != resource.RLIM_INFINITY and soft < needed:
        log.warning("open-files limit %d is below the %d this server may need (IOC_LIVE_MAX_STREAMS); raise it "
                    "(systemd: LimitNOFILE=%d) or lower IOC_LIVE_MAX_STREAMS", soft, needed, needed)
    return soft


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

        size = sizing(s.live_max_streams)
        raise_file_limit(size["connection_limit"] + OTHER_FILES)
        log.info("IOC serving on http://%s:%d (%d live streams at most, %d threads)", host, port,
                 s.live_max_streams, size["threads"])
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        # poll(), not select(): select() cannot watch a socket numbered 1,024 or above
        waitress_serve(create_app(), host=host, port=port, channel_timeout=120, asyncore_use_poll=True,
                       ident="IOC", **size)
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
