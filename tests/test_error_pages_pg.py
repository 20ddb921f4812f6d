"""A statement that fails during a request: PostgreSQL then refuses every other statement of the transaction, and the
error page reads the person (their name, department, unread notifications) for its navigation. The error handlers
roll the request's session back first, so the person gets the proper error page (or JSON body), and the next
request on the same connections works. Run on both databases (on SQLite the failed statement does not spoil the
transaction, so the test holds there as it did)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import text

from tests import factories
from tests.test_api import login


def _broken() -> Any:
    """What a view that trips over the database does: a statement fails, the exception goes up."""
    from web.db import db

    db().execute(text("SELECT id FROM users WHERE id = 1"))  # the transaction has begun
    db().execute(text("SELECT no_such_column FROM users"))
    return "not reached"


@pytest.fixture
def broken_app() -> Any:
    """The app with two test-only routes (in this instance only) whose statement fails: a page and an API path."""
    from web.app import create_app
    from web.auth import page_auth

    app = create_app({"TESTING": True, "PROPAGATE_EXCEPTIONS": False})
    app.add_url_rule("/test-only/broken", "test_only_broken_page", page_auth()(_broken))
    app.add_url_rule("/api/v1/test-only/broken", "test_only_broken_api", page_auth()(_broken))
    return app


def test_a_failed_statement_gives_the_error_page_with_the_navigation_then_the_next_request_works(
        broken_app, caplog) -> None:
    from engine.db import transaction
    from engine.models import User

    factories.user("officer", "SO-NNMT", name="cv-loi")
    with transaction() as session:
        person = session.query(User).filter_by(username="cv-loi").one()
        person.full_name = "Chuyên viên Lỗi"
    client = broken_app.test_client()
    login(client, "cv-loi")

    caplog.set_level(logging.ERROR, logger="web.errors")
    page = client.get("/test-only/broken")
    html = page.get_data(as_text=True)
    assert page.status_code == 500 and page.mimetype == "text/html"
    assert "Hệ thống đã gặp lỗi; lỗi đã được ghi nhận để xử lý" in html  # the project's own page, in Vietnamese
    assert "Hộp công việc" in html and "Chuyên viên Lỗi" in html  # with the person's navigation and name
    assert 'id="bell-count"' in html  # the unread count was read, after the rollback
    assert "Traceback" not in html and "InFailedSqlTransaction" not in html and "no_such_column" not in html
    assert "no_such_column" in caplog.text  # logged for the operators, once
    assert "InFailedSqlTransaction" not in caplog.text and "current transaction is aborted" not in caplog.text

    answer = client.get("/api/v1/test-only/broken")
    body = answer.get_json()
    assert answer.status_code == 500 and body["code"] == "internal_error" and body["message"]
    assert set(body) == {"code", "message", "details"}

    for _ in range(3):  # the same connections, back in the pool: every statement works again
        inbox = client.get("/inbox")
        assert inbox.status_code == 200 and "Chuyên viên Lỗi" in inbox.get_data(as_text=True)
        assert client.get("/api/v1/tasks").status_code == 200
