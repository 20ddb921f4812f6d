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
from engine.events import IncomingEvent, ingest_events
from engine.models import Alert, Event, HumanTask, ProcessInstance

KIND_NAMES = {"red_light": "Vượt đèn đỏ", "lane": "Đi sai làn, lấn làn", "wrong_way": "Đi ngược chiều",
              "stopping": "Dừng, đỗ sai quy định", "crowd": "Tụ tập đông người trong khu vực hạn chế"}
PROCESS = "traffic_violation_review"


def evidence_dir() -> Path:
    return settings().data_dir / "evidence"


def evidence_days() -> int:
    """How long evidence snapshots are kept (personal data, Decree 13/2023): IOC_EVIDENCE_DAYS, default 90."""
    return int(os.environ.get("IOC_EVIDENCE_DAYS", "90"))


WATCHLIST = "lists/watchlist.yaml"  # not a rule file: rules/lists/ is not read as rules


def plate_key(plate: str) -> str:
    """A plate as compared: letters and digits only, upper case ("36A-123.45" == "36a 12345")."""
    return "".join(ch for ch in plate.upper() if ch.isalnum())


def watchlist() -> dict[str, dict[str, Any]]:
    import yaml

    path = settings().rules_dir / WATCHLIST
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {plate_key(str(e["plate"])): e for e in data.get("plates") or [] if isinstance(e, dict) and e.get("plate")}


def check_watchlist(session: Session, event: Event) -> None:
    """A plate on the watch list seen by a camera (in a violation or a plain sighting) raises an alert."""
    plate = (event.values or {}).get("plate")
    if not isinstance(plate, str) or not plate:
        return
    entry = watchlist().get(plate_key(plate))
    if entry is None:
        return
    alerts.open_alert(session, Firing(
        rule_id="watchlist", dedupe_key=f"watchlist:{plate_key(plate)}", title=f"Biển số theo dõi {plate} xuất hiện "
        f"tại camera {event.entity}", severity=str(entry.get("severity") or "cao"), sector="traffic",
        entity=event.entity, unit_code=event.unit_code, value=None, time=event.time,
        details={"plate": plate, "reason": entry.get("reason"), "camera": event.entity}), actor="cameras")


def sightings(session: Session, plate: str, *, approximate: bool = False, limit: int = 500) -> list[dict[str, Any]]:
    """Where and when a plate was seen (tracing), newest first; ``approximate`` also accepts one wrong or
    missing character (a misread), which the result marks."""
    want = plate_key(plate)
    out = []
    for entity, moment, values, location in session.execute(
            select(Event.entity, Event.time, Event.values, Event.location)
            .where(Event.type.in_(("traffic_violation", "plate_sighting"))).order_by(Event.time.desc())):
        seen = (values or {}).get("plate")
        if not isinstance(seen, str):
            continue
        key = plate_key(seen)
        exact = key == want
        if exact or (approximate and _close(key, want)):
            out.append({"camera": entity, "time": moment, "plate": seen, "exact": exact,
                        "kind": (values or {}).get("kind"), "location": location})
            if len(out) >= limit:
                break
    return out


def _close(a: str, b: str) -> bool:
    """At most one substitution, insertion or deletion apart."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) <= 1
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


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
                        "evidence": values.get("evidence"), "clip": values.get("clip"), "event_id": event.id,
                        "plate_confidence": values.get("plate_confidence")}},
                    details={"kind": kind, "plate": values.get("plate"), "evidence": values.get("evidence"),
                             "clip": values.get("clip"), "plate_confidence": values.get("plate_confidence"),
                             "track": values.get("track")})
    alert, new = alerts.open_alert(session, firing, actor="cameras")
    if new:
        from engine import jobs

        jobs.start_scenario(session, alert, firing.scenario)
    check_watchlist(session, event)


def on_review(session: Session, alert: Alert, values: dict[str, Any], actor: str) -> None:
    """A confirmed violation whose plate the officer corrected: the corrected plate becomes a sighting at the
    violation's camera and time (so tracing finds it) and the alert says so; the camera's reading is kept."""
    corrected = str(values.get("plate_checked") or "").strip()
    read = str((alert.details or {}).get("plate") or "")
    if values.get("decision") != "confirm" or not corrected or plate_key(corrected) == plate_key(read):
        return
    from connectors.camera.plates import normalise

    reading = normalise(corrected)
    plate = reading.text if reading is not None else corrected.upper()
    alert.details = {**(alert.details or {}), "plate_confirmed": plate}
    sighting = IncomingEvent(source="review", type="plate_sighting", sector="traffic", time=alert.first_seen,
                             entity=alert.entity, idempotency_key=f"review:{alert.id}",
                             values={"plate": plate, "corrected_from": read or None,
                                     "kind": (alert.details or {}).get("kind")})
    ingest_events(session, [sighting], actor)


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
    """Delete evidence (snapshots and clips) older than the retention; returns how many files."""
    cutoff = (now - timedelta(days=evidence_days())).timestamp()
    removed = 0
    root = evidence_dir()
    if not root.is_dir():
        return 0
    for path in root.rglob("*"):
        if path.suffix in (".jpg", ".avi") and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def recent_violations(session: Session, since: datetime) -> list[dict[str, Any]]:
    return [{"camera": e, "time": t, **(v or {})} for e, t, v in session.execute(
        select(Event.entity, Event.time, Event.values).where(Event.type == "traffic_violation", Event.time >= since)
        .order_by(Event.time.desc()).limit(200))]
