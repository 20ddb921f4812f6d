"""Live changes (server-sent events) and the wall's summary.

Each open stream holds one server thread, asleep on this process's live hub (web/live_hub.py) between changes: no
Redis connection of its own. ``IOC_LIVE_MAX_STREAMS`` are served at once; the next is refused with 503 and
``Retry-After`` (web/server.py sizes its threads from the same setting, so other requests keep theirs).
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
from collections.abc import Callable, Iterator
from functools import wraps
from typing import Any

from flask import Response, g, request
from flask.views import MethodView
from flask_smorest import Blueprint
from redis.exceptions import RedisError

from engine import bus, sessions, wall
from engine.config import settings
from engine.errors import N_, EngineError, Invalid
from engine.org import Principal
from web import live_hub
from web.auth import api_auth, principal
from web.db import db
from web.errors import body, translate

PREFIX = ""
blp = Blueprint("live", __name__, description="Live changes for the wall, the inbox and the app")
KEEPALIVE_S = 15.0
WALL_ROLES = ("leader", "operator", "designer", "admin")
RETRY_AFTER_S = (5, 15)  # a refused client is told to come back within this range, spread so that they do not all
STREAM_ID = re.compile(r"[0-9]{1,20}(-[0-9]{1,20})?")  # a Redis stream id, as sent in `id:` lines
log = logging.getLogger(__name__)


def _sse(event: str, data: Any, event_id: str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, default=str, ensure_ascii=False)}\n\n"


class Busy(EngineError):
    """503 with ``Retry-After``: the process serves as many streams as it may, or cannot reach Redis."""

    status = 503
    code = "busy"


@blp.errorhandler(Busy)
def _busy(err: Busy) -> tuple[Response, int]:
    resp, status = body(err.status, err.code, translate(err.message, err.params), err.details)
    resp.headers["Retry-After"] = str(err.details.get("retry_after_s", RETRY_AFTER_S[0]))
    return resp, status


def _busy_error(message: str, code: str) -> Busy:
    return Busy(message, code=code, details={"retry_after_s": random.randint(*RETRY_AFTER_S)})  # noqa: S311


class _Slots:
    """The streams this process serves at once (``IOC_LIVE_MAX_STREAMS``), counted from the first stream."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._free: int | None = None

    def take(self) -> bool:
        with self._lock:
            if self._free is None:
                self._free = settings().live_max_streams
            if self._free <= 0:
                return False
            self._free -= 1
            return True

    def giver(self) -> Callable[[], None]:
        """A function that gives the slot back, once however often it is called."""
        given = threading.Event()

        def give() -> None:
            with self._lock:
                if not given.is_set() and self._free is not None:
                    given.set()
                    self._free += 1

        return give


_slots = _Slots()
# Streams being opened at once (signed in, given their snapshot). Each holds up to two database connections meanwhile
# (the request's, and a short one that notes the token's or the session's use), and PostgreSQL's pool has 30: a
# thousand screens reconnecting at once after a restart would take them all, each waiting for its second.
OPENING_AT_ONCE = 8
OPENING_WAIT_S = 30.0
_opening = threading.BoundedSemaphore(OPENING_AT_ONCE)


def few_at_once(view: Callable[..., Response]) -> Callable[..., Response]:
    """The view run by at most OPENING_AT_ONCE requests together; the others wait, without a database connection,
    up to OPENING_WAIT_S, then 503."""

    @wraps(view)
    def gated(*args: Any, **kwargs: Any) -> Response:
        if not _opening.acquire(timeout=OPENING_WAIT_S):
            raise _busy_error(N_("Too many live connections; try again shortly"), "busy")
        try:
            return view(*args, **kwargs)
        finally:
            _opening.release()

    return gated


def visible_change(who: Principal, change: dict[str, Any]) -> bool:
    """Officers follow their own work: task changes for their department or role, nothing else. A
    notification goes to its own person only."""
    if change.get("kind") == "notification":
        return change.get("user_id") == who.user_id
    if who.role != "officer":
        return True
    if not change.get("kind", "").startswith("task."):
        return False
    return change.get("department_id") == who.department_id or change.get("role") == "officer"


def changes(start_id: str, snapshot: dict[str, Any] | None, who: Principal,
            session_id: int | None = None) -> Iterator[str]:
    """The stream of one principal; a person's ends as soon as their session is ended (engine.sessions)."""
    yield "retry: 3000\n\n"
    if snapshot is not None:
        yield _sse("snapshot", snapshot, start_id)
    last = start_id
    hub = live_hub.ensure_started()
    while True:
        try:
            entries = hub.read_after(last, KEEPALIVE_S)
        except RedisError:
            # Redis went away (restart, shutdown): end the stream; the browser reconnects with Last-Event-ID.
            log.warning("live stream ended: Redis is not reachable")
            return
        if not entries:
            yield ": keepalive\n\n"
            continue
        for entry_id, change in entries:
            last = entry_id
            if change.get("kind") == sessions.ENDED:
                if session_id is not None and session_id in change.get("sessions", ()):
                    yield _sse("signed_out", {}, entry_id)
                    return
                continue
            if visible_change(who, change):
                yield _sse("change", change, entry_id)


REFUSED = {"description": "Too many live streams on this server, or the live service is unreachable: come back "
                          "after `Retry-After` seconds (code `busy` or `unavailable`)",
           "headers": {"Retry-After": {"description": "seconds to wait before trying again (5 to 15)",
                                       "schema": {"type": "integer"}}},
           "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


@blp.route("/stream")
class Stream(MethodView):
    @few_at_once
    @api_auth()
    @blp.doc(responses={200: {"description": "text/event-stream: `snapshot` (with the wall summary) first, "
                                             "then `change` events; resume with the Last-Event-ID header",
                              "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                        503: REFUSED})
    def get(self) -> Response:
        """Server-sent events: a snapshot with its id, then every change, resumable with `Last-Event-ID`."""
        who = principal()
        resume = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
        if resume and not STREAM_ID.fullmatch(resume):
            raise Invalid(N_("Last-Event-ID is not an id of the live stream"), details={"last_event_id": resume[:40]})
        if not _slots.take():
            raise _busy_error(N_("Too many live connections; try again shortly"), "busy")
        give_back = _slots.giver()
        try:
            live_hub.ensure_started()
            if resume:
                snapshot, start = None, resume
            else:
                start = bus.latest_id()
                snapshot = wall.summary(db()) if who.role in WALL_ROLES else {}
        except RedisError:
            give_back()
            log.warning("live stream refused: Redis is not reachable")
            raise _busy_error(N_("Live changes are not available right now; try again shortly"),
                              "unavailable") from None
        except BaseException:
            give_back()
            raise
        finally:
            db().close()
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        session_id = g.get("session_id")

        def released() -> Iterator[str]:
            try:
                yield from changes(start, snapshot, who, session_id)
            finally:
                give_back()

        response = Response(released(), mimetype="text/event-stream", headers=headers)
        response.call_on_close(give_back)  # also when the server closes it before the first chunk
        return response


@blp.route("/wall")
class Wall(MethodView):
    @api_auth(*WALL_ROLES)
    @blp.alt_response(200, schema={"type": "object"}, description="the wall's counts", success=True)
    def get(self) -> dict[str, Any]:
        """Counts for the wall: open alerts by severity, open and overdue tasks, running processes."""
        return wall.summary(db())
