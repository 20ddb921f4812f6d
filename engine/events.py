"""Ingesting events: validated, stored once per (source, idempotency key), evaluated in the background."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from engine import audit, bus
from engine.db import utcnow
from engine.errors import N_, Invalid
from engine.models import Unit
from engine.queue import enqueue_after_commit
from engine.text import nfc, nfc_or_none

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


def _insert_pg(session: Session, keyed: dict[tuple[str, str], IncomingEvent], received: datetime) -> list[int]:
    columns: dict[str, list[Any]] = {"source": [], "key": [], "type": [], "sector": [], "entity": [], "time": [],
                                     "unit": []}
    docs = []  # each event's [location, values]: one JSON text for the batch (text arrays are escaped per element)
    for (source, key), e in keyed.items():
        columns["source"].append(source)
        columns["key"].append(key)
        columns["type"].append(e.type)
        columns["sector"].append(e.sector)
        columns["entity"].append(e.entity)
        columns["time"].append(e.time)
        columns["unit"].append(e.unit)
        docs.append([e.location, e.values])
    return list(session.execute(_PG_INSERT, {**columns, "docs": json.dumps(docs), "received": received}).scalars())


# SQLite: the rows as the driver's parameters, made here (the times as ``UTCDateTime`` stores them, the JSON columns
# as json.dumps would write them), in multi-row statements: SQLAlchemy's per-row bind processing took longer than
# storing the rows. (Passing the batch as one JSON text taken apart by SQLite's json_each, as on PostgreSQL, was
# slower: SQLite parses each element again for every column.)
_SQLITE_COLUMNS = ("source, idempotency_key, type, sector, entity, time, received_at, unit_code, location, "
                   '"values", attempts')
_SQLITE_ROW = "(?,?,?,?,?,?,?,?,?,?,0)"
_SQLITE_WIDTH = _SQLITE_ROW.count("?")  # parameters a row
_JSON = json.JSONEncoder()
SQLITE_ROWS_PER_STATEMENT = 500  # 5,000 parameters: well below SQLite's limit of 32,766 per statement


def sqlite_time(moment: datetime) -> str:
    """A time as ``UTCDateTime`` stores it on SQLite: UTC, ``YYYY-MM-DD HH:MM:SS.ffffff`` (sorts as text)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


@lru_cache(maxsize=8)  # a full statement and the batch's remainder, usually
def _sqlite_statement(rows: int) -> str:
    return (f"INSERT INTO events ({_SQLITE_COLUMNS}) VALUES "  # noqa: S608 - no value in the text, only '?'
            + ",".join([_SQLITE_ROW] * rows)
            + " ON CONFLICT (source, idempotency_key) DO NOTHING RETURNING id")


def _insert_sqlite(session: Session, keyed: dict[tuple[str, str], IncomingEvent], received: datetime
                   ) -> list[int]:
    at = sqlite_time(received)
    dumps = _JSON.encode  # what json.dumps does with its defaults, without its keyword checks
    params: list[Any] = []
    for (source, key), e in keyed.items():
        location = e.location
        params += (source, key, e.type, e.sector, e.entity, sqlite_time(e.time), at, e.unit,
                   None if location is None else dumps(location), dumps(e.values))
    ids: list[int] = []
    step = SQLITE_ROWS_PER_STATEMENT * _SQLITE_WIDTH
    connection = session.connection()
    for start in range(0, len(params), step):
        part = params[start:start + step]
        ids += connection.exec_driver_sql(_sqlite_statement(len(part) // _SQLITE_WIDTH), tuple(part)).scalars()
    return ids


def _insert_ignoring_duplicates(session: Session, keyed: dict[tuple[str, str], IncomingEvent], received: datetime
                                ) -> list[int]:
    """Insert the events that are new and return their ids. An event that a concurrent request stored
    first is skipped by the database itself, so it is counted as a duplicate, never twice as new."""
    if session.get_bind().dialect.name == "postgresql":
        return _insert_pg(session, keyed, received)
    return _insert_sqlite(session, keyed, received)


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


def composed(e: IncomingEvent) -> IncomingEvent:
    """The event with its names in Unicode NFC (engine.text): a station written in composed and in decomposed
    Vietnamese is one station, and an event sent both ways is stored once."""
    if f"{e.source}{e.type}{e.sector}{e.entity}{e.unit}{e.idempotency_key}".isascii():
        return e
    return replace(e, source=nfc(e.source), type=nfc(e.type), sector=nfc(e.sector), entity=nfc_or_none(e.entity),
                   unit=nfc_or_none(e.unit), idempotency_key=nfc_or_none(e.idempotency_key))


def ingest_events(session: Session, batch: list[IncomingEvent], actor: str) -> IngestResult:
    """Store a batch; events already stored (same source and key) are counted, not stored again."""
    batch = [composed(e) for e in batch]
    check_units(session, batch)
    keyed = {(e.source, e.key()): e for e in batch}
    ids = sorted(_insert_ignoring_duplicates(session, keyed, utcnow())) if keyed else []
    duplicates = len(batch) - len(ids)
    if ids:
        audit.record(session, actor, "events.ingested", "event_batch", ids[0], count=len(ids), duplicates=duplicates)
        bus.publish(session, "events.ingested", count=len(ids))
        enqueue_after_commit(session, EVALUATE_JOB, ids)
    return IngestResult(accepted=sorted(ids), duplicates=duplicates)
