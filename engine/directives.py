"""Directives (văn bản chỉ đạo): a leader's instruction to departments with a deadline, run by
``processes/directive.bpmn`` — one branch per department — and followed department by department."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit, bus, runtime, visibility
from engine.db import utcnow
from engine.errors import N_, Forbidden, Invalid, NotFound
from engine.models import Department, Directive, HumanTask
from engine.org import Principal

PROCESS = "directive"
ISSUERS = ("leader", "admin")
# What a department's newest open step means for the directive, in the leader's words.
STEP_STATE = {"acknowledge": "to_acknowledge", "execute": "in_progress", "review": "to_review",
              "extension": "extension_asked", "escalation": "overdue"}


def issue(session: Session, principal: Principal, *, title: str, content: str, deadline: datetime,
          departments: list[str], document: tuple[str, bytes] | None = None) -> Directive:
    """Issue a directive. ``document`` (file name, bytes), the signed văn bản, goes to every department with
    its first task."""
    if principal.role not in ISSUERS:
        raise Forbidden(N_("Only leaders issue directives"))
    errors: dict[str, str] = {}
    if not title.strip():
        errors["title"] = N_("is required")
    if deadline <= utcnow():
        errors["deadline"] = N_("must be in the future")
    codes = list(dict.fromkeys(d.strip() for d in departments if d.strip()))
    known = set(session.scalars(select(Department.code).where(Department.code.in_(codes))))
    if not codes:
        errors["departments"] = N_("is required")
    elif set(codes) - known:
        errors["departments"] = N_("is not one of the allowed choices")
    if errors:
        raise Invalid(N_("Some fields are not valid"), code="invalid_form", details={"fields": errors})
    directive = Directive(title=title.strip(), content=content.strip(), deadline=deadline, departments=codes,
                          issued_by=principal.name)
    session.add(directive)
    session.flush()
    instance = runtime.start_process(
        session, PROCESS, {"title": f"Chỉ đạo: {directive.title}", "content": directive.content,
                           "deadline": deadline.isoformat(), "departments": codes, "directive_id": directive.id,
                           "issued_by": principal.name},
        actor=principal.name, business_key=f"directive:{directive.id}")
    directive.instance_id = instance.id
    if document is not None:
        from engine import attachments  # attachments build on tasks, which build on the runtime

        for task in runtime.current_step(session, instance):
            attachments.attach_to(session, task, principal, document[0], document[1])
    audit.record(session, principal.name, "directive.issued", "directive", directive.id, instance_id=instance.id,
                 title=directive.title, departments=codes, deadline=deadline.isoformat())
    bus.publish(session, "directive.issued", directive_id=directive.id, instance_id=instance.id)
    return directive


def get(session: Session, directive_id: int) -> Directive:
    directive = session.get(Directive, directive_id)
    if directive is None:
        raise NotFound(N_("No directive %(id)s"), id=directive_id)
    return directive


@dataclass(frozen=True)
class DepartmentProgress:
    department: str
    name: str
    state: str  # to_acknowledge | in_progress | to_review | extension_asked | overdue | done
    step: str | None
    task_id: int | None
    due_at: datetime | None


def progress(session: Session, directive: Directive) -> list[DepartmentProgress]:
    """Where each department stands, from the inbox rows alone (no workflow state is read)."""
    rows = list(session.scalars(select(HumanTask).where(HumanTask.instance_id == directive.instance_id)
                                .order_by(HumanTask.id)))
    depts = {d.code: d for d in session.scalars(select(Department).where(Department.code.in_(directive.departments)))}
    now = utcnow()
    out = []
    for code in directive.departments:
        dept = depts.get(code)
        mine = [r for r in rows if dept is not None and r.about_department_id == dept.id]
        open_rows = [r for r in mine if r.status == "open"]
        work = [r for r in open_rows if r.bpmn_id != "escalation"]  # the escalation is the leader's, not the work
        if work:
            current = work[-1]
            late = any(r.bpmn_id == "escalation" for r in open_rows) or (current.due_at is not None
                                                                          and current.due_at < now)
            state = "overdue" if current.bpmn_id == "execute" and late else STEP_STATE.get(current.bpmn_id,
                                                                                            "in_progress")
            out.append(DepartmentProgress(code, dept.name if dept else code, state, current.name, current.id,
                                          current.due_at))
        elif open_rows:  # only the leader's escalation is left open
            current = open_rows[-1]
            out.append(DepartmentProgress(code, dept.name if dept else code, "overdue", current.name, current.id,
                                          current.due_at))
        else:
            accepted = any(r.bpmn_id == "review" and (r.result or {}).get("decision") == "accept" for r in mine)
            out.append(DepartmentProgress(code, dept.name if dept else code, "done" if accepted else "in_progress",
                                          None, None, None))
    return out


def summary(session: Session, directive: Directive, viewer: Principal | None = None) -> dict[str, Any]:
    """The directive with each department's progress. For a ``viewer``, a step they cannot open (for an officer,
    another department's or the leader's) keeps its state and name, not its link (``task_id``): see
    ``engine.visibility``."""
    steps = progress(session, directive)
    if viewer is not None:
        opened = {s.task_id for s in steps if s.task_id is not None}
        rows = list(session.scalars(select(HumanTask).where(HumanTask.id.in_(opened)))) if opened else []
        workable = visibility.workable_task_ids(viewer, rows)
        steps = [s if s.task_id in workable else replace(s, task_id=None) for s in steps]
    return {"id": directive.id, "title": directive.title, "content": directive.content,
            "deadline": directive.deadline, "issued_by": directive.issued_by, "issued_at": directive.issued_at,
            "instance_id": directive.instance_id,
            "status": directive.instance.status if directive.instance else None,
            "done": sum(1 for s in steps if s.state == "done"), "total": len(steps),
            "departments": [s.__dict__ for s in steps]}


def visible(session: Session, principal: Principal) -> list[Directive]:
    """Leaders, operators and administrators see all directives; others those addressed to their department."""
    rows = list(session.scalars(select(Directive).order_by(Directive.id.desc()).limit(500)))
    if principal.role in ("leader", "admin", "operator", "designer"):
        return rows
    code = session.scalar(select(Department.code).where(Department.id == principal.department_id))
    return [d for d in rows if code in d.departments]
