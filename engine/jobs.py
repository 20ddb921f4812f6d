"""Background work, run by RQ workers: event evaluation and the sweeper that makes it exactly-once.

Events are claimed and evaluated a chunk at a time, in one transaction: ``processed_at`` is set by the
same commit that opens their alerts and starts their processes. A worker killed at any point leaves the
chunk unclaimed, and the sweeper enqueues it again; a claimed event is never evaluated twice.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine import alerts, audit, bus, entities, intake, rule_engine, runtime, sectors
from engine.bulk import paused_gc
from engine.config import settings
from engine.db import get_engine, let_other_writers_in, transaction, utcnow
from engine.errors import EngineError
from engine.evaluation import Observation
from engine.events import EVALUATE_JOB
from engine.models import Alert, Event
from engine.queue import get_queue
from engine.rules import current_rules

log = logging.getLogger(__name__)
SWEEP_AFTER = timedelta(seconds=float(os.environ.get("IOC_SWEEP_AFTER_S", "20")))
SWEEP_BATCH = 500
MAX_ATTEMPTS = 5
# Events evaluated per transaction. SQLite has one writer: its chunks stay short so that the API's inserts get the
# lock often. PostgreSQL locks rows: longer chunks write each subject's rule state and entity once for more events.
CHUNK = {"sqlite": 200, "postgresql": 500}


def process_events(event_ids: list[int]) -> int:
    """Evaluate each event once; returns how many this call evaluated.

    Events are claimed and evaluated a chunk at a time, in one transaction (one commit for up to
    ``CHUNK`` events). If anything in a chunk fails, the chunk is rolled back and its events are
    evaluated one by one instead, so that an event whose evaluation fails stays unclaimed (the sweeper
    retries it later, then quarantines it) without holding back the rest.
    """
    done = 0
    size = CHUNK.get(get_engine().dialect.name, 200)
    for start in range(0, len(event_ids), size):
        chunk = event_ids[start:start + size]
        intake.give_way()  # SQLite: a sender's bulk batches are stored first (engine.intake)
        try:
            with paused_gc():  # a chunk's ORM objects and values: the collector runs again after its commit
                done += process_chunk(chunk)
            let_other_writers_in()
            continue
        except Exception:  # noqa: BLE001 - retried one by one below, where the culprit is found
            log.info("events %s-%s: evaluating one by one after a failure in the chunk", chunk[0], chunk[-1])
        for event_id in chunk:
            try:
                if process_event(event_id):
                    done += 1
            except Exception as exc:  # noqa: BLE001 - logged with its id; the other events go on
                log.exception("event %s: evaluation failed", event_id)
                record_failure(event_id, exc)
    return done


def process_chunk(event_ids: list[int]) -> int:
    """Claim and evaluate events in one transaction; returns how many were claimed (the others were
    evaluated already)."""
    rules = current_rules(settings().rules_dir)
    zone = ZoneInfo(settings().timezone)
    with transaction() as session:
        claimed = list(session.scalars(update(Event).where(Event.id.in_(event_ids), Event.processed_at.is_(None))
                                       .values(processed_at=utcnow()).returning(Event.id)))
        if not claimed:
            return 0
        batches: dict[str, list[Event]] = {}  # the events of types that their sector handles per chunk
        observed: list[Event] = []
        chunk = list(session.scalars(select(Event).where(Event.id.in_(claimed)).order_by(Event.time, Event.id)))
        observations = [Observation(type=ev.type, sector=ev.sector, entity=ev.entity, unit_code=ev.unit_code,
                                    time=ev.time, values=ev.values or {}) for ev in chunk]
        # What the chunk will read, read first (one query each): the writes then go together at the commit
        # instead of being flushed before every event's own queries.
        local_times = [ev.time.astimezone(zone) for ev in chunk]
        rule_engine.preload(session, observations, rules, local_times)
        entities.preload(session, chunk, create=True)
        by_type: dict[str, list[Event]] = {}
        for ev in chunk:
            by_type.setdefault(ev.type, []).append(ev)
        for event_type, events in by_type.items():
            kind = sectors.event_kind(event_type)
            if kind is not None and kind.preload is not None:
                kind.preload(session, events)
        for ev, obs, local_time in zip(chunk, observations, local_times, strict=True):
            rule_engine.judge_event(session, rules, obs, local_time)
            kind = sectors.event_kind(ev.type)
            if kind is not None and kind.batch is not None:  # judged together once the chunk is read (bursts)
                entities.observe(session, ev)
                batches.setdefault(ev.type, []).append(ev)
            else:
                derive(session, ev, observe=False)
                observed.append(ev)
        for event_type, events in batches.items():
            batch = sectors.event_kind(event_type).batch  # type: ignore[union-attr]
            batch(session, events)  # type: ignore[misc]
        for ev in observed:  # entities' latest state last, in time order (one write per entity at the commit)
            entities.observe(session, ev)
    return len(claimed)


def record_failure(event_id: int, exc: Exception) -> None:
    """Count a failed evaluation; after MAX_ATTEMPTS the event is quarantined (kept, with its error, and
    no longer retried), so one poisonous event cannot crowd out the rest."""
    reason = f"{exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:500]
    with transaction() as session:
        ev = session.get(Event, event_id)
        if ev is None or ev.processed_at is not None:
            return
        ev.attempts = (ev.attempts or 0) + 1
        if ev.attempts >= MAX_ATTEMPTS:
            ev.processed_at, ev.error = utcnow(), reason
            audit.record(session, "worker", "event.quarantined", "event", ev.id, source=ev.source, error=reason)
            bus.publish(session, "event.quarantined", event_id=ev.id, source=ev.source)


def process_event(event_id: int) -> bool:
    rules = current_rules(settings().rules_dir)
    with transaction() as session:
        claimed = session.execute(update(Event).where(Event.id == event_id, Event.processed_at.is_(None))
                                  .values(processed_at=utcnow()))
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return False
        ev = session.get(Event, event_id)
        assert ev is not None
        obs = Observation(type=ev.type, sector=ev.sector, entity=ev.entity, unit_code=ev.unit_code,
                          time=ev.time, values=ev.values or {})
        rule_engine.judge_event(session, rules, obs, ev.time.astimezone(ZoneInfo(settings().timezone)))
        derive(session, ev)
    return True


def derive(session: Session, ev: Event, *, observe: bool = True) -> None:
    """What follows from an event once it is judged: its entity's latest state (unless the caller keeps it
    itself), and what its sector computes from it (engine.sectors: an air-quality reading, the station's AQI)."""
    if observe:
        entities.observe(session, ev)
    kind = sectors.event_kind(ev.type)
    if kind is not None and kind.handle is not None:
        kind.handle(session, ev)


def tick_rules() -> int:
    """The clock's part of rule evaluation (absence, the end of keep-firing periods), from the worker."""
    with transaction() as session:
        return rule_engine.tick(session, current_rules(settings().rules_dir))


def start_scenario(session: Session, alert: Alert, scenario: dict[str, Any]) -> None:
    """Start the alert's process. If it cannot start (process not deployed, say), the alert stays
    open and firing with the reason recorded, for a person to act on; the event is not lost."""
    variables = {**(scenario.get("variables") or {}), "alert_id": alert.id, "title": alert.title,
                 "severity": alert.severity, "sector": alert.sector, "entity": alert.entity, "value": alert.value,
                 "unit": alert.unit_code}
    if scenario.get("departments"):  # the departments the scenario names (a rule-level routing)
        variables["departments"] = list(scenario["departments"])
    try:
        with session.begin_nested():
            instance = runtime.start_process(session, scenario["process"], variables, actor="rules",
                                             business_key=f"alert:{alert.id}", alert=alert)
    except EngineError as exc:
        alert.details = {**alert.details, "scenario_error": str(exc)}
        audit.record(session, "rules", "alert.scenario_failed", "alert", alert.id, process=scenario["process"],
                     reason=str(exc))
        log.warning("alert %s: scenario %s not started: %s", alert.id, scenario["process"], exc)
        return
    alerts.mark_in_handling(session, alert, instance.id, "rules")


def sweep() -> int:
    """Enqueue events accepted a while ago and still unevaluated (their job was lost)."""
    cutoff = utcnow() - SWEEP_AFTER
    with transaction() as session:
        ids = list(session.scalars(select(Event.id).where(Event.processed_at.is_(None), Event.received_at < cutoff)
                                   .order_by(Event.id).limit(SWEEP_BATCH)))
    if ids:
        log.info("sweeper: re-enqueueing %d unevaluated events", len(ids))
        get_queue().enqueue(EVALUATE_JOB, ids, job_timeout=600)
    return len(ids)
