"""Operating on instances, as in a cockpit: retry an incident, suspend, resume, cancel, move back.

Each action takes a reason (except resume and retry, whose reason is optional), is limited to the
roles that run the centre, runs the engine to its next wait state, and is audited.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import alerts, audit, bus, runtime
from engine.db import utcnow
from engine.errors import N_, Conflict, Forbidden, Invalid
from engine.models import HumanTask, ProcessInstance
from engine.org import Principal

OPERATORS = ("admin", "operator")


def _locked(session: Session, instance_id: int, principal: Principal, roles: tuple[str, ...] = OPERATORS
            ) -> ProcessInstance:
    if principal.role not in roles:
        raise Forbidden(N_("Only administrators and IOC operators can do this"))
    return runtime.get_instance(session, instance_id, lock=True)


def _need_reason(reason: str) -> str:
    if not reason.strip():
        raise Invalid(N_("Give a reason"), details={"fields": {"reason": N_("is required")}})
    return reason.strip()


def _changed(session: Session, instance: ProcessInstance, principal: Principal, action: str, **details: Any) -> None:
    audit.record(session, principal.name, f"instance.{action}", "process_instance", instance.id,
                 instance_id=instance.id, **details)
    bus.publish(session, f"instance.{action}", instance_id=instance.id)


def retry(session: Session, instance_id: int, principal: Principal, variables: dict[str, Any] | None = None
          ) -> ProcessInstance:
    """Run the failed step again (with corrected data, if given)."""
    instance = _locked(session, instance_id, principal)
    if instance.status != "incident":
        raise Conflict(N_("Only an instance in an incident can be retried"))
    wf = runtime.load(instance)
    failed = wf.get_tasks(state=TaskState.ERROR)
    previous = instance.error
    instance.status, instance.error = "running", None
    _changed(session, instance, principal, "retried", previous_error=previous, variables=variables or {})
    for task in failed:
        task.data.update(variables or {})
        try:
            task.run()
        except SpiffWorkflowException as exc:
            runtime.open_incident(session, instance, exc, principal.name)
            instance.state_json = runtime.bpmn.split_state(wf)
            return instance
    runtime.advance(session, instance, wf, principal.name)
    return instance


def suspend(session: Session, instance_id: int, principal: Principal, reason: str) -> ProcessInstance:
    instance = _locked(session, instance_id, principal, OPERATORS + ("leader",))
    if instance.status != "running":
        raise Conflict(N_("Only a running instance can be suspended"))
    instance.status = "suspended"
    _changed(session, instance, principal, "suspended", reason=_need_reason(reason))
    return instance


def resume(session: Session, instance_id: int, principal: Principal) -> ProcessInstance:
    instance = _locked(session, instance_id, principal, OPERATORS + ("leader",))
    if instance.status != "suspended":
        raise Conflict(N_("Only a suspended instance can be resumed"))
    instance.status = "running"
    _changed(session, instance, principal, "resumed")
    runtime.advance(session, instance, runtime.load(instance), principal.name)  # timers due meanwhile fire now
    return instance


def cancel(session: Session, instance_id: int, principal: Principal, reason: str) -> ProcessInstance:
    instance = _locked(session, instance_id, principal, OPERATORS + ("leader",))
    if instance.status in ("completed", "cancelled"):
        raise Conflict(N_("This instance has already ended"))
    why = _need_reason(reason)
    now = utcnow()
    for task in session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                        HumanTask.status == "open")):
        task.status, task.completed_at = "cancelled", now
    instance.status, instance.ended_at, instance.next_timer_at = "cancelled", now, None
    _changed(session, instance, principal, "cancelled", reason=why)
    if instance.alert is not None:
        alerts.close_alert(session, instance.alert, principal.name)
    return instance


def rewind(session: Session, instance_id: int, principal: Principal, task_bpmn_id: str, reason: str
           ) -> ProcessInstance:
    """Move the token back to a step already done: it waits again; what came after it is undone."""
    instance = _locked(session, instance_id, principal, ("admin",))
    if instance.status not in ("running", "incident"):
        raise Conflict(N_("Only a running instance can be moved back"))
    why = _need_reason(reason)
    wf = runtime.load(instance)
    done = [t for t in wf.get_tasks(state=TaskState.COMPLETED) if t.task_spec.bpmn_id == task_bpmn_id]
    if not done:
        raise Invalid(N_("The step %(step)s has not been done in this instance"), step=task_bpmn_id)
    wf.reset_from_task_id(done[-1].id)
    instance.status, instance.error = "running", None
    _changed(session, instance, principal, "rewound", to=task_bpmn_id, reason=why)
    runtime.advance(session, instance, wf, principal.name)
    return instance
