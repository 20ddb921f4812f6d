"""Request and response shapes of the REST API (marshmallow), published in the OpenAPI document."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, fields, validate

from engine import cockpit, quarantine


def code_of(path: str) -> fields.Function:
    """``department.code`` and the like, as null (not absent) when the relation is empty."""
    first, attr = path.split(".")
    return fields.Function(lambda obj: getattr(getattr(obj, first), attr) if getattr(obj, first) else None,
                           allow_none=True)


class Items(fields.List):
    """A list taken and given as it is, without a call per item: for a batch's events, each checked on its own
    elsewhere (``engine.event_check``, so that a bad one is answered by its index), and for the ids the engine
    made. The OpenAPI document still shows the item type."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[Any]:
        if not isinstance(value, list | tuple):
            raise self.make_error("invalid")
        return list(value)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> list[Any] | None:
        return None if value is None else list(value)


MAX_INT = 2**31 - 1  # PostgreSQL's integer, the type of every id and count column


def _bounded(field: fields.Field) -> None:
    """An Integer field without an upper bound gets one, ±(2³¹−1), shown in the OpenAPI document: an offset of 2⁶³
    is refused with its name rather than overflowing the database's integer."""
    if isinstance(field, fields.List):
        _bounded(field.inner)
    elif isinstance(field, fields.Tuple):
        for inner in field.tuple_fields:
            _bounded(inner)
    elif isinstance(field, fields.Integer) and not any(
            isinstance(v, validate.Range) and v.max is not None for v in field.validators):
        field.validators.append(validate.Range(-MAX_INT - 1, MAX_INT))


class Bounded(Schema):
    """A request's shape whose integers are bounded (``_bounded``); unknown fields left out, as Schema does."""

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        _bounded(field_obj)


class Strict(Bounded):
    class Meta:
        unknown = RAISE


class Error(Schema):
    """Every error the API answers (web.errors): a stable code for programs, a message for people (Vietnamese first)
    and what the code needs said (the fields refused, the limit passed...)."""

    code = fields.String(required=True, metadata={"description": "what went wrong, for programs: not_found, invalid, "
                                                                 "forbidden, conflict…", "example": "invalid"})
    message = fields.String(required=True, metadata={"description": "what went wrong, for people, in their language"})
    details = fields.Dict(required=True, metadata={"description": "more about it: the refused fields (fields) and "
                                                                  "what the code needs said; {} when nothing"})


class Location(Strict):
    lat = fields.Float(required=True, validate=validate.Range(-90, 90))
    lon = fields.Float(required=True, validate=validate.Range(-180, 180))


class EventIn(Strict):
    source = fields.String(required=True, validate=validate.Length(1, 100),
                           metadata={"description": "the system or device that observed it"})
    type = fields.String(required=True, validate=validate.Length(1, 100), metadata={"example": "air_quality"})
    sector = fields.String(required=True, validate=validate.Length(1, 40), metadata={"example": "environment"})
    entity = fields.String(load_default=None, validate=validate.Length(1, 200), metadata={"example": "TH-AQ-01"})
    time = fields.AwareDateTime(required=True, metadata={"description": "ISO 8601 with a time zone"})
    unit = fields.String(load_default=None, validate=validate.Length(1, 16),
                         metadata={"description": "administrative unit code (2025 codes)"})
    location = fields.Nested(Location, load_default=None)
    values = fields.Dict(keys=fields.String(), required=True)
    idempotency_key = fields.String(load_default=None, validate=validate.Length(1, 200),
                                    metadata={"description": "repeats with the same source and key are stored once"})


class EventBatch(Strict):
    # Each item is checked on its own (EventIn): good ones are stored, bad ones answered by index.
    events = Items(fields.Raw(), required=True, validate=validate.Length(1, 1000),
                   metadata={"description": "up to 1,000 events, each an EventIn"})


class IngestOut(Schema):
    errors = fields.List(fields.Dict(), metadata={"description": "one per refused event: index, field, reason"})
    accepted = fields.Integer()
    duplicates = fields.Integer()
    ids = Items(fields.Integer())


class QuarantineQuery(Strict):
    limit = fields.Integer(load_default=100, validate=validate.Range(1, quarantine.MAX_PAGE))
    before_id = fields.Integer(load_default=None, metadata={"description": "the next page: events older than this id"})


