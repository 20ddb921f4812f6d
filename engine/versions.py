"""Moving running instances to a newer version of their process, where it is safe.

Safe means: no step the instance has already done was removed or changed in the new version (the rule
SpiffArena uses). Waiting steps that changed are recreated from the new version (their inbox rows are
replaced). A preview lists what would happen; the migration itself is audited.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session

from engine import audit, bpmn, bus, registry, runtime
from engine.errors import N_, Conflict, Forbidden, NotFound
from engine.models import ProcessDefinition, ProcessInstance
from engine.org import Principal

MIGRATORS = ("admin", "designer")


def _target(session: Session, instance: ProcessInstance, definition_id: int | None) -> ProcessDefinition:
    if definition_id is None:
        return registry.latest(session, instance.definition.process_key)
    target = session.get(ProcessDefinition, definition_id)
    if target is None or target.process_key != instance.definition.process_key:
        raise NotFound(N_("No version %(id)s of this process"), id=definition_id)
    if target.status != registry.APPROVED:
        raise Conflict(N_("Version %(version)s is not approved: instances move only to approved versions"),
                       code="not_approved", version=target.version)
    return target


def _diff(instance: ProcessInstance, target: ProcessDefinition) -> tuple[Any, Any, dict[str, Any]]:
    wf = runtime.load(instance)
    fresh = bpmn.new_workflow(target.spec_json)
    top, subs = diff_workflow(bpmn.serializer.registry, wf, fresh.spec, fresh.subprocess_specs)
    return wf, fresh, {"top": top, "subs": subs}


def preview(session: Session, instance_id: int, definition_id: int | None = None) -> dict[str, Any]:
    instance = runtime.get_instance(session, instance_id)
    target = _target(session, instance, definition_id)
    _wf, _fresh, diffs = _diff(instance, target)
    reasons: list[str] = []
    removed, changed, reset = set(), set(), set()
    for diff in [diffs["top"], *diffs["subs"].values()]:
        if diff is None:
            reasons.append("a sub-process of this instance is not in the new version")
            continue
        for task in diff.removed:
            removed.add(task.task_spec.bpmn_id or task.task_spec.name)
            if task.state == TaskState.COMPLETED:
                reasons.append(f"done step {task.task_spec.bpmn_id} is removed in the new version")
        for task in diff.changed:
            changed.add(task.task_spec.bpmn_id or task.task_spec.name)
            if task.state == TaskState.COMPLETED:
                reasons.append(f"done step {task.task_spec.bpmn_id} is changed in the new version")
            if task.state in (TaskState.READY, TaskState.WAITING):
                reset.add(task.task_spec.bpmn_id)
    return {"instance_id": instance.id, "process": instance.definition.process_key,
            "from_version": instance.definition.version, "to_version": target.version, "to_definition_id": target.id,
            "safe": not reasons and target.id != instance.definition_id, "reasons": sorted(set(reasons)),
            "removed": sorted(x for x in removed if x), "changed": sorted(x for x in changed if x),
            "waiting_steps_recreated": sorted(x for x in reset if x)}


def migrate(session: Session, instance_id: int, principal: Principal, definition_id: int | None = None
            ) -> ProcessInstance:
    if principal.role not in MIGRATORS:
        raise Forbidden(N_("Only administrators and process designers can migrate instances"))
    plan = preview(session, instance_id, definition_id)
    if not plan["safe"]:
        raise Conflict(N_("This instance cannot move to that version safely"), code="unsafe_migration",
                       details={"reasons": plan["reasons"] or ["already on that version"]})
    instance = runtime.get_instance(session, instance_id, lock=True)
    target = session.get(ProcessDefinition, plan["to_definition_id"])
    assert target is not None
    wf, fresh, diffs = _diff(instance, target)
    migrate_workflow(diffs["top"], wf, fresh.spec)
    for sp_id, diff in diffs["subs"].items():
        sub = wf.subprocesses[sp_id]
        migrate_workflow(diff, sub, fresh.subprocess_specs[sub.spec.name])
    wf.subprocess_specs = fresh.subprocess_specs
    instance.definition = target
    audit.record(session, principal.name, "instance.migrated", "process_instance", instance.id,
                 instance_id=instance.id, from_version=plan["from_version"], to_version=plan["to_version"],
                 recreated=plan["waiting_steps_recreated"])
    bus.publish(session, "instance.migrated", instance_id=instance.id, version=target.version)
    runtime.advance(session, instance, wf, principal.name)
    return instance
