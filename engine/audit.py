"""The audit log: one row per change, written in the change's own transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import AuditEntry


def record(session: Session, actor: str, action: str, object_type: str, object_id: object,
           *, instance_id: int | None = None, **details: Any) -> AuditEntry:
    entry = AuditEntry(actor=actor, action=action, object_type=object_type, object_id=str(object_id),
                       instance_id=instance_id, details=details)
    session.add(entry)
    return entry


def history_of_instance(session: Session, instance_id: int) -> list[AuditEntry]:
    stmt = select(AuditEntry).where(AuditEntry.instance_id == instance_id).order_by(AuditEntry.id)
    return list(session.scalars(stmt))
