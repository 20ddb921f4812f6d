"""Live streams at province scale (issue 19): hundreds of ``GET /api/v1/stream`` open at once on one ``ioc run``,
each receiving every change while other requests are answered; past IOC_LIVE_MAX_STREAMS a 503 with Retry-After;
the process's one reader (web/live_hub.py) fills a resumed stream's gap from Redis and outlives a Redis restart."""

from __future__ import annotations

import json
import resource
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from engine import bus
from engine.redis_conn import redis_url
from engine.redis_server import EmbeddedRedis
from tests import factories
from tests.conftest import Server, free_port, ioc, ioc_env, running
from web.live_hub import Hub, Unreachable

STREAMS = 300  # more than the old limits (200 streams, 256 threads, a shared Redis pool)


def open_stream(port: int, token: str) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(f"GET /api/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
              "Accept: text/event-stream\r\n\r\n".encode())
    s.setblocking(False)
    return s


def read_until(socks: list[socket.socket], marker: bytes, timeout: float) -> dict[socket.socket, bytes]:
    """Read every socket until each has sent ``marker`` (or closed, or ``timeout`` passed); what each sent."""
    got = {s: b"" for s in socks}
    waiting = set(socks)
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while waiting and time.monotonic() < deadline:
        for key, _ in sel.select(0.5):
            s = key.fileobj
            assert isinstance(s, socket.socket)
            chunk = s.recv(65536)
            got[s] += chunk
            if not chunk or marker in got[s]:
                sel.unregister(s)
                waiting.discard(s)
    sel.close()
    return got


