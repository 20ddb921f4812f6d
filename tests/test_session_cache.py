"""The web process keeps the sessions it has checked (engine.session_cache): a request pays one Redis read instead
of the session's database read, and ending a session or changing a person still takes effect at the next request,
whichever process made the change."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from engine.db import transaction
from engine.models import User
from tests import factories
from tests.conftest import Server, ioc
from tests.test_e2e_http import person
from tests.test_sign_in import logged_in


class Statements:
    """The SQL statements that name ``user_sessions``, run while it is active."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __enter__(self) -> Statements:
        event.listen(Engine, "before_cursor_execute", self._note)
        return self

    def __exit__(self, *_exc: Any) -> None:
        event.remove(Engine, "before_cursor_execute", self._note)

    def _note(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "user_sessions" in statement:
            self.seen.append(statement)


def test_a_checked_session_is_not_read_again_from_the_database(app) -> None:  # type: ignore[no-untyped-def]
    factories.user("officer", name="cv-cache")
    client = logged_in(app, "cv-cache")
    assert client.get("/api/v1/tasks").status_code == 200
    with Statements() as sql:
        for _ in range(3):
            assert client.get("/api/v1/tasks").status_code == 200
    assert sql.seen == []


def test_a_changed_role_and_department_apply_at_the_next_request(app) -> None:  # type: ignore[no-untyped-def]
    factories.user("admin", "TT-IOC", name="quantri-cache")
    officer = factories.user("officer", "SO-NNMT", name="cv-doi")
    admin = logged_in(app, "quantri-cache")
    client = logged_in(app, "cv-doi")
    assert client.get("/api/v1/users").status_code == 403
    assert client.get("/api/v1/users").status_code == 403  # now from the cache
    with transaction() as s:
        s.get(User, officer.user_id).role_code = "admin"
    assert client.get("/api/v1/users").status_code == 200
    with transaction() as s:
        s.get(User, officer.user_id).role_code = "officer"
    assert client.get("/api/v1/users").status_code == 403
    assert admin.get("/api/v1/users").status_code == 200  # the others' sessions are read again, still valid


def test_a_session_ended_by_another_process_is_refused_at_once(server: Server) -> None:
    browser = person(server, "cv-cli-end", "officer", "SO-NNMT")
    for _ in range(3):
        assert browser.get(f"{server.base}/api/v1/tasks").status_code == 200
    ioc("user", "sign-out", "cv-cli-end", env=server.env)
    assert browser.get(f"{server.base}/api/v1/tasks").status_code == 401

    again = person(server, "cv-cli-end2", "officer", "SO-NNMT")
    assert again.get(f"{server.base}/api/v1/tasks").status_code == 200
    ioc("user", "deactivate", "cv-cli-end2", env=server.env)
    assert again.get(f"{server.base}/api/v1/tasks").status_code == 401
