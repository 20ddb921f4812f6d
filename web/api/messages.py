"""POST /api/v1/messages: send a BPMN message or signal to the instances waiting for it."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine import messages
from web.api.schemas import Strict
from web.auth import api_auth, principal
from web.db import db

PREFIX = "/messages"
blp = Blueprint("messages", __name__, description="Messages and signals to running processes")


class MessageIn(Strict):
    name = fields.String(required=True, validate=validate.Length(1, 200), metadata={"example": "alert_cleared"})
    business_key = fields.String(load_default=None, validate=validate.Length(1, 200),
                                 metadata={"example": "alert:12", "description": "omit to signal every instance "
                                                                                 "that waits for it"})
    variables = fields.Dict(keys=fields.String(), load_default=dict)


class MessageOut(Schema):
    delivered_to = fields.List(fields.Integer(), metadata={"description": "ids of the instances that received it"})


@blp.route("")
class Messages(MethodView):
    @api_auth("operator", "leader", "admin")
    @blp.arguments(MessageIn)
    @blp.response(200, MessageOut)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Deliver a message (correlated by business key) or a signal; 404 when no instance waits for it."""
        session = db()
        ids = messages.send(session, body["name"], business_key=body["business_key"], variables=body["variables"],
                            actor=principal().name)
        session.commit()
        return {"delivered_to": ids}
