"""Sign-in throttling, per account and per address, kept in Redis (shared by every web process).

An account that fails ``ACCOUNT_LIMIT`` times within ``WINDOW`` is locked for ``ACCOUNT_LOCK`` seconds, doubled
at each further failure up to ``ACCOUNT_LOCK_MAX``; an address, after ``ADDRESS_LIMIT`` failures (any names), for
``ADDRESS_LOCK`` doubled up to ``ADDRESS_LOCK_MAX``. While locked, the password is not even checked: the answer is
429 with ``Retry-After``. A success clears the account's count (not the address's). Names are kept hashed.

What is audited (engine.audit): a failure for an existing account, with its address; for names that are no
account, one row per address and window, without the names (an attacker cannot fill the audit log with names of
their choosing); each lock. If Redis cannot be reached, sign-in still works, unthrottled, and that is logged.

The pure part (``lock_seconds``) says how long a count locks for.
"""

from __future__ import annotations

import hashlib
import logging

from redis.exceptions import RedisError

from engine.redis_conn import redis_client

log = logging.getLogger(__name__)
WINDOW = 15 * 60
ACCOUNT_LIMIT, ACCOUNT_LOCK, ACCOUNT_LOCK_MAX = 5, 30, 15 * 60
ADDRESS_LIMIT, ADDRESS_LOCK, ADDRESS_LOCK_MAX = 30, 60, 60 * 60
PREFIX = "ioc:login:"


def lock_seconds(failures: int, limit: int, first: int, cap: int) -> int:
    """0 below the limit; ``first`` at it, doubling with each failure past it, at most ``cap``."""
    if failures < limit:
        return 0
    return int(min(cap, first * 2 ** min(failures - limit, 20)))


def _account_key(username: str) -> str:
    return hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]


def _keys(username: str, address: str) -> tuple[str, str]:
    return f"{PREFIX}acct:{_account_key(username)}", f"{PREFIX}addr:{address}"


def retry_after(username: str, address: str) -> int:
    """Seconds until this account or address may try again (0: now)."""
    account, addr = _keys(username, address)
    try:
        pipe = redis_client().pipeline()
        pipe.ttl(account + ":lock")
        pipe.ttl(addr + ":lock")
        ttls = pipe.execute()
    except RedisError:
        log.warning("sign-in throttling is off: Redis is not reachable")
        return 0
    return max([0, *(int(t) for t in ttls if t and int(t) > 0)])


def failed(username: str, address: str) -> int:
    """Count a failure; returns the seconds of the lock it started (0: none)."""
    account, addr = _keys(username, address)
    try:
        pipe = redis_client().pipeline()
        for key in (account, addr):
            pipe.set(key, 0, ex=WINDOW, nx=True)
            pipe.incr(key)
        _, acct_n, _, addr_n = pipe.execute()
        acct_lock = lock_seconds(int(acct_n), ACCOUNT_LIMIT, ACCOUNT_LOCK, ACCOUNT_LOCK_MAX)
        addr_lock = lock_seconds(int(addr_n), ADDRESS_LIMIT, ADDRESS_LOCK, ADDRESS_LOCK_MAX)
        for key, seconds in ((account, acct_lock), (addr, addr_lock)):
            if seconds:
                redis_client().set(key + ":lock", "1", ex=seconds)
        return max(acct_lock, addr_lock)
    except RedisError:
        log.warning("sign-in throttling is off: Redis is not reachable")
        return 0


def first_unknown_failure(address: str) -> bool:
    """True once per address and window: whether a failure for a name that is no account is audited."""
    try:
        return bool(redis_client().set(f"{PREFIX}unknown:{address}", "1", ex=WINDOW, nx=True))
    except RedisError:
        return False


def succeeded(username: str) -> None:
    try:
        redis_client().delete(_keys(username, "-")[0])
    except RedisError:
        pass
