"""The connector runtime: runs a source's connector and hands what it yields to the engine.

It owns what connectors do not: scheduling (the worker claims due sources and enqueues ``run_job`` on RQ),
retries with backoff (``engine.sources.record_run``), per-run logs with the bad records, and each source's
health. Events go through ``engine.events.ingest_events`` (stored once per idempotency key, then evaluated
by the rules); indicator values through ``engine.indicators.record``.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.base import (
    AuthFailed,
    BadConfig,
    BadRecord,
    Connector,
    ConnectorError,
    Notice,
    NotReady,
    ObservationIn,
)
from engine import credentials, fisheries, indicators, sources
from engine.bulk import paused_gc
from engine.config import settings
from engine.db import transaction, utcnow
from engine.errors import EngineError, NotFound
from engine.event_check import event_problems, latest_time
from engine.events import IncomingEvent, ingest_events
from engine.models import Source, Unit
from engine.rules import current_rules
from engine.tracks import PositionReport

log = logging.getLogger(__name__)
# kind -> "module:Class"; imported when first used.
KINDS = {
    "http_pull": "connectors.http_pull:HttpPull",
    "webhook": "connectors.webhook:Webhook",
    "spreadsheet": "connectors.spreadsheet:Spreadsheet",
    "mqtt": "connectors.mqtt:Mqtt",
    "ngsi_ld": "connectors.ngsi_ld:NgsiLd",
    "folder": "connectors.folder:Folder",
    "ftp": "connectors.folder:Ftp",
    "ais_file": "connectors.ais_feeds:AisFile",
    "ais_tcp": "connectors.ais_feeds:AisTcp",
    "ais_tcp_server": "connectors.ais_feeds:AisTcpServer",
    "ais_udp": "connectors.ais_feeds:AisUdp",
}
CHUNK = 1000


# Modules that register file parsers for the folder and FTP connectors (connectors.folder.PARSERS).
PARSER_MODULES = ("connectors.station_file",)


def connector_class(kind: str) -> type[Connector]:
    if kind in ("folder", "ftp"):
        for module in PARSER_MODULES:
            importlib.import_module(module)
    if kind not in KINDS:
        raise BadConfig(f"unknown connector kind {kind!r}", [f"kind: one of {', '.join(sorted(KINDS))}"])
    module, _, name = KINDS[kind].partition(":")
    cls: type[Connector] = getattr(importlib.import_module(module), name)
    return cls


def polls(kind: str) -> bool:
    """Whether a kind's connector is polled (HTTP, folders…); the others receive their data (webhook calls,
    uploads, notifications) or stream it (``ioc … listen``)."""
    return connector_class(kind).poll is not Connector.poll


def connector_for(source: Source) -> Connector:
    return connector_class(source.kind)(config=sources.unsealed(source.config), source=source.name)


@dataclass
class Outcome:
    events: int = 0
    positions: int = 0  # vessels' positions stored as track fixes (AIS)
    observations: int = 0
    duplicates: int = 0
    bad: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)  # ``Notice``s: read past, nothing refused
    newest: datetime | None = None

    @property
    def items(self) -> int:
        return self.events + self.positions + self.observations


def store(session: Session, source: str, items: list[Any], actor: str) -> Outcome:
    """Store what a connector yielded: events, indicator values; bad records kept for the report."""
    if len(items) < 1000:
        return _store(session, source, items, actor)
    with paused_gc():  # a big batch: many small objects, no cycles (see engine.bulk)
        return _store(session, source, items, actor)


def _store(session: Session, source: str, items: list[Any], actor: str) -> Outcome:
    out = Outcome()
    reports = [i for i in items if isinstance(i, PositionReport)]
    if reports and any(r.event_type == "vessel_position" for r in current_rules(settings().rules_dir)):
        items = [i.as_event() if isinstance(i, PositionReport) else i for i in items]  # a rule reads positions
    elif reports:  # a stream's positions: stored as track fixes (ADR 0009)
        recorded = fisheries.record_reports(session, reports)
        out.positions, out.newest = recorded.stored, max(r.fix.time for r in reports)
        out.duplicates += len(reports) - recorded.stored
    events = [i for i in items if isinstance(i, IncomingEvent)]
    named = {e.unit for e in events if e.unit}
    known = set(session.scalars(select(Unit.code).where(Unit.code.in_(named)))) if named else set()
    latest, kept = latest_time(), []
    for index, e in enumerate(events):  # a bad record is one bad record, not a refused run
        problems = event_problems(e, latest)  # a NUL, a NaN, a year 9999, a negative concentration…
        if e.unit and e.unit not in known:
            problems.append(("unit", f"unknown administrative unit {e.unit}"))
        out.bad.extend({"index": index, "field": field, "reason": reason} for field, reason in problems)
        if not problems:
            kept.append(e)
    events = kept
    for start in range(0, len(events), CHUNK):
        ingested = ingest_events(session, events[start:start + CHUNK], source)
        out.events += len(ingested.accepted)
        out.duplicates += ingested.duplicates
    if events:
        out.newest = max([e.time for e in events] + ([out.newest] if out.newest else []))
    by_indicator: dict[str, list[ObservationIn]] = defaultdict(list)
    for item in items:
        if isinstance(item, ObservationIn):
            by_indicator[item.indicator].append(item)
        elif isinstance(item, BadRecord):
            out.bad.append({"index": item.index, "field": item.field, "reason": item.reason})
        elif isinstance(item, Notice):
            out.warnings.append(_notice(item))
    for code, values in by_indicator.items():
        try:
            indicator = indicators.get(session, code)
        except NotFound:
            out.bad.append({"index": None, "field": code, "reason": "unknown indicator"})
            continue
        result = indicators.record(session, indicator, [
            {"unit": v.unit, "entity": v.entity, "period_start": v.period_start, "value": v.value} for v in values],
            source=source, actor=actor)
        out.observations += result.stored
        out.duplicates += result.duplicates
        out.bad.extend({**e, "field": f"{code}.{e['field']}"} for e in result.errors)
        newest = max(v.period_start for v in values)
        out.newest = newest if out.newest is None else max(out.newest, newest)
    return out


def run(name: str, trigger: str = "schedule") -> Outcome | None:
    """Poll a source once: store what it yields and record the run. Returns None when the run failed."""
    with transaction() as session:
        source = sources.get(session, name)
        started = utcnow()
        state = dict(source.state or {})
        try:
            connector = connector_for(source)
            items = list(connector.poll(state))
        except (ConnectorError, ValueError) as exc:
            failure = exc
        else:
            outcome = store(session, name, items, actor=f"source:{name}")
            source.state = state
            sources.record_run(session, source, trigger=trigger, ok=True, items=outcome.items, bad=outcome.bad,
                               newest=outcome.newest, started_at=started)
            return outcome
    with transaction() as session:  # the failure is recorded even though the poll's work was not kept
        source = sources.get(session, name)
        sources.record_run(session, source, trigger=trigger, ok=False, items=0, bad=[], error=_reason(failure),
                           auth_failed=isinstance(failure, AuthFailed), started_at=started)
    log.warning("source %s: %s", name, _reason(failure))
    return None


def _reason(exc: Exception) -> str:
    """The failure as people read it (the run log, the log, the test button): a URL's password or token masked."""
    if isinstance(exc, BadConfig) and exc.problems:
        text = f"{exc}: {'; '.join(exc.problems)}"
    elif isinstance(exc, NotReady):
        text = f"not reachable: {exc}"
    elif isinstance(exc, AuthFailed):
        text = f"refused our credentials: {exc}"
    else:
        text = str(exc)
    return credentials.scrub(text)


