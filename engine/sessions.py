"""People's sessions, kept on the server so that they can be ended there.

The session cookie (signed by the application's key) carries only a random session id; the database keeps its
SHA-256 (``user_sessions``), the person, when it started and was last used, and whether and why it ended. A session
is valid while it is not ended, its person is active, it has been used within its idle timeout and it is younger
than its absolute lifetime. Ending it — logout, a password change (the person's other sessions), deactivation, an
administrator's "sign out everywhere" — takes effect at the next request, the live stream included.

| variable                  | default | meaning                                                   |
|---------------------------|---------|-----------------------------------------------------------|
| IOC_SESSION_IDLE_MINUTES  | 30      | a person's session ends after this long without a request |
| IOC_SESSION_MAX_HOURS     | 12      | and in any case this long after login                     |
| IOC_KIOSK_IDLE_HOURS      | 8       | the same for a kiosk account (the wall's screen)          |
| IOC_KIOSK_MAX_HOURS       | 168     |                                                           |

The live stream is not a person's activity: a page left open does not keep its session alive.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from engine import audit, bus, session_cache
from engine.db import utcnow
from engine.models import User, UserSession

ENDED = "session.ended"  # on the live bus: the streams of these sessions close (never passed on to a browser)
TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most this often (a write per request otherwise)


@dataclass(frozen=True)
class Lifetimes:
    idle: timedelta
    absolute: timedelta


def lifetimes(user: User, environ: dict[str, str] | None = None) -> Lifetimes:
    env = os.environ if environ is None else environ
    if user.kiosk:
        return Lifetimes(timedelta(hours=float(env.get("IOC_KIOSK_IDLE_HOURS") or 8)),
                         timedelta(hours=float(env.get("IOC_KIOSK_MAX_HOURS") or 168)))
    return Lifetimes(timedelta(minutes=float(env.get("IOC_SESSION_IDLE_MINUTES") or 30)),
                     timedelta(hours=float(env.get("IOC_SESSION_MAX_HOURS") or 12)))


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def start(session: Session, user: User, *, address: str | None, user_agent: str | None,
          method: str = "password") -> str:
    """A new session for ``user``, signed in by ``method`` (``password``, ``sso``); returns its id for the cookie
    (never stored in clear)."""
    sid = secrets.token_urlsafe(32)
    now = utcnow()
    life = lifetimes(user)
    row = UserSession(sid_hash=_digest(sid), user_id=user.id, created_at=now, last_seen_at=now,
                      expires_at=now + life.absolute, idle_seconds=int(life.idle.total_seconds()),
                      address=(address or "")[:64] or None, user_agent=(user_agent or "")[:200] or None)
    session.add(row)
    session.flush()
    audit.record(session, user.username, "user.login", "user", user.id, session_row=row.id,
                 address=row.address, method=method)
    return sid


def is_valid(row: UserSession | Signed, user: User | Signed, now: datetime) -> bool:
    return (row.revoked_at is None and user.active and now < row.expires_at
            and now - row.last_seen_at <= timedelta(seconds=row.idle_seconds))


@dataclass(frozen=True)
class Signed:
    """A session and what the checks of a request need of its person, read in one plain statement: a request
    made with a cookie pays for this, not for loading two ORM objects (bench/security.py)."""

    id: int
    last_seen_at: datetime
    expires_at: datetime
    idle_seconds: int
    revoked_at: datetime | None
    user_id: int
    username: str
    role_code: str
    department_id: int | None
    active: bool
    kiosk: bool
    must_change_password: bool


_S, _U = UserSession.__table__, User.__table__
_SIGNED = (select(_S.c.id, _S.c.last_seen_at, _S.c.expires_at, _S.c.idle_seconds, _S.c.revoked_at, _U.c.id,
                  _U.c.username, _U.c.role_code, _U.c.department_id, _U.c.active, _U.c.kiosk,
                  _U.c.must_change_password)
           .join(_U, _U.c.id == _S.c.user_id).where(_S.c.sid_hash == bindparam("digest")))


def signed(session: Session, sid: str | None, *, now: datetime | None = None, cached: bool = False) -> Signed | None:
    """The session behind a cookie's id, when it is still valid, with its person. ``cached``: from the process's
    cache of checked sessions while nothing about people or sessions has changed since (engine.session_cache)."""
    if not sid or not isinstance(sid, str) or len(sid) > 100:
        return None
    digest = _digest(sid)
    generation = session_cache.generation() if cached else None
    row = session_cache.get(digest, generation)
    if row is None:
        found = session.execute(_SIGNED, {"digest": digest}).first()
        if found is None:
            return None
        row = Signed(*tuple(found))
        if is_valid(row, row, now or utcnow()):
            session_cache.put(digest, generation, row)
    return row if is_valid(row, row, now or utcnow()) else None


def noted(sid: str, last_seen_at: datetime) -> None:
    """A request noted its session's use (:func:`touch`, committed): the cache keeps the new time too."""
    session_cache.touched(_digest(sid), last_seen_at)


