"""Process definitions: list and deploy (BPMN upload)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from engine import registry
from engine.errors import Invalid
from engine.models import ProcessDefinition
from web.api.schemas import ProcessOut
from web.auth import api_auth, principal
from web.db import db

PREFIX = "/processes"
blp = Blueprint("processes", __name__, description="BPMN process definitions and their versions")
MAX_BPMN_BYTES = 5 * 1024 * 1024


@blp.route("")
class Processes(MethodView):
    @api_auth()
    @blp.response(200, ProcessOut(many=True))
    def get(self) -> list[ProcessDefinition]:
        """The latest version of each deployed process."""
        return registry.all_latest(db())

    @api_auth("designer", "admin")
    @blp.response(201, ProcessOut(many=True))
    @blp.doc(requestBody={"content": {"multipart/form-data": {"schema": {
        "type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}}}})
    def post(self) -> Any:
        """Deploy a BPMN file (multipart field `file`). An unchanged file adds no version.

        A file that cannot be deployed gives 422 with the file, line and element in `details`.
        """
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise Invalid("Send the BPMN file in the multipart field 'file'")
        content = upload.read(MAX_BPMN_BYTES + 1)
        if len(content) > MAX_BPMN_BYTES:
            raise Invalid("The file is larger than %(n)s MB", n=MAX_BPMN_BYTES // (1024 * 1024))
        session = db()
        deployed = registry.deploy(session, content, upload.filename, principal().name)
        session.commit()
        return deployed