@contextmanager
def soft_file_limit(n: int) -> Iterator[None]:
    """This process's soft limit of open files lowered to ``n`` (the common default), as the server inherits it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def open_files_limit(pid: int) -> int:
    """The soft limit of open files of process ``pid``."""
    line = next(ln for ln in Path(f"/proc/{pid}/limits").read_text().splitlines() if ln.startswith("Max open files"))
    return int(line.split()[3])


def test_hundreds_of_streams_receive_every_change_other_requests_answer_and_one_more_is_refused(
        tmp_path: Path) -> None:
    """One server limited to STREAMS streams (so that the limit's edge is tested on the same start): every stream is
    served and receives the change published after they all connected, an alert list is answered meanwhile, and
    the next stream gets 503 with Retry-After and the JSON error body."""
    env = dict(ioc_env(tmp_path / "var"), IOC_LIVE_MAX_STREAMS=str(STREAMS))
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    with soft_file_limit(1024), running(Server(env, free_port(), tmp_path / "server.log")) as srv:
        assert srv.proc is not None
        assert open_files_limit(srv.proc.pid) == hard, "the server kept the soft limit it inherited"
        token = ioc("token", "create", "wall-screens", "--role", "operator", "--scope",
                    "events:write,stream:read,alerts:read", env=env).stdout.strip()
        auth = {"Authorization": f"Bearer {token}"}
        socks = [open_stream(srv.port, token) for _ in range(STREAMS)]
        try:
            first = read_until(socks, b"event: snapshot", 30)
            statuses = [data.split(b"\r\n", 1)[0] for data in first.values()]
            assert statuses.count(b"HTTP/1.1 200 OK") == STREAMS, sorted(set(statuses))
            assert all(b"event: snapshot" in data for data in first.values())

            t = time.perf_counter()
            alerts = requests.get(f"{srv.base}/api/v1/alerts", headers=auth, timeout=10)
            took = time.perf_counter() - t
            assert alerts.status_code == 200 and took < 2, (alerts.status_code, took)

            event = {"source": "gw", "type": "air_quality", "sector": "environment", "entity": "S-SCALE",
                     "time": datetime.now(UTC).isoformat(), "values": {"aqi": 40}}
            assert requests.post(f"{srv.base}/api/v1/events", json={"events": [event]}, headers=auth,
                                 timeout=10).status_code == 202
            after = read_until(socks, b'"kind": "events.ingested"', 30)
            missing = [s for s, data in after.items() if b'"kind": "events.ingested"' not in data]
            assert not missing, f"{len(missing)} of {STREAMS} streams did not receive the change"

            refused = requests.get(f"{srv.base}/api/v1/stream", headers=auth, timeout=10)
            assert refused.status_code == 503
            assert 5 <= int(refused.headers["Retry-After"]) <= 15
            assert refused.headers["Content-Type"].startswith("application/json")
            answer = refused.json()
            assert answer["code"] == "busy"
            assert answer["details"]["retry_after_s"] == int(refused.headers["Retry-After"])
            assert answer["message"] == "Đang có quá nhiều kết nối trực tiếp; vui lòng thử lại sau giây lát"
        finally:
            for s in socks:
                s.close()


def test_the_stream_documents_its_refusal(client) -> None:  # type: ignore[no-untyped-def]
    spec = client.get("/api/v1/openapi.json").get_json()
    refused = spec["paths"]["/api/v1/stream"]["get"]["responses"]["503"]
    assert "Retry-After" in refused["headers"]
    assert refused["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_a_last_event_id_that_is_not_a_stream_id_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    auth = {"Authorization": f"Bearer {factories.token('operator', ['stream:read'])}"}
    resp = client.get("/api/v1/stream?last_event_id=latest", headers=auth)
    assert resp.status_code == 422 and resp.get_json()["code"] == "invalid"


# --- the hub, against a real Redis -------------------------------------------------------------------------------

@pytest.fixture
def hub_on() -> Iterator[list[Hub]]:
    hubs: list[Hub] = []
    yield hubs
    for h in hubs:
        h.stop(2)


def follow(h: Hub, last_id: str, until: str, timeout: float = 10) -> list[str]:
    """The ids a stream following ``h`` from ``last_id`` sees, up to ``until``."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while (not seen or seen[-1] != until) and time.monotonic() < deadline:
        for entry_id, _change in h.read_after(seen[-1] if seen else last_id, 1):
            seen.append(entry_id)
    return seen


def test_a_stream_resumed_from_before_the_ring_gets_every_change_once(hub_on: list[Hub]) -> None:
    h = Hub(redis_url(), ring=5, block_ms=200)
    hub_on.append(h)
    kinds: list[str] = []

    def broken(_change: dict) -> None:
        raise RuntimeError("a broken listener")

    h.add_listener(broken)
    h.add_listener(lambda change: kinds.append(change["kind"]))
    start = bus.latest_id()
    assert h.read_after(start, 0.3) == []  # started, nothing new
    bus.send([{"kind": f"test.{i}"} for i in range(40)])
    ids = [entry_id for entry_id, _ in bus.read_after(start, None, count=1000)]
    assert len(ids) == 40
    assert follow(h, ids[-1], ids[-1], 0.5) == []  # caught up: nothing after the last
    # the ring holds the last 5; a stream resuming from the 3rd reads the gap from Redis, then the ring
    assert follow(h, ids[2], ids[-1]) == ids[3:]
    assert follow(h, start, ids[-1]) == ids
    assert follow(h, ids[36], ids[-1]) == ids[37:]
    assert kinds == [f"test.{i}" for i in range(40)]  # the broken listener stopped nothing


def test_streams_end_when_redis_goes_and_follow_again_when_it_is_back(tmp_path: Path, hub_on: list[Hub]) -> None:
    from redis import Redis

    redis = EmbeddedRedis(tmp_path / "redis")
    url = redis.start()
    try:
        h = Hub(url, block_ms=200)
        hub_on.append(h)
        reconnected = threading.Event()
        h.add_listener(lambda change: None, on_reconnect=reconnected.set)
        assert h.read_after("0-0", 0.3) == []
        ended: list[BaseException] = []

        def waiting() -> None:
            try:
                h.read_after("0-0", 20)
            except Unreachable as exc:
                ended.append(exc)

        waiter = threading.Thread(target=waiting)
        waiter.start()
        time.sleep(0.2)
        redis.stop()
        waiter.join(10)
        assert ended, "a waiting stream did not end when Redis went away"
        with pytest.raises(Unreachable):
            h.read_after("0-0", 1)  # a new stream ends at once while Redis is away
        redis.start()
        assert reconnected.wait(10), "the reader did not come back"
        entry = Redis.from_url(url).xadd(bus.STREAM, {"data": json.dumps({"kind": "test.back"})}).decode()
        assert [(i, c["kind"]) for i, c in h.read_after("0-0", 5)] == [(entry, "test.back")]
    finally:
        redis.stop()