def resolve(session: Session, sid: str | None, *, now: datetime | None = None) -> tuple[UserSession, User] | None:
    """The session and person behind a cookie's id, as ORM objects, when the session is still valid."""
    row = signed(session, sid, now=now)
    if row is None:
        return None
    found = session.get(UserSession, row.id), session.get(User, row.user_id)
    return (found[0], found[1]) if found[0] is not None and found[1] is not None else None


def needs_touch(row: UserSession, now: datetime) -> bool:
    return now - row.last_seen_at >= TOUCH_EVERY


def touch(session: Session, session_id: int, now: datetime) -> None:
    session.execute(update(UserSession).where(UserSession.id == session_id).values(last_seen_at=now)
                    .execution_options(**{session_cache.TOUCH: True}))


def still_valid(session: Session, session_id: int) -> bool:
    """For a long request (the live stream): has the session been ended since it began? (Idle time is not
    counted here: the stream is not a person's activity, and the page's other requests are.)"""
    found = session.execute(select(UserSession.revoked_at, UserSession.expires_at, User.active)
                            .join(User, User.id == UserSession.user_id).where(UserSession.id == session_id)).first()
    return found is not None and found[0] is None and found[2] and utcnow() < found[1]


def end(session: Session, session_id: int, *, reason: str, actor: str) -> None:
    row = session.get(UserSession, session_id)
    if row is None or row.revoked_at is not None:
        return
    row.revoked_at, row.revoked_reason = utcnow(), reason
    audit.record(session, actor, "user.logout" if reason == "logout" else "user.session_ended", "user",
                 row.user_id, session_row=row.id, reason=reason)
    bus.publish(session, ENDED, sessions=[row.id])


def end_all(session: Session, user_id: int, *, reason: str, actor: str, keep: int | None = None) -> int:
    """End every live session of a person (but ``keep``); returns how many ended."""
    stmt = select(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
    if keep is not None:
        stmt = stmt.where(UserSession.id != keep)
    rows = list(session.scalars(stmt))
    now = utcnow()
    for row in rows:
        row.revoked_at, row.revoked_reason = now, reason
    if rows:
        audit.record(session, actor, "user.sessions_ended", "user", user_id, count=len(rows), reason=reason)
        bus.publish(session, ENDED, sessions=[row.id for row in rows])
    return len(rows)


def live_sessions(session: Session, user_id: int) -> list[UserSession]:
    now = utcnow()
    user = session.get(User, user_id)
    rows = session.scalars(select(UserSession).where(UserSession.user_id == user_id,
                                                     UserSession.revoked_at.is_(None))
                           .order_by(UserSession.last_seen_at.desc()))
    return [r for r in rows if user is not None and is_valid(r, user, now)]


def live_counts(session: Session, users: list[User]) -> dict[int, int]:
    """How many valid sessions each of these people has (the administrators' list of users)."""
    now = utcnow()
    by_id = {u.id: u for u in users}
    counts = dict.fromkeys(by_id, 0)
    if not by_id:
        return counts
    rows = session.scalars(select(UserSession).where(UserSession.user_id.in_(by_id), UserSession.revoked_at.is_(None),
                                                     UserSession.expires_at > now))
    for row in rows:
        if is_valid(row, by_id[row.user_id], now):
            counts[row.user_id] += 1
    return counts
