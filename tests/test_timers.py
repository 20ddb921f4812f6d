"""Timers fire on time: boundary (interrupting and not), intermediate, cycles; Camunda and Spiff flavours;
driven by the worker and surviving its restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from engine import registry, runtime, timers
from engine.config import settings
from engine.db import session_factory, transaction
from engine.models import AuditEntry, HumanTask, ProcessInstance
from tests.conftest import ROOT

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="{pid}" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
"""
TAIL = "  </bpmn:process>\n</bpmn:definitions>\n"


def boundary_model(pid: str, timer: str, interrupting: bool, kind: str = "timeDuration") -> bytes:
    return (HEAD.format(pid=pid) + f"""
    <bpmn:userTask id="work" name="Xử lý" camunda:candidateGroups="role:officer">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:boundaryEvent id="timer" attachedToRef="work" cancelActivity="{str(interrupting).lower()}">
      <bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:{kind}>{timer}</bpmn:{kind}></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:userTask id="follow_up" name="Nhắc việc / chuyển lãnh đạo" camunda:candidateGroups="role:leader">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="e1"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="e2"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="work" />
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="e1" />
    <bpmn:sequenceFlow id="f3" sourceRef="timer" targetRef="follow_up" />
    <bpmn:sequenceFlow id="f4" sourceRef="follow_up" targetRef="e2" />
""" + TAIL).encode()


def intermediate_model(pid: str, timer: str) -> bytes:
    return (HEAD.format(pid=pid) + f"""
    <bpmn:intermediateCatchEvent id="wait"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration>{timer}</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:userTask id="after" name="Sau thời gian chờ" camunda:candidateGroups="role:officer">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="e"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="wait" />
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="after" />
    <bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="e" />
""" + TAIL).encode()


def start(pid: str, content: bytes) -> int:
    with transaction() as session:
        registry.deploy(session, content, f"{pid}.bpmn")
        return runtime.start_process(session, pid, {"title": pid}, actor="test").id


def open_tasks(instance_id: int) -> list[tuple[str, str]]:
    with session_factory(write=False)() as s:
        rows = s.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id).order_by(HumanTask.id))
        return [(r.bpmn_id, r.status) for r in rows]


