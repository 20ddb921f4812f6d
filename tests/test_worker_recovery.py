"""A worker killed with SIGKILL while 1,000 events are being processed loses nothing and doubles nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from engine.db import session_factory, transaction
from engine.events import IncomingEvent, ingest_events
from engine.models import Alert, Event, ProcessInstance
from tests.conftest import ROOT

STATIONS = 10
PER_STATION = 100


def processed() -> int:
    with session_factory(write=False)() as s:
        return int(s.scalar(select(func.count()).select_from(Event).where(Event.processed_at.is_not(None))) or 0)


def start_worker() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "web.cli", "worker"], cwd=ROOT, env=dict(os.environ),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def test_sigkill_mid_batch_then_restart_processes_each_event_exactly_once() -> None:
    t0 = datetime.now(UTC)
    for batch in range(10):
        events = [IncomingEvent(source="load", type="air_quality", sector="environment", entity=f"S{i % STATIONS}",
                                time=t0 + timedelta(seconds=batch * 100 + i), values={"aqi": 151 + i},
                                idempotency_key=f"{batch}-{i}") for i in range(100)]
        with transaction() as session:
            assert len(ingest_events(session, events, "test").accepted) == 100
    total = STATIONS * PER_STATION

    worker = start_worker()
    deadline = time.monotonic() + 60
    while processed() < 150 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    at_kill = processed()
    assert 0 < at_kill < total, f"kill came too late to mean anything ({at_kill} processed)"

    worker = start_worker()
    try:
        deadline = time.monotonic() + 120
        while processed() < total and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(20)

    assert processed() == total
    with session_factory(write=False)() as s:
        alerts = list(s.scalars(select(Alert)))
        assert len(alerts) == STATIONS  # one open alert per station, repeats grouped
        assert sum(a.count for a in alerts) == total  # every event counted exactly once
        assert s.scalar(select(func.count()).select_from(ProcessInstance)) == STATIONS
