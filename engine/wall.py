"""What the video wall shows: counts of alerts, tasks and processes, and the latest alerts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.config import settings
from engine.db import utcnow
from engine.models import Alert, Event, HumanTask, ProcessInstance


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
    open_tasks = session.scalar(select(func.count()).select_from(HumanTask).where(HumanTask.status == "open"))
    overdue = session.scalar(select(func.count()).select_from(HumanTask)
                             .where(HumanTask.status == "open", HumanTask.due_at < now))
    due_soon = session.scalar(select(func.count()).select_from(HumanTask).where(
        HumanTask.status == "open", HumanTask.due_at >= now, HumanTask.due_at < now + timedelta(hours=4)))
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
        "events_quarantined": quarantined or 0,
        "sources_stale": session.scalar(select(func.count()).select_from(Alert).where(
            Alert.rule_id == "source-stale", Alert.status.in_(("firing", "acknowledged", "in_handling")))) or 0,
        "latest_alerts": [{"id": a.id, "title": a.title, "severity": a.severity, "status": a.status,
                           "count": a.count, "last_seen": a.last_seen.isoformat(),
                           "escalation_level": a.escalation_level, "acknowledged": a.acknowledged_at is not None}
                          for a in latest],
        "at": now.isoformat(),
    }
