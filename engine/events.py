"""Ingesting events: validated, stored once per (source, idempotency key), evaluated in the background."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from engine import audit, bus
from engine.db import utcnow
from engine.errors import N_, Invalid
from engine.models import Event, Unit
from engine.queue import enqueue_after_commit

EVALUATE_JOB = "engine.jobs.process_events"


@dataclass(frozen=True)
class IncomingEvent:
    source: str
    type: str
    sector: str
    time: datetime
    values: dict[str, Any]
    entity: str | None = None
    unit: str | None = None
    location: dict[str, Any] | None = None
    idempotency_key: str | None = None

    def key(self) -> str:
        """The given key, or a digest of the content: an identical event posted twice is stored once."""
        if self.idempotency_key:
            return self.idempotency_key
        body = json.dumps([self.type, self.sector, self.entity, self.time.isoformat(), self.values,
                           self.unit, self.location], sort_keys=True, default=str)
        return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class IngestResult:
    accepted: list[int]
    duplicates: int


# PostgreSQL: one short statement whatever the batch, its columns as arrays. A multi-row VALUES statement of 1,000
# events has 10,000 placeholders, too long for the driver's cache of converted statements: converting it again for
# every request took more time than storing the rows.
_PG_INSERT = text(
    "INSERT INTO events (source, idempotency_key, type, sector, entity, time, received_at, unit_code, location, "
    '"values", attempts) '
    "SELECT s, k, t, sec, ent, tm, CAST(:received AS timestamptz), u, "
    "CASE WHEN json_typeof(j -> 0) = 'null' THEN NULL ELSE j -> 0 END, j -> 1, 0 "
    "FROM unnest(CAST(:source AS varchar[]), CAST(:key AS varchar[]), CAST(:type AS varchar[]), "
    "CAST(:sector AS varchar[]), CAST(:entity AS varchar[]), CAST(:time AS timestamptz[]), CAST(:unit AS varchar[]), "
    "ARRAY(SELECT e FROM json_array_elements(CAST(:docs AS json)) WITH ORDINALITY AS d(e, n) ORDER BY n)) "
    "AS x(s, k, t, sec, ent, tm, u, j) "
    "ON CONFLICT (source, idempotency_key) DO NOTHING RETURNING id")


def _insert_pg(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    columns: dict[str, list[Any]] = {"source": [], "key": [], "type": [], "sector": [], "entity": [], "time": [],
                                     "unit": []}
    docs = []  # each event's [location, values]: one JSON text for the batch (text arrays are escaped per element)
    for r in rows:
        columns["source"].append(r["source"])
        columns["key"].append(r["idempotency_key"])
        columns["type"].append(r["type"])
        columns["sector"].append(r["sector"])
        columns["entity"].append(r["entity"])
        columns["time"].append(r["time"])
        columns["unit"].append(r["unit_code"])
        docs.append([r["location"], r["values"]])
    return list(session.execute(_PG_INSERT, {**columns, "docs": json.dumps(docs),
                                             "received": rows[0]["received_at"]}).scalars())


def _insert_ignoring_duplicates(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert the rows that are new and return their ids. A row that a concurrent request stored
    first is skipped by the database itself, so it is counted as a duplicate, never twice as new."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return _insert_pg(session, rows)
    # The Core table, not the ORM entity: an ORM bulk insert spends about as long per row preparing it as the
    # database spends storing it.
    table = cast(Table, Event.__table__)
    stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=["source", "idempotency_key"])
    return [row for row in session.execute(stmt.returning(table.c.id), rows).scalars() if row is not None]


def check_units(session: Session, batch: list[IncomingEvent]) -> None:
    """Refuse the batch when an event names an administrative unit that does not exist."""
    codes = {e.unit for e in batch if e.unit}
    if not codes:
        return
    known = set(session.scalars(select(Unit.code).where(Unit.code.in_(codes))))
    bad = {str(i): {"unit": [N_("unknown administrative unit code")]} for i, e in enumerate(batch)
           if e.unit and e.unit not in known}
    if bad:
        raise Invalid(N_("Some events name an unknown administrative unit"), details={"fields": {"events": bad}})


def ingest_events(session: Session, batch: list[IncomingEvent], actor: str) -> IngestResult:
    """Store a batch; events already stored (same source and key) are counted, not stored again."""
    check_units(session, batch)
    now = utcnow()
    keyed = {(e.source, e.key()): e for e in batch}
    rows = [{"source": s, "idempotency_key": k, "type": e.type, "sector": e.sector, "entity": e.entity,
             "time": e.time, "received_at": now, "unit_code": e.unit, "location": e.location, "values": e.values}
            for (s, k), e in keyed.items()]
    ids = sorted(_insert_ignoring_duplicates(session, rows)) if rows else []
    duplicates = len(batch) - len(ids)
    if ids:
        audit.record(session, actor, "events.ingested", "event_batch", ids[0], count=len(ids), duplicates=duplicates)
        bus.publish(session, "events.ingested", count=len(ids))
        enqueue_after_commit(session, EVALUATE_JOB, ids)
    return IngestResult(accepted=sorted(ids), duplicates=duplicates)
