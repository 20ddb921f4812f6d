"""GET /api/v1/instances/{id}: a process instance, its open tasks and its whole history."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from engine import audit, runtime
from engine.errors import Forbidden
from engine.models import HumanTask, ProcessInstance
from engine.org import Principal
from engine.tasks import can_see
from web.api.schemas import InstanceOut
from web.auth import api_auth, principal
from web.db import db

PREFIX = "/instances"
blp = Blueprint("instances", __name__, description="Process instances")


def instance_view(instance_id: int, who: Principal) -> dict[str, Any]:
    session = db()
    instance = runtime.get_instance(session, instance_id)
    rows = list(session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id).order_by(HumanTask.id)))
    if who.role == "officer":
        alert = instance.alert
        allowed = any(can_see(who, t) for t in rows) or (alert is not None and alert.department_id == who.department_id)
        if not allowed:
            raise Forbidden("Your department does not take part in this process")
    return {"instance": instance, "tasks": rows, "history": audit.history_of_instance(session, instance.id)}


@blp.route("/<int:instance_id>")
class Instance(MethodView):
    @api_auth()
    @blp.response(200, InstanceOut)
    def get(self, instance_id: int) -> dict[str, Any]:
        """The instance with its tasks (open and done) and every recorded step."""
        view = instance_view(instance_id, principal())
        inst: ProcessInstance = view["instance"]
        return {"id": inst.id, "definition": inst.definition, "business_key": inst.business_key,
                "status": inst.status, "alert_id": inst.alert_id, "started_at": inst.started_at,
                "ended_at": inst.ended_at, "tasks": view["tasks"], "history": view["history"]}
