"""Running process instances: start, advance to the next wait state, and keep the inbox rows in step.

Each advance loads the instance under a row lock, runs the engine, writes the human-task rows that
the inbox reads, and stores the state (without the spec) with an optimistic version check.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, overload

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit, bpmn, bus, registry, sandbox
from engine.db import after_commit, utcnow
from engine.errors import N_, NotFound
from engine.expressions import resolve
from engine.isotime import due_from
from engine.live_workflows import live_workflows
from engine.models import (
    ROLES,
    Alert,
    Department,
    HumanTask,
    ProcessDefinition,
    ProcessInstance,
    TaskCandidateUser,
    User,
)
from engine.org import ROLE_NAMES

DEFAULT_PRIORITY = 50


@overload
def get_instance(session: Session, instance_id: int, *, lock: bool = False) -> ProcessInstance: ...
@overload
def get_instance(session: Session, instance_id: int, *, lock: bool, skip_locked: bool) -> ProcessInstance | None: ...


def get_instance(session: Session, instance_id: int, *, lock: bool = False,
                 skip_locked: bool = False) -> ProcessInstance | None:
    """The instance (NotFound if none). ``lock`` holds its row until commit; with ``skip_locked``, an
    instance another transaction holds gives None at once instead of waiting (PostgreSQL)."""
    stmt = select(ProcessInstance).where(ProcessInstance.id == instance_id)
    if lock:
        stmt = stmt.with_for_update(skip_locked=skip_locked)
    instance = session.scalar(stmt)
    if instance is None:
        if skip_locked:
            return None
        raise NotFound(N_("No process instance %(id)s"), id=instance_id)
    return instance


def load(instance: ProcessInstance) -> BpmnWorkflow:
    """The instance's workflow: the one kept in memory after its last commit when the stored state
    is still the one it saved, otherwise restored from the database."""
    wf = live_workflows.take(_live_key(instance))
    return wf if wf is not None else bpmn.restore(instance.definition.spec_json, instance.state_json)


def _live_key(instance: ProcessInstance) -> tuple[int, int, str]:
    return instance.id, instance.definition_id, instance.state_json


def _keep_after_commit(session: Session, instance: ProcessInstance, wf: BpmnWorkflow) -> None:
    """Keep ``wf`` for the next action once this transaction commits, under the state it just stored
    (a later change of that state in the same transaction makes the key stale: it will not match)."""
    session.info.setdefault("live_workflows", {})[instance.id] = (_live_key(instance), wf)


def _keep_live(kept: dict[int, tuple[tuple[int, int, str], BpmnWorkflow]]) -> None:
    for key, wf in kept.values():
        live_workflows.keep(key, wf)


after_commit("live_workflows", _keep_live)


def start_process(session: Session, process_key: str, variables: dict[str, Any], *, actor: str,
                  business_key: str | None = None, alert: Alert | None = None) -> ProcessInstance:
    definition = registry.latest(session, process_key)
    wf = bpmn.new_workflow(definition.spec_json)
    start = wf.get_next_task(state=TaskState.READY)
    if start is not None:
        start.data.update(variables)
    instance = ProcessInstance(definition=definition, business_key=business_key, alert=alert,
                               state_json="{}", started_by=actor)
    session.add(instance)
    session.flush()
    audit.record(session, actor, "instance.started", "process_instance", instance.id, instance_id=instance.id,
                 process=process_key, version=definition.version, business_key=business_key)
    bus.publish(session, "instance.started", instance_id=instance.id, process=process_key)
    advance(session, instance, wf, actor)
    return instance


def advance(session: Session, instance: ProcessInstance, wf: BpmnWorkflow, actor: str) -> None:
    """Run automatic steps to the next wait state, sync the inbox rows, store the state.

    A step that fails (a script error, a refused or runaway expression) does not fail the caller's
    action: the instance becomes an *incident* with the error, for an operator to look at.
    """
    try:
        with sandbox.step_budget(sandbox.STEP_BUDGET_FACTOR * bpmn.SCRIPT_ENGINE.environment.time_limit_s):
            wf.do_engine_steps()
        if (runaway := bpmn.runaway_cycle(wf)) is not None:
            raise WorkflowTaskException(runaway[1], task=runaway[0])
    except SpiffWorkflowException as exc:
        open_incident(session, instance, exc, actor)
    _sync_human_tasks(session, instance, wf)
    instance.state_json = bpmn.split_state(wf)
    _keep_after_commit(session, instance, wf)
    instance.next_timer_at = bpmn.next_due(wf) if not wf.is_completed() else None
    if wf.is_completed() and instance.status == "running":
        instance.status = "completed"
        instance.ended_at = utcnow()
        audit.record(session, actor, "instance.completed", "process_instance", instance.id,
                     instance_id=instance.id)
        bus.publish(session, "instance.completed", instance_id=instance.id)
    session.flush()


def open_incident(session: Session, instance: ProcessInstance, exc: Exception, actor: str) -> None:
    task = getattr(exc, "task", None)
    element = task.task_spec.bpmn_id if task is not None else None
    reason = str(exc).splitlines()[0][:500]
    instance.status = "incident"
    instance.error = f"{element}: {reason}" if element else reason
    audit.record(session, actor, "instance.incident", "process_instance", instance.id, instance_id=instance.id,
                 element=element, error=reason)
    bus.publish(session, "instance.incident", instance_id=instance.id, element=element)


def _sync_human_tasks(session: Session, instance: ProcessInstance, wf: BpmnWorkflow) -> None:
    ready = {str(t.id): t for t in wf.get_tasks(state=TaskState.READY, manual=True)}
    rows = list(session.scalars(select(HumanTask).where(  # its open rows, and rows of the steps now ready
        HumanTask.instance_id == instance.id, (HumanTask.status == "open") | HumanTask.task_guid.in_(list(ready)))))
    open_rows = [row for row in rows if row.status == "open"]
    known = {row.task_guid for row in open_rows}
    for row in open_rows:
        if row.task_guid not in ready:  # the flow moved on without it (cancelled by an event, say)
            row.status = "cancelled"
            row.completed_at = utcnow()
    # A step done before and waiting again (moved back): its old row keeps its history under another key.
    for done in rows:
        if done.status != "open":
            done.task_guid = f"{done.task_guid[:24]}~{done.id}"
    for guid, task in ready.items():
        if guid in known:
            continue
        row = _new_human_task(session, instance, instance.definition, task.task_spec.bpmn_id, guid, task.data)
        audit.record(session, "system", "task.created", "human_task", row.id, instance_id=instance.id,
                     task=row.bpmn_id, name=row.name, role=row.candidate_role,
                     department_id=row.candidate_department_id)
        bus.publish(session, "task.created", task_id=row.id, instance_id=instance.id, name=row.name,
                    department_id=row.candidate_department_id, role=row.candidate_role)


def _new_human_task(session: Session, instance: ProcessInstance, definition: ProcessDefinition,
                    bpmn_id: str, guid: str, data: dict[str, Any]) -> HumanTask:
    meta = definition.tasks.get(bpmn_id, {"name": bpmn_id, "form": []})
    role, department_id = resolve_candidates(session, meta, data)
    assignee_name = resolve(meta.get("assignee"), data)
    assignee = session.scalar(select(User).where(User.username == assignee_name)) if assignee_name else None
    now = utcnow()
    due_text = resolve(meta.get("due_date"), data)
    follow_up_text = resolve(meta.get("follow_up_date"), data)
    priority_text = resolve(meta.get("priority"), data)
    about = data.get("department")
    about_dept = session.scalar(select(Department).where(Department.code == about)) if isinstance(about, str) else None
    row = HumanTask(instance_id=instance.id, process_key=definition.process_key, task_guid=guid, bpmn_id=bpmn_id,
                    name=meta.get("name") or bpmn_id,
                    about_department_id=about_dept.id if about_dept else None,
                    lane=meta.get("lane"), title=str(data.get("title") or ""), sector=data.get("sector"),
                    unit_code=data.get("unit"),
                    follow_up_at=due_from(follow_up_text, now) if follow_up_text else None,
                    candidate_role=role, candidate_department_id=department_id,
                    assignee_id=assignee.id if assignee else None, claimed_at=now if assignee else None,
                    priority=int(priority_text) if priority_text and priority_text.isdigit() else DEFAULT_PRIORITY,
                    due_at=due_from(due_text, now) if due_text else None, created_at=now,
                    form=_form_with_defaults(meta.get("form") or [], data))
    session.add(row)
    session.flush()
    names = [n.strip() for n in (resolve(meta.get("candidate_users"), data) or "").split(",") if n.strip()]
    if names:
        for user in session.scalars(select(User).where(User.username.in_(names), User.active.is_(True))):
            session.add(TaskCandidateUser(task_id=row.id, user_id=user.id))
        session.flush()
    return row


def _form_with_defaults(fields: list[dict[str, Any]], data: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for field in fields:
        f = dict(field)
        f["default"] = resolve(field.get("default"), data)
        out.append(f)
    return out


def resolve_candidates(session: Session, meta: dict[str, Any], data: dict[str, Any]) -> tuple[str | None, int | None]:
    """The role and the department whose inboxes show a task.

    ``camunda:candidateGroups`` items are ``role:CODE``, ``department:CODE``, a bare role or
    department code, or ``${variable}`` holding one of those; without it, the lane's name is used.
    """
    groups = meta.get("candidate_groups") or meta.get("lane") or ""
    role: str | None = None
    department_id: int | None = None
    for item in groups.split(","):
        value = (resolve(item.strip(), data) or "").strip()
        kind, _, code = value.partition(":") if ":" in value else ("", "", value)
        if not code:
            continue
        by_label = {vi: c for c, (vi, _en) in ROLE_NAMES.items()}
        if kind in ("", "role") and (code in ROLES or code in by_label) and role is None:
            role = by_label.get(code, code)
        elif kind in ("", "department") and department_id is None:
            dept = session.scalar(select(Department).where((Department.code == code) | (Department.name == code)))
            if dept is not None:
                department_id = dept.id
    return role, department_id


def current_step(session: Session, instance: ProcessInstance) -> list[HumanTask]:
    return list(session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                        HumanTask.status == "open")))


def due_soon(task: HumanTask, now: datetime) -> bool:
    return task.due_at is not None and task.due_at > now and (task.due_at - now).total_seconds() < 4 * 3600
