"""Alerts: opened by rules, grouped by dedupe key while open, handled through a process, closed."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import audit, bus, notifications
from engine.db import utcnow
from engine.errors import N_, Forbidden
from engine.models import Alert, Department
from engine.org import Principal

SEVERITY_ORDER = {"thap": 1, "trung_binh": 2, "cao": 3, "khan_cap": 4}
# Minutes an alert may go unacknowledged before the next level (leaders, then administrators at twice the
# time) is notified. IOC_ESCALATE_<SEVERITY>_MIN overrides one, e.g. IOC_ESCALATE_KHAN_CAP_MIN=2.
ESCALATE_AFTER_MIN = {sev: float(os.environ.get(f"IOC_ESCALATE_{sev.upper()}_MIN", default))
                      for sev, default in {"khan_cap": 5, "cao": 15, "trung_binh": 60, "thap": 240}.items()}
MAX_ESCALATION = 2
ACTIVE = ("firing", "acknowledged", "in_handling")
# Who takes an alert on: not a process designer, who models the work and does not do it (docs/security.md).
ACKNOWLEDGERS = ("leader", "officer", "operator", "admin")


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
    existing = _open_alert(session, firing.dedupe_key)
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
            if notifications.active_silence(session, alert) is not None:
                alert.silenced = True  # opened during a silence or maintenance window: nobody is paged for it
            notifications.notify(session, alert, "opened")
            session.info.setdefault("open_alerts", {})[firing.dedupe_key] = alert
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


def _open_alert(session: Session, key: str) -> Alert | None:
    """The open alert with this dedupe key, locked. Those opened or found in this session are kept for its next
    lookups, and the lookup does not flush the session's pending changes first: the worker judges a chunk of events
    in one transaction, and an alert repeating on every event would otherwise flush all the chunk's writes once per
    event. What a flush could change is checked instead: an alert resolved in this session (its ``open_key``
    cleared, maybe not yet written) is not open, and alerts are only ever opened here, where they are kept."""
    known: dict[str, Alert] = session.info.setdefault("open_alerts", {})
    alert = known.get(key)
    if alert is not None and alert in session and alert.open_key == key:
        return alert
    with session.no_autoflush:
        alert = session.scalar(select(Alert).where(Alert.open_key == key).with_for_update())
    if alert is None or alert.open_key != key:
        return None
    known[key] = alert
    return alert


def mark_in_handling(session: Session, alert: Alert, instance_id: int, actor: str) -> None:
    alert.status = "in_handling"
    audit.record(session, actor, "alert.in_handling", "alert", alert.id, instance_id=instance_id)
    bus.publish(session, "alert.in_handling", alert_id=alert.id, instance_id=instance_id)


def assign_department(session: Session, alert: Alert, code: str, actor: str) -> None:
    dept = session.scalar(select(Department).where(Department.code == code))
    if dept is not None and alert.department_id != dept.id:
        alert.department_id = dept.id
        audit.record(session, actor, "alert.assigned", "alert", alert.id, department=code)


def resolve_alert(session: Session, alert: Alert, actor: str, *, reason: str) -> None:
    """The condition cleared: the alert is resolved (a new breach opens a new alert), and its process is
    told (``alert_cleared``: the incident process ends if nobody has taken it up yet). With no process
    running for it, a resolved alert is closed at once."""
    from engine import messages  # messages use the runtime, which closes alerts when processes end
    from engine.errors import NotFound

    if alert.status in ("resolved", "closed"):
        return
    alert.status, alert.resolved_at, alert.open_key = "resolved", utcnow(), None
    audit.record(session, actor, "alert.resolved", "alert", alert.id, reason=reason)
    bus.publish(session, "alert.resolved", alert_id=alert.id, severity=alert.severity, title=alert.title)
    notifications.notify(session, alert, "resolved")
    try:
        messages.send(session, "alert_cleared", business_key=f"alert:{alert.id}",
                      variables={"cleared_at": utcnow().isoformat()}, actor=actor)
    except NotFound:  # the process has moved past the point where a cleared alert matters
        pass
    if not any(i.status in ("running", "incident", "suspended") for i in alert.instances):
        close_alert(session, alert, actor)


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


def acknowledge(session: Session, alert: Alert, actor: str) -> bool:
    """Someone has seen the alert and takes it on: escalation stops. Returns False if it already was."""
    if alert.acknowledged_at is not None or alert.status in ("resolved", "closed"):
        return False
    alert.acknowledged_at, alert.acknowledged_by = utcnow(), actor
    if alert.status == "firing":
        alert.status = "acknowledged"
    audit.record(session, actor, "alert.acknowledged", "alert", alert.id)
    bus.publish(session, "alert.acknowledged", alert_id=alert.id, by=actor)
    return True


def acknowledge_as(session: Session, alert: Alert, principal: Principal) -> bool:
    """``acknowledge`` for a person or token of a role that takes alerts on (a designer is refused)."""
    if principal.role not in ACKNOWLEDGERS:
        raise Forbidden(N_("A process designer does not acknowledge alerts"), code="role_cannot_acknowledge")
    return acknowledge(session, alert, principal.name)


def escalate_due(session: Session, now: datetime | None = None) -> int:
    """Escalate active, unacknowledged, unsilenced alerts past their severity's time; returns how many."""
    now = now or utcnow()
    stmt = select(Alert).where(Alert.status.in_(ACTIVE), Alert.acknowledged_at.is_(None),
                               Alert.silenced.is_(False), Alert.escalation_level < MAX_ESCALATION)
    done = 0
    for alert in session.scalars(stmt.with_for_update(skip_locked=True)):
        level = alert.escalation_level + 1
        after = timedelta(minutes=ESCALATE_AFTER_MIN.get(alert.severity, 60) * level)
        if now - alert.created_at < after:
            continue
        alert.escalation_level, alert.escalated_at = level, now
        audit.record(session, "escalation", "alert.escalated", "alert", alert.id, level=level)
        bus.publish(session, "alert.escalated", alert_id=alert.id, level=level, severity=alert.severity,
                    title=alert.title)
        notifications.notify(session, alert, "escalated", level=level)
        done += 1
    return done
