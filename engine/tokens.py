"""Machines' bearer tokens: made with scopes (engine.scopes), optional sources and an expiry; shown once, kept as
SHA-256; revoked by name or id; each use noted (at most every ``NOTE_USE_EVERY``, with an audit row then)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine import audit, scopes
from engine.db import utcnow
from engine.errors import N_, Invalid, NotFound
from engine.models import ApiToken
from engine.org import Principal, check_role, department_by_code
from engine.security import new_token, token_digest

DEFAULT_DAYS = 365
MAX_DAYS = 3650
NOTE_USE_EVERY = timedelta(minutes=5)


def create_token(session: Session, name: str, role: str, *, department_code: str | None = None,
                 actor: str = "system", scope_list: list[str] | None = None, sources: list[str] | None = None,
                 days: int | None = DEFAULT_DAYS) -> str:
    """Make a bearer token for a machine; returns the token, which is shown once and never stored. ``days=None``:
    it does not expire."""
    check_role(role)
    name = name.strip()
    if not name or len(name) > 80:
        raise Invalid(N_("A token's name has 1 to 80 characters"))
    if days is not None and not 1 <= days <= MAX_DAYS:
        raise Invalid(N_("A token lives 1 to %(n)s days"), n=MAX_DAYS)
    chosen = scopes.check(list(scope_list) if scope_list is not None else list(scopes.DEFAULT_SCOPES))
    if not chosen:
        raise Invalid(N_("Choose at least one scope: what the token may do"), code="scope_required")
    if sources and "events:write" not in chosen:
        raise Invalid(N_("Sources limit the events:write scope, which this token lacks"))
    dept = department_by_code(session, department_code) if department_code else None
    token = new_token()
    row = ApiToken(name=name, role_code=role, department_id=dept.id if dept else None, token_hash=token_digest(token),
                   scopes=chosen, sources=sorted(set(sources)) if sources else None, created_by=actor,
                   expires_at=utcnow() + timedelta(days=days) if days else None)
    session.add(row)
    session.flush()
    audit.record(session, actor, "token.created", "api_token", row.id, name=name, role=role, scopes=chosen,
                 sources=row.sources, expires_at=row.expires_at.isoformat() if row.expires_at else None)
    return token


def revoke_tokens(session: Session, name: str, actor: str = "system") -> int:
    """Revoke every live token of that name; returns how many."""
    rows = list(session.scalars(select(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))))
    if not rows:
        raise NotFound(N_("No live token named %(name)s"), name=name)
    for row in rows:
        revoke(session, row, actor=actor)
    return len(rows)


def revoke(session: Session, row: ApiToken, *, actor: str) -> None:
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(session, actor, "token.revoked", "api_token", row.id, name=row.name)


def is_live(row: ApiToken, now: datetime) -> bool:
    return row.revoked_at is None and (row.expires_at is None or now < row.expires_at)


def lookup(session: Session, token: str) -> ApiToken | None:
    """The live token row of a bearer token (None: unknown, revoked or expired)."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
    return row if row is not None and is_live(row, utcnow()) else None


def principal_of(row: ApiToken) -> Principal:
    return Principal(name=f"token:{row.name}", role=row.role_code, department_id=row.department_id,
                     scopes=frozenset(row.scopes or ()), sources=tuple(row.sources) if row.sources else None,
                     token_id=row.id)


def principal_for_token(session: Session, token: str) -> Principal | None:
    row = lookup(session, token)
    return principal_of(row) if row is not None else None


def needs_note(row: ApiToken, now: datetime) -> bool:
    return row.last_used_at is None or now - row.last_used_at >= NOTE_USE_EVERY


def note_use(session: Session, token_id: int, name: str, *, address: str | None, now: datetime) -> None:
    """The token's last use, and an audit row, at most every NOTE_USE_EVERY."""
    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
    audit.record(session, f"token:{name}", "token.used", "api_token", token_id, address=address)
