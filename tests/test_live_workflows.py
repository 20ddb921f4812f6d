"""Workflows kept in memory between actions are used only while the stored state is the one they saved."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select

from engine import bpmn, runtime, tasks
from engine.db import transaction
from engine.live_workflows import LiveWorkflows, live_workflows
from engine.models import HumanTask
from tests import factories

TRIAGE = {"department": "SO-NNMT", "due_in": "PT4H", "instruction": "Kiểm tra trạm."}


def test_take_gives_a_kept_workflow_once_and_only_for_the_same_state() -> None:
    cache = LiveWorkflows(size=2)
    wf_a, wf_b, wf_c = object(), object(), object()
    cache.keep((1, 7, "state-1"), wf_a)  # type: ignore[arg-type]
    assert cache.take((1, 7, "state-2")) is None  # another state was stored since: not this one
    assert cache.take((1, 7, "state-1")) is None  # and a miss drops it
    cache.keep((1, 7, "state-1"), wf_a)  # type: ignore[arg-type]
    assert cache.take((1, 7, "state-1")) is wf_a
    assert cache.take((1, 7, "state-1")) is None  # taken: never shared by two actions
    cache.keep((1, 7, "s"), wf_a)  # type: ignore[arg-type]
    cache.keep((2, 7, "s"), wf_b)  # type: ignore[arg-type]
    cache.keep((3, 7, "s"), wf_c)  # type: ignore[arg-type]
    assert cache.take((1, 7, "s")) is None and cache.take((3, 7, "s")) is wf_c  # least recently used out


def _start() -> int:
    with transaction() as session:
        return runtime.start_process(session, "incident", {"title": "Khói bụi", "sector": "environment"},
                                     actor="test").id


def test_a_change_made_elsewhere_is_not_hidden_by_the_kept_workflow(session) -> None:
    instance_id = _start()
    with transaction() as s:  # what this process keeps after the start: the workflow waiting at triage
        old_key = runtime._live_key(runtime.get_instance(s, instance_id))
    stale = live_workflows.take(old_key)
    assert stale is not None
    # Another process (a second worker) completes the triage from the stored state.
    with transaction() as s:
        instance = runtime.get_instance(s, instance_id, lock=True)
        other = bpmn.restore(instance.definition.spec_json, instance.state_json)
        row = s.scalar(select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.status == "open"))
        task = other.get_task_from_id(UUID(row.task_guid))
        task.set_data(**TRIAGE)
        task.run()
        row.status = "completed"
        runtime.advance(s, instance, other, "elsewhere")
    live_workflows.clear()  # that happened in the other process's memory, not in this one's
    live_workflows.keep(old_key, stale)  # this process still keeps the workflow waiting at triage
    # This process then acts on the instance: it must work from the handle step, not from the old triage.
    officer = factories.user("officer", "SO-NNMT")
    with transaction() as s:
        handle = s.scalar(select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.status == "open"))
        assert handle.bpmn_id == "handle"
        tasks.complete_task(s, handle.id, officer, {"actions_taken": "Đã kiểm tra."})
    with transaction() as s:
        (report,) = runtime.current_step(s, runtime.get_instance(s, instance_id))
        assert report.bpmn_id == "report"
        assert runtime.load(runtime.get_instance(s, instance_id)) is not stale


def test_a_failed_action_keeps_nothing(session) -> None:
    instance_id = _start()
    before = live_workflows.stats()["kept"]
    try:
        with transaction() as s:
            instance = runtime.get_instance(s, instance_id, lock=True)
            wf = runtime.load(instance)  # taken from the cache
            runtime.advance(s, instance, wf, "test")
            raise RuntimeError("the action fails after advancing")
    except RuntimeError:
        pass
    assert live_workflows.stats()["kept"] == before - 1  # taken and not put back: the next action restores
