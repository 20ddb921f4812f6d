"""Directives (văn bản chỉ đạo): issue, list with each department's progress."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine import directives
from engine.errors import Forbidden
from web.api.schemas import Strict
from web.auth import api_auth, principal
from web.db import db

PREFIX = "/directives"
blp = Blueprint("directives", __name__, description="Directives: a leader's instructions to departments")


class DirectiveIn(Strict):
    title = fields.String(required=True, validate=validate.Length(1, 300))
    content = fields.String(load_default="", validate=validate.Length(max=20000))
    deadline = fields.AwareDateTime(required=True, metadata={"description": "ISO 8601 with a time zone"})
    departments = fields.List(fields.String(), required=True, validate=validate.Length(1, 200),
                              metadata={"description": "department codes (GET /api/v1/departments)"})


class ProgressOut(Schema):
    department = fields.String()
    name = fields.String()
    state = fields.String(metadata={"description": "to_acknowledge, in_progress, to_review, extension_asked, "
                                                   "overdue or done"})
    step = fields.String(allow_none=True)
    task_id = fields.Integer(allow_none=True)
    due_at = fields.DateTime(allow_none=True)


class DirectiveOut(Schema):
    id = fields.Integer()
    title = fields.String()
    content = fields.String()
    deadline = fields.DateTime()
    issued_by = fields.String()
    issued_at = fields.DateTime()
    instance_id = fields.Integer(allow_none=True)
    status = fields.String(allow_none=True)
    done = fields.Integer()
    total = fields.Integer()
    departments = fields.List(fields.Nested(ProgressOut))


@blp.route("")
class Directives(MethodView):
    @api_auth()
    @blp.response(200, DirectiveOut(many=True))
    def get(self) -> list[dict[str, Any]]:
        """Directives you can see, newest first, with each department's progress."""
        session = db()
        who = principal()
        return [directives.summary(session, d, who) for d in directives.visible(session, who)]

    @api_auth("leader", "admin")
    @blp.arguments(DirectiveIn)
    @blp.response(201, DirectiveOut)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Issue a directive: each department receives a task to acknowledge it, then to report by the deadline."""
        session = db()
        directive = directives.issue(session, principal(), **body)
        session.commit()
        return directives.summary(session, directive, principal())


@blp.route("/<int:directive_id>")
class DirectiveOne(MethodView):
    @api_auth()
    @blp.response(200, DirectiveOut)
    def get(self, directive_id: int) -> dict[str, Any]:
        """One directive with its progress."""
        session = db()
        directive = directives.get(session, directive_id)
        if directive not in directives.visible(session, principal()):
            raise Forbidden("This directive is not addressed to your department")
        return directives.summary(session, directive, principal())
