"""What a person may see of a process instance: one filter that every view of an instance goes through (its API,
its page, the history on a task's page, the directives' progress), so that the views cannot drift apart.

Leaders, operators, designers and administrators direct and oversee the work: they see everything. Anyone else
(a department's officer) takes part in a shared process, a directive to several departments say, and sees:

- the instance's general facts (process, version, status, business key, dates, error), and its alert unless the
  alert is another department's (as ``engine.alerts.visible_alerts``; an alert with no department yet is the
  subject of every step, the evidence a police officer reviews say);
- in full, the steps that are theirs: the tasks ``engine.tasks.can_see`` gives them (their department's or
  role's, assigned or named for them) and the tasks about their department (the leader's review of their report);
- of every other step only its name, department, status and dates: no form, values, draft, comments or files;
- history lines of those other steps cut to what happened, when, by whom and for which department; and no
  workflow variables (a message's or a retry's ``variables``) in the instance's own lines.

See docs/security.md, "What an officer sees of a shared process".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from engine import audit, runtime
from engine.errors import N_, Forbidden
from engine.models import Alert, AuditEntry, Department, HumanTask, ProcessInstance, TaskCandidateUser, User
from engine.org import Principal
from engine.tasks import can_see

SEES_ALL = ("leader", "operator", "designer", "admin")
INSTANCE_SECRETS = ("variables",)  # workflow data carried by an instance's own history lines


def sees_all(who: Principal) -> bool:
    return who.role in SEES_ALL


@dataclass(frozen=True)
class TaskGlimpse:
    """Another department's step as an officer sees it: what and whose it is, where it stands. The attributes
    are a task's (``HumanTask``), so that the API's schema and the pages show either; the contents stay empty."""

    id: int
    instance_id: int
    bpmn_id: str
    name: str
    title: str
    lane: str | None
    status: str
    candidate_role: str | None
    candidate_department: Department | None
    about_department: Department | None
    assignee: User | None
    priority: int
    due_at: datetime | None
    follow_up_at: datetime | None
    sector: str | None
    unit_code: str | None
    created_at: datetime
    completed_at: datetime | None
    form: list[dict[str, Any]] = field(default_factory=list)
    draft: dict[str, Any] | None = None
    result: dict[str, Any] | None = None

    @classmethod
    def of(cls, task: HumanTask) -> TaskGlimpse:
        return cls(id=task.id, instance_id=task.instance_id, bpmn_id=task.bpmn_id, name=task.name, title=task.title,
                   lane=task.lane, status=task.status, candidate_role=task.candidate_role,
                   candidate_department=task.candidate_department, about_department=task.about_department,
                   assignee=task.assignee, priority=task.priority, due_at=task.due_at, follow_up_at=task.follow_up_at,
                   sector=task.sector, unit_code=task.unit_code, created_at=task.created_at,
                   completed_at=task.completed_at)


@dataclass(frozen=True)
class HistoryLine:
    """One audit row as the viewer may read it."""

    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    details: dict[str, Any]


@dataclass(frozen=True)
class InstanceView:
    instance: ProcessInstance
    alert: Alert | None  # None also when the alert is another department's
    tasks: list[HumanTask | TaskGlimpse]
    history: list[HistoryLine]
    own_task_ids: frozenset[int]  # the steps whose contents (form values, history details) the viewer may read
    workable_task_ids: frozenset[int]  # the steps the viewer may open (their comments and files included)

    def as_dict(self) -> dict[str, Any]:
        return {"instance": self.instance, "alert": self.alert, "tasks": self.tasks, "history": self.history,
                "own_task_ids": self.own_task_ids, "workable_task_ids": self.workable_task_ids}


def workable_task_ids(who: Principal, tasks: Iterable[HumanTask], named: Iterable[int] = ()) -> frozenset[int]:
    """The tasks ``who`` may open and work (``engine.tasks.can_see``; ``named``: those they are a candidate user
    of): the pages link these."""
    named_ids = set(named)
    return frozenset(t.id for t in tasks if can_see(who, t) or t.id in named_ids)


def own_task_ids(who: Principal, tasks: Sequence[HumanTask], named: Iterable[int] = ()) -> frozenset[int]:
    """The tasks whose contents ``who`` may read: all for those who oversee; otherwise the tasks they may work and
    the tasks about their department (the leader's review of its report, and the reason for a return)."""
    if sees_all(who):
        return frozenset(t.id for t in tasks)
    return workable_task_ids(who, tasks, named) | frozenset(
        t.id for t in tasks if who.department_id is not None and t.about_department_id == who.department_id)


def _department_code(task: HumanTask) -> str | None:
    dept = task.about_department or task.candidate_department
    return dept.code if dept is not None else None


def history_line(entry: AuditEntry, tasks: dict[str, HumanTask], own: frozenset[int], everything: bool
                 ) -> HistoryLine:
    """An audit row, cut for a viewer who does not see ``everything``: another step's line keeps its action, time,
    actor, step and department only; an instance's line loses the workflow variables it carries."""
    details = dict(entry.details or {})
    if not everything:
        if entry.object_type == "human_task":
            task = tasks.get(entry.object_id)
            if task is None:
                details = {}
            elif task.id not in own:
                details = {"task": task.bpmn_id, "name": task.name, "department": _department_code(task)}
        else:
            details = {k: v for k, v in details.items() if k not in INSTANCE_SECRETS}
    return HistoryLine(at=entry.at, actor=entry.actor, action=entry.action, object_type=entry.object_type,
                       object_id=entry.object_id, details=details)


def filter_view(who: Principal, instance: ProcessInstance, tasks: Sequence[HumanTask],
                history: Sequence[AuditEntry], named: Iterable[int] = ()) -> InstanceView:
    """What ``who`` may see of the instance (the pure part: no reads beyond the rows given). Forbidden when they
    take no part in it: no step of theirs and not their department's alert."""
    everything = sees_all(who)
    own = own_task_ids(who, tasks, named)
    alert = instance.alert
    theirs = alert is not None and who.department_id is not None and alert.department_id == who.department_id
    if not everything and not own and not theirs:
        raise Forbidden(N_("Your department does not take part in this process"))
    if not everything and alert is not None and alert.department_id is not None and not theirs:
        alert = None  # another department's alert (one with none yet is the subject of every step)
    by_id = {str(t.id): t for t in tasks}
    return InstanceView(
        instance=instance, alert=alert,
        tasks=[t if t.id in own else TaskGlimpse.of(t) for t in tasks],
        history=[history_line(e, by_id, own, everything) for e in history],
        own_task_ids=own, workable_task_ids=workable_task_ids(who, tasks, named))


def instance_view(session: Session, instance_id: int, who: Principal) -> InstanceView:
    """The instance with its tasks (open and done) and its whole history, as ``who`` may see them."""
    instance = runtime.get_instance(session, instance_id)
    tasks = list(session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance.id).order_by(HumanTask.id)
        .options(selectinload(HumanTask.candidate_department), selectinload(HumanTask.about_department),
                 selectinload(HumanTask.assignee))))
    named: list[int] = []
    if who.user_id is not None and tasks:
        named = list(session.scalars(select(TaskCandidateUser.task_id).where(
            TaskCandidateUser.user_id == who.user_id, TaskCandidateUser.task_id.in_([t.id for t in tasks]))))
    return filter_view(who, instance, tasks, audit.history_of_instance(session, instance.id), named)
