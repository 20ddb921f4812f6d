"""Timers: BPMN timer events fire when due, driven by the worker, surviving restarts.

SpiffWorkflow only notices a due timer when asked (``refresh_timers``). After every engine step the
instance row records its earliest pending timer (``next_timer_at``, indexed); the worker's timer loop
looks for due instances a few times a second and fires them, a batch of locked instances per transaction.
Because the due time lives in the database, a restart (of the worker, of Redis) loses no timer.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine import audit, runtime
from engine.bulk import paused_gc
from engine.db import let_other_writers_in, session_factory, transaction, utcnow
from engine.models import ProcessInstance

log = logging.getLogger(__name__)


def earliest(now: datetime | None = None) -> datetime | None:
    with session_factory(write=False)() as session:
        result: datetime | None = session.scalar(
            select(func.min(ProcessInstance.next_timer_at)).where(ProcessInstance.status == "running"))
        return result


BATCH = 50  # instances fired in one transaction: one commit and one live-stream publish for all of them
BATCH_S = 0.2  # ... and no longer than this holding the write lock (SQLite has a single writer)


def fire_due_timers(now: datetime | None = None, limit: int = 200) -> int:
    """Fire the timers of every running instance whose earliest timer is due; returns how many instances.

    They are fired in batches: one transaction locks up to ``BATCH`` due instances at once (on PostgreSQL
    skipping those another worker or a person's action holds) and fires each in a savepoint, so that one
    broken instance rolls back alone, and becomes an incident, while the others commit together."""
    now = now or utcnow()
    with session_factory(write=False)() as session:
        ids = list(session.scalars(select(ProcessInstance.id).where(
            ProcessInstance.status == "running", ProcessInstance.next_timer_at <= now)
            .order_by(ProcessInstance.next_timer_at).limit(limit)))
    fired = 0
    while ids:
        batch, ids = ids[:BATCH], ids[BATCH:]
        with paused_gc():  # restored workflows and ORM rows: many objects, freed by reference counting
            done, rest = _fire_batch(batch, now)
        let_other_writers_in()
        fired += done
        ids = rest + ids
    return fired


def _fire_batch(ids: list[int], now: datetime) -> tuple[int, list[int]]:
    """Fire what is still due among ``ids`` (in that order) in one transaction; returns how many fired and
    the ids left over when the batch ran out of time."""
    started = time.monotonic()
    fired = 0
    with transaction() as session:
        locked = {instance.id: instance for instance in session.scalars(
            select(ProcessInstance).where(ProcessInstance.id.in_(ids)).order_by(ProcessInstance.id)
            .with_for_update(skip_locked=True))}
        for k, instance_id in enumerate(ids):
            if fired and time.monotonic() - started > BATCH_S:
                return fired, ids[k:]
            instance = locked.get(instance_id)
            if (instance is None or instance.next_timer_at is None or instance.next_timer_at > now
                    or instance.status != "running"):
                continue  # another worker has it, or fired it meanwhile
            fired += _fire(session, instance)
    return fired, []


def _fire(session: Session, instance: ProcessInstance) -> bool:
    """Fire one instance's due timers in a savepoint. On an unexpected error the savepoint takes back its
    changes (and its live-stream messages, see ``engine.db.after_commit``) and the instance becomes an
    incident, which the cockpit shows with its error and can retry, so the loop does not trip over it again."""
    due = instance.next_timer_at
    assert due is not None
    try:
        with session.begin_nested():
            wf = runtime.load(instance)
            wf.refresh_timers()
            runtime.advance(session, instance, wf, "timer")
            audit.record(session, "timer", "timer.fired", "process_instance", instance.id,
                         instance_id=instance.id, due=due.isoformat(),
                         late_ms=round((utcnow() - due).total_seconds() * 1000))
        return True
    except StaleDataError:
        return False  # changed under us: the next pass sees its new state
    except Exception as exc:  # noqa: BLE001 - one broken instance must not stop the others' timers
        log.exception("instance %s: firing its timers failed", instance.id)
        runtime.open_incident(session, instance, exc, "timer")
        return False
