"""Messages and signals from outside: delivered to the running instances that wait for them.

A message goes to the instances with its business key (``alert:12``, ``directive:7``); a signal
without a business key goes to every running instance that waits for it. Each delivery runs the
instance to its next wait state, in the caller's transaction, and is audited.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition as CamundaMessage
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import alerts, audit, runtime
from engine.errors import N_, NotFound
from engine.models import ProcessInstance

MAX_BROADCAST = 1000


def waiting_definition(wf: BpmnWorkflow, name: str) -> Any:
    """The event definition of a task that waits for ``name`` (message or signal), or None."""
    for task in wf.get_tasks(state=TaskState.WAITING):
        definition = getattr(task.task_spec, "event_definition", None)
        if definition is not None and getattr(definition, "name", None) == name:
            return definition
    return None


def send(session: Session, name: str, *, business_key: str | None, variables: dict[str, Any],
         actor: str) -> list[int]:
    """Deliver ``name``; returns the ids of the instances that received it."""
    stmt = select(ProcessInstance.id).where(ProcessInstance.status == "running").order_by(ProcessInstance.id)
    if business_key is not None:
        stmt = stmt.where(ProcessInstance.business_key == business_key)
    delivered = []
    for instance_id in list(session.scalars(stmt.limit(MAX_BROADCAST))):
        instance = runtime.get_instance(session, instance_id, lock=True)
        wf = runtime.load(instance)
        definition = waiting_definition(wf, name)
        if definition is None:
            continue
        # Camunda-flavoured messages carry their data under a result variable named after the message.
        payload = {"payload": variables, "result_var": name} if isinstance(definition, CamundaMessage) else variables
        wf.send_event(BpmnEvent(definition, payload))
        audit.record(session, actor, "message.received", "process_instance", instance.id, instance_id=instance.id,
                     name=name, variables=variables)
        runtime.advance(session, instance, wf, actor)
        if instance.status == "completed" and instance.alert is not None:
            alerts.close_alert(session, instance.alert, actor)
        delivered.append(instance.id)
    if not delivered:
        raise NotFound(N_("No running process waits for %(name)s"), name=name,
                       details={"name": name, "business_key": business_key})
    return delivered
