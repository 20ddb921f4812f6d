"""On SQLite, a bulk intake has the right of way over evaluation (ADR 0011).

SQLite has one writer. While a sender posts large batches back to back (a department's backfill, a replayed
file, a burst after an outage), the worker's evaluation transactions and the batches' inserts take turns at the
write lock, and each waits for the other: the sender sees its batches answered three to four times slower than
on an idle system, and may time out. Storing what arrives is what must not fail; judging it can wait seconds.

So a request storing at least ``BULK`` events marks itself in Redis while it runs, and for ``LINGER_MS`` after
(the sender's next batch is usually on its way), and the worker, before each chunk, waits while such a request is
under way, but never more than ``MAX_WAIT_S`` at a time: a sender that never stops still leaves evaluation its
turns. Small requests (a sensor's reading, a camera's detection) do not mark themselves: their own inserts are
short, and their alerts must not wait. PostgreSQL locks rows, not the database: nothing waits there.

The marks are a hint, never a condition for correctness: if Redis cannot be reached, nothing waits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from redis.exceptions import RedisError

from engine.config import settings
from engine.redis_conn import redis_client

log = logging.getLogger(__name__)

ACTIVE = "ioc:intake:active"  # how many bulk requests are storing now
RECENT = "ioc:intake:recent"  # set for LINGER_MS after a bulk request ends
BULK = 100  # events in one request that make it a bulk intake
LINGER_MS = 300
STALE_MS = 5_000  # the count of a process that died mid-request expires after this long without bulk requests
MAX_WAIT_S = 2.0
POLL_S = 0.005


@contextmanager
def bulk_intake(events: int) -> Iterator[None]:
    """Around the storing of a batch of ``events``: marks a bulk intake under way (SQLite only)."""
    if events < BULK or not settings().is_sqlite:
        yield
        return
    try:
        pipe = redis_client().pipeline()
        pipe.incr(ACTIVE)
        pipe.pexpire(ACTIVE, STALE_MS)
        pipe.execute()
    except RedisError as exc:
        log.debug("intake mark not set: %s", exc)
    try:
        yield
    finally:
        try:
            pipe = redis_client().pipeline()
            pipe.decr(ACTIVE)
            pipe.set(RECENT, 1, px=LINGER_MS)
            pipe.execute()
        except RedisError as exc:
            log.debug("intake mark not cleared: %s", exc)


def under_way() -> bool:
    """Whether a bulk intake is storing now or has just stored a batch."""
    try:
        active, recent = redis_client().mget(ACTIVE, RECENT)
    except RedisError:
        return False
    return int(active or 0) > 0 or recent is not None


def give_way() -> float:
    """Before one of the worker's write transactions: on SQLite, wait while a bulk intake is under way, at most
    ``MAX_WAIT_S``. Returns the seconds waited."""
    if not settings().is_sqlite:
        return 0.0
    started = time.monotonic()
    while (waited := time.monotonic() - started) < MAX_WAIT_S and under_way():
        time.sleep(POLL_S)
    return waited
