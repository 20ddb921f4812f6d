"""RQ queues. Jobs are enqueued after the transaction that made them commits."""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError
from rq import Queue, Retry
from sqlalchemy.orm import Session

from engine.db import after_commit
from engine.redis_conn import redis_client

QUEUE_NAME = "ioc"
log = logging.getLogger(__name__)


def get_queue() -> Queue:
    return Queue(QUEUE_NAME, connection=redis_client())


def enqueue_after_commit(session: Session, func: str, *args: Any) -> None:
    session.info.setdefault("jobs", []).append((func, args))


def _enqueue(jobs: list[tuple[str, tuple[Any, ...]]]) -> None:
    try:
        q = get_queue()
        for func, args in jobs:
            q.enqueue(func, *args, retry=Retry(max=3, interval=[1, 5, 15]), job_timeout=600)
    except RedisError as exc:
        # The rows are committed; the sweeper re-enqueues unprocessed events.
        log.warning("jobs not enqueued (%s); the sweeper will pick them up", exc.__class__.__name__)


after_commit("jobs", _enqueue)