class QuarantinedEventOut(Schema):
    id = fields.Integer()
    source = fields.String()
    idempotency_key = fields.String()
    type = fields.String()
    sector = fields.String()
    entity = fields.String(allow_none=True)
    time = fields.DateTime()
    received_at = fields.DateTime()
    unit = fields.String(attribute="unit_code", allow_none=True)
    values = fields.Dict()
    attempts = fields.Integer(metadata={"description": "failed evaluations before it was quarantined"})
    error = fields.String(metadata={"description": "the last evaluation's error"})


class QuarantineOut(Schema):
    total = fields.Integer()
    events = fields.List(fields.Nested(QuarantinedEventOut))


class RequeueIn(Strict):
    ids = fields.List(fields.Integer(), load_default=None, validate=validate.Length(1, quarantine.MAX_REQUEUE),
                      metadata={"description": "the events to send back; all quarantined events when left out"})


class RequeueOut(Schema):
    requeued = fields.Integer()
    ids = fields.List(fields.Integer())


class AlertQuery(Strict):
    status = fields.String(load_default=None, validate=validate.OneOf(
        ["open", "firing", "in_handling", "closed"]))
    severity = fields.String(load_default=None, validate=validate.OneOf(["thap", "trung_binh", "cao", "khan_cap"]))
    sector = fields.String(load_default=None)
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(0))


class AlertOut(Schema):
    id = fields.Integer()
    rule_id = fields.String()
    dedupe_key = fields.String()
    title = fields.String()
    severity = fields.String()
    status = fields.String()
    sector = fields.String()
    entity = fields.String(allow_none=True)
    unit_code = fields.String(allow_none=True)
    value = fields.Float(allow_none=True)
    count = fields.Integer()
    first_seen = fields.DateTime()
    last_seen = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)
    acknowledged_at = fields.DateTime(allow_none=True)
    acknowledged_by = fields.String(allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)
    escalation_level = fields.Integer()
    silenced = fields.Boolean()
    instance_id = fields.Integer(allow_none=True)
    department = code_of("department.code")


class SilenceIn(Strict):
    rule_id = fields.String(load_default=None, validate=validate.Length(max=100))
    entity = fields.String(load_default=None, validate=validate.Length(max=200))
    sector = fields.String(load_default=None, validate=validate.Length(max=40))
    starts_at = fields.AwareDateTime(load_default=None)
    ends_at = fields.AwareDateTime(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=3, max=500))
    kind = fields.String(load_default="silence", validate=validate.OneOf(["silence", "maintenance"]))


class SilenceOut(Schema):
    id = fields.Integer()
    rule_id = fields.String(allow_none=True)
    entity = fields.String(allow_none=True)
    sector = fields.String(allow_none=True)
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    reason = fields.String()
    kind = fields.String()
    created_by = fields.String()


class NotificationOut(Schema):
    id = fields.Integer()
    alert_id = fields.Integer(allow_none=True)
    change = fields.String()
    channel = fields.String()
    subject = fields.String()
    body = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)
    read_at = fields.DateTime(allow_none=True)


class PushKeysIn(Strict):
    p256dh = fields.String(required=True, validate=validate.Length(min=10, max=200))
    auth = fields.String(required=True, validate=validate.Length(min=10, max=100))


class PushSubscriptionIn(Strict):
    endpoint = fields.Url(required=True, validate=validate.Length(max=1000))
    keys = fields.Nested(PushKeysIn, required=True)
    expirationTime = fields.Raw(load_default=None, allow_none=True)  # noqa: N815 - the browser's own name


class FormFieldOut(Schema):
    id = fields.String()
    type = fields.String()
    label = fields.String()
    default = fields.String(allow_none=True)
    options = fields.List(fields.Dict())
    properties = fields.Dict()
    validation = fields.Dict()


class TaskQuery(Strict):
    scope = fields.String(load_default="all", validate=validate.OneOf(["mine", "department", "all"]))
    status = fields.String(load_default="open", validate=validate.OneOf(["open", "completed", "cancelled"]))
    overdue = fields.Boolean(load_default=False)
    due_soon = fields.Boolean(load_default=False, metadata={"description": "due within 4 hours"})
    sector = fields.String(load_default=None)
    unit = fields.String(load_default=None, metadata={"description": "commune/ward code"})
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(0))


