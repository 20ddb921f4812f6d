"""The audit log: one row per change, written in the change's own transaction, and chained so that a row altered,
removed or slipped in afterwards shows.

Each row carries ``prev_hash``, the ``row_hash`` of the row before it (by id), and its own ``row_hash``: SHA-256 over
a canonical serialisation of its fields and ``prev_hash`` (:func:`row_hash`). :func:`record` keeps the entry with the
transaction (a savepoint rolled back takes its entries back, engine.db); when the transaction commits, the head of the
chain is read under a lock held to the end of the transaction and the entries are inserted with their ids and hashes,
in the order they were recorded (:func:`_chain_and_insert`). Concurrent writers queue there instead of forking the
chain — on PostgreSQL behind a transaction-level advisory lock, taken once the transaction's other changes are
flushed, so that it is held only for an INSERT and the COMMIT (never while waiting for another row's lock: no
deadlock, and a long batch does not hold up the others); on SQLite behind the database's write lock, which every
writing transaction holds from its start (``BEGIN IMMEDIATE``, engine.db). An entry therefore gets its id, and shows
in queries, once its transaction commits.

:func:`verify` walks the chain (``ioc audit verify``). Migration 0019 also makes the table refuse UPDATE (and on
PostgreSQL DELETE and TRUNCATE) with a trigger; :func:`allow_maintenance` is the sanctioned way around it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from engine import db
from engine.models import AuditEntry

GENESIS = "0" * 64  # the prev_hash of the first row
# pg_advisory_xact_lock's key for "the head of the audit chain" (any constant no other code uses: 'IOCAUDI').
CHAIN_LOCK = 0x494F4341554449
MAINTENANCE_SETTING = "ioc.audit_maintenance"  # PostgreSQL: 'on' lets the trigger pass UPDATE/DELETE (see 0019)
PENDING = "audit.pending"  # session.info: the entries recorded in this transaction, written when it commits

log = logging.getLogger(__name__)


def _recorded_too_late(entries: list[AuditEntry]) -> None:
    log.error("audit entries recorded while the transaction committed were not written: %s",
              ", ".join(e.action for e in entries))


# The entries are written by _chain_and_insert, before the commit; engine.db's hand-on machinery is what drops them
# on a rollback and takes a rolled-back savepoint's back, so nothing is left to hand on after the commit.
db.after_commit(PENDING, _recorded_too_late)


def record(session: Session, actor: str, action: str, object_type: str, object_id: object,
           *, instance_id: int | None = None, **details: Any) -> AuditEntry:
    """Audit a change. The entry is inserted (and gets its id) when the transaction commits."""
    entry = AuditEntry(at=db.utcnow(), actor=actor, action=action, object_type=object_type,
                       object_id=str(object_id), instance_id=instance_id, details=details)
    session.info.setdefault(PENDING, []).append(entry)
    return entry


def history_of_instance(session: Session, instance_id: int) -> list[AuditEntry]:
    stmt = select(AuditEntry).where(AuditEntry.instance_id == instance_id).order_by(AuditEntry.id)
    return list(session.scalars(stmt))


# -- the chain -----------------------------------------------------------------------------------------------------


def _canonical_json(value: Any) -> str:
    """``value`` as JSON with sorted keys, the same before it is stored and once read back: what the database gives
    back is what ``json.dumps`` stored (keys that are not strings come back as strings, so those are put through
    JSON once first)."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    except TypeError:  # keys of mixed types cannot be sorted: normalise them as the database will
        return json.dumps(json.loads(json.dumps(value)), sort_keys=True, separators=(",", ":"))


def row_hash(id_: int, at: datetime, actor: str, action: str, object_type: str, object_id: str,
             instance_id: int | None, details: Any, prev_hash: str) -> str:
    """SHA-256 (hex) of one row's fields and the previous row's hash. Times count as UTC, to the microsecond, which
    both databases keep (engine.db.UTCDateTime)."""
    fields = [id_, at.astimezone(UTC).isoformat(timespec="microseconds"), actor, action, object_type, object_id,
              instance_id, details, prev_hash]
    return hashlib.sha256(_canonical_json(fields).encode("ascii")).hexdigest()


