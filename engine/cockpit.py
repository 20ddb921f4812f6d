"""What the cockpit and the wall show of the processes: instances by process and status, the steps where work
waits, and a filtered, paged list of instances with the step each one waits at.

An instance stopped by a failed step (status ``incident``) or suspended by an operator waits for someone at
the centre: these lists are where they find it (the instance page has the retry, resume and cancel buttons).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session, defer

from engine import registry
from engine.db import utcnow
from engine.errors import N_, Invalid
from engine.models import HumanTask, ProcessDefinition, ProcessInstance
from engine.tasks import DUE_SOON  # "due soon" means the same on the wall as in the inbox

STATUSES = ("running", "incident", "suspended", "completed", "cancelled")
ACTIVE = ("running", "incident", "suspended")  # not ended: what the centre may still have to act on
STATUS_FILTERS = ("active", "all", *STATUSES)
READERS = ("leader", "operator", "admin", "designer")  # who may watch the processes (as the wall); operators act


@dataclass
class ProcessCounts:
    """One process (all its versions): its instances by status and its open tasks."""

    process_key: str
    name: str
    version: int  # the latest deployed
    by_status: dict[str, int] = field(default_factory=dict)
    tasks_open: int = 0
    tasks_overdue: int = 0


@dataclass
class WaitingStep:
    """A step of a process where tasks are waiting for people."""

    process_key: str
    process_name: str
    bpmn_id: str
    name: str
    open: int
    overdue: int


@dataclass
class InstanceRow:
    id: int
    process_key: str
    process_name: str
    version: int
    status: str
    business_key: str | None
    started_at: datetime
    started_by: str
    ended_at: datetime | None
    next_timer_at: datetime | None
    error: str | None
    alert_id: int | None
    waiting_at: list[dict[str, Any]] = field(default_factory=list)  # open tasks: id, name, due_at, overdue


@dataclass(frozen=True)
class StepLoad:
    """Open tasks at one step of one process: how many, how many overdue, how many due within 4 hours."""

    process_key: str
    bpmn_id: str
    open: int
    overdue: int
    due_soon: int


def open_steps(session: Session, now: datetime | None = None) -> list[StepLoad]:
    """Every step with open tasks, in one pass over the index ``(status, process_key, bpmn_id, due_at)``: the wall's
    task counts, its "where work waits" and the cockpit's per-process counts all come from these few rows."""
    now = now or utcnow()
    soon = now + DUE_SOON
    rows = session.execute(
        select(HumanTask.process_key, HumanTask.bpmn_id, func.count(),
               func.sum(case((HumanTask.due_at < now, 1), else_=0)),
               func.sum(case(((HumanTask.due_at >= now) & (HumanTask.due_at < soon), 1), else_=0)))
        .where(HumanTask.status == "open").group_by(HumanTask.process_key, HumanTask.bpmn_id))
    return [StepLoad(key or "", bpmn_id, count, int(late or 0), int(near or 0))
            for key, bpmn_id, count, late, near in rows]


def overview(session: Session, steps: list[StepLoad] | None = None) -> list[ProcessCounts]:
    """Every deployed process, in key order, with its instances by status and its open and overdue tasks."""
    out = {d.process_key: ProcessCounts(d.process_key, d.name, d.version, dict.fromkeys(STATUSES, 0))
           for d in registry.all_latest(session)}
    for key, status, count in session.execute(
            select(ProcessDefinition.process_key, ProcessInstance.status, func.count())
            .join(ProcessInstance, ProcessInstance.definition_id == ProcessDefinition.id)
            .group_by(ProcessDefinition.process_key, ProcessInstance.status)):
        if key in out:
            out[key].by_status[status] = count
    for step in open_steps(session) if steps is None else steps:
        if step.process_key in out:
            out[step.process_key].tasks_open += step.open
            out[step.process_key].tasks_overdue += step.overdue
    return list(out.values())


def waiting_steps(session: Session, limit: int = 12, steps: list[StepLoad] | None = None) -> list[WaitingStep]:
    """The steps where most work waits, those with overdue tasks first; their names come from the processes'
    latest versions (or, for a step a newer version dropped, from its tasks)."""
    ranked = sorted(open_steps(session) if steps is None else steps,
                    key=lambda s: (-s.overdue, -s.open, s.process_key, s.bpmn_id))[:limit]
    latest = {d.process_key: d for d in registry.all_latest(session)} if ranked else {}
    out = []
    for step in ranked:
        definition = latest.get(step.process_key)
        name = ((definition.tasks or {}).get(step.bpmn_id) or {}).get("name") if definition else None
        if not name:
            name = session.scalar(select(HumanTask.name).where(
                HumanTask.status == "open", HumanTask.process_key == (step.process_key or None),
                HumanTask.bpmn_id == step.bpmn_id).limit(1))
        out.append(WaitingStep(step.process_key, definition.name if definition else step.process_key, step.bpmn_id,
                               name or step.bpmn_id, step.open, step.overdue))
    return out


def instance_query(*, process: str | None = None, status: str = "active", q: str | None = None) -> Select[Any]:
    """Instances with their process, newest first. ``status``: one of ``STATUS_FILTERS`` (``active``: not
    ended); ``q``: the instance number, or part of its business key (an alert or directive id, say)."""
    if status not in STATUS_FILTERS:
        raise Invalid(N_("Unknown status %(status)s"), status=status,
                      details={"fields": {"status": N_("is not one of the statuses")}})
    d = ProcessDefinition
    stmt: Any = (select(ProcessInstance, d.process_key, d.name, d.version)
                 .join(d, ProcessInstance.definition_id == d.id))
    if status == "active":
        stmt = stmt.where(ProcessInstance.status.in_(ACTIVE))
    elif status != "all":
        stmt = stmt.where(ProcessInstance.status == status)
    if process:
        stmt = stmt.where(ProcessDefinition.process_key == process)
    text = (q or "").strip()
    if text:
        number = text.removeprefix("#")
        by_key = ProcessInstance.business_key.contains(text, autoescape=True)
        is_number = number.isdigit() and len(number) <= 9  # an instance number (a longer one fits no id column)
        stmt = stmt.where((ProcessInstance.id == int(number)) | by_key if is_number else by_key)
    return stmt


def total(session: Session, stmt: Select[Any]) -> int:
    """How many instances ``instance_query`` finds (for the pages' "n of m")."""
    return session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


def instance_rows(session: Session, stmt: Select[Any], *, limit: int = 50, offset: int = 0) -> list[InstanceRow]:
    """One page of ``instance_query``'s instances, newest first, each with the steps it waits at."""
    page = session.execute(stmt.options(defer(ProcessInstance.state_json)).order_by(ProcessInstance.id.desc())
                           .limit(limit).offset(offset)).all()
    now = utcnow()
    waiting: dict[int, list[dict[str, Any]]] = {}
    ids = [inst.id for inst, *_ in page]
    if ids:
        for task_id, instance_id, name, due_at in session.execute(
                select(HumanTask.id, HumanTask.instance_id, HumanTask.name, HumanTask.due_at)
                .where(HumanTask.instance_id.in_(ids), HumanTask.status == "open").order_by(HumanTask.id)):
            waiting.setdefault(instance_id, []).append(
                {"task_id": task_id, "name": name, "due_at": due_at, "overdue": due_at is not None and due_at < now})
    return [InstanceRow(inst.id, key, name, version, inst.status, inst.business_key, inst.started_at,
                        inst.started_by, inst.ended_at, inst.next_timer_at, inst.error, inst.alert_id,
                        waiting.get(inst.id, []))
            for inst, key, name, version in page]
