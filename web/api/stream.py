"""Live changes (server-sent events) and the wall's summary."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint
from redis.exceptions import RedisError

from engine import bus, wall
from web.auth import api_auth
from web.db import db

PREFIX = ""
blp = Blueprint("live", __name__, description="Live changes for the wall, the inbox and the app")
KEEPALIVE_MS = 15_000
log = logging.getLogger(__name__)


def _sse(event: str, data: Any, event_id: str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, default=str, ensure_ascii=False)}\n\n"


def changes(start_id: str, snapshot: dict[str, Any] | None) -> Iterator[str]:
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
            yield _sse("change", change, entry_id)


@blp.route("/stream")
class Stream(MethodView):
    @api_auth()
    @blp.doc(responses={200: {"description": "text/event-stream: `snapshot` (with the wall summary) first, "
                                             "then `change` events; resume with the Last-Event-ID header",
                              "content": {"text/event-stream": {"schema": {"type": "string"}}}}})
    def get(self) -> Response:
        """Server-sent events: a snapshot with its id, then every change, resumable with `Last-Event-ID`."""
        resume = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
        if resume:
            snapshot, start = None, resume
        else:
            start = bus.latest_id()
            snapshot = wall.summary(db())
        db().close()
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return Response(changes(start, snapshot), mimetype="text/event-stream", headers=headers)


@blp.route("/wall")
class Wall(MethodView):
    @api_auth()
    def get(self) -> dict[str, Any]:
        """Counts for the wall: open alerts by severity, open and overdue tasks, running processes."""
        return wall.summary(db())