def accept(session: Session, source: Source, payload: bytes, content_type: str, trigger: str, actor: str,
           headers: dict[str, str] | None = None) -> Outcome:
    """Data pushed to a source (a webhook call, an uploaded file): parsed, stored, recorded — in the caller's
    transaction. A file whose headers are wrong is stored not at all (never half-imported)."""
    started = utcnow()
    connector = connector_for(source)
    parse = getattr(connector, "parse_request", None)
    items = list(parse(payload, content_type, headers or {}) if parse else connector.parse(payload, content_type))
    rejects = getattr(connector, "rejects_file", None)
    if rejects is not None and rejects(items):  # wrong headers: nothing of the file is stored
        outcome = Outcome(bad=[{"index": i.index, "field": i.field, "reason": i.reason}
                               for i in items if isinstance(i, BadRecord)],
                          warnings=[_notice(i) for i in items if isinstance(i, Notice)])
    else:
        outcome = store(session, source.name, items, actor)
    sources.record_run(session, source, trigger=trigger, ok=True, items=outcome.items, bad=outcome.bad,
                       newest=outcome.newest, started_at=started)
    return outcome


def _notice(item: Notice) -> dict[str, Any]:
    return {"index": item.index, "field": item.field, "reason": item.reason}


def try_config(kind: str, config: dict[str, Any], name: str = "test") -> dict[str, Any]:
    """What the administrator's *test* button shows: the configuration's problems, or one poll's first items
    (nothing is stored)."""
    try:
        connector = connector_class(kind)(config=config, source=name)
        if not polls(kind):
            return {"ok": True, "message": "configuration is valid (this kind receives data: nothing to poll)"}
        items = list(connector.poll({}))
    except BadConfig as exc:
        return {"ok": False, "message": credentials.scrub(str(exc)), "problems": exc.problems}
    except (ConnectorError, EngineError, ValueError) as exc:
        return {"ok": False, "message": _reason(exc)}
    sample = [_describe(i) for i in items[:5]]
    return {"ok": True, "message": f"{len(items)} items", "sample": sample,
            "bad": [_describe(i) for i in items if isinstance(i, BadRecord)][:20]}


