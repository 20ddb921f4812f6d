"""A violation reported by a camera becomes its own review task for the provincial police; confirmed ones are
counted per camera and kind."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from engine import jobs, tasks, traffic
from engine.db import transaction, utcnow
from engine.events import IncomingEvent, ingest_events
from engine.models import Alert, HumanTask
from tests import factories


def violation(kind: str, plate: str | None, track: int) -> IncomingEvent:
    return IncomingEvent(source="camera", type="traffic_violation", sector="traffic", time=utcnow(),
                         values={"kind": kind, "plate": plate, "plate_confidence": 0.93, "track": track,
                                 "evidence": f"CAM-NGA-TU-BA-DINH/{track}.jpg"}, entity="CAM-NGA-TU-BA-DINH")


def test_each_violation_is_a_review_task_and_confirmed_ones_are_counted(session) -> None:
    with transaction() as s:
        ids = ingest_events(s, [violation("red_light", "36A-123.45", 7), violation("red_light", "36B-456.78", 9),
                                violation("lane", None, 12)], "camera").accepted
    jobs.process_events(ids)
    session.rollback()
    reviews = list(session.scalars(select(HumanTask).where(HumanTask.bpmn_id == "review_violation")))
    assert len(reviews) == 3 and all(t.candidate_department.code == "CA-TINH" for t in reviews)
    titles = sorted(a.title for a in session.scalars(select(Alert)))
    assert titles[0].startswith("Vượt đèn đỏ — 36A-123.45") and "chưa đọc được biển số" in titles[2]
    police = factories.user("officer", "CA-TINH")
    for task in reviews:  # the police confirm two and reject the one read as 36B-456.78
        with transaction() as s:
            row = s.get(HumanTask, task.id)
            decision = "confirm" if row.instance.alert.details.get("plate") != "36B-456.78" else "reject"
            tasks.complete_task(s, task.id, police, {"decision": decision})
    session.rollback()
    assert traffic.confirmed_counts(session, utcnow() - timedelta(hours=1)) == {
        ("CAM-NGA-TU-BA-DINH", "red_light"): 1, ("CAM-NGA-TU-BA-DINH", "lane"): 1}
