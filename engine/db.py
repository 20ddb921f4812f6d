"""Database engine and sessions: one code path for SQLite (embedded) and PostgreSQL."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, SessionTransaction, sessionmaker
from sqlalchemy.types import TypeDecorator

from engine.config import settings

# Named constraints, so that Alembic batch mode on SQLite can find and alter them.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always gives back an aware UTC datetime (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: give a time zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


_engines: dict[tuple[str, bool], Engine] = {}


BUSY_TIMEOUT_MS = 30_000  # SQLite: how long a statement waits for a lock held by another connection
WRITE_POLL_S = 0.001  # a writer waiting for the write lock looks again this often (see _begin_immediate)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own BEGIN is deferred; writers that start as readers then fail with "database is
    # locked" instead of waiting. We emit BEGIN IMMEDIATE ourselves (see the "begin" listener).
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _begin_immediate(conn: Any) -> None:
    """Take SQLite's write lock, waiting as long as any statement would (``BUSY_TIMEOUT_MS``). SQLite's own busy
    handler sleeps longer and longer between tries (up to 100 ms), so a request waiting behind the worker's
    back-to-back transactions kept missing the moments the lock was free; trying every millisecond catches them
    (see ``let_other_writers_in``)."""
    raw = conn.connection.driver_connection
    started = time.monotonic()
    raw.execute("PRAGMA busy_timeout=0")
    try:
        while (waited := time.monotonic() - started) < BUSY_TIMEOUT_MS / 1000:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
            time.sleep(WRITE_POLL_S if waited < 0.25 else 5 * WRITE_POLL_S)  # a long wait: look less often
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # still locked after all that: fails the usual way, at once
    finally:
        raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


def let_other_writers_in() -> None:
    """Called between the back-to-back write transactions of a long loop (the worker's chunks, timer batches):
    on SQLite, leave the single write lock free for a moment so that a waiting request gets its turn."""
    if settings().is_sqlite:
        time.sleep(2 * WRITE_POLL_S)


def get_engine(url: str | None = None, *, write: bool = True) -> Engine:
    """The engine for ``url``. On SQLite, writers and readers get separate engines: a writer's
    transaction starts with BEGIN IMMEDIATE (it waits for the write lock instead of failing on
    upgrade), a reader's with a plain BEGIN (it never blocks a writer, thanks to WAL). A statement's error never
    quotes its parameters (``hide_parameters``): they may hold a password, a token or personal data, and errors
    are logged."""
    url = url or settings().database_url
    is_sqlite = url.startswith("sqlite")
    key = (url, write and is_sqlite)
    if key not in _engines:
        if is_sqlite:
            settings().data_dir.mkdir(parents=True, exist_ok=True)
            eng = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, hide_parameters=True)
            event.listen(eng, "connect", _sqlite_pragmas)
            if write:
                event.listen(eng, "begin", _begin_immediate)
            else:
                event.listen(eng, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
        else:
            eng = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, hide_parameters=True)
        _engines[key] = eng
    return _engines[key]


def dispose_engines() -> None:
    for eng in _engines.values():
        eng.dispose()
    _engines.clear()


def session_factory(write: bool = True) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(write=write), expire_on_commit=False)


# What a transaction hands on once it commits — live-stream messages, jobs to enqueue, workflows to keep
# in memory — is gathered in ``session.info`` under a key by the module that owns it (bus, queue, runtime),
# which registers here what to do with it (``after_commit``). SQLAlchemy also calls "after_commit" and
# "after_rollback" for a savepoint: only the outermost transaction's hand things on or drop them, and a
# savepoint rolled back takes back what was added within it (a failed step in a batch must not publish,
# enqueue or keep anything).
_hand_on: dict[str, Callable[[Any], None]] = {}
_before_savepoint: WeakKeyDictionary[SessionTransaction, dict[str, Any]] = WeakKeyDictionary()


def after_commit(key: str, hand_on: Callable[[Any], None]) -> None:
    """Once a transaction commits, ``hand_on`` gets what was gathered in its ``session.info[key]`` (when
    anything was); on a rollback it is dropped."""
    _hand_on[key] = hand_on


@event.listens_for(Session, "after_commit")
def _hand_on_after_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint's commit: the transaction goes on
        return
    for key, hand_on in _hand_on.items():
        if gathered := session.info.pop(key, None):
            hand_on(gathered)


@event.listens_for(Session, "after_rollback")
def _drop_after_rollback(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint's rollback: see _take_back_savepoint
        return
    for key in _hand_on:
        session.info.pop(key, None)


@event.listens_for(Session, "after_transaction_create")
def _remember_before_savepoint(session: Session, trans: SessionTransaction) -> None:
    if trans.nested:
        _before_savepoint[trans] = {key: value.copy() for key in _hand_on
                                    if (value := session.info.get(key)) is not None}


@event.listens_for(Session, "after_soft_rollback")
def _take_back_savepoint(session: Session, previous: SessionTransaction) -> None:
    if not previous.nested or (before := _before_savepoint.pop(previous, None)) is None:
        return
    for key in _hand_on:
        if key in before:
            session.info[key] = before[key]
        else:
            session.info.pop(key, None)


@contextmanager
def transaction() -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on any error."""
    session = session_factory()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def insert(session: Session, table: Any) -> Any:
    """An ``INSERT`` for this session's database that knows ``ON CONFLICT`` (SQLite and PostgreSQL alike)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def refresh_statistics() -> None:
    """Refresh the query planner's statistics on SQLite (bounded: a sample of each index), so that it
    picks the inbox indexes once tables grow. PostgreSQL's autovacuum does this by itself."""
    eng = get_engine()
    if eng.dialect.name != "sqlite":
        return
    with eng.begin() as conn:
        conn.exec_driver_sql("PRAGMA analysis_limit=1000")
        conn.exec_driver_sql("ANALYZE")
