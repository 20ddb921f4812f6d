"""Second-person approval of process versions (docs/adr/0012-separation-of-duties.md).

A version a person deploys (through the API or the designer page) is *pending*: new instances keep starting from the
current, latest approved version until a second person approves it — an administrator, or for a directive flow a
leader too — having seen its diff against the current version. Nobody approves their own deployment. The deployment
(``process.deployed``) and the decision (``process.approved`` / ``process.rejected``) are both in the audit log.
Versions the system deploys from the processes folder, and those the operator deploys with ``ioc process deploy``,
are approved as they come (engine.registry).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from engine import audit, bus, registry
from engine.db import utcnow
from engine.errors import N_, Conflict, Forbidden, Invalid, NotFound
from engine.models import ApiToken, ProcessDefinition
from engine.org import Principal
from engine.rule_files import unified_diff

APPROVERS = ("admin", "leader")  # leaders approve directive flows only
DIRECTIVE_PREFIX = "directive"  # a process whose key starts so is a directive flow (processes/directive.bpmn)


@dataclass(frozen=True)
class PendingVersion:
    """A version waiting for approval, with what it changes."""

    definition: ProcessDefinition
    current: ProcessDefinition | None  # the version in use now (None: a new process)
    diff: str  # unified diff of the BPMN files, current → pending

    # the attributes the API's schema reads
    @property
    def id(self) -> int:
        return self.definition.id

    @property
    def process_key(self) -> str:
        return self.definition.process_key

    @property
    def version(self) -> int:
        return self.definition.version

    @property
    def current_version(self) -> int | None:
        return self.current.version if self.current is not None else None


def is_directive_flow(process_key: str) -> bool:
    return process_key.startswith(DIRECTIVE_PREFIX)


def may_approve(principal: Principal, definition: ProcessDefinition) -> bool:
    """Whether ``principal``'s role may approve this version (their own deployment aside)."""
    return principal.role == "admin" or (principal.role == "leader" and is_directive_flow(definition.process_key))


def _current(session: Session, process_key: str) -> ProcessDefinition | None:
    return session.scalar(select(ProcessDefinition).options(undefer(ProcessDefinition.bpmn_xml))
                          .where(ProcessDefinition.process_key == process_key,
                                 ProcessDefinition.status == registry.APPROVED)
                          .order_by(ProcessDefinition.version.desc()).limit(1))


def describe(session: Session, definition: ProcessDefinition) -> PendingVersion:
    current = _current(session, definition.process_key)
    old = current.bpmn_xml if current is not None else ""
    name = f"{definition.process_key}.bpmn"
    diff = unified_diff(old, definition.bpmn_xml, name)
    return PendingVersion(definition, current, diff)


def pending(session: Session) -> list[PendingVersion]:
    """The versions waiting for approval, oldest first, each with its diff against the current version."""
    rows = session.scalars(select(ProcessDefinition).options(undefer(ProcessDefinition.bpmn_xml))
                           .where(ProcessDefinition.status == registry.PENDING).order_by(ProcessDefinition.id))
    return [describe(session, d) for d in rows]


def _authors(session: Session, deployed_by: str) -> set[str]:
    """Who stands behind a deployment: the person, or for a token's the person who made the token."""
    if not deployed_by.startswith("token:"):
        return {deployed_by}
    makers = session.scalars(select(ApiToken.created_by).where(ApiToken.name == deployed_by[len("token:"):]))
    return {deployed_by, *(m for m in makers if m)}


def _pending_one(session: Session, definition_id: int, principal: Principal, *, withdraw: bool = False
                 ) -> ProcessDefinition:
    """The pending version ``principal`` decides on; ``withdraw``: its author may reject (withdraw) it."""
    if principal.user_id is None:
        raise Forbidden(N_("Only a person may do this, not a token"), code="token_not_allowed")
    definition = session.scalar(select(ProcessDefinition).where(ProcessDefinition.id == definition_id)
                                .with_for_update())
    if definition is None:
        raise NotFound(N_("No process version %(id)s"), id=definition_id)
    own = principal.name in _authors(session, definition.deployed_by)
    if not (may_approve(principal, definition) or (own and withdraw)):
        raise Forbidden(N_("Only an administrator (or, for a directive flow, a leader) approves a process "
                           "version"), code="not_an_approver")
    if definition.status != registry.PENDING:
        raise Conflict(N_("This version is not waiting for approval"), code="not_pending")
    if own and not withdraw:
        raise Forbidden(N_("You deployed this version: another person must approve it"), code="own_change")
    return definition


def approve(session: Session, definition_id: int, principal: Principal) -> ProcessDefinition:
    """Make a pending version current: new instances start from it (running ones keep theirs, engine.versions)."""
    definition = _pending_one(session, definition_id, principal)
    current = _current(session, definition.process_key)
    if current is not None and current.version > definition.version:
        raise Conflict(N_("A later version (%(version)s) is already in use: reject this one"), code="superseded",
                       version=current.version)
    definition.status, definition.reviewed_by, definition.reviewed_at = registry.APPROVED, principal.name, utcnow()
    audit.record(session, principal.name, "process.approved", "process_definition", definition.id,
                 process=definition.process_key, version=definition.version, deployed_by=definition.deployed_by,
                 replaces=current.version if current is not None else None)
    bus.publish(session, "process.approved", process=definition.process_key, version=definition.version)
    if registry.starts_on_timer(definition):
        registry.schedule(session, definition, principal.name)
    return definition


def reject(session: Session, definition_id: int, principal: Principal, reason: str) -> ProcessDefinition:
    """Turn a pending version down, with a reason (its author may so withdraw it); it never becomes current
    (deploying the same file again changes nothing: change the model and deploy again)."""
    definition = _pending_one(session, definition_id, principal, withdraw=True)
    if not reason.strip():
        raise Invalid(N_("Give a reason for rejecting the version"), details={"fields": {"reason": N_("is required")}})
    definition.status, definition.reviewed_by, definition.reviewed_at = registry.REJECTED, principal.name, utcnow()
    definition.review_note = reason.strip()[:1000]
    audit.record(session, principal.name, "process.rejected", "process_definition", definition.id,
                 process=definition.process_key, version=definition.version, deployed_by=definition.deployed_by,
                 reason=definition.review_note)
    bus.publish(session, "process.rejected", process=definition.process_key, version=definition.version)
    return definition