def _describe(item: Any) -> dict[str, Any]:
    if isinstance(item, IncomingEvent):
        return {"event": item.type, "entity": item.entity, "time": item.time.isoformat(), "values": item.values}
    if isinstance(item, PositionReport):
        return {"event": item.type, "entity": item.entity, "time": item.fix.time.isoformat(), "values": item.values}
    if isinstance(item, Notice):
        return {"warning": item.index, "field": item.field, "reason": item.reason}
    if isinstance(item, ObservationIn):
        return {"indicator": item.indicator, "unit": item.unit, "period_start": item.period_start.isoformat(),
                "value": item.value}
    return {"bad": item.index, "field": item.field, "reason": item.reason}


def listen(name: str, stop: threading.Event, flush_s: float = 1.0, log_every_s: float = 60.0) -> int:
    """Run a streaming source (MQTT…) until ``stop``: what arrives is stored about every ``flush_s`` seconds,
    the source's health kept, and a run written to its log every ``log_every_s``. Returns the items stored."""
    with transaction() as session:
        source = sources.get(session, name)
        connector = connector_for(source)
    buffer: list[Any] = []
    last_flush = last_log = time.monotonic()
    stored, bad, total = 0, [], 0

    def flush(final: bool = False) -> None:
        nonlocal buffer, last_flush, last_log, stored, bad
        now = time.monotonic()
        with transaction() as session:
            source = sources.get(session, name, lock=True)
            outcome = store(session, name, buffer, actor=f"source:{name}")
            stored += outcome.items
            bad += outcome.bad
            if outcome.newest is not None and (source.newest_data_at is None or outcome.newest > source.newest_data_at):
                source.newest_data_at = outcome.newest
            source.last_success_at, source.status, source.error_count = utcnow(), "ok", 0
            if final or now - last_log >= log_every_s:
                sources.record_run(session, source, trigger="stream", ok=True, items=stored, bad=bad)
                stored, bad, last_log = 0, [], now
        buffer, last_flush = [], now

    try:
        for item in connector.stream(stop):
            buffer.append(item)
            total += 1
            if time.monotonic() - last_flush >= flush_s:
                flush()
    except ConnectorError as exc:
        with transaction() as session:
            sources.record_run(session, sources.get(session, name), trigger="stream", ok=False, items=0, bad=[],
                               error=_reason(exc), auth_failed=isinstance(exc, AuthFailed))
        raise
    finally:
        if buffer or stored:
            flush(final=True)
    return total


def consume(items: Iterator[Any], source: str, *, flush_s: float = 1.0, evaluate: bool = False,
            batch: int = 1000) -> Outcome:
    """Store what an iterator of items yields (a replay, a socket with no configured source), in one transaction
    about every ``flush_s`` seconds (and every ``batch`` items); with ``evaluate``, evaluate them in this process
    too (for back-filling without a worker). Returns the totals."""
    from engine import jobs

    total = Outcome()
    buffer: list[Any] = []
    last = time.monotonic()

    def flush() -> None:
        nonlocal buffer, last
        with transaction() as session:
            done = store(session, source, buffer, actor=f"source:{source}")
        total.events += done.events
        total.positions += done.positions
        total.duplicates += done.duplicates
        total.bad.extend(done.bad)
        if evaluate:
            from sqlalchemy import select as select_

            from engine.db import session_factory
            from engine.models import Event

            for _ in range(3):
                with session_factory(write=False)() as s:
                    ids = list(s.scalars(select_(Event.id).where(Event.processed_at.is_(None)).order_by(Event.id)))
                if not ids:
                    break
                jobs.process_events(ids)
        buffer, last = [], time.monotonic()

    for item in items:
        buffer.append(item)
        if len(buffer) >= batch or time.monotonic() - last >= flush_s:
            flush()
    if buffer:
        flush()
    return total


def run_job(name: str) -> None:
    """The RQ job the worker enqueues for a due source (one that receives its data has nothing to poll)."""
    with transaction() as session:
        kind = sources.get(session, name).kind
    if polls(kind):
        run(name)


def enqueue_due() -> int:
    """Claim the due sources and put one job each on the queue (from the worker's loop)."""
    from engine.queue import get_queue

    with transaction() as session:
        names = sources.due(session)
    for name in names:
        get_queue().enqueue("connectors.runtime.run_job", name, job_timeout=600)
    return len(names)
