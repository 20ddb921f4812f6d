"""Timers: BPMN timer events fire when due, driven by the worker, surviving restarts.

SpiffWorkflow only notices a due timer when asked (``refresh_timers``). After every engine step the
instance row records its earliest pending timer (``next_timer_at``, indexed); the worker's timer loop
looks for due instances a few times a second and fires them, each in its own locked transaction.
Because the due time lives in the database, a restart (of the worker, of Redis) loses no timer.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from engine import audit, runtime
from engine.db import session_factory, transaction, utcnow
from engine.models import ProcessInstance

log = logging.getLogger(__name__)


def earliest(now: datetime | None = None) -> datetime | None:
    with session_factory(write=False)() as session:
        result: datetime | None = session.scalar(
            select(func.min(ProcessInstance.next_timer_at)).where(ProcessInstance.status == "running"))
        return result


def fire_due_timers(now: datetime | None = None, limit: int = 200) -> int:
    """Fire the timers of every running instance whose earliest timer is due; returns how many instances."""
    now = now or utcnow()
    with session_factory(write=False)() as session:
        ids = list(session.scalars(select(ProcessInstance.id).where(
            ProcessInstance.status == "running", ProcessInstance.next_timer_at <= now)
            .order_by(ProcessInstance.next_timer_at).limit(limit)))
    fired = 0
    for instance_id in ids:
        try:
            with transaction() as session:
                instance = runtime.get_instance(session, instance_id, lock=True, skip_locked=True)
                if (instance is None or instance.next_timer_at is None or instance.next_timer_at > now
                        or instance.status != "running"):
                    continue  # another worker has it, or fired it meanwhile
                due = instance.next_timer_at
                wf = runtime.load(instance)
                wf.refresh_timers()
                runtime.advance(session, instance, wf, "timer")
                audit.record(session, "timer", "timer.fired", "process_instance", instance.id,
                             instance_id=instance.id, due=due.isoformat(),
                             late_ms=round((utcnow() - due).total_seconds() * 1000))
                fired += 1
        except StaleDataError:
            continue
        except Exception:  # noqa: BLE001 - one broken instance must not stop the others' timers
            log.exception("instance %s: firing its timers failed", instance_id)
    return fired
