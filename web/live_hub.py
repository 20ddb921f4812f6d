"""One reader of the live changes per web process, fanned out to every open ``GET /api/v1/stream``.

A daemon thread blocks on ``XREAD`` of ``ioc:live`` (:mod:`engine.bus`) on a Redis connection of its own, keeps the
last ``RING`` entries in memory and wakes the streams that wait on it (one ``threading.Condition``): a thousand open
streams cost one Redis connection and a thousand sleeping threads, not a thousand blocked Redis reads from a shared
connection pool. A stream that resumes from before the ring (an old ``Last-Event-ID``) reads the gap from Redis
once, without waiting, then follows the hub.

The reader starts with the first stream (or :func:`ensure_started`). When it loses Redis, the streams waiting on it
end (the browser reconnects with ``Last-Event-ID``) and it connects again after a growing pause (``BACKOFF_S``),
reading on from the last id it had. Listeners (:func:`add_listener`) see every change read, in the reader's thread,
e.g. to drop what a change makes stale in a per-process cache. See docs/adr/0015-live-stream-fan-out.md.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

from engine import bus
from engine.redis_conn import redis_url

RING = 4096  # recent entries kept in memory: a reconnecting browser is rarely further behind
READ_BLOCK_MS = 5_000  # one XREAD waits this long; the socket's timeout is longer, to notice a dead server
READ_COUNT = 500  # entries per XREAD
BACKOFF_S = (0.1, 0.5, 1.0, 2.0, 5.0)  # pauses before reconnecting, after 1, 2, 3… failures in a row

Entry = tuple[str, dict[str, Any]]
Listener = Callable[[dict[str, Any]], None]
log = logging.getLogger(__name__)


class Unreachable(RedisError):
    """The reader cannot reach Redis, or lost it while a stream waited: the stream ends, the browser reconnects."""


def id_key(entry_id: str) -> tuple[int, int]:
    """A stream id (``1733900000000-3``, or ``0``) as a tuple that sorts as Redis sorts the ids."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class Hub:
    """The reader and its ring; ``read_after`` is what a stream calls, in its own thread."""

    def __init__(self, url: str | None = None, *, ring: int = RING, block_ms: int = READ_BLOCK_MS) -> None:
        self._url = url  # None: engine.redis_conn's, read when the reader starts
        self._block_ms = block_ms
        self._cond = threading.Condition()
        self._ring: deque[tuple[tuple[int, int], str, dict[str, Any]]] = deque(maxlen=ring)
        self._floor = (0, 0)  # the ring holds every entry after this id, up to _last
        self._last: str | None = None  # the last id read; None until the first connection
        self._state = "starting"  # then "up" or "down"
        self._outages = 0  # how many times the reader lost Redis
        self._listeners: list[tuple[Listener, Callable[[], None] | None]] = []
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._gap: Redis | None = None  # a pooled client for the gap reads of the streams' threads

    # -- the streams' side -----------------------------------------------------------------------------------------

    def read_after(self, last_id: str, timeout_s: float) -> list[Entry]:
        """The changes after ``last_id``, waiting up to ``timeout_s`` for the first one (``[]`` if none came).
        Raises :class:`Unreachable` when the reader has no Redis, or loses it during the wait."""
        self.ensure_started()
        key = id_key(last_id)
        deadline = time.monotonic() + timeout_s
        with self._cond:
            outages = self._outages
            while True:
                if self._state == "down" or self._outages != outages:
                    raise Unreachable("the live reader has no Redis connection")
                if self._state == "up":
                    if key < self._floor:
                        break  # from before the ring: read the gap from Redis, below
                    newer = self._newer_than(key)
                    if newer:
                        return newer
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self._cond.wait(left)
        return self._gap_after(last_id)

    def _newer_than(self, key: tuple[int, int]) -> list[Entry]:
        out: list[Entry] = []
        for k, entry_id, change in reversed(self._ring):
            if k <= key:
                break
            out.append((entry_id, change))
        out.reverse()
        return out

    def _gap_after(self, last_id: str) -> list[Entry]:
        """What Redis holds after ``last_id``; when it holds nothing there (the stream was emptied since), the ring."""
        try:
            if self._gap is None:
                self._gap = Redis.from_url(self._resolved_url(), socket_connect_timeout=5, socket_timeout=10)
            entries = bus.read_after(last_id, None, self._gap, count=READ_COUNT)
        except RedisError as exc:
            raise Unreachable(str(exc)) from exc
        if entries:
            return entries
        with self._cond:
            return [(entry_id, change) for _k, entry_id, change in self._ring]

    # -- the reader ------------------------------------------------------------------------------------------------

    def ensure_started(self) -> None:
        """Start the reader unless it runs (it also restarts one that was stopped)."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            return
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._stopping.clear()
                self._thread = threading.Thread(target=self._run, name="ioc-live-hub", daemon=True)
                self._thread.start()

    def stop(self, timeout_s: float = 10) -> None:
        """Stop the reader (within one XREAD's wait); the waiting streams end."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._set_down()

    def _resolved_url(self) -> str:
        if self._url is None:
            self._url = redis_url()
        return self._url

    def _run(self) -> None:
        failures = 0
        client: Redis | None = None
        while not self._stopping.is_set():
            try:
                if client is None:
                    client = Redis.from_url(self._resolved_url(), single_connection_client=True,
                                            socket_connect_timeout=5, socket_timeout=self._block_ms / 1000 + 10)
                    self._set_up(self._last or bus.latest_id(client), reconnected=failures > 0)
                    if failures:
                        log.info("live reader: Redis is reachable again after %d failed attempts", failures)
                    failures = 0
                entries = bus.read_after(self._last or "0-0", self._block_ms, client, count=READ_COUNT)
            except Exception as exc:  # noqa: BLE001 - whatever breaks the read, the reader must live on
                if client is not None:
                    client.close()
                client = None
                if failures == 0:
                    log.warning("live reader: lost Redis (%s: %s); live streams end until it is back",
                                exc.__class__.__name__, exc)
                self._set_down()
                self._stopping.wait(BACKOFF_S[min(failures, len(BACKOFF_S) - 1)])
                failures += 1
                continue
            if entries:
                self._add(entries)
                self._tell(entries)
        if client is not None:
            client.close()

    def _set_up(self, start_id: str, *, reconnected: bool) -> None:
        with self._cond:
            if self._last is None:
                self._last, self._floor = start_id, id_key(start_id)
            self._state = "up"
            self._cond.notify_all()
        if reconnected:
            for _callback, on_reconnect in list(self._listeners):
                try:
                    if on_reconnect is not None:
                        on_reconnect()
                except Exception:  # noqa: BLE001 - a listener's failure must not stop the reader
                    log.exception("live reader: a listener failed after reconnecting")

    def _set_down(self) -> None:
        with self._cond:
            if self._state != "down":
                self._outages += 1
            self._state = "down"
            self._cond.notify_all()

    def _add(self, entries: list[Entry]) -> None:
        with self._cond:
            for entry_id, change in entries:
                if len(self._ring) == self._ring.maxlen:
                    self._floor = self._ring[0][0]  # the oldest leaves the ring
                self._ring.append((id_key(entry_id), entry_id, change))
            self._last = entries[-1][0]
            self._cond.notify_all()

    # -- listeners -------------------------------------------------------------------------------------------------

    def add_listener(self, callback: Listener, *, on_reconnect: Callable[[], None] | None = None) -> None:
        """Call ``callback(change)`` in the reader's thread for every change read from now on, and
        ``on_reconnect()`` each time the reader is back after losing Redis (changes made meanwhile were read, unless
        Redis itself lost them: a restarted embedded Redis keeps nothing). Exceptions are logged and swallowed."""
        with self._cond:
            self._listeners.append((callback, on_reconnect))

    def _tell(self, entries: list[Entry]) -> None:
        listeners = list(self._listeners)
        for _entry_id, change in entries:
            for callback, _on_reconnect in listeners:
                try:
                    callback(change)
                except Exception:  # noqa: BLE001 - a listener's failure must not stop the reader
                    log.exception("live reader: a listener failed on a %s change", change.get("kind"))

    def forked(self) -> Hub:
        """A new hub for a forked child (threads do not survive a fork), with the same URL and listeners."""
        child = Hub(self._url, ring=self._ring.maxlen or RING, block_ms=self._block_ms)
        child._listeners = list(self._listeners)
        return child


_hub = Hub()


def _after_fork() -> None:
    global _hub
    _hub = _hub.forked()


os.register_at_fork(after_in_child=_after_fork)


def hub() -> Hub:
    """This process's hub (its reader not necessarily started)."""
    return _hub


def ensure_started() -> Hub:
    """This process's hub, its reader started."""
    _hub.ensure_started()
    return _hub


def add_listener(callback: Listener, *, on_reconnect: Callable[[], None] | None = None) -> None:
    """See :meth:`Hub.add_listener`; the reader is not started by this (``ensure_started`` does)."""
    _hub.add_listener(callback, on_reconnect=on_reconnect)
