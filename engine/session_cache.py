"""Sessions already checked, kept in the web process, valid until anything about people or sessions changes.

A request made with a cookie needs its session and person (:func:`engine.sessions.signed`): on PostgreSQL that
one statement is about 5 % of a short list request (bench/security.py). This cache keeps what the statement
returned, by the session id's digest, in the process; a request then pays one Redis ``GET`` instead.

Revocation stays immediate, across processes: every committed change to a person (``users``) or to an existing
session (``user_sessions``) — logout, "sign out everywhere", a password change or reset, deactivation, a new role
or department, made by the web, the CLI or the worker — writes a new random *generation* to Redis
(``ioc:auth:generation``) as the transaction commits. A request reads the generation first; the cache answers only
for the generation it was filled in, so any change committed before the request began is seen by it. Without
Redis, nothing is cached (every request reads the database, as before). The idle timeout and the absolute
lifetime are checked on every request against the cached times; the use noted by a request (``last_seen_at``) is
written to the cache as it is written to the database.

Bulk ``update``/``delete`` statements on these tables count as well (but the note of a session's use). Only the set
of changed objects matters, never their columns: a change that does not concern the checks (say, a
person's notification settings) also starts a new generation, which costs one database read per session after.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import threading
from datetime import datetime
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.orm import Session

from engine.db import after_commit
from engine.redis_conn import redis_client

GENERATION_KEY = "ioc:auth:generation"
MAX_ENTRIES = 20_000  # past this many sessions in one generation the cache starts again (memory stays bounded)
log = logging.getLogger(__name__)

_lock = threading.Lock()
_state: dict[str, Any] = {"generation": None, "entries": {}}


def generation() -> str | None:
    """The current generation, or None when Redis cannot be read (then nothing is cached)."""
    try:
        value = redis_client().get(GENERATION_KEY)
    except RedisError:
        return None
    if value is None:  # a new Redis (or one restarted without persistence): start a generation
        return new_generation(only_if_absent=True)
    return value.decode() if isinstance(value, bytes) else str(value)


def new_generation(*, only_if_absent: bool = False) -> str | None:
    token = secrets.token_hex(12)
    try:
        r = redis_client()
        if only_if_absent:
            r.set(GENERATION_KEY, token, nx=True)
            value = r.get(GENERATION_KEY)
            return value.decode() if isinstance(value, bytes) else (str(value) if value is not None else None)
        r.set(GENERATION_KEY, token)
    except RedisError as exc:
        log.warning("the sessions' cache generation could not be renewed (%s)", exc.__class__.__name__)
        return None
    forget_all()
    return token


def get(digest: str, gen: str | None) -> Any | None:
    if gen is None or _state["generation"] != gen:
        return None
    return _state["entries"].get(digest)


def put(digest: str, gen: str | None, row: Any) -> None:
    """Keep ``row`` (read after ``gen`` was read) for the generation ``gen``."""
    if gen is None:
        return
    with _lock:
        if _state["generation"] != gen or len(_state["entries"]) >= MAX_ENTRIES:
            _state["generation"], _state["entries"] = gen, {}
        _state["entries"][digest] = row


def touched(digest: str, last_seen_at: datetime) -> None:
    """The request noted the session's use: keep the new time, or the idle check would end it early."""
    row = _state["entries"].get(digest)
    if row is not None:
        _state["entries"][digest] = dataclasses.replace(row, last_seen_at=last_seen_at)


def forget_all() -> None:
    with _lock:
        _state["generation"], _state["entries"] = None, {}


# -- what starts a new generation: people and existing sessions changed in a transaction that commits ----------
_WATCHED = ("users", "user_sessions")
TOUCH = "ioc_session_touch"  # the execution option of engine.sessions.touch


@event.listens_for(Session, "before_flush")
def _note_auth_changes(session: Session, _context: Any, _instances: Any) -> None:
    for obj in (*session.dirty, *session.deleted):
        if getattr(getattr(obj, "__table__", None), "name", None) in _WATCHED:
            session.info.setdefault("auth_changed", []).append(True)
            return


@event.listens_for(Session, "do_orm_execute")
def _note_auth_statements(state: Any) -> None:
    """Bulk ``update``/``delete`` statements on people or sessions, but the note of a session's use (its own
    ``TOUCH`` option: the cached row gets the new time from :func:`touched`)."""
    if not (state.is_update or state.is_delete) or state.execution_options.get(TOUCH):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) in _WATCHED:
        state.session.info.setdefault("auth_changed", []).append(True)


def _after_auth_change(_gathered: Any) -> None:
    new_generation()


after_commit("auth_changed", _after_auth_change)
