"""Live changes: engine actions publish to a Redis stream *after* their transaction commits.

The stream (``ioc:live``) is what ``GET /api/v1/stream`` replays: each entry has an id that the
browser sends back as ``Last-Event-ID`` to resume. Publishing never fails an action: if Redis is
down the change is already committed, and the wall's next snapshot shows it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from engine.db import after_commit
from engine.redis_conn import redis_client

STREAM = "ioc:live"
STREAM_MAXLEN = 10_000
log = logging.getLogger(__name__)


def publish(session: Session, kind: str, **payload: Any) -> None:
    """Queue a change for publication when ``session`` commits; dropped if it rolls back."""
    session.info.setdefault("outbox", []).append({"kind": kind, **payload})


def send(changes: list[dict[str, Any]], client: Redis | None = None) -> None:
    try:
        r = client or redis_client()
        pipe = r.pipeline(transaction=False)
        for change in changes:
            pipe.xadd(STREAM, {"data": json.dumps(change, default=str)}, maxlen=STREAM_MAXLEN,
                      approximate=True)
        pipe.execute()
    except RedisError as exc:
        log.warning("live update not published (%s): %d changes", exc.__class__.__name__, len(changes))


def latest_id(client: Redis | None = None) -> str:
    r: Any = client or redis_client()
    entries = r.xrevrange(STREAM, count=1)
    return str(entries[0][0].decode()) if entries else "0-0"


def read_after(last_id: str, block_ms: int | None, client: Redis | None = None,
               count: int = 100) -> list[tuple[str, dict[str, Any]]]:
    """Up to ``count`` changes after ``last_id``, waiting up to ``block_ms`` for the first one (``None``: not at
    all)."""
    r: Any = client or redis_client()
    result = r.xread({STREAM: last_id}, block=block_ms, count=count)
    out: list[tuple[str, dict[str, Any]]] = []
    for _stream, entries in result or []:
        for entry_id, fields in entries:
            out.append((entry_id.decode(), json.loads(fields[b"data"])))
    return out


after_commit("outbox", send)  # what ``publish`` gathered goes out once the transaction commits
