"""Silences and maintenance windows: no one is notified of matching alerts while one is in force.

Alerts are still opened, grouped and handled; only the notifications (and the escalation of alerts opened
during the window) are held back. Every silence names who set it and why, and is audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit, bus
from engine.db import utcnow
from engine.errors import N_, Forbidden, Invalid, NotFound
from engine.models import Silence
from engine.org import Principal

MANAGERS = ("admin", "operator", "leader")


def _check(principal: Principal) -> None:
    if principal.role not in MANAGERS:
        raise Forbidden(N_("Only operators, leaders and administrators can silence alerts"))


def create(session: Session, principal: Principal, *, ends_at: datetime, reason: str,
           starts_at: datetime | None = None, rule_id: str | None = None, entity: str | None = None,
           sector: str | None = None, kind: str = "silence") -> Silence:
    _check(principal)
    starts_at = starts_at or utcnow()
    if ends_at <= starts_at or ends_at <= utcnow():
        raise Invalid(N_("A silence must end in the future, after it starts"), code="invalid_silence",
                      details={"starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat()})
    silence = Silence(rule_id=rule_id or None, entity=entity or None, sector=sector or None, starts_at=starts_at,
                      ends_at=ends_at, reason=reason.strip(), kind=kind, created_by=principal.name)
    session.add(silence)
    session.flush()
    audit.record(session, principal.name, "silence.created", "silence", silence.id, rule_id=rule_id, entity=entity,
                 sector=sector, starts_at=starts_at.isoformat(), ends_at=ends_at.isoformat(), reason=reason, kind=kind)
    bus.publish(session, "silence.created", silence_id=silence.id)
    return silence


def end(session: Session, principal: Principal, silence_id: int) -> Silence:
    _check(principal)
    silence = session.get(Silence, silence_id)
    if silence is None:
        raise NotFound(N_("No silence %(id)s"), id=silence_id)
    now = utcnow()
    if silence.ends_at > now:
        silence.ends_at = max(now, silence.starts_at)
        audit.record(session, principal.name, "silence.ended", "silence", silence.id)
        bus.publish(session, "silence.ended", silence_id=silence.id)
    return silence


def current(session: Session, **_: Any) -> list[Silence]:
    """Silences in force or planned (not yet over), soonest first."""
    stmt = select(Silence).where(Silence.ends_at > utcnow()).order_by(Silence.starts_at, Silence.id)
    return list(session.scalars(stmt))
