"""Alerts: opened by rules, grouped by dedupe key while open, handled through a process, closed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import audit, bus
from engine.db import utcnow
from engine.models import Alert, Department

SEVERITY_ORDER = {"thap": 1, "trung_binh": 2, "cao": 3, "khan_cap": 4}


@dataclass(frozen=True)
class Firing:
    """A rule's verdict on one event: what alert to open, and what to start for it."""

    rule_id: str
    dedupe_key: str
    title: str
    severity: str
    sector: str
    entity: str | None
    unit_code: str | None
    value: float | None
    time: datetime
    scenario: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


def open_alert(session: Session, firing: Firing, actor: str = "rules") -> tuple[Alert, bool]:
    """Open an alert, or count a repeat on the open one with the same dedupe key. Returns (alert, new)."""
    existing = session.scalar(select(Alert).where(Alert.open_key == firing.dedupe_key).with_for_update())
    if existing is None:
        alert = Alert(rule_id=firing.rule_id, dedupe_key=firing.dedupe_key, open_key=firing.dedupe_key,
                      title=firing.title, severity=firing.severity, status="firing", sector=firing.sector,
                      entity=firing.entity, unit_code=firing.unit_code, value=firing.value, count=1,
                      first_seen=firing.time, last_seen=firing.time, details=firing.details)
        try:
            with session.begin_nested():
                session.add(alert)
        except IntegrityError:  # another worker opened it a moment ago
            existing = session.scalar(select(Alert).where(Alert.open_key == firing.dedupe_key).with_for_update())
        else:
            audit.record(session, actor, "alert.opened", "alert", alert.id, rule=firing.rule_id,
                         severity=firing.severity, value=firing.value)
            bus.publish(session, "alert.opened", alert_id=alert.id, severity=alert.severity, title=alert.title)
            return alert, True
    assert existing is not None
    existing.count += 1
    existing.last_seen = max(existing.last_seen, firing.time)
    existing.value = firing.value
    if SEVERITY_ORDER.get(firing.severity, 0) > SEVERITY_ORDER.get(existing.severity, 0):
        existing.severity = firing.severity
    audit.record(session, actor, "alert.repeated", "alert", existing.id, count=existing.count, value=firing.value)
    bus.publish(session, "alert.repeated", alert_id=existing.id, count=existing.count)
    return existing, False


def mark_in_handling(session: Session, alert: Alert, instance_id: int, actor: str) -> None:
    alert.status = "in_handling"
    audit.record(session, actor, "alert.in_handling", "alert", alert.id, instance_id=instance_id)
    bus.publish(session, "alert.in_handling", alert_id=alert.id, instance_id=instance_id)


def assign_department(session: Session, alert: Alert, code: str, actor: str) -> None:
    dept = session.scalar(select(Department).where(Department.code == code))
    if dept is not None and alert.department_id != dept.id:
        alert.department_id = dept.id
        audit.record(session, actor, "alert.assigned", "alert", alert.id, department=code)


def close_alert(session: Session, alert: Alert, actor: str) -> None:
    if alert.status == "closed":
        return
    alert.status = "closed"
    alert.open_key = None
    alert.closed_at = utcnow()
    audit.record(session, actor, "alert.closed", "alert", alert.id)
    bus.publish(session, "alert.closed", alert_id=alert.id)


def visible_alerts(principal_role: str, department_id: int | None) -> Any:
    """The alerts a role sees: all, except officers, who see their department's."""
    stmt = select(Alert)
    if principal_role == "officer":
        stmt = stmt.where(Alert.department_id == (department_id or -1))
    return stmt
