"""The incident loop through the engine's actions: event → alert → process → inbox → done."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine import jobs, tasks
from engine.db import transaction
from engine.errors import Conflict, Forbidden, Invalid
from engine.events import ingest_events
from engine.models import Alert, AuditEntry, Event, HumanTask, ProcessInstance
from tests import factories


def ingest(*events) -> list[int]:
    with transaction() as session:
        result = ingest_events(session, list(events), "test")
    jobs.process_events(result.accepted)
    return result.accepted


def open_task(session, bpmn_id: str) -> HumanTask:
    session.rollback()  # end the read transaction: see what the actions committed since
    row = session.scalar(select(HumanTask).where(HumanTask.bpmn_id == bpmn_id, HumanTask.status == "open"))
    assert row is not None, f"no open {bpmn_id} task"
    return row


def complete(principal, task_id: int, values: dict) -> HumanTask:
    with transaction() as session:
        return tasks.complete_task(session, task_id, principal, values)


def test_event_over_threshold_opens_alert_and_triage_task(session) -> None:
    ingest(factories.incoming(aqi=180))
    alert = session.scalar(select(Alert))
    assert alert.status == "in_handling" and alert.severity == "cao" and alert.title == "VN_AQI 180 tại trạm TH-AQ-01"
    triage = open_task(session, "triage")
    assert triage.candidate_role == "operator" and triage.due_at is not None
    assert triage.title == alert.title
    assert session.scalar(select(Event)).processed_at is not None


def test_event_under_threshold_opens_nothing(session) -> None:
    ingest(factories.incoming(aqi=90))
    assert session.scalar(select(func.count()).select_from(Alert)) == 0
    assert session.scalar(select(Event)).processed_at is not None


def test_repeats_are_grouped_on_the_open_alert(session) -> None:
    ingest(factories.incoming(aqi=170), factories.incoming(aqi=190), factories.incoming(aqi=160, entity="OTHER"))
    alerts = {a.entity: a for a in session.scalars(select(Alert))}
    assert alerts["TH-AQ-01"].count == 2 and alerts["TH-AQ-01"].value == 190
    assert alerts["OTHER"].count == 1
    assert session.scalar(select(func.count()).select_from(ProcessInstance)) == 2


def test_an_event_is_evaluated_once_even_if_its_job_runs_twice(session) -> None:
    ids = ingest(factories.incoming(aqi=170))
    assert jobs.process_events(ids) == 0
    assert session.scalar(select(Alert)).count == 1


def test_whole_loop_with_a_returned_report(session) -> None:
    operator = factories.user("operator", "TT-IOC")
    officer = factories.user("officer", "SO-NNMT")
    other_officer = factories.user("officer", "SO-YT")
    leader = factories.user("leader")
    ingest(factories.incoming(aqi=210))

    triage = open_task(session, "triage")
    with pytest.raises(Forbidden):
        complete(officer, triage.id, {"department": "SO-NNMT", "due_in": "PT4H"})
    with pytest.raises(Invalid) as bad:
        complete(operator, triage.id, {"due_in": "PT4H"})
    assert set(bad.value.details["fields"]) == {"department"}
    complete(operator, triage.id, {"department": "SO-NNMT", "due_in": "PT4H", "instruction": "Kiểm tra ngay"})
    with pytest.raises(Conflict):
        complete(operator, triage.id, {"department": "SO-NNMT", "due_in": "PT4H"})

    handle = open_task(session, "handle")
    assert handle.candidate_department.code == "SO-NNMT"
    assert (handle.due_at - handle.created_at).total_seconds() == pytest.approx(4 * 3600, abs=2)
    with pytest.raises(Forbidden):
        tasks.get_task(session, handle.id, other_officer)
    with transaction() as s:
        tasks.claim_task(s, handle.id, officer)
    second = factories.user("officer", "SO-NNMT")
    with pytest.raises(Conflict), transaction() as s:
        tasks.claim_task(s, handle.id, second)
    with pytest.raises(Forbidden):
        complete(second, handle.id, {"actions_taken": "x"})
    complete(officer, handle.id, {"actions_taken": "Đã lấy mẫu, yêu cầu nhà máy dừng lò"})

    report = open_task(session, "report")
    assert report.assignee_id == officer.user_id  # the report goes back to whoever handled it
    complete(officer, report.id, {"report_text": "Đã khắc phục", "resolved": True})

    review = open_task(session, "review")
    assert review.candidate_role == "leader"
    complete(leader, review.id, {"decision": "return", "leader_comment": "Bổ sung số liệu"})
    handle_again = open_task(session, "handle")
    assert handle_again.id != handle.id and handle_again.candidate_department.code == "SO-NNMT"
    complete(officer, handle_again.id, {"actions_taken": "Bổ sung số liệu quan trắc"})
    complete(officer, open_task(session, "report").id, {"report_text": "Đầy đủ", "resolved": True})
    complete(leader, open_task(session, "review").id, {"decision": "accept"})

    session.rollback()
    instance = session.scalar(select(ProcessInstance))
    alert = session.scalar(select(Alert))
    assert instance.status == "completed" and instance.ended_at is not None
    assert alert.status == "closed" and alert.open_key is None and alert.department.code == "SO-NNMT"
    actions = [a.action for a in session.scalars(select(AuditEntry).where(AuditEntry.instance_id == instance.id)
                                                 .order_by(AuditEntry.id))]
    assert actions[0] == "instance.started" and actions[-1] == "instance.completed"
    assert actions.count("task.completed") == 7
    # a new event for the same station now opens a new alert (the old one is closed)
    ingest(factories.incoming(aqi=220))
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Alert)) == 2


def test_a_scenario_that_cannot_start_keeps_the_alert_and_the_rest_of_the_batch(session, tmp_path,
                                                                               monkeypatch) -> None:
    from engine.config import settings

    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "x.yaml").write_text((settings().rules_dir / "environment.yaml").read_text()
                                      .replace("process: incident", "process: not_deployed", 1))
    monkeypatch.setenv("IOC_RULES_DIR", str(rules_dir))
    settings.cache_clear()
    try:
        ingest(factories.incoming(aqi=199, entity="A"), factories.incoming(aqi=199, entity="B"))
    finally:
        monkeypatch.delenv("IOC_RULES_DIR")
        settings.cache_clear()
    session.rollback()
    alerts = list(session.scalars(select(Alert).order_by(Alert.entity)))
    assert [(a.entity, a.status) for a in alerts] == [("A", "firing"), ("B", "firing")]
    assert "not_deployed" in alerts[0].details["scenario_error"]
    assert session.scalar(select(func.count()).select_from(Event).where(Event.processed_at.is_(None),
                                                                        Event.source == "test")) == 0


def test_an_event_that_keeps_failing_is_quarantined_and_the_others_go_on(session, monkeypatch) -> None:
    from engine import wall

    with transaction() as s:
        ids = ingest_events(s, [factories.incoming(aqi=170, entity="BAD"), factories.incoming(aqi=170, entity="OK")],
                            "test").accepted
    from engine import rule_engine

    real = rule_engine.judge_event

    def flaky(session, rules, obs, local_time):  # type: ignore[no-untyped-def]
        if obs.entity == "BAD":
            raise RuntimeError("the rule engine choked")
        return real(session, rules, obs, local_time)

    # The chunk fails as a whole, then its events are evaluated one by one: only BAD fails.
    monkeypatch.setattr(rule_engine, "judge_event", flaky)
    for _ in range(jobs.MAX_ATTEMPTS):
        jobs.process_events(ids)
    session.rollback()
    bad, good = session.get(Event, ids[0]), session.get(Event, ids[1])
    assert bad.attempts == jobs.MAX_ATTEMPTS and "choked" in bad.error and bad.processed_at is not None
    assert good.error is None and good.processed_at is not None
    assert [a.entity for a in session.scalars(select(Alert))] == ["OK"]
    assert wall.summary(session)["events_quarantined"] == 1
    assert jobs.sweep() == 0  # quarantined events are not retried
