"""Traffic: each violation an AI camera reports becomes an alert and a review task for the provincial police
(processes/traffic_violation_review.bpmn); confirmed violations are counted per camera and kind for the monitor.

Violations arrive as ``traffic_violation`` events from ``ioc camera run`` (entity = the camera's code, values
``kind`` (red_light | lane | wrong_way), ``plate``, ``plate_confidence``, ``track``, ``evidence`` (the stored
snapshot's name)). Unlike a threshold, every violation is its own case: it is not grouped with the last one.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import alerts
from engine.alerts import Firing
from engine.config import settings
from engine.models import Alert, Event, HumanTask, ProcessInstance

KIND_NAMES = {"red_light": "Vượt đèn đỏ", "lane": "Đi sai làn, lấn làn", "wrong_way": "Đi ngược chiều",
              "stopping": "Dừng, đỗ sai quy định", "crowd": "Tụ tập đông người trong khu vực hạn chế"}
PROCESS = "traffic_violation_review"


def evidence_dir() -> Path:
    return settings().data_dir / "evidence"


def evidence_days() -> int:
    """How long evidence snapshots are kept (personal data, Decree 13/2023): IOC_EVIDENCE_DAYS, default 90."""
    return int(os.environ.get("IOC_EVIDENCE_DAYS", "90"))


def on_violation(session: Session, event: Event) -> None:
    values = event.values or {}
    kind = str(values.get("kind") or "unknown")
    plate = values.get("plate") or "chưa đọc được biển số"
    title = f"{KIND_NAMES.get(kind, kind)} — {plate} — camera {event.entity}"
    firing = Firing(rule_id=f"camera:{kind}", dedupe_key=f"violation:{event.id}", title=title[:300],
                    severity="thap", sector="traffic", entity=event.entity, unit_code=event.unit_code,
                    value=values.get("plate_confidence"), time=event.time,
                    scenario={"process": PROCESS, "variables": {
                        "camera": event.entity, "kind": kind, "plate": values.get("plate"),
                        "evidence": values.get("evidence"), "event_id": event.id}},
                    details={"kind": kind, "plate": values.get("plate"), "evidence": values.get("evidence"),
                             "track": values.get("track")})
    alert, new = alerts.open_alert(session, firing, actor="cameras")
    if new:
        from engine import jobs

        jobs.start_scenario(session, alert, firing.scenario)


def confirmed_counts(session: Session, since: datetime) -> dict[tuple[str, str], int]:
    """Confirmed violations since ``since``, by (camera, kind)."""
    counts: Counter[tuple[str, str]] = Counter()
    stmt = (select(HumanTask.result, Alert.entity, Alert.details)
            .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
            .join(Alert, Alert.id == ProcessInstance.alert_id)
            .where(HumanTask.bpmn_id == "review_violation", HumanTask.status == "completed",
                   HumanTask.completed_at >= since))
    for result, camera, details in session.execute(stmt):
        if (result or {}).get("decision") == "confirm":
            counts[(camera or "?", str((details or {}).get("kind")))] += 1
    return dict(counts)


def purge_evidence(now: datetime) -> int:
    """Delete evidence snapshots older than the retention; returns how many."""
    cutoff = (now - timedelta(days=evidence_days())).timestamp()
    removed = 0
    root = evidence_dir()
    if not root.is_dir():
        return 0
    for path in root.rglob("*.jpg"):
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def recent_violations(session: Session, since: datetime) -> list[dict[str, Any]]:
    return [{"camera": e, "time": t, **(v or {})} for e, t, v in session.execute(
        select(Event.entity, Event.time, Event.values).where(Event.type == "traffic_violation", Event.time >= since)
        .order_by(Event.time.desc()).limit(200))]
