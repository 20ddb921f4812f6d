"""One database session per request, closed (and rolled back if uncommitted) at teardown."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, g, request
from sqlalchemy.orm import Session

from engine.config import settings
from engine.db import session_factory


def db() -> Session:
    if "db" not in g:
        # Reading requests never take SQLite's write lock; the others take it at their first statement.
        g.db = session_factory(write=request.method not in ("GET", "HEAD", "OPTIONS"))()
    session: Session = g.db
    return session


@contextmanager
def lookup_db() -> Iterator[Session]:
    """For a look-up made before the request's own work (a bearer token): on SQLite, a short reading session, so
    that a request that writes takes the single write lock only when it writes (a 1,000-event batch is parsed
    and checked meanwhile, not while the worker waits); elsewhere, the request's own session."""
    if not settings().is_sqlite:
        yield db()
        return
    with session_factory(write=False)() as session:
        yield session


def init_app(app: Flask) -> None:
    @app.teardown_appcontext
    def _close(_exc: BaseException | None) -> None:
        session = g.pop("db", None)
        if session is not None:
            session.rollback()
            session.close()
