"""Process instances: the cockpit's list (GET /api/v1/instances), one instance with its tasks and whole history,
and the operations on it (retry, suspend, resume, cancel, rewind, migrate)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from engine import cockpit, operations, versions, visibility
from engine.models import ProcessInstance
from engine.org import Principal
from web.api.schemas import Bounded, InstanceOut, InstanceQuery, InstanceRowOut, OperationIn
from web.auth import api_auth, principal
from web.db import db

PREFIX = "/instances"
blp = Blueprint("instances", __name__, description="Process instances")


def instance_view(instance_id: int, who: Principal) -> dict[str, Any]:
    """The instance as ``who`` may see it (``engine.visibility``): the API and the pages show the same."""
    return visibility.instance_view(db(), instance_id, who).as_dict()


def instance_out(instance_id: int) -> dict[str, Any]:
    view = instance_view(instance_id, principal())
    inst: ProcessInstance = view["instance"]
    alert = view["alert"]
    return {"id": inst.id, "definition": inst.definition, "business_key": inst.business_key,
            "status": inst.status, "error": inst.error, "alert_id": alert.id if alert is not None else None,
            "started_at": inst.started_at, "ended_at": inst.ended_at, "next_timer_at": inst.next_timer_at,
            "tasks": view["tasks"], "history": view["history"]}


@blp.route("")
class Instances(MethodView):
    @api_auth(*cockpit.READERS)
    @blp.arguments(InstanceQuery, location="query")
    @blp.response(200, InstanceRowOut(many=True), headers={"X-Total-Count": {
        "description": "how many instances the filters find", "schema": {"type": "integer"}}})
    def get(self, args: dict[str, Any]) -> tuple[list[cockpit.InstanceRow], int, dict[str, str]]:
        """Instances, newest first, each with the steps it waits at: by default the active ones (running, stopped
        by a failed step, suspended); `status=incident` lists those waiting for an operator's retry."""
        session = db()
        stmt = cockpit.instance_query(process=args["process"], status=args["status"], q=args["q"])
        rows = cockpit.instance_rows(session, stmt, limit=args["limit"], offset=args["offset"])
        return rows, 200, {"X-Total-Count": str(cockpit.total(session, stmt))}


@blp.route("/<int:instance_id>")
class Instance(MethodView):
    @api_auth()
    @blp.response(200, InstanceOut)
    def get(self, instance_id: int) -> dict[str, Any]:
        """The instance with its tasks (open and done) and every recorded step. An officer sees other
        departments' steps by name, department, status and dates only: no form values, and their history lines
        without details."""
        return instance_out(instance_id)


def _operate(instance_id: int, action: str, body: dict[str, Any]) -> dict[str, Any]:
    session = db()
    who = principal()
    if action == "retry":
        operations.retry(session, instance_id, who, body.get("variables"))
    elif action == "suspend":
        operations.suspend(session, instance_id, who, body.get("reason") or "")
    elif action == "resume":
        operations.resume(session, instance_id, who)
    elif action == "cancel":
        operations.cancel(session, instance_id, who, body.get("reason") or "")
    else:
        operations.rewind(session, instance_id, who, body.get("task") or "", body.get("reason") or "")
    session.commit()
    return instance_out(instance_id)


for _action, _doc in (("retry", "Run an incident's failed step again, with corrected `variables` if given."),
                      ("suspend", "Suspend: tasks wait and timers hold until resumed (`reason` required)."),
                      ("resume", "Resume a suspended instance; timers that came due meanwhile fire now."),
                      ("cancel", "Cancel with a `reason`: open tasks are cancelled, the alert closed."),
                      ("rewind", "Administrators: move the token back to step `task` (a BPMN id), with a `reason`.")):
    def _make(action: str, doc: str) -> type[MethodView]:
        class Operation(MethodView):
            @api_auth("admin", "operator", "leader")
            @blp.arguments(OperationIn)
            @blp.response(200, InstanceOut)
            def post(self, body: dict[str, Any], instance_id: int) -> dict[str, Any]:
                return _operate(instance_id, action, body)

        Operation.post.__doc__ = doc
        Operation.__name__ = f"Instance{action.title()}"
        return Operation

    blp.route(f"/<int:instance_id>/{_action}", endpoint=f"instance_{_action}")(_make(_action, _doc))


class MigrateIn(Bounded):
    to = fields.Integer(load_default=None, metadata={"description": "the target version's definition id; "
                                                                   "the latest version when omitted"})


class MigrationPlanOut(Schema):
    instance_id = fields.Integer()
    process = fields.String()
    from_version = fields.Integer()
    to_version = fields.Integer()
    to_definition_id = fields.Integer()
    safe = fields.Boolean()
    reasons = fields.List(fields.String(), metadata={"description": "why it is not safe"})
    removed = fields.List(fields.String(), metadata={"description": "steps the new version no longer has"})
    changed = fields.List(fields.String())
    waiting_steps_recreated = fields.List(fields.String())


@blp.route("/<int:instance_id>/migration")
class MigrationPreview(MethodView):
    @api_auth("admin", "designer", "operator", "leader")
    @blp.arguments(MigrateIn, location="query")
    @blp.response(200, MigrationPlanOut)
    def get(self, args: dict[str, Any], instance_id: int) -> dict[str, Any]:
        """Preview moving the instance to another version: is it safe, which waiting steps are recreated."""
        return versions.preview(db(), instance_id, args["to"])

    @api_auth("admin", "designer")
    @blp.arguments(MigrateIn)
    @blp.response(200, InstanceOut)
    def post(self, body: dict[str, Any], instance_id: int) -> dict[str, Any]:
        """Move the instance to the version (409 with the reasons when it is not safe)."""
        session = db()
        versions.migrate(session, instance_id, principal(), body["to"])
        session.commit()
        return instance_out(instance_id)