def _head_and_ids(session: Session, count: int) -> tuple[str, list[int]]:
    """The chain's last hash and ``count`` ids for new rows, with the chain locked until this transaction ends."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        # its own statement: the next one must see what the lock's previous holder committed
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})
        rows = conn.execute(text(
            "SELECT nextval(pg_get_serial_sequence('audit_log', 'id')), "
            "(SELECT row_hash FROM audit_log ORDER BY id DESC LIMIT 1) FROM generate_series(1, CAST(:n AS integer))"),
            {"n": count}).all()
        return rows[0][1] or GENESIS, sorted(r[0] for r in rows)
    # SQLite: this transaction holds the write lock already; ids are what SQLite would give (the last one + 1)
    last = conn.exec_driver_sql("SELECT id, row_hash FROM audit_log ORDER BY id DESC LIMIT 1").first()
    last_id, head = (last[0], last[1]) if last else (0, GENESIS)
    return head, list(range(last_id + 1, last_id + 1 + count))


@event.listens_for(Session, "before_commit")
def _chain_and_insert(session: Session) -> None:
    if session.in_nested_transaction() or not (entries := session.info.pop(PENDING, None)):
        return  # a savepoint's release: its entries go on with the transaction
    if session.connection().dialect.name == "postgresql":
        session.flush()  # the other changes first: no row lock is then awaited while the chain's lock is held
    prev, ids = _head_and_ids(session, len(entries))
    for entry, id_ in zip(entries, ids, strict=True):
        entry.id = id_
        entry.at = entry.at or db.utcnow()
        entry.details = {} if entry.details is None else entry.details
        entry.prev_hash = prev
        entry.row_hash = prev = row_hash(id_, entry.at, entry.actor, entry.action, entry.object_type,
                                         entry.object_id, entry.instance_id, entry.details, prev)
    session.add_all(entries)  # flushed by the commit, which goes on from here


def allow_maintenance(conn: Connection | Session) -> None:
    """Let this transaction delete (or change) audit rows despite the trigger: for clearing a test database, or a
    deliberate, documented purge. PostgreSQL only; on SQLite the trigger refuses UPDATE alone, and DELETE needs
    nothing. The chain will say where rows went missing."""
    dialect = conn.get_bind().dialect if isinstance(conn, Session) else conn.dialect
    if dialect.name == "postgresql":
        conn.execute(text(f"SET LOCAL {MAINTENANCE_SETTING} = 'on'"))


# -- verification --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    rows: int  # rows checked
    last_id: int | None
    last_hash: str
    broken_id: int | None = None  # the first row that does not fit, and why
    broken_at: datetime | None = None
    broken_action: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_id is None

    def __str__(self) -> str:
        if self.ok:
            last = f", last row #{self.last_id} {self.last_hash}" if self.last_id is not None else ""
            return f"audit chain ok: {self.rows} rows{last}"
        at = self.broken_at.astimezone(UTC).isoformat() if self.broken_at else "?"
        return f"audit chain broken at row #{self.broken_id} ({at}, {self.broken_action}): {self.reason}"


def check_chain(rows: Iterable[Any]) -> ChainReport:
    """Walk rows (with AuditEntry's fields, in id order) and report the first that does not fit the chain: its stored
    hash is not its contents' (the row was altered) or its prev_hash is not the hash of the row before it (a row was
    removed or slipped in before it, or the chain was cut there)."""
    count, last_id, prev = 0, None, GENESIS
    for r in rows:
        if r.prev_hash != prev:
            reason = (f"its prev_hash is not the hash of the row before it (#{last_id}): a row was removed or added"
                      if last_id is not None else "the first row does not start the chain: rows before it are missing")
            return ChainReport(count, last_id, prev, r.id, r.at, r.action, reason)
        computed = row_hash(r.id, r.at, r.actor, r.action, r.object_type, r.object_id, r.instance_id, r.details,
                            r.prev_hash)
        if r.row_hash != computed:
            return ChainReport(count, last_id, prev, r.id, r.at, r.action,
                               "its contents do not match its hash: the row was altered")
        count, last_id, prev = count + 1, r.id, r.row_hash
    return ChainReport(count, last_id, prev)


def verify(session: Session) -> ChainReport:
    """Check the whole audit chain, reading it in id order a thousand rows at a time."""
    t = AuditEntry.__table__
    stmt = select(*t.c).order_by(t.c.id).execution_options(yield_per=1000)
    return check_chain(session.execute(stmt))
