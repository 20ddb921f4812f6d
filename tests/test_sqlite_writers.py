"""The embedded SQLite database has one writer at a time: a request that needs to write must get its turn soon
after the lock is free, even while the worker runs transaction after transaction."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from engine.db import let_other_writers_in, transaction
from tests.conftest import backend

pytestmark = pytest.mark.skipif(backend() != "sqlite", reason="SQLite's single write lock; PostgreSQL has row locks")


def hold_the_lock(seconds: float, times: int, done: list[float]) -> None:
    for _ in range(times):
        with transaction() as session:
            session.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock is held from here to the commit
            time.sleep(seconds)
        done.append(time.monotonic())
        let_other_writers_in()


def wait_for_the_lock() -> float:
    with transaction() as session:
        session.execute(text("SELECT 1"))
        return time.monotonic()


def test_a_waiting_writer_gets_the_lock_soon_after_it_is_released() -> None:
    released: list[float] = []
    holder = threading.Thread(target=hold_the_lock, args=(0.6, 1, released))
    holder.start()
    time.sleep(0.1)
    got = wait_for_the_lock()  # waits about half a second
    holder.join()
    assert got - released[0] < 0.04  # SQLite's own busy handler sleeps up to 100 ms between tries


def test_a_writer_gets_its_turn_between_the_worker_s_back_to_back_transactions() -> None:
    ends: list[float] = []
    worker = threading.Thread(target=hold_the_lock, args=(0.05, 30, ends))  # 1.5 s of chunks
    worker.start()
    time.sleep(0.02)
    got = wait_for_the_lock()
    worker.join()
    assert got < ends[3]  # within the first few chunks, not after the worker's whole run
