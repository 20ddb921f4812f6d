"""the audit log's hash chain and its protection: audit_log.prev_hash and row_hash (engine.audit), filled for the rows
already stored, in id order, so that ``ioc audit verify`` passes after the upgrade; a trigger refuses UPDATE, DELETE
and TRUNCATE of audit rows on PostgreSQL unless the transaction set ioc.audit_maintenance (engine.audit.
allow_maintenance), and UPDATE on SQLite. SQLite drops a table's triggers with the table: a later batch migration of
audit_log must create this one again (SQLITE_TRIGGER).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

import engine.db
from engine.audit import GENESIS, MAINTENANCE_SETTING, row_hash

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

SQLITE_TRIGGER = ("CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log "
                  "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END")
PG_FUNCTION = f"""CREATE FUNCTION ioc_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('{MAINTENANCE_SETTING}', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$"""
PG_TRIGGER = ("CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log "
              "FOR EACH STATEMENT EXECUTE FUNCTION ioc_audit_log_append_only()")


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("prev_hash", sa.String(length=64), nullable=True))
    op.add_column("audit_log", sa.Column("row_hash", sa.String(length=64), nullable=True))
    _fill()
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("row_hash", existing_type=sa.String(length=64), nullable=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(PG_TRIGGER)
    else:
        op.execute(SQLITE_TRIGGER)


def _fill() -> None:
    """Chain the rows already stored, in id order, as engine.audit chains new ones."""
    conn = op.get_bind()
    audit = sa.table("audit_log", sa.column("id", sa.Integer()), sa.column("at", engine.db.UTCDateTime(timezone=True)),
                     *(sa.column(c, sa.String()) for c in ("actor", "action", "object_type", "object_id")),
                     sa.column("instance_id", sa.Integer()), sa.column("details", sa.JSON()),
                     sa.column("prev_hash", sa.String()), sa.column("row_hash", sa.String()))
    columns = (audit.c.id, audit.c.at, audit.c.actor, audit.c.action, audit.c.object_type, audit.c.object_id,
               audit.c.instance_id, audit.c.details)
    update = (audit.update().where(audit.c.id == sa.bindparam("row_id"))
              .values(prev_hash=sa.bindparam("prev"), row_hash=sa.bindparam("hash")))
    prev, last_id = GENESIS, None
    while True:  # a page at a time, so that a long log is not all in memory
        page = conn.execute(sa.select(*columns).where(sa.true() if last_id is None else audit.c.id > last_id)
                            .order_by(audit.c.id).limit(5000)).all()
        if not page:
            return
        batch = []
        for r in page:
            own = row_hash(r.id, r.at, r.actor, r.action, r.object_type, r.object_id, r.instance_id, r.details, prev)
            batch.append({"row_id": r.id, "prev": prev, "hash": own})
            prev, last_id = own, r.id
        conn.execute(update, batch)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION ioc_audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER audit_log_append_only")
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.drop_column("row_hash")
        batch_op.drop_column("prev_hash")
