"""The process registry: each version of a BPMN process stored once, by the hash of its content."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import audit, bus, decisions
from engine.bpmn import NS, external_calls, parse_process_file, parse_xml_any
from engine.db import utcnow
from engine.errors import N_, DeployError, Forbidden, NotFound
from engine.models import HumanTask, ProcessDefinition, ProcessInstance


def content_hash(process_key: str, content: bytes) -> str:
    return hashlib.sha256(process_key.encode() + b"\0" + content).hexdigest()


APPROVED, PENDING, REJECTED = "approved", "pending", "rejected"


def deploy(session: Session, content: bytes, filename: str, actor: str = "system",
           schemas: dict[str, bytes] | None = None, *, approved: bool = True) -> list[ProcessDefinition]:
    """Deploy the executable processes of a BPMN file (or the decisions of a DMN file); an unchanged file adds
    no version. ``schemas`` are the JSON Schema form files beside it, by name. ``approved=False`` (a person's
    deployment, through the API or the designer): each new version waits, *pending*, for a second person
    (engine.approvals); the current version stays in use until then."""
    if decisions.is_dmn(parse_xml_any(content, filename).getroot()):
        if not approved:
            raise Forbidden(N_("Decision tables (DMN) are deployed by the server operator (ioc process deploy) or "
                               "from the processes folder, not through the API"), code="decision_by_operator")
        decisions.deploy(session, content, filename, actor)
        return []
    result = []
    used = sorted(set(re.findall(rb'formKey="json:([^"]+)"', content))  # the form files this model uses
                  | set(re.findall(rb'name="formJsonSchemaFilename"\s+value="([^"]+)"', content)))
    forms = b"".join((schemas or {}).get(name.decode(), b"") for name in used)
    callees = called_processes(session, content, filename)
    library = {d.process_key: (d.bpmn_xml.encode("utf-8"), d.tasks) for d in callees}
    bound = "".join(d.content_hash for d in callees).encode()  # a new callee version makes a new caller version
    for parsed in parse_process_file(content, filename, decisions.latest_files(session), schemas, library):
        digest = content_hash(parsed.process_key, content + forms + bound)
        existing = session.scalar(select(ProcessDefinition).where(ProcessDefinition.content_hash == digest))
        if existing is not None:
            if approved and existing.status != APPROVED:  # the reviewed folder or the operator brings it in
                _approve(session, existing, actor)
            result.append(existing)
            continue
        last = session.scalar(select(func.max(ProcessDefinition.version))
                              .where(ProcessDefinition.process_key == parsed.process_key)) or 0
        definition = ProcessDefinition(process_key=parsed.process_key, name=parsed.name, version=last + 1,
                                       content_hash=digest, filename=Path(filename).name,
                                       bpmn_xml=content.decode("utf-8"), spec_json=parsed.spec_json,
                                       tasks=parsed.tasks, deployed_by=actor,
                                       status=APPROVED if approved else PENDING)
        session.add(definition)
        session.flush()
        audit.record(session, actor, "process.deployed", "process_definition", definition.id,
                     process=parsed.process_key, version=definition.version, hash=digest[:12],
                     status=definition.status)
        bus.publish(session, "process.deployed", process=parsed.process_key, version=definition.version,
                    status=definition.status)
        if approved and parsed.timer_start:
            schedule(session, definition, actor)
        result.append(definition)
    return result


def _approve(session: Session, definition: ProcessDefinition, actor: str) -> None:
    """A pending (or rejected) version that the system or the operator deploys again is approved by them."""
    definition.status, definition.reviewed_by, definition.reviewed_at = APPROVED, actor, utcnow()
    audit.record(session, actor, "process.approved", "process_definition", definition.id,
                 process=definition.process_key, version=definition.version, deployed_by=definition.deployed_by)
    if starts_on_timer(definition):
        schedule(session, definition, actor)


def starts_on_timer(definition: ProcessDefinition) -> bool:
    """Whether the version's process starts on a timer (a schedule), read from its stored file."""
    root = parse_xml_any(definition.bpmn_xml.encode("utf-8"), definition.filename).getroot()
    node = root.find(f"bpmn:process[@id='{definition.process_key}']", NS)
    return node is not None and node.find("bpmn:startEvent/bpmn:timerEventDefinition", NS) is not None


