"""Live changes (server-sent events) and the wall's summary."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

from flask import Response, g, request
from flask.views import MethodView
from flask_smorest import Blueprint
from redis.exceptions import RedisError

from engine import bus, sessions, wall
from engine.errors import EngineError
from engine.org import Principal
from web.auth import api_auth, principal
from web.db import db

PREFIX = ""
blp = Blueprint("live", __name__, description="Live changes for the wall, the inbox and the app")
KEEPALIVE_MS = 15_000
WALL_ROLES = ("leader", "operator", "designer", "admin")
# Each live connection holds one server thread (web/server.py starts 256): keep some for the rest.
MAX_STREAMS = 200
_streams = threading.BoundedSemaphore(MAX_STREAMS)
log = logging.getLogger(__name__)


def _sse(event: str, data: Any, event_id: str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, default=str, ensure_ascii=False)}\n\n"


class Busy(EngineError):
    status = 503
    code = "busy"


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
    while True:
        try:
            entries = bus.read_after(last, KEEPALIVE_MS)
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


@blp.route("/stream")
class Stream(MethodView):
    @api_auth()
    @blp.doc(responses={200: {"description": "text/event-stream: `snapshot` (with the wall summary) first, "
                                             "then `change` events; resume with the Last-Event-ID header",
                              "content": {"text/event-stream": {"schema": {"type": "string"}}}}})
    def get(self) -> Response:
        """Server-sent events: a snapshot with its id, then every change, resumable with `Last-Event-ID`."""
        who = principal()
        resume = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
        if resume:
            snapshot, start = None, resume
        else:
            start = bus.latest_id()
            snapshot = wall.summary(db()) if who.role in WALL_ROLES else {}
        db().close()
        if not _streams.acquire(blocking=False):
            raise Busy("Too many live connections; try again shortly")
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

        session_id = g.get("session_id")

        def limited() -> Iterator[str]:
            try:
                yield from changes(start, snapshot, who, session_id)
            finally:
                _streams.release()

        return Response(limited(), mimetype="text/event-stream", headers=headers)


@blp.route("/wall")
class Wall(MethodView):
    @api_auth(*WALL_ROLES)
    @blp.alt_response(200, schema={"type": "object"}, description="the wall's counts", success=True)
    def get(self) -> dict[str, Any]:
        """Counts for the wall: open alerts by severity, open and overdue tasks, running processes."""
        return wall.summary(db())
