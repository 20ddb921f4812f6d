"""The data model. Plain rows; the inbox is indexed rows, never deserialized workflow state."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Base, UTCDateTime, utcnow

ROLES = ("leader", "officer", "operator", "designer", "admin")
SEVERITIES = ("thap", "trung_binh", "cao", "khan_cap")  # thấp, trung bình, cao, khẩn cấp


class Unit(Base):
    """An administrative unit: the province, and its communes and wards (2025 two-level model)."""

    __tablename__ = "units"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    full_name: Mapped[str] = mapped_column(String(250))
    name_en: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # province | ward | commune
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    parent: Mapped[Unit | None] = relationship(remote_side=[id])


class Department(Base):
    """A sở/ban/ngành of the province, or the People's Committee (UBND) of a commune or ward."""

    __tablename__ = "departments"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(250))
    name_en: Mapped[str] = mapped_column(String(250))
    kind: Mapped[str] = mapped_column(String(20))  # agency | commune
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    unit: Mapped[Unit | None] = relationship()


class Role(Base):
    __tablename__ = "roles"
    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role_code: Mapped[str] = mapped_column(ForeignKey("roles.code"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    email: Mapped[str | None] = mapped_column(String(200))
    # Channels per severity and quiet hours (engine.notify.preferences); NULL: the defaults.
    notification_preferences: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Set by an administrator's reset: the person must choose a new password before anything else.
    must_change_password: Mapped[bool] = mapped_column(default=False)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The wall's screen: a longer idle timeout, and it may only read (engine.sessions).
    kiosk: Mapped[bool] = mapped_column(default=False)
    department: Mapped[Department | None] = relationship()


class UserSession(Base):
    """A person's signed-in session (engine.sessions). The cookie carries a random id whose SHA-256 is kept
    here, so that a session ends on the server: logout, a password change, deactivation, "sign out everywhere",
    the idle timeout or the absolute lifetime."""

    __tablename__ = "user_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    sid_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    idle_seconds: Mapped[int] = mapped_column(Integer)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_reason: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))


class UserIdentity(Base):
    """A person's account at an OpenID Connect provider (engine.identities): the provider (issuer) and its stable
    id for them (subject). Made at their first single sign-on; until an administrator confirms it
    (``confirmed_at``), it signs nobody in."""

    __tablename__ = "user_identities"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    issuer: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confirmed_by: Mapped[str | None] = mapped_column(String(80))


class ApiToken(Base):
    """A bearer token for a machine. Only the SHA-256 of the token is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    role_code: Mapped[str] = mapped_column(ForeignKey("roles.code"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)  # engine.scopes
    sources: Mapped[list[str] | None] = mapped_column(JSON)  # events:write for these sources only (None: any)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[str | None] = mapped_column(String(80))
    department: Mapped[Department | None] = relationship()


class Event(Base):
    """Something a source observed. Stored once per (source, idempotency key)."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("source", "idempotency_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(100), index=True)
    sector: Mapped[str] = mapped_column(String(40), index=True)
    entity: Mapped[str | None] = mapped_column(String(200), index=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    unit_code: Mapped[str | None] = mapped_column(String(16))
    location: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # failed evaluations so far
    error: Mapped[str | None] = mapped_column(Text)  # set when quarantined: evaluation kept failing


class Alert(Base):
    """An abnormal condition flagged by a rule. Repeats of one dedupe key are grouped while open."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(100), index=True)
    dedupe_key: Mapped[str] = mapped_column(String(300), index=True)
    # Equal to dedupe_key while the alert is open, NULL once closed: one open alert per key.
    open_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    severity: Mapped[str] = mapped_column(String(20), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True, default="firing")
    sector: Mapped[str] = mapped_column(String(40), index=True)
    entity: Mapped[str | None] = mapped_column(String(200))
    unit_code: Mapped[str | None] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column()
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(80))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    silenced: Mapped[bool] = mapped_column(default=False)  # opened while a silence matched: nobody notified
    department: Mapped[Department | None] = relationship()
    instances: Mapped[list[ProcessInstance]] = relationship(viewonly=True, order_by="ProcessInstance.id",
                                                            foreign_keys="ProcessInstance.alert_id")

    @property
    def instance_id(self) -> int | None:
        return self.instances[-1].id if self.instances else None


class ProcessDefinition(Base):
    """One version of a BPMN process, stored once by the hash of its file."""

    __tablename__ = "process_definitions"
    __table_args__ = (UniqueConstraint("process_key", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(250))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    filename: Mapped[str] = mapped_column(String(250))
    bpmn_xml: Mapped[str] = mapped_column(Text, deferred=True)
    spec_json: Mapped[str] = mapped_column(Text, deferred=True)  # serialized Spiff spec (+ subprocess specs)
    tasks: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # human-task catalog by BPMN id
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deployed_by: Mapped[str] = mapped_column(String(80), default="system")
    # pending | approved | rejected: a person's deployment waits for a second person (engine.approvals)
    status: Mapped[str] = mapped_column(String(20), default="approved", server_default="approved")
    reviewed_by: Mapped[str | None] = mapped_column(String(80))  # who approved or rejected it
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    review_note: Mapped[str | None] = mapped_column(String(1000))  # why it was rejected


class DecisionDefinition(Base):
    """One version of a DMN decision table, stored once by content hash; processes deployed after it use it."""

    __tablename__ = "decision_definitions"
    __table_args__ = (UniqueConstraint("decision_key", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    decision_key: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(250))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    filename: Mapped[str] = mapped_column(String(250))
    dmn_xml: Mapped[str] = mapped_column(Text)
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deployed_by: Mapped[str] = mapped_column(String(80), default="system")


class ProcessInstance(Base):
    __tablename__ = "process_instances"
    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"), index=True)
    business_key: Mapped[str | None] = mapped_column(String(200), index=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True, default="running")
    state_json: Mapped[str] = mapped_column(Text)  # workflow state without the spec
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_by: Mapped[str] = mapped_column(String(80), default="system")
    next_timer_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)  # earliest pending timer
    error: Mapped[str | None] = mapped_column(Text)  # why it stopped, when status is "incident"
    lock_version: Mapped[int] = mapped_column(Integer, default=1)
    definition: Mapped[ProcessDefinition] = relationship()
    alert: Mapped[Alert | None] = relationship(foreign_keys=[alert_id])

    __mapper_args__ = {"version_id_col": lock_version}


class HumanTask(Base):
    """A user task waiting for (or done by) a person: the inbox row."""

    __tablename__ = "human_tasks"
    __table_args__ = (
        Index("ix_human_tasks_status_assignee", "status", "assignee_id"),
        Index("ix_human_tasks_instance_status", "instance_id", "status"),  # an instance's open tasks
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"))
    # the instance's process (its definition's key: an instance may change version, never process)
    process_key: Mapped[str | None] = mapped_column(String(100))
    task_guid: Mapped[str] = mapped_column(String(36), unique=True)
    bpmn_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(250))
    lane: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300), default="")  # what it is about (the alert's title)
    sector: Mapped[str | None] = mapped_column(String(40), index=True)
    unit_code: Mapped[str | None] = mapped_column(String(16), index=True)  # the commune/ward it concerns
    candidate_role: Mapped[str | None] = mapped_column(String(20))
    candidate_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    # The department the task is about (a directive's department, even on the leader's review of it).
    about_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | completed | cancelled
    priority: Mapped[int] = mapped_column(Integer, default=50)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    follow_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    form: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    draft: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # values saved but not yet submitted
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    lock_version: Mapped[int] = mapped_column(Integer, default=1)
    instance: Mapped[ProcessInstance] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    candidate_department: Mapped[Department | None] = relationship(foreign_keys=[candidate_department_id])
    about_department: Mapped[Department | None] = relationship(foreign_keys=[about_department_id])

    __mapper_args__ = {"version_id_col": lock_version}



# The inbox page's order (engine.tasks.inbox_query): a leader's first page is read straight from this
# index instead of sorting every open task.
Index("ix_human_tasks_page", HumanTask.status, HumanTask.priority.desc(), HumanTask.due_at.is_(None),
      HumanTask.due_at, HumanTask.id)
# ...and per reason to see a task (a role's, a department's), so that each branch of the inbox's union reads only
# its first page's rows in order instead of all of its open tasks (an operator has ~20,000).
Index("ix_human_tasks_role_page", HumanTask.status, HumanTask.candidate_role, HumanTask.priority.desc(),
      HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id)
Index("ix_human_tasks_department_page", HumanTask.status, HumanTask.candidate_department_id,
      HumanTask.priority.desc(), HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id)
# Open tasks by process and step, with their due times (the wall's "where work waits", the cockpit's counts).
Index("ix_human_tasks_open_steps", HumanTask.status, HumanTask.process_key, HumanTask.bpmn_id, HumanTask.due_at)


class TaskCandidateUser(Base):
    """A person named in ``camunda:candidateUsers``: the task shows in their inbox too."""

    __tablename__ = "task_candidate_users"
    task_id: Mapped[int] = mapped_column(ForeignKey("human_tasks.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)


class Directive(Base):
    """A văn bản chỉ đạo: a leader's instruction to departments, with a deadline, run by directive.bpmn."""

    __tablename__ = "directives"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    content: Mapped[str] = mapped_column(Text)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    departments: Mapped[list[str]] = mapped_column(JSON, default=list)
    issued_by: Mapped[str] = mapped_column(String(80))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"), index=True)
    instance: Mapped[ProcessInstance | None] = relationship()


class Attachment(Base):
    """A file attached to a task (a report, a photo of the site). The bytes live in IOC_DATA_DIR/attachments."""

    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("human_tasks.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(10))  # pdf | docx | xlsx | png | jpeg, read from the content
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str] = mapped_column(String(80))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TaskComment(Base):
    """A remark on a task, visible to everyone who can see the task."""

    __tablename__ = "task_comments"
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("human_tasks.id"), index=True)
    author: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuditEntry(Base):
    """Who changed what, when. Written by every engine action in the same transaction; append-only, each row chained
    to the one before by its hash (engine.audit). On SQLite a batch migration that copies this table drops its trigger
    (0019): it must create it again."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60), index=True)
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(60))
    instance_id: Mapped[int | None] = mapped_column(Integer, index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))  # the row_hash of the row before (by id)
    row_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of this row's fields and prev_hash


class RuleChange(Base):
    """A rule change made in the rule editor, waiting for a second administrator (engine.rule_admin): the file's
    text when it was proposed and the text it would write."""

    __tablename__ = "rule_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(100), index=True)
    file: Mapped[str] = mapped_column(String(250))
    kind: Mapped[str] = mapped_column(String(20), default="change")  # change | revert
    reverts: Mapped[int | None] = mapped_column(Integer)  # the audit entry a revert undoes
    base_text: Mapped[str] = mapped_column(Text)
    new_text: Mapped[str] = mapped_column(Text)
    diff: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)  # pending | approved | rejected
    proposed_by: Mapped[str] = mapped_column(String(80))
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reviewed_by: Mapped[str | None] = mapped_column(String(80))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    review_note: Mapped[str | None] = mapped_column(String(1000))


class RuleState(Base):
    """Where one rule stands for one entity (engine.rule_state), and what its kind remembers."""

    __tablename__ = "rule_states"
    __table_args__ = (UniqueConstraint("rule_id", "subject"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), index=True, default="normal")
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    memory: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    unit_code: Mapped[str | None] = mapped_column(String(16))
    sector: Mapped[str] = mapped_column(String(40), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Silence(Base):
    """No notifications for matching alerts between two times (a silence, or a planned maintenance window).
    Empty matchers match everything."""

    __tablename__ = "silences"
    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[str | None] = mapped_column(String(100))
    entity: Mapped[str | None] = mapped_column(String(200))
    sector: Mapped[str | None] = mapped_column(String(40))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    reason: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(20), default="silence")  # silence | maintenance
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Notification(Base):
    """One message to one person on one channel about one alert change: the in-app list and the
    delivery log (attempts, next retry, last error). ``dedupe_id`` makes each delivery happen once."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_due", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"), index=True)
    change: Mapped[str] = mapped_column(String(30))
    channel: Mapped[str] = mapped_column(String(20))
    dedupe_id: Mapped[str] = mapped_column(String(64), unique=True)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | sent | failed | gave_up
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PushSubscription(Base):
    """A browser's Web Push subscription (its endpoint and keys), for one user."""

    __tablename__ = "push_subscriptions"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    endpoint: Mapped[str] = mapped_column(String(1000), unique=True)
    keys: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Indicator(Base):
    """A KPI definition: what is measured, how it adds up, which way is good, and the year's targets."""

    __tablename__ = "indicators"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    sector: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(250))
    name_en: Mapped[str] = mapped_column(String(250), default="")
    unit_of_measure: Mapped[str] = mapped_column(String(40), default="")
    period: Mapped[str] = mapped_column(String(20))  # realtime | day | month | quarter | year
    aggregation: Mapped[str] = mapped_column(String(10))  # sum | mean | max | last
    direction: Mapped[str] = mapped_column(String(20), default="higher_better")  # or lower_better
    source: Mapped[str] = mapped_column(String(200), default="")
    targets: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)  # {"2026": 52000}
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class IndicatorObservation(Base):
    """One value of an indicator for a commune/ward (or the province, "38") or an entity, over the period
    that starts at ``period_start`` (UTC). ``local_date``, ``year`` and ``month`` are the period's start in
    local time, kept for roll-ups that work the same on SQLite and PostgreSQL."""

    __tablename__ = "indicator_observations"
    __table_args__ = (UniqueConstraint("indicator_id", "unit_code", "entity", "period_start"),
                      Index("ix_indicator_observations_series", "indicator_id", "year", "month"),
                      Index("ix_indicator_observations_time", "period_start", postgresql_using="brin"))
    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id"))
    unit_code: Mapped[str] = mapped_column(String(16), default="")  # "" when the value is for an entity
    entity: Mapped[str] = mapped_column(String(200), default="")
    period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    local_date: Mapped[date] = mapped_column(Date)
    year: Mapped[int] = mapped_column(Integer)
    month: Mapped[int] = mapped_column(Integer)
    value: Mapped[float] = mapped_column()
    source: Mapped[str] = mapped_column(String(100), default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class IndicatorRollup(Base):
    """An indicator's observations added up per local day or month (``grain``) for one commune/ward or entity:
    count, total, lowest, highest and the latest period's value, so that any roll-up from a day to a year is
    exact for sum, mean, max and last without reading every observation. Kept up to date by
    ``engine.indicators.record`` in the same transaction as the observations; kept when raw observations are
    purged by the retention."""

    __tablename__ = "indicator_rollups"
    __table_args__ = (UniqueConstraint("indicator_id", "grain", "unit_code", "entity", "local_date"),
                      Index("ix_indicator_rollups_series", "indicator_id", "grain", "year", "month"))
    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id"))
    grain: Mapped[str] = mapped_column(String(8))  # day | month
    unit_code: Mapped[str] = mapped_column(String(16), default="")
    entity: Mapped[str] = mapped_column(String(200), default="")
    local_date: Mapped[date] = mapped_column(Date)  # the day, or the month's first day, in local time
    year: Mapped[int] = mapped_column(Integer)
    month: Mapped[int] = mapped_column(Integer)
    n: Mapped[int] = mapped_column(Integer)
    total: Mapped[float] = mapped_column()
    low: Mapped[float] = mapped_column()
    high: Mapped[float] = mapped_column()
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_value: Mapped[float] = mapped_column()


class Source(Base):
    """A data source: a configured connector, its schedule, and its health."""

    __tablename__ = "sources"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(250), default="")
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # secrets encrypted (engine.secrets)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the connector's cursor
    enabled: Mapped[bool] = mapped_column(default=False)
    interval_s: Mapped[int] = mapped_column(Integer, default=300)
    stale_after_s: Mapped[int] = mapped_column(Integer, default=3600)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    newest_data_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error_count: Mapped[int] = mapped_column(Integer, default=0)  # failures in a row
    last_error: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20), default="new")  # new | ok | failing | auth_failed | stale
    items_total: Mapped[int] = mapped_column(Integer, default=0)
    bad_total: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SourceRun(Base):
    """One run of a source (a poll, an upload, a webhook call): what came in, what was bad, what failed."""

    __tablename__ = "source_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"), index=True)
    trigger: Mapped[str] = mapped_column(String(20))  # schedule | upload | webhook | test | manual
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ok: Mapped[bool] = mapped_column(default=False)
    items: Mapped[int] = mapped_column(Integer, default=0)
    bad: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(500))
    report: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # the bad records (first 500)