def called_processes(session: Session, content: bytes, filename: str) -> list[ProcessDefinition]:
    """The latest deployed versions of the processes that the file's call activities call in other files,
    and of those they call in turn. The caller is bound to these versions when it is deployed."""
    found: dict[str, ProcessDefinition] = {}
    pending = [(content, filename)]
    while pending:
        xml, name = pending.pop()
        for called, element, line in external_calls(parse_xml_any(xml, name)):
            if called in found:
                continue
            definition = session.scalar(select(ProcessDefinition).where(ProcessDefinition.process_key == called,
                                                                        ProcessDefinition.status == APPROVED)
                                        .order_by(ProcessDefinition.version.desc()).limit(1))
            if definition is None:
                raise DeployError(N_("Call activity %(element)s calls process %(called)s, which is neither in "
                                     "this file nor deployed: deploy that process first"),
                                  code="callee_missing", details={"file": name, "line": line, "element": element},
                                  element=element, called=called)
            found[called] = definition
            pending.append((definition.bpmn_xml.encode("utf-8"), definition.filename))
    return sorted(found.values(), key=lambda d: d.process_key)


def schedule(session: Session, definition: ProcessDefinition, actor: str) -> None:
    """A process that starts on a timer (a schedule) runs as one standing instance whose start event fires
    at each due time and opens the process's first steps; a new version replaces the previous schedule."""
    from engine import runtime  # runtime needs the registry; this is the one call back into it

    key = f"schedule:{definition.process_key}"
    for old in session.scalars(select(ProcessInstance).where(ProcessInstance.business_key == key,
                                                             ProcessInstance.status == "running")):
        old.status, old.ended_at, old.next_timer_at = "cancelled", utcnow(), None
        for task in session.scalars(select(HumanTask).where(HumanTask.instance_id == old.id,
                                                            HumanTask.status == "open")):
            task.status, task.completed_at = "cancelled", utcnow()
        audit.record(session, actor, "instance.cancelled", "process_instance", old.id, instance_id=old.id,
                     reason=f"replaced by version {definition.version}")
    runtime.start_process(session, definition.process_key, {"title": definition.name}, actor=actor,
                          business_key=key)


def deploy_directory(session: Session, directory: Path, actor: str = "system") -> list[ProcessDefinition]:
    deployed = []
    for path in sorted(directory.glob("*.dmn")):  # decisions first: processes refer to them
        deploy(session, path.read_bytes(), path.name, actor)
    schemas = {p.name: p.read_bytes() for p in directory.glob("*.json")}
    waiting = sorted(directory.glob("*.bpmn"))
    while waiting:  # a file whose call activities call a process of another file waits for that file
        later = []
        for path in waiting:
            try:
                with session.begin_nested():
                    deployed.extend(deploy(session, path.read_bytes(), path.name, actor, schemas))
            except DeployError as exc:
                if exc.code != "callee_missing":
                    raise
                later.append((path, exc))
        if len(later) == len(waiting):
            raise later[0][1]
        waiting = [path for path, _exc in later]
    return deployed


def latest(session: Session, process_key: str) -> ProcessDefinition:
    """The current version of a process: its latest *approved* one (new instances start from it)."""
    definition = session.scalar(select(ProcessDefinition).where(ProcessDefinition.process_key == process_key,
                                                                ProcessDefinition.status == APPROVED)
                                .order_by(ProcessDefinition.version.desc()).limit(1))
    if definition is None:
        if session.scalar(select(ProcessDefinition.id).where(ProcessDefinition.process_key == process_key)
                          .limit(1)) is not None:
            raise NotFound(N_("Process %(key)s has no approved version yet"), key=process_key,
                           code="not_approved")
        raise NotFound(N_("Process %(key)s is not deployed"), key=process_key)
    return definition


def all_latest(session: Session) -> list[ProcessDefinition]:
    """The current (latest approved) version of each process."""
    newest = (select(ProcessDefinition.process_key, func.max(ProcessDefinition.version).label("v"))
              .where(ProcessDefinition.status == APPROVED)
              .group_by(ProcessDefinition.process_key).subquery())
    stmt = select(ProcessDefinition).join(
        newest, (ProcessDefinition.process_key == newest.c.process_key) & (ProcessDefinition.version == newest.c.v)
    ).order_by(ProcessDefinition.process_key)
    return list(session.scalars(stmt))
