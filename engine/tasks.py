"""The task inbox and what people do with tasks: claim and complete.

Who may see a task: its assignee; anyone of its candidate role; any officer of its candidate
department; administrators. Leaders additionally see every task (they direct the work).
Who may claim and complete one: only those it is for (``is_for``: its assignee, its candidate role or
department, the people named for it). An administrator or a leader who sees another's task takes it over
first, with a reason (``take_over_task``, audited): nobody completes a task as if they were someone else.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Select, select, union_all
from sqlalchemy.orm import Session

from engine import alerts, audit, bus, runtime
from engine.db import utcnow
from engine.errors import N_, Conflict, Forbidden, Invalid, NotFound
from engine.forms import shown, validate
from engine.models import Department, HumanTask, TaskCandidateUser, TaskComment, User
from engine.org import Principal

SCOPES = ("mine", "department", "all")
DUE_SOON = timedelta(hours=4)
OVERSEERS = ("leader", "admin", "operator")  # may hand any task they can see to someone else
TAKERS = ("leader", "admin")  # may take over (with a reason) a task that is not theirs


def _named_for(user_id: int) -> Any:
    return select(TaskCandidateUser.task_id).where(TaskCandidateUser.user_id == user_id)


PAGE_ORDER = (HumanTask.priority.desc(), HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id)


def _visible_ids(principal: Principal, status: str, *, include_assigned: bool = True, filters: tuple[Any, ...] = (),
                 window: int | None = None) -> Any:
    """The ids of the tasks a person sees, as a UNION of one indexed SELECT per reason to see one
    (their role, their department, assigned to them, named for them). Written as one OR, the query
    cannot use the (status, …) indexes and reads every open task: 100× slower at 100,000 open tasks.
    With ``window`` (the page's offset + limit), each branch keeps only its first ``window`` rows in the page's
    order (read straight from its index): the page is among them, whatever the other branches hold."""
    open_ = HumanTask.status == status

    def branch(*where: Any, paged: bool) -> Any:
        stmt = select(HumanTask.id).where(open_, *where, *filters)
        if window is None or not paged:
            return stmt
        # a LIMIT inside a UNION member must be wrapped for SQLite and PostgreSQL alike
        return select(stmt.order_by(*PAGE_ORDER).limit(window).subquery().c.id)

    # A role's or a department's open tasks can be tens of thousands: read in order, only as far as the page. A
    # person's own (assigned, named) are few: read whole (ordered and limited, a planner would rather walk the
    # page index over every open task looking for them).
    branches = [branch(HumanTask.candidate_role == principal.role, paged=True)]
    if principal.department_id is not None:
        branches.append(branch(HumanTask.candidate_department_id == principal.department_id, paged=True))
    if principal.user_id is not None:
        if include_assigned:
            branches.append(branch(HumanTask.assignee_id == principal.user_id, paged=False))
        branches.append(branch(HumanTask.id.in_(_named_for(principal.user_id)), paged=False))
    return union_all(*branches)


def can_see(principal: Principal, task: HumanTask, session: Session | None = None) -> bool:
    if principal.role in ("admin", "leader"):
        return True
    if (task.candidate_role == principal.role
            or (principal.user_id is not None and task.assignee_id == principal.user_id)
            or (principal.department_id is not None and task.candidate_department_id == principal.department_id)):
        return True
    if session is not None and principal.user_id is not None:
        return session.get(TaskCandidateUser, (task.id, principal.user_id)) is not None
    return False


def is_for(principal: Principal, task: HumanTask, session: Session | None = None) -> bool:
    """Whether the task is ``principal``'s own to work: assigned to them, or for their role, their department or
    them by name. Seeing a task (``can_see``: leaders and administrators see all) is not enough."""
    if principal.user_id is not None and task.assignee_id == principal.user_id:
        return True
    if task.candidate_role is not None and task.candidate_role == principal.role:
        return True
    if principal.department_id is not None and task.candidate_department_id == principal.department_id:
        return True
    if session is not None and principal.user_id is not None:
        return session.get(TaskCandidateUser, (task.id, principal.user_id)) is not None
    return False


def may_work(principal: Principal, task: HumanTask, session: Session) -> bool:
    """Whether ``principal`` may claim or complete the task now (no one else has it)."""
    return is_for(principal, task, session) and task.assignee_id in (None, principal.user_id)


def check_for(principal: Principal, task: HumanTask, session: Session) -> None:
    """Refuse to act on another's task (to work it, or add to its record) without taking it over."""
    _check_for(principal, task, session)


def _check_for(principal: Principal, task: HumanTask, session: Session) -> None:
    if not is_for(principal, task, session):
        raise Forbidden(N_("This task is another's: take it over first, with a reason"),
                        code="take_over_required")


def inbox_query(principal: Principal, scope: str = "all", status: str = "open",
                overdue: bool = False, *, due_soon: bool = False, sector: str | None = None,
                unit: str | None = None, window: int | None = None) -> Select[Any]:
    """Tasks a person sees. ``mine``: assigned to them; ``department``: their role's or department's.
    ``overdue``: past due; ``due_soon``: due within 4 hours; ``sector`` and ``unit`` narrow further.
    ``window``: the caller reads at most this many rows (offset + limit), which lets each reason to see a task be
    read only as far as the page needs."""
    if scope not in SCOPES:
        raise Invalid(N_("Unknown scope %(scope)s"), scope=scope)
    now = utcnow()
    filters: list[Any] = []
    if overdue:
        filters.append(HumanTask.due_at < now)
    if due_soon:
        filters += [HumanTask.due_at >= now, HumanTask.due_at < now + DUE_SOON]
    if sector:
        filters.append(HumanTask.sector == sector)
    if unit:
        filters.append(HumanTask.unit_code == unit)
    stmt = select(HumanTask).where(HumanTask.status == status, *filters)
    if scope == "mine":
        stmt = stmt.where(HumanTask.assignee_id == (principal.user_id or -1))
    elif scope == "department":
        stmt = stmt.where(HumanTask.id.in_(_visible_ids(principal, status, include_assigned=False,
                                                        filters=tuple(filters), window=window)))
    elif principal.role not in ("admin", "leader"):
        stmt = stmt.where(HumanTask.id.in_(_visible_ids(principal, status, filters=tuple(filters), window=window)))
    return stmt.order_by(*PAGE_ORDER)


def get_task(session: Session, task_id: int, principal: Principal, *, lock: bool = False) -> HumanTask:
    stmt = select(HumanTask).where(HumanTask.id == task_id)
    if lock:
        stmt = stmt.with_for_update()
    task = session.scalar(stmt)
    if task is None:
        raise NotFound(N_("No task %(id)s"), id=task_id)
    if not can_see(principal, task, session):
        raise Forbidden(N_("This task is not for you"))
    return task


def _check_open(task: HumanTask) -> None:
    if task.status == "completed":
        raise Conflict(N_("This task has already been completed"), code="task_closed")
    if task.status != "open":
        raise Conflict(N_("This task was cancelled: the process moved on without it"), code="task_closed")


def _check_person(principal: Principal) -> int:
    if principal.user_id is None:
        raise Forbidden(N_("Only a person can take or complete a task"))
    return principal.user_id


def claim_task(session: Session, task_id: int, principal: Principal) -> HumanTask:
    user_id = _check_person(principal)
    task = get_task(session, task_id, principal, lock=True)
    _check_open(task)
    if task.assignee_id == user_id:
        return task
    _check_for(principal, task, session)
    if task.assignee_id is not None:
        raise Conflict(N_("This task is taken by someone else"), code="task_taken")
    task.assignee_id = user_id
    task.claimed_at = utcnow()
    audit.record(session, principal.name, "task.claimed", "human_task", task.id, instance_id=task.instance_id)
    bus.publish(session, "task.claimed", task_id=task.id, instance_id=task.instance_id, by=principal.name,
                department_id=task.candidate_department_id, role=task.candidate_role)
    return task


def take_over_task(session: Session, task_id: int, principal: Principal, reason: str) -> HumanTask:
    """An administrator or a leader takes on a task that is not theirs (another department's handling, a leader's
    review), with a reason: it is assigned to them, and audited as taken over. Then they may complete it."""
    user_id = _check_person(principal)
    if principal.role not in TAKERS:
        raise Forbidden(N_("Only an administrator or a leader can take over a task"))
    task = get_task(session, task_id, principal, lock=True)
    _check_open(task)
    if not reason.strip():
        raise Invalid(N_("Give a reason for taking the task over"), details={"fields": {"reason": N_("is required")}})
    if task.assignee_id == user_id:
        raise Conflict(N_("This task is already yours"), code="task_yours")
    before = task.assignee.username if task.assignee is not None else None
    task.assignee, task.claimed_at = session.get(User, user_id), utcnow()
    audit.record(session, principal.name, "task.taken_over", "human_task", task.id, instance_id=task.instance_id,
                 reason=reason.strip()[:1000], task=task.bpmn_id, from_assignee=before, role=task.candidate_role,
                 department_id=task.candidate_department_id)
    bus.publish(session, "task.taken_over", task_id=task.id, instance_id=task.instance_id, by=principal.name,
                department_id=task.candidate_department_id, role=task.candidate_role)
    return task


def unclaim_task(session: Session, task_id: int, principal: Principal) -> HumanTask:
    """Give a task back to its group (its assignee, or an overseer, may do this)."""
    _check_person(principal)
    task = get_task(session, task_id, principal, lock=True)
    _check_open(task)
    if task.assignee_id is None:
        return task
    if task.assignee_id != principal.user_id and principal.role not in OVERSEERS:
        raise Forbidden(N_("Only the person who took the task, or a leader or operator, can give it back"))
    task.assignee_id = None
    task.claimed_at = None
    audit.record(session, principal.name, "task.unclaimed", "human_task", task.id, instance_id=task.instance_id)
    bus.publish(session, "task.unclaimed", task_id=task.id, instance_id=task.instance_id,
                department_id=task.candidate_department_id, role=task.candidate_role)
    return task


def delegate_task(session: Session, task_id: int, principal: Principal, *, reason: str,
                  user: str | None = None, department: str | None = None) -> HumanTask:
    """Hand a task to another person or department, with a reason. It shows in the new inbox at once."""
    _check_person(principal)
    task = get_task(session, task_id, principal, lock=True)
    _check_open(task)
    if not reason.strip():
        raise Invalid(N_("Give a reason for handing the task over"), details={"fields": {"reason": N_("is required")}})
    if (user is None) == (department is None):
        raise Invalid(N_("Name either a user or a department to hand the task to"))
    if task.assignee_id not in (None, principal.user_id) and principal.role not in OVERSEERS:
        raise Forbidden(N_("This task is taken by someone else"), code="task_taken")
    before = {"assignee_id": task.assignee_id, "department_id": task.candidate_department_id}
    if user is not None:
        target = session.scalar(select(User).where(User.username == user, User.active.is_(True)))
        if target is None:
            raise Invalid(N_("No active user %(name)s"), name=user)
        if target.id == principal.user_id:  # handing another's task to oneself is taking it over
            _check_for(principal, task, session)
        task.assignee_id = target.id
        task.claimed_at = utcnow()
        if target.department_id is not None:
            task.candidate_department_id = target.department_id
    else:
        dept = session.scalar(select(Department).where(Department.code == department))
        if dept is None:
            raise Invalid(N_("No department with code %(dept)s"), dept=department)
        if dept.id == principal.department_id:  # so is handing it to one's own department
            _check_for(principal, task, session)
        task.candidate_department_id = dept.id
        task.assignee_id = None
        task.claimed_at = None
    audit.record(session, principal.name, "task.delegated", "human_task", task.id, instance_id=task.instance_id,
                 reason=reason.strip(), to_user=user, to_department=department, before=before)
    bus.publish(session, "task.delegated", task_id=task.id, instance_id=task.instance_id,
                department_id=task.candidate_department_id, role=task.candidate_role)
    return task


def add_comment(session: Session, task_id: int, principal: Principal, body: str) -> TaskComment:
    task = get_task(session, task_id, principal)
    text = body.strip()
    if not text or len(text) > 4000:
        raise Invalid(N_("A comment has 1 to 4,000 characters"), details={"fields": {"body": N_("is required")}})
    comment = TaskComment(task_id=task.id, author=principal.name, body=text)
    session.add(comment)
    session.flush()
    audit.record(session, principal.name, "task.commented", "human_task", task.id, instance_id=task.instance_id,
                 comment_id=comment.id)
    bus.publish(session, "task.commented", task_id=task.id, instance_id=task.instance_id,
                department_id=task.candidate_department_id, role=task.candidate_role)
    return comment


def comments_for(session: Session, task_id: int, principal: Principal) -> list[TaskComment]:
    task = get_task(session, task_id, principal)
    return list(session.scalars(select(TaskComment).where(TaskComment.task_id == task.id).order_by(TaskComment.id)))


def save_draft(session: Session, task_id: int, principal: Principal, values: dict[str, Any]) -> HumanTask:
    """Keep what someone has typed so far; only the form's own fields, nothing is validated yet. Like completing
    it, only those the task is for (or who took it over) fill its form."""
    task = get_task(session, task_id, principal, lock=True)
    _check_open(task)
    _check_for(principal, task, session)
    known = {f["id"] for f in task.form}
    task.draft = {k: v for k, v in values.items() if k in known and isinstance(v, str | int | float | bool)}
    audit.record(session, principal.name, "task.draft_saved", "human_task", task.id, instance_id=task.instance_id)
    return task


def department_codes(session: Session) -> list[str]:
    return list(session.scalars(select(Department.code).order_by(Department.code)))


def _choices_for(session: Session, form: list[dict[str, Any]]) -> dict[str, list[str]]:
    """The data-driven option lists the form's fields name (read only when a field needs one)."""
    wanted = {(f.get("properties") or {}).get("choices") for f in form}
    return {"departments": department_codes(session)} if "departments" in wanted else {}


def complete_task(session: Session, task_id: int, principal: Principal, submitted: dict[str, Any]) -> HumanTask:
    """Validate the form, complete the BPMN task, run to the next wait state — one transaction."""
    user_id = _check_person(principal)
    task = get_task(session, task_id, principal, lock=True)
    _check_open(task)
    if task.assignee_id not in (None, user_id):
        raise Forbidden(N_("This task is taken by someone else"), code="task_taken")
    _check_for(principal, task, session)
    values = validate(task.form, submitted, _choices_for(session, task.form))
    instance = runtime.get_instance(session, task.instance_id, lock=True)
    if instance.status != "running":
        raise Conflict(N_("The process is not running (suspended, stopped by an incident, or ended)"),
                       code="instance_not_running")
    wf = runtime.load(instance)
    spiff_task = wf.get_task_from_id(UUID(task.task_guid))
    if spiff_task is None or spiff_task.state != TaskState.READY:
        raise Conflict(N_("This task is no longer waiting"), code="task_closed")
    spiff_task.set_data(**values, **{f"{task.bpmn_id}_by": principal.name})
    spiff_task.run()
    task.status = "completed"
    task.assignee_id = user_id
    task.completed_at = utcnow()
    task.completed_by_id = user_id
    task.result = values
    if instance.alert is not None:
        if principal.role in alerts.ACKNOWLEDGERS:  # someone acted on it: no escalation
            alerts.acknowledge(session, instance.alert, principal.name)
        if "department" in values:
            alerts.assign_department(session, instance.alert, str(values["department"]), principal.name)
    audit.record(session, principal.name, "task.completed", "human_task", task.id, instance_id=instance.id,
                 task=task.bpmn_id, name=task.name, values=values, shown=shown(task.form, values))
    bus.publish(session, "task.completed", task_id=task.id, instance_id=instance.id, by=principal.name,
                department_id=task.candidate_department_id, role=task.candidate_role)
    runtime.advance(session, instance, wf, principal.name)
    if instance.status == "completed" and instance.alert is not None:
        alerts.close_alert(session, instance.alert, principal.name)
    if task.bpmn_id == "review_violation" and instance.alert is not None:
        from engine import traffic

        traffic.on_review(session, instance.alert, values, principal.name)
    return task

