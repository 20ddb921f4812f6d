"""On SQLite, a sender's bulk batches are stored before the worker evaluates (engine.intake, ADR 0011), and a
request identifies its bearer token without taking the single write lock."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from engine import intake, jobs
from engine.config import settings
from engine.redis_conn import redis_client
from tests import factories
from tests.conftest import backend
from tests.test_api import bearer

sqlite_only = pytest.mark.skipif(backend() != "sqlite", reason="SQLite's single write lock; PostgreSQL locks rows")


def batch(n: int, prefix: str) -> dict[str, list[dict[str, object]]]:
    return {"events": [factories.aqi_event(entity=f"ST-{i % 7}", aqi=40, key=f"{prefix}-{i}") for i in range(n)]}


@sqlite_only
def test_a_bulk_batch_makes_the_worker_wait_and_a_small_one_does_not(client) -> None:
    token = factories.token()
    small = client.post("/api/v1/events", json=batch(intake.BULK - 1, "small"), headers=bearer(token)).get_json()
    assert small["accepted"] == intake.BULK - 1
    assert not intake.under_way()
    started = time.monotonic()
    assert jobs.process_events(small["ids"]) == intake.BULK - 1
    small_s = time.monotonic() - started

    bulk = client.post("/api/v1/events", json=batch(intake.BULK, "bulk"), headers=bearer(token)).get_json()
    assert bulk["accepted"] == intake.BULK
    assert intake.under_way()  # the sender's next batch is probably on its way
    started = time.monotonic()
    assert jobs.process_events(bulk["ids"]) == intake.BULK  # evaluated all the same, once the pause is over
    assert time.monotonic() - started >= small_s + intake.LINGER_MS / 1000 * 0.5
    assert not intake.under_way()


@sqlite_only
def test_the_worker_waits_while_a_batch_is_stored_and_never_longer_than_the_limit(monkeypatch) -> None:
    done = threading.Event()

    def store() -> None:
        with intake.bulk_intake(intake.BULK):
            done.wait(5)

    sender = threading.Thread(target=store)
    sender.start()
    time.sleep(0.05)
    threading.Timer(0.4, done.set).start()
    waited = intake.give_way()
    sender.join()
    assert 0.4 + intake.LINGER_MS / 1000 * 0.8 <= waited < intake.MAX_WAIT_S

    monkeypatch.setattr(intake, "MAX_WAIT_S", 0.3)
    redis_client().set(intake.ACTIVE, 1)  # a sender that never stops
    assert 0.3 <= intake.give_way() < 1.0  # evaluation still gets its turn


def test_nothing_waits_on_postgresql_or_without_a_mark() -> None:
    with intake.bulk_intake(intake.BULK):
        assert intake.under_way() == settings().is_sqlite
    redis_client().delete(intake.RECENT)
    assert not intake.under_way()
    assert intake.give_way() < 0.05


@sqlite_only
def test_a_bearer_token_is_checked_without_waiting_for_the_write_lock(client) -> None:
    """A request is identified (and a bad token refused) while another writer holds SQLite's write lock: it takes
    the lock only when it stores something."""
    token = factories.token()
    path = settings().database_url.removeprefix("sqlite:///")
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(3.0, holder.execute, args=("COMMIT",))
    release.start()
    try:
        started = time.monotonic()
        resp = client.post("/api/v1/events", json=batch(1, "x"), headers=bearer("not-a-token"))
        assert resp.status_code == 401
        assert time.monotonic() - started < 1.5
        resp = client.post("/api/v1/events", json=batch(1, "y"), headers=bearer(token))
        assert resp.status_code == 202  # stored once the lock is free
        assert time.monotonic() - started >= 2.5
    finally:
        release.join()
        holder.close()