class Entity(Base):
    """Something the IOC follows over time: a monitoring station, a vessel, a camera. Its registry facts
    (``attributes``: a vessel's length, MMSI, owner, home port, licensed zone…) and what it last said (``latest``:
    time, position, values), updated as its events are evaluated."""

    __tablename__ = "entities"
    __table_args__ = (UniqueConstraint("kind", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)  # station | vessel | camera
    code: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(250), default="")
    unit_code: Mapped[str | None] = mapped_column(String(16))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # what its runner needs and nobody may read, encrypted (engine.secrets): a camera's source URL with its password
    credentials: Mapped[str | None] = mapped_column(Text)
    latest: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    registered: Mapped[bool] = mapped_column(default=False)  # in an official registry (not only seen in data)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class VesselFix(Base):
    """One position of a vessel (AIS, VMS or NGSI-LD), by the code its report named (a registration number, or
    ``MMSI:<mmsi>``): the track that the VMS/IUU rules and the monitor read. A second report of the same vessel
    at the same instant is ignored. AIS position reports are stored here only (not as events: see ADR 0009)."""

    __tablename__ = "vessel_fixes"
    __table_args__ = (UniqueConstraint("vessel", "time"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    vessel: Mapped[str] = mapped_column(String(200))
    time: Mapped[datetime] = mapped_column(UTCDateTime())  # read by vessel and time: UNIQUE(vessel, time)
    lat: Mapped[float] = mapped_column()
    lon: Mapped[float] = mapped_column()
    speed_kn: Mapped[float | None] = mapped_column()
    course: Mapped[float | None] = mapped_column()
    heading: Mapped[int | None] = mapped_column(Integer)
    nav_status: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(100), default="")


class AirQualityHour(Base):
    """What one station's readings of one hour add up to, per parameter (the sum and the number of usable values),
    and the most parameters one reading marked in device error or calibration: what its hourly VN_AQI is computed
    from. Added to as the readings are evaluated (``engine.environment``), so that an hour is computed from 25 rows
    however often the station reports; ``closed`` once the hour's AQI is computed (the hour is over)."""

    __tablename__ = "air_quality_hours"
    __table_args__ = (Index("ix_air_quality_hours_open", "hour", sqlite_where=text("closed = 0"),
                            postgresql_where=text("NOT closed")),)
    entity: Mapped[str] = mapped_column(String(200), primary_key=True)
    hour: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # its end: hours since 1970 UTC
    pm25_sum: Mapped[float] = mapped_column(default=0.0)
    pm25_n: Mapped[int] = mapped_column(Integer, default=0)
    pm10_sum: Mapped[float] = mapped_column(default=0.0)
    pm10_n: Mapped[int] = mapped_column(Integer, default=0)
    so2_sum: Mapped[float] = mapped_column(default=0.0)
    so2_n: Mapped[int] = mapped_column(Integer, default=0)
    no2_sum: Mapped[float] = mapped_column(default=0.0)
    no2_n: Mapped[int] = mapped_column(Integer, default=0)
    co_sum: Mapped[float] = mapped_column(default=0.0)
    co_n: Mapped[int] = mapped_column(Integer, default=0)
    o3_sum: Mapped[float] = mapped_column(default=0.0)
    o3_n: Mapped[int] = mapped_column(Integer, default=0)
    device_errors: Mapped[int] = mapped_column(Integer, default=0)
    calibrating: Mapped[int] = mapped_column(Integer, default=0)
    closed: Mapped[bool] = mapped_column(default=False)


# Any process that changes a person or a session (web, CLI, worker) imports these models: with them, the listener
# that renews the checked sessions' cache generation on such a change (engine.session_cache).
from engine import session_cache as _session_cache  # noqa: E402, F401