@pytest.fixture
def short_cycles(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Cycles of a fraction of a second, so that a test sees them repeat (the default minimum is one minute)."""
    monkeypatch.setenv("IOC_TIMER_MIN_CYCLE_S", "0.1")
    settings.cache_clear()
    yield
    monkeypatch.undo()
    settings.cache_clear()


def wait_and_fire(seconds: float) -> None:
    time.sleep(seconds)
    timers.fire_due_timers()


@pytest.mark.parametrize("timer", ["PT0.4S", '"PT0.4S"'])  # Camunda Modeler's bare value, Spiff's quoted one
def test_non_interrupting_boundary_timer_reminds_and_keeps_the_task(timer: str) -> None:
    iid = start("remind", boundary_model("remind", timer, interrupting=False))
    with session_factory(write=False)() as s:
        assert s.get(ProcessInstance, iid).next_timer_at is not None
    timers.fire_due_timers()
    assert open_tasks(iid) == [("work", "open")]  # not yet due
    wait_and_fire(0.6)
    assert open_tasks(iid) == [("work", "open"), ("follow_up", "open")]


def test_interrupting_boundary_timer_escalates_and_cancels_the_task() -> None:
    iid = start("escalate", boundary_model("escalate", "PT0.3S", interrupting=True))
    wait_and_fire(0.5)
    assert open_tasks(iid) == [("work", "cancelled"), ("follow_up", "open")]
    with session_factory(write=False)() as s:
        assert s.get(ProcessInstance, iid).next_timer_at is None
        fired = s.scalar(select(AuditEntry).where(AuditEntry.action == "timer.fired"))
        assert fired.instance_id == iid and fired.details["late_ms"] >= 0


def test_cycle_timer_repeats_the_given_number_of_times(short_cycles: None) -> None:
    iid = start("cycle", boundary_model("cycle", "R2/PT0.3S", interrupting=False, kind="timeCycle"))
    for _ in range(4):
        wait_and_fire(0.35)
    assert open_tasks(iid).count(("follow_up", "open")) == 2
    with session_factory(write=False)() as s:
        assert s.get(ProcessInstance, iid).next_timer_at is None  # no cycles left


def test_intermediate_timer_waits_then_goes_on() -> None:
    iid = start("pause", intermediate_model("pause", "PT0.3S"))
    assert open_tasks(iid) == []
    wait_and_fire(0.5)
    assert open_tasks(iid) == [("after", "open")]


def test_worker_fires_timers_and_a_restart_loses_none() -> None:
    iid = start("restart", boundary_model("restart", "PT3S", interrupting=True))
    env = dict(os.environ)
    worker = subprocess.Popen([sys.executable, "-m", "web.cli", "worker"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(1)
    os.killpg(worker.pid, signal.SIGKILL)  # killed before the timer is due
    worker.wait()
    time.sleep(2.5)  # the timer comes due while no worker runs
    worker = subprocess.Popen([sys.executable, "-m", "web.cli", "worker"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and ("follow_up", "open") not in open_tasks(iid):
            time.sleep(0.2)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(20)
    assert open_tasks(iid) == [("work", "cancelled"), ("follow_up", "open")]


def test_a_time_date_timer_from_a_variable_fires() -> None:
    from datetime import UTC, datetime, timedelta

    content = boundary_model("at_date", "${remind_at}", interrupting=False, kind="timeDate")
    with transaction() as session:
        registry.deploy(session, content, "at_date.bpmn")
        due = datetime.now(UTC) + timedelta(seconds=0.4)
        iid = runtime.start_process(session, "at_date", {"remind_at": due.isoformat()}, actor="test").id
    with session_factory(write=False)() as s:
        assert abs((s.get(ProcessInstance, iid).next_timer_at - due).total_seconds()) < 0.01
    wait_and_fire(0.6)
    assert open_tasks(iid) == [("work", "open"), ("follow_up", "open")]


def test_a_timer_start_event_runs_the_process_on_its_schedule(short_cycles: None) -> None:
    content = (HEAD.format(pid="daily_report").replace(
        '<bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>',
        '<bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing><bpmn:timerEventDefinition>'
        '<bpmn:timeCycle>R2/PT0.3S</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>') + """
    <bpmn:userTask id="report" name="Báo cáo hằng ngày" camunda:candidateGroups="role:operator">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="e"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="report" />
    <bpmn:sequenceFlow id="f2" sourceRef="report" targetRef="e" />
""" + TAIL).encode()
    with transaction() as session:
        registry.deploy(session, content, "daily.bpmn")  # deploying it schedules it
    with session_factory(write=False)() as s:
        (standing,) = s.scalars(select(ProcessInstance).where(ProcessInstance.business_key == "schedule:daily_report"))
        iid = standing.id
    assert open_tasks(iid) == []
    for _ in range(4):
        wait_and_fire(0.35)
    assert open_tasks(iid) == [("report", "open"), ("report", "open")]  # R2: twice
    with transaction() as session:  # a new version replaces the schedule
        registry.deploy(session, content.replace("Báo cáo hằng ngày".encode(), b"Bao cao"), "daily.bpmn")
    with session_factory(write=False)() as s:
        states = [(i.definition.version, i.status) for i in s.scalars(
            select(ProcessInstance).where(ProcessInstance.business_key == "schedule:daily_report")
            .order_by(ProcessInstance.id))]
    assert states == [(1, "cancelled"), (2, "running")]


def test_a_broken_instance_in_a_batch_becomes_an_incident_and_the_others_timers_fire() -> None:
    from sqlalchemy import update

    from engine import bus

    content = boundary_model("batch", "PT0.3S", interrupting=True)
    first, broken, last = (start("batch", content) for _ in range(3))
    with transaction() as session:  # its stored state can no longer be read (a damaged row, say)
        session.execute(update(ProcessInstance).where(ProcessInstance.id == broken).values(state_json='{"tasks": '))
    since = bus.latest_id()
    wait_and_fire(0.5)
    for iid in (first, last):
        assert open_tasks(iid) == [("work", "cancelled"), ("follow_up", "open")]
    assert open_tasks(broken) == [("work", "open")]  # nothing of its half-done step was kept
    with session_factory(write=False)() as s:
        instance = s.get(ProcessInstance, broken)
        assert instance.status == "incident" and instance.error
        fired = set(s.scalars(select(AuditEntry.instance_id).where(AuditEntry.action == "timer.fired")))
        assert fired == {first, last}
    published = [(c["kind"], c.get("instance_id")) for _id, c in bus.read_after(since, 1)]
    assert [c for c in published if c[1] == broken] == [("instance.incident", broken)]
    assert {c[1] for c in published if c[0] == "task.created"} == {first, last}
    timers.fire_due_timers()  # the loop does not trip over it again
    with session_factory(write=False)() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "instance.incident", AuditEntry.instance_id == broken)) == 1


def test_a_timer_whose_date_has_already_passed_when_the_instance_reaches_it_fires_at_once() -> None:
    from datetime import UTC, datetime, timedelta

    content = boundary_model("past_date", "${remind_at}", interrupting=True, kind="timeDate")
    with transaction() as session:
        registry.deploy(session, content, "past_date.bpmn")
        past = datetime.now(UTC) - timedelta(seconds=5)  # a deadline already over when the case is opened
        iid = runtime.start_process(session, "past_date", {"remind_at": past.isoformat()}, actor="test").id
    assert open_tasks(iid) == [("follow_up", "open")]  # escalated straight away, nothing left waiting
    with session_factory(write=False)() as s:
        assert s.get(ProcessInstance, iid).next_timer_at is None


@pytest.mark.parametrize("cycle, says", [
    ("R999999/PT0S", "IOC_TIMER_MIN_CYCLE_S"),  # fired on every pass of the timer loop
    ('"R5/PT30S"', "shortest cycle allowed is 60 s"),
    ("R20000/PT1H", "at most 10000 repetitions"),
    ('"every hour"', "not an ISO 8601 repeating interval"),
    ("every hour", "This code is refused"),
])
def test_a_timer_storm_is_refused_at_deploy_with_file_line_and_element(session, cycle: str, says: str) -> None:
    from engine.errors import DeployError

    content = boundary_model("storm", cycle, interrupting=False, kind="timeCycle")
    line = next(i for i, text in enumerate(content.decode().splitlines(), 1) if "timeCycle" in text)
    with pytest.raises(DeployError) as err:
        registry.deploy(session, content, "storm.bpmn")
    assert err.value.details == {"file": "storm.bpmn", "line": line, "element": "timer"}
    assert says in str(err.value)


def test_cycles_within_the_limits_deploy(session) -> None:
    for n, cycle in enumerate(("R/P1D", "R10000/PT1M", '"R3/PT1H"')):
        assert registry.deploy(session, boundary_model(f"ok{n}", cycle, interrupting=False, kind="timeCycle"),
                               f"ok{n}.bpmn")


def test_a_storming_cycle_from_a_variable_puts_the_instance_into_an_incident() -> None:
    with transaction() as session:
        registry.deploy(session, boundary_model("var_cycle", "${every}", interrupting=False, kind="timeCycle"),
                        "var_cycle.bpmn")
        iid = runtime.start_process(session, "var_cycle", {"every": "R999999/PT0S"}, actor="test").id
    with session_factory(write=False)() as s:
        instance = s.get(ProcessInstance, iid)
        assert instance.status == "incident" and instance.next_timer_at is not None
        assert instance.error.startswith("timer: The timer cycle") and "IOC_TIMER_MIN_CYCLE_S" in instance.error
    assert timers.fire_due_timers() == 0  # an incident's timers do not fire


def test_timer_limits_come_from_the_environment() -> None:
    from engine.config import ConfigError, load_settings

    defaults = load_settings({"IOC_SECRET_KEY": "k" * 40})
    assert (defaults.timer_min_cycle_s, defaults.timer_max_repetitions) == (60, 10_000)
    tuned = load_settings({"IOC_SECRET_KEY": "k" * 40, "IOC_TIMER_MIN_CYCLE_S": "300",
                           "IOC_TIMER_MAX_REPETITIONS": "50"})
    assert (tuned.timer_min_cycle_s, tuned.timer_max_repetitions) == (300, 50)
    with pytest.raises(ConfigError, match="IOC_TIMER_MAX_REPETITIONS"):
        load_settings({"IOC_SECRET_KEY": "k" * 40, "IOC_TIMER_MAX_REPETITIONS": "1.5"})
