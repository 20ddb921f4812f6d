"""What the video wall shows: counts of alerts, tasks and processes, the latest alerts, and the workflow's status:
where work waits (open tasks by process and step) and how far the directives in progress have come."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import cockpit, directives
from engine.config import settings
from engine.db import utcnow
from engine.models import Alert, Directive, Event, ProcessInstance, RuleState

WALL_DIRECTIVES = 6  # the newest directives in progress the wall shows


def start_of_local_day(now: datetime) -> datetime:
    local = now.astimezone(ZoneInfo(settings().timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def summary(session: Session) -> dict[str, Any]:
    now = utcnow()
    today = start_of_local_day(now)
    by_severity = dict(session.execute(select(Alert.severity, func.count()).where(Alert.status != "closed")
                                       .group_by(Alert.severity)).all())
    by_status = dict(session.execute(select(ProcessInstance.status, func.count())
                                     .group_by(ProcessInstance.status)).all())
    steps = cockpit.open_steps(session, now)  # one pass over the open tasks' index
    open_tasks, overdue = sum(s.open for s in steps), sum(s.overdue for s in steps)
    due_soon = sum(s.due_soon for s in steps)
    alerts_today = session.scalar(select(func.count()).select_from(Alert).where(Alert.created_at >= today))
    closed_today = session.scalar(select(func.count()).select_from(Alert).where(Alert.closed_at >= today))
    completed_today = session.scalar(select(func.count()).select_from(ProcessInstance)
                                     .where(ProcessInstance.ended_at >= today))
    latest = session.scalars(select(Alert).order_by(Alert.id.desc()).limit(8))
    escalated = session.scalar(select(func.count()).select_from(Alert).where(
        Alert.status.in_(("firing", "acknowledged", "in_handling")), Alert.escalation_level > 0,
        Alert.acknowledged_at.is_(None)))
    quarantined = session.scalar(select(func.count()).select_from(Event).where(Event.error.is_not(None)))
    return {
        "alerts_open": sum(by_severity.values()),
        "alerts_by_severity": {k: by_severity.get(k, 0) for k in ("khan_cap", "cao", "trung_binh", "thap")},
        "alerts_today": alerts_today or 0,
        "alerts_escalated": escalated or 0,
        "alerts_closed_today": closed_today or 0,
        "tasks_open": open_tasks or 0,
        "tasks_overdue": overdue or 0,
        "tasks_due_soon": due_soon or 0,
        "instances_running": by_status.get("running", 0),
        "instances_completed": by_status.get("completed", 0),
        "instances_completed_today": completed_today or 0,
        "instances_incident": by_status.get("incident", 0),
        "instances_suspended": by_status.get("suspended", 0),
        "events_quarantined": quarantined or 0,
        "rules_in_error": session.scalar(select(func.count(func.distinct(RuleState.rule_id)))
                                         .where(RuleState.status == "error")) or 0,
        "sources_stale": session.scalar(select(func.count()).select_from(Alert).where(
            Alert.rule_id == "source-stale", Alert.status.in_(("firing", "acknowledged", "in_handling")))) or 0,
        "latest_alerts": [{"id": a.id, "title": a.title, "severity": a.severity, "status": a.status,
                           "count": a.count, "last_seen": a.last_seen.isoformat(),
                           "escalation_level": a.escalation_level, "acknowledged": a.acknowledged_at is not None}
                          for a in latest],
        "waiting_steps": [step.__dict__ for step in cockpit.waiting_steps(session, limit=8, steps=steps)],
        "directives": directives_in_progress(session, now),
        "at": now.isoformat(),
    }


def directives_in_progress(session: Session, now: datetime) -> list[dict[str, Any]]:
    """The newest directives still running: departments done of all, overdue departments, the deadline."""
    rows = session.scalars(select(Directive).join(ProcessInstance, Directive.instance_id == ProcessInstance.id)
                           .where(ProcessInstance.status == "running").order_by(Directive.id.desc())
                           .limit(WALL_DIRECTIVES))
    out = []
    for directive in rows:
        steps = directives.progress(session, directive)
        out.append({"id": directive.id, "title": directive.title, "deadline": directive.deadline.isoformat(),
                    "late": directive.deadline < now, "total": len(steps),
                    "done": sum(1 for p in steps if p.state == "done"),
                    "overdue": sum(1 for p in steps if p.state == "overdue")})
    return out