class TaskOut(Schema):
    id = fields.Integer()
    instance_id = fields.Integer()
    bpmn_id = fields.String()
    name = fields.String()
    title = fields.String()
    lane = fields.String(allow_none=True)
    status = fields.String()
    candidate_role = fields.String(allow_none=True)
    candidate_department = code_of("candidate_department.code")
    assignee = code_of("assignee.username")
    priority = fields.Integer()
    due_at = fields.DateTime(allow_none=True)
    follow_up_at = fields.DateTime(allow_none=True)
    sector = fields.String(allow_none=True)
    unit_code = fields.String(allow_none=True)
    created_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)
    form = fields.List(fields.Nested(FormFieldOut))
    draft = fields.Dict(allow_none=True)
    result = fields.Dict(allow_none=True)


class CompleteIn(Strict):
    values = fields.Dict(keys=fields.String(), load_default=dict,
                         metadata={"description": "the form's fields, by id"})


class DelegateIn(Strict):
    reason = fields.String(required=True, validate=validate.Length(1, 1000))
    user = fields.String(load_default=None, metadata={"description": "user name of the new assignee"})
    department = fields.String(load_default=None, metadata={"description": "code of the new department"})


class CommentIn(Strict):
    body = fields.String(required=True, validate=validate.Length(1, 4000))


class CommentOut(Schema):
    id = fields.Integer()
    author = fields.String()
    body = fields.String()
    created_at = fields.DateTime()


class HistoryOut(Schema):
    at = fields.DateTime()
    actor = fields.String()
    action = fields.String()
    object_type = fields.String()
    object_id = fields.String()
    details = fields.Dict()


class OperationIn(Strict):
    reason = fields.String(load_default=None, validate=validate.Length(max=1000))
    variables = fields.Dict(keys=fields.String(), load_default=None)
    task = fields.String(load_default=None, metadata={"description": "rewind: the BPMN id of the step to go back to"})


class InstanceOut(Schema):
    id = fields.Integer()
    error = fields.String(allow_none=True)
    next_timer_at = fields.DateTime(allow_none=True)
    process = fields.String(attribute="definition.process_key")
    process_name = fields.String(attribute="definition.name")
    version = fields.Integer(attribute="definition.version")
    business_key = fields.String(allow_none=True)
    status = fields.String()
    alert_id = fields.Integer(allow_none=True)
    started_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    tasks = fields.List(fields.Nested(TaskOut))
    history = fields.List(fields.Nested(HistoryOut))


class InstanceQuery(Strict):
    process = fields.String(load_default=None, metadata={"description": "a process key, e.g. `incident`"})
    status = fields.String(load_default="active", validate=validate.OneOf(cockpit.STATUS_FILTERS),
                           metadata={"description": "`active` (default): running, in an incident or suspended"})
    q = fields.String(load_default=None, validate=validate.Length(max=200),
                      metadata={"description": "the instance number, or part of the business key"})
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    offset = fields.Integer(load_default=0, validate=validate.Range(0))


class WaitingAtOut(Schema):
    task_id = fields.Integer()
    name = fields.String()
    due_at = fields.DateTime(allow_none=True)
    overdue = fields.Boolean()


class InstanceRowOut(Schema):
    id = fields.Integer()
    process = fields.String(attribute="process_key")
    process_name = fields.String()
    version = fields.Integer()
    status = fields.String()
    business_key = fields.String(allow_none=True)
    started_at = fields.DateTime()
    started_by = fields.String()
    ended_at = fields.DateTime(allow_none=True)
    next_timer_at = fields.DateTime(allow_none=True)
    error = fields.String(allow_none=True)
    alert_id = fields.Integer(allow_none=True)
    waiting_at = fields.List(fields.Nested(WaitingAtOut))


class ProcessCountsOut(Schema):
    process_key = fields.String()
    name = fields.String()
    version = fields.Integer()
    by_status = fields.Dict(keys=fields.String(), values=fields.Integer())
    tasks_open = fields.Integer()
    tasks_overdue = fields.Integer()


