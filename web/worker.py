"""``ioc worker``: an RQ worker with its scheduler, and the sweeper that re-enqueues lost work."""

from __future__ import annotations

import logging
import threading
import time

from rq import SimpleWorker

from connectors import runtime
from engine import alerts, jobs, notifications, retention, sectors, sources, timers
from engine.db import refresh_statistics, transaction, utcnow
from engine.queue import QUEUE_NAME
from engine.redis_conn import redis_client
from web.app import configure_logging

log = logging.getLogger("ioc.worker")
SWEEP_EVERY_S = 10.0
TIMER_POLL_S = 0.25
ALERT_LOOP_S = 2.0
_last_periodic: dict[str, float] = {}  # each sector's periodic work: when it last ran (time.monotonic)
STATISTICS_EVERY_S = 600.0  # SQLite's planner statistics (PostgreSQL's autovacuum keeps its own)


def _sweeper(stop: threading.Event) -> None:
    last_statistics = time.monotonic()  # refreshed at start
    while not stop.wait(SWEEP_EVERY_S):
        try:
            jobs.sweep()
            if time.monotonic() - last_statistics > STATISTICS_EVERY_S:
                with transaction() as session:
                    retention.purge_events(session)
                    retention.purge_observations(session)
                    retention.purge_fixes(session)
                    retention.purge_air_quality_hours(session)
                refresh_statistics()
                last_statistics = time.monotonic()
        except Exception:  # noqa: BLE001 - the sweeper must outlive a passing database or Redis outage
            log.warning("sweeper pass failed; trying again in %.0f s", SWEEP_EVERY_S)


def _timer_loop(stop: threading.Event) -> None:
    """Fire due BPMN timers: look at the earliest due time a few times a second (one indexed query)."""
    failing = False
    while not stop.is_set():
        backlog = False
        try:
            due = timers.earliest()
            if due is not None and due <= utcnow():
                backlog = timers.fire_due_timers() > 0  # some fired: look again at once
            if failing:
                log.info("timer loop: the database answers again")
            failing = False
        except Exception:  # noqa: BLE001 - keep looping through a passing outage; log once
            if not failing:
                log.warning("timer loop: cannot read due timers; retrying")
            failing = True
        if not backlog:
            stop.wait(TIMER_POLL_S)


def alert_housekeeping() -> None:
    """The clock's part of alerting: rules judged by time (absence, keep-firing), escalation of alerts
    nobody acknowledged, stale data sources, the notifications due for sending, and the sources due a poll."""
    jobs.tick_rules()
    with transaction() as session:
        alerts.escalate_due(session)
        sources.check_stale(session)
    sector_periodic()
    notifications.deliver_due()
    runtime.enqueue_due()


def sector_periodic() -> None:
    """The sectors' own work on the clock (engine.sectors: ``Periodic``), each in a transaction of its own; one
    that fails is logged and tried again at its next turn, and the others go on."""
    for sector in sectors.all_sectors():
        for job in sector.periodic:
            key = f"{sector.code}:{job.name}"
            last = _last_periodic.get(key)
            if last is not None and time.monotonic() - last < job.every_s:
                continue
            try:
                with transaction() as session:
                    job.run(session)
            except Exception:  # noqa: BLE001 - one sector's failure must not stop the others' work
                log.exception("sector %s: %s failed; trying again at its next turn", sector.code, job.name)
            _last_periodic[key] = time.monotonic()


def _alert_loop(stop: threading.Event) -> None:
    failing = False
    while not stop.is_set():
        try:
            alert_housekeeping()
            failing = False
        except Exception:  # noqa: BLE001 - keep going through a passing outage; log once
            if not failing:
                log.exception("alert loop failed; retrying")
            failing = True
        stop.wait(ALERT_LOOP_S)


def run_worker(burst: bool = False) -> int:
    configure_logging()
    stop = threading.Event()
    if not burst:
        jobs.sweep()
        refresh_statistics()
        threading.Thread(target=_sweeper, args=(stop,), daemon=True, name="sweeper").start()
        threading.Thread(target=_timer_loop, args=(stop,), daemon=True, name="timers").start()
        threading.Thread(target=_alert_loop, args=(stop,), daemon=True, name="alerts").start()
    # SimpleWorker runs jobs in this process (no fork per job): about 3x the job rate, and each job
    # carries a batch. A job killed half-way is retried; its events are claimed exactly once.
    worker = SimpleWorker([QUEUE_NAME], connection=redis_client())
    try:
        worker.work(with_scheduler=not burst, burst=burst, logging_level="WARNING")
    finally:
        stop.set()
    return 0
