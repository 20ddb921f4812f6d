"""Quarantined events: those whose evaluation kept failing (``engine.jobs.record_failure``). They are kept with
their error so that nothing is lost; an operator lists them and, once the cause is fixed (a rule corrected, a
process deployed), sends them back for evaluation."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine import audit, bus
from engine.errors import N_, Invalid
from engine.events import EVALUATE_JOB
from engine.models import Event
from engine.org import Principal
from engine.queue import enqueue_after_commit

MAX_PAGE = 500
MAX_REQUEUE = 10_000  # events sent back by one action


@dataclass(frozen=True)
class Page:
    events: list[Event]
    total: int


def quarantined(session: Session, *, limit: int = 100, before_id: int | None = None) -> Page:
    """The quarantined events, newest first; ``before_id`` pages on."""
    stmt = select(Event).where(Event.error.is_not(None))
    if before_id is not None:
        stmt = stmt.where(Event.id < before_id)
    events = list(session.scalars(stmt.order_by(Event.id.desc()).limit(max(1, min(limit, MAX_PAGE)))))
    total = session.scalar(select(func.count()).select_from(Event).where(Event.error.is_not(None))) or 0
    return Page(events, total)


def requeue(session: Session, principal: Principal, ids: list[int] | None = None) -> list[int]:
    """Send quarantined events back for evaluation (the given ones, or all of them, oldest first); returns the
    ids sent back. Ids that are not quarantined are left alone. Each evaluation gets its full attempts again."""
    if ids is not None and len(ids) > MAX_REQUEUE:
        raise Invalid(N_("At most %(n)s events can be sent back at once"), n=MAX_REQUEUE)
    stmt = select(Event.id).where(Event.error.is_not(None))
    if ids is not None:
        stmt = stmt.where(Event.id.in_(ids))
    chosen = list(session.scalars(stmt.order_by(Event.id).limit(MAX_REQUEUE).with_for_update()))
    if not chosen:
        return []
    session.execute(update(Event).where(Event.id.in_(chosen)).values(processed_at=None, error=None, attempts=0),
                    execution_options={"synchronize_session": False})
    audit.record(session, principal.name, "events.requeued", "event_batch", chosen[0], count=len(chosen),
                 ids=chosen[:100])
    bus.publish(session, "events.requeued", count=len(chosen))
    enqueue_after_commit(session, EVALUATE_JOB, chosen)
    return chosen
