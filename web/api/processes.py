"""Process definitions: list and deploy (BPMN upload)."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine import approvals, cockpit, decisions, registry
from engine.bpmn import parse_process_file
from engine.errors import Invalid, NotFound
from engine.models import ProcessDefinition
from web.api.schemas import ProcessCountsOut, ProcessOut, Strict
from web.auth import api_auth, principal
from web.db import db

PREFIX = "/processes"
blp = Blueprint("processes", __name__, description="BPMN process definitions and their versions")
MAX_BPMN_BYTES = 5 * 1024 * 1024


def _upload() -> tuple[bytes, str]:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise Invalid("Send the BPMN file in the multipart field 'file'")
    content = upload.read(MAX_BPMN_BYTES + 1)
    if len(content) > MAX_BPMN_BYTES:
        raise Invalid("The file is larger than %(n)s MB", n=MAX_BPMN_BYTES // (1024 * 1024))
    return content, upload.filename


def _forms() -> dict[str, bytes]:
    """JSON Schema form files sent beside the model (multipart field ``forms``, any number)."""
    return {f.filename: f.read(MAX_BPMN_BYTES) for f in request.files.getlist("forms") if f.filename}


UPLOAD_DOC = {"requestBody": {"content": {"multipart/form-data": {"schema": {
    "type": "object", "properties": {"file": {"type": "string", "format": "binary"},
                                     "forms": {"type": "array", "items": {"type": "string", "format": "binary"}}}}}}}}


@blp.route("")
class Processes(MethodView):
    @api_auth()
    @blp.response(200, ProcessOut(many=True))
    def get(self) -> list[ProcessDefinition]:
        """The latest version of each deployed process."""
        return registry.all_latest(db())

    @api_auth("designer", "admin")
    @blp.response(201, ProcessOut(many=True))
    @blp.doc(**UPLOAD_DOC)
    def post(self) -> Any:
        """Deploy a BPMN file (multipart field `file`). An unchanged file adds no version.

        A new version is `pending`: new instances keep using the current version until a second person approves
        it (`POST /processes/{id}/approve`: an administrator, or a leader for a directive flow). A file that cannot
        be deployed gives 422 with the file, line and element in `details`; a DMN file gives 403 (decision tables
        are deployed by the server operator).
        """
        content, filename = _upload()
        session = db()
        deployed = registry.deploy(session, content, filename, principal().name, _forms(), approved=False)
        session.commit()
        return deployed


class PendingVersionOut(Schema):
    id = fields.Integer()
    process_key = fields.String()
    version = fields.Integer()
    current_version = fields.Integer(allow_none=True, metadata={"description": "the version in use now"})
    definition = fields.Nested(ProcessOut)
    diff = fields.String(metadata={"description": "unified diff of the BPMN file against the version in use"})


class ReasonIn(Strict):
    reason = fields.String(required=True, validate=validate.Length(1, 1000))


@blp.route("/pending")
class Pending(MethodView):
    @api_auth("designer", "admin", "leader")
    @blp.response(200, PendingVersionOut(many=True))
    def get(self) -> list[approvals.PendingVersion]:
        """The versions waiting for a second person's approval, each with its diff against the version in use."""
        return approvals.pending(db())


@blp.route("/<int:definition_id>/approve")
class Approve(MethodView):
    @api_auth("admin", "leader", scope=None)
    @blp.response(200, ProcessOut)
    def post(self, definition_id: int) -> ProcessDefinition:
        """Approve a pending version: new instances start from it. People only; an administrator, or a leader
        for a directive flow; 403 `own_change` for the person who deployed it."""
        session = db()
        definition = approvals.approve(session, definition_id, principal())
        session.commit()
        return definition


@blp.route("/<int:definition_id>/reject")
class Reject(MethodView):
    @api_auth("admin", "leader", "designer", scope=None)
    @blp.arguments(ReasonIn)
    @blp.response(200, ProcessOut)
    def post(self, body: dict[str, Any], definition_id: int) -> ProcessDefinition:
        """Reject a pending version, with a `reason` (its author may so withdraw it). People only."""
        session = db()
        definition = approvals.reject(session, definition_id, principal(), body["reason"])
        session.commit()
        return definition


@blp.route("/overview")
class Overview(MethodView):
    @api_auth(*cockpit.READERS)
    @blp.response(200, ProcessCountsOut(many=True))
    def get(self) -> list[cockpit.ProcessCounts]:
        """Each deployed process with its instances by status (running, incident, suspended, completed,
        cancelled) and its open and overdue tasks."""
        return cockpit.overview(db())


class CheckedProcessOut(Schema):
    process_key = fields.String()
    name = fields.String(allow_none=True)
    user_tasks = fields.List(fields.String(), metadata={"description": "the ids of its user tasks"})


class ValidatedOut(Schema):
    processes = fields.List(fields.Nested(CheckedProcessOut))


@blp.route("/validate")
class Validate(MethodView):
    @api_auth("designer", "admin")
    @blp.doc(**UPLOAD_DOC)
    @blp.response(200, ValidatedOut)
    def post(self) -> dict[str, Any]:
        """Check a BPMN file as a deploy would, without deploying it: 200 with its processes, or 422."""
        content, filename = _upload()
        return {"processes": [{"process_key": p.process_key, "name": p.name, "user_tasks": list(p.tasks)}
                              for p in parse_process_file(content, filename, decisions.latest_files(db()),
                                                          _forms())]}


@blp.route("/<int:definition_id>/bpmn")
class Xml(MethodView):
    @api_auth()
    @blp.doc(responses={200: {"description": "the BPMN file of this version",
                              "content": {"application/xml": {"schema": {"type": "string"}}}}})
    def get(self, definition_id: int) -> Response:
        """The BPMN file of one version, as deployed."""
        definition = db().get(ProcessDefinition, definition_id)
        if definition is None:
            raise NotFound("No process version %(id)s", id=definition_id)
        return Response(definition.bpmn_xml, mimetype="application/xml")