class ProcessOut(Schema):
    id = fields.Integer()
    process_key = fields.String()
    name = fields.String()
    version = fields.Integer()
    content_hash = fields.String()
    filename = fields.String()
    deployed_at = fields.DateTime()
    deployed_by = fields.String()
    status = fields.String(metadata={"description": "pending (waiting for a second person), approved or rejected"})
    reviewed_by = fields.String(allow_none=True, metadata={"description": "who approved or rejected it"})
    reviewed_at = fields.DateTime(allow_none=True)
    review_note = fields.String(allow_none=True, metadata={"description": "why it was rejected"})


class UnitOut(Schema):
    code = fields.String()
    name = fields.String()
    full_name = fields.String()
    name_en = fields.String()
    kind = fields.String()
    parent = code_of("parent.code")


class DepartmentOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    name_en = fields.String()
    kind = fields.String()
    unit = code_of("unit.code")


class DepartmentIn(Strict):
    code = fields.String(required=True, validate=validate.Length(1, 40),
                         metadata={"description": "how processes, rules and tasks name it; kept once made"})
    name = fields.String(required=True, validate=validate.Length(1, 250))
    name_en = fields.String(load_default="", validate=validate.Length(max=250))
    kind = fields.String(load_default="agency", metadata={"description": "agency (sở, ban, ngành) or commune"})
    unit = fields.String(load_default=None, allow_none=True, metadata={"description": "a unit's code"})


class DepartmentChange(Strict):
    name = fields.String(validate=validate.Length(1, 250))
    name_en = fields.String(validate=validate.Length(max=250))
    kind = fields.String()
    unit = fields.String(allow_none=True)


class UserOut(Schema):
    id = fields.Integer()
    username = fields.String()
    full_name = fields.String()
    role = fields.String(attribute="role_code")
    department = code_of("department.code")
    active = fields.Boolean()
    kiosk = fields.Boolean()
    email = fields.String(allow_none=True)
    must_change_password = fields.Boolean()
    password_changed_at = fields.DateTime(allow_none=True)


class UserCreated(Schema):
    user = fields.Nested(UserOut)
    temporary_password = fields.String(allow_none=True, metadata={"description": "made when no password was "
                                                                                "given; shown this once"})


class UserIn(Strict):
    username = fields.String(required=True, validate=validate.Length(1, 80))
    full_name = fields.String(load_default="", validate=validate.Length(max=200))
    role = fields.String(required=True)
    department = fields.String(load_default=None, allow_none=True,
                               metadata={"description": "a department's code; an officer must have one"})
    kiosk = fields.Boolean(load_default=False)
    email = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    password = fields.String(load_default=None, validate=validate.Length(max=256),
                             metadata={"description": "without it a temporary one is made, returned once, and "
                                                      "must be changed at the first login"})


class UserChange(Strict):
    active = fields.Boolean()
    full_name = fields.String(validate=validate.Length(max=200))
    role = fields.String()
    department = fields.String(allow_none=True)
    kiosk = fields.Boolean()
    email = fields.String(allow_none=True, validate=validate.Length(max=200))


class PasswordReset(Strict):
    password = fields.String(load_default=None, validate=validate.Length(max=256),
                             metadata={"description": "the temporary password; without it one is made and "
                                                      "returned once"})


class PasswordChange(Strict):
    current_password = fields.String(required=True, validate=validate.Length(max=1024))
    new_password = fields.String(required=True, validate=validate.Length(max=1024))


class TemporaryPassword(Schema):
    temporary_password = fields.String(allow_none=True)
    sessions_ended = fields.Integer()


class SessionsEnded(Schema):
    sessions_ended = fields.Integer()


class UserConfirm(Strict):
    role = fields.String(load_default=None, metadata={"description": "the person's final role"})
    department = fields.String(load_default=None, allow_none=True,
                               metadata={"description": "their department's code; an officer must have one"})
    link_to = fields.Integer(load_default=None, allow_none=True,
                             metadata={"description": "instead: the id of the person's existing account, which "
                                                      "their identity then signs in to (it keeps its role and "
                                                      "department); the proposed account is removed"})


class PendingUserOut(Schema):
    user = fields.Nested(UserOut)
    issuer = fields.String(metadata={"description": "the OpenID Connect provider they signed in at"})
    requested_at = fields.DateTime(metadata={"description": "their first single sign-on"})


class Page(Strict):
    limit = fields.Integer(load_default=200, validate=validate.Range(1, 1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(0))
    kind = fields.String(load_default=None)
