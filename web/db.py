"""One database session per request, closed (and rolled back if uncommitted) at teardown."""

from __future__ import annotations

from flask import Flask, g, request
from sqlalchemy.orm import Session

from engine.db import session_factory


def db() -> Session:
    if "db" not in g:
        # Reading requests never take SQLite's write lock; the others take it at their first statement.
        g.db = session_factory(write=request.method not in ("GET", "HEAD", "OPTIONS"))()
    session: Session = g.db
    return session


def init_app(app: Flask) -> None:
    @app.teardown_appcontext
    def _close(_exc: BaseException | None) -> None:
        session = g.pop("db", None)
        if session is not None:
            session.rollback()
            session.close()
