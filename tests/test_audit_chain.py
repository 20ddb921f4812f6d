"""The audit log is tamper-evident: every row carries the hash of the one before, concurrent writers keep one chain,
``ioc audit verify`` names the first row altered or missing, and the database refuses to change audit rows."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from engine import audit
from engine.db import get_engine, transaction
from engine.migrate import alembic_config, upgrade
from engine.models import AuditEntry
from tests.conftest import backend, ioc

AUDIT = AuditEntry.__table__


def write_rows(writer: int, transactions: int = 4) -> None:
    """Transactions of three rows, with a savepoint that takes its row back."""
    for n in range(transactions):
        with transaction() as session:
            audit.record(session, f"writer-{writer}", "test.first", "thing", n, count=n, note="Hàm Rồng")
            try:
                with session.begin_nested():
                    audit.record(session, f"writer-{writer}", "test.taken_back", "thing", n)
                    session.flush()
                    raise RuntimeError("taken back")
            except RuntimeError:
                pass
            audit.record(session, f"writer-{writer}", "test.second", "thing", n, nested={"b": [1, 2.5], "a": None})
            audit.record(session, f"writer-{writer}", "test.third", "thing", n, instance_id=n)


def tamper(statement: Any) -> None:
    """Change audit rows as someone with the database's owner rights would (the trigger out of the way)."""
    with get_engine().begin() as conn:
        if conn.dialect.name == "postgresql":
            audit.allow_maintenance(conn)
            conn.execute(statement)
            return
        trigger = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'trigger' "
                                       "AND name = 'audit_log_append_only'").scalar_one()
        conn.exec_driver_sql("DROP TRIGGER audit_log_append_only")
        conn.execute(statement)
        conn.exec_driver_sql(trigger)


def ids_and_actions() -> list[tuple[int, str]]:
    with transaction() as session:
        return [tuple(r) for r in session.execute(select(AuditEntry.id, AuditEntry.action).order_by(AuditEntry.id))]


def test_concurrent_writers_keep_one_chain_that_verifies() -> None:
    threads = [threading.Thread(target=write_rows, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with transaction() as session:
        report = audit.verify(session)
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert report.ok, str(report)
    assert report.rows == len(rows) == 4 * 4 * 3 and report.last_hash == rows[-1].row_hash
    assert rows[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.row_hash for a, b in zip(rows, rows[1:], strict=False))
    assert len({r.prev_hash for r in rows}) == len(rows)  # no fork: no two rows follow the same one


@pytest.mark.skipif(backend() != "postgresql", reason="SQLite has one writer at a time whatever it writes")
def test_a_long_transaction_does_not_hold_up_the_others_audit() -> None:
    """The chain is locked only while a transaction commits: a request does not wait for a worker's long batch."""
    recorded, release = threading.Event(), threading.Event()

    def long_batch() -> None:
        with transaction() as session:
            audit.record(session, "worker", "test.long", "thing", 1)
            session.execute(text("SELECT 1"))
            recorded.set()
            release.wait(3)

    batch = threading.Thread(target=long_batch)
    batch.start()
    recorded.wait(3)
    started = time.monotonic()
    with transaction() as session:
        audit.record(session, "request", "test.short", "thing", 2)
    waited = time.monotonic() - started
    release.set()
    batch.join()
    assert waited < 1
    assert [a for _, a in ids_and_actions()] == ["test.short", "test.long"]
    with transaction() as session:
        assert audit.verify(session).ok


def test_a_deleted_row_and_an_altered_row_are_named() -> None:
    write_rows(0, transactions=2)
    (_, _), (second, _), (third, action), *_ = ids_and_actions()
    tamper(delete(AUDIT).where(AUDIT.c.id == second))
    with transaction() as session:
        report = audit.verify(session)
    assert (report.ok, report.rows, report.broken_id, report.broken_action) == (False, 1, third, action)
    assert f"broken at row #{third} (" in str(report) and "removed" in str(report)

    tamper(delete(AUDIT))  # a fresh chain, its second row altered
    write_rows(1, transactions=1)
    (_, _), (second, action), *_ = ids_and_actions()
    tamper(update(AUDIT).where(AUDIT.c.id == second).values(details={"nested": {"a": None, "b": [1, 2.5]},
                                                                         "count": 0}))
    with transaction() as session:
        report = audit.verify(session)
    assert (report.ok, report.rows, report.broken_id, report.broken_action) == (False, 1, second, action)
    assert "altered" in str(report)


def test_the_database_refuses_to_change_or_remove_audit_rows() -> None:
    write_rows(0, transactions=1)
    first = ids_and_actions()[0][0]
    with pytest.raises(DBAPIError, match="append-only"), get_engine().begin() as conn:
        conn.execute(update(AUDIT).where(AUDIT.c.id == first).values(actor="someone else"))
    if backend() == "postgresql":  # on SQLite whoever can write the file can do anything: UPDATE only is refused
        for statement in ("DELETE FROM audit_log WHERE id = :id", "TRUNCATE audit_log"):
            with pytest.raises(DBAPIError, match="append-only"), get_engine().begin() as conn:
                conn.execute(text(statement), {"id": first})
    with transaction() as session:
        assert audit.verify(session).ok


def test_the_migration_chains_the_rows_already_stored() -> None:
    from alembic import command

    write_rows(0, transactions=2)
    with transaction() as session:
        before = session.execute(select(AuditEntry.id, AuditEntry.row_hash).order_by(AuditEntry.id)).all()
    cfg = alembic_config()
    with get_engine().begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0018")
    upgrade()
    with transaction() as session:
        assert session.execute(select(AuditEntry.id, AuditEntry.row_hash).order_by(AuditEntry.id)).all() == before
    write_rows(1, transactions=1)  # new rows go on from the chain the migration made
    with transaction() as session:
        assert audit.verify(session).rows == len(before) + 3


def test_ioc_audit_verify_says_ok_or_names_the_altered_row() -> None:
    write_rows(0, transactions=1)
    env = dict(os.environ)
    ok = ioc("audit", "verify", env=env)
    assert ok.stdout.startswith("audit chain ok: 3 rows")
    (_, _), (second, action), *_ = ids_and_actions()
    tamper(update(AUDIT).where(AUDIT.c.id == second).values(object_id="42"))
    broken = ioc("audit", "verify", env=env, check=False)
    assert broken.returncode == 1 and "Traceback" not in broken.stderr
    assert broken.stderr.startswith(f"audit chain broken at row #{second} (") and f", {action}): " in broken.stderr
