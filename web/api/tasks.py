"""The task inbox over HTTP: list, claim, complete."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from engine import attachments, tasks
from engine.errors import Invalid
from engine.models import HumanTask
from web.api.schemas import CommentIn, CommentOut, CompleteIn, DelegateIn, TaskOut, TaskQuery
from web.auth import api_auth, principal
from web.db import db
from web.headers import file_response

PREFIX = "/tasks"
blp = Blueprint("tasks", __name__, description="Human tasks: the inbox")


@blp.route("")
class Tasks(MethodView):
    @api_auth()
    @blp.arguments(TaskQuery, location="query")
    @blp.response(200, TaskOut(many=True))
    def get(self, args: dict[str, Any]) -> list[HumanTask]:
        """Tasks you can see: `mine` (assigned to you), `department` (your role's or department's), `all`."""
        stmt = tasks.inbox_query(principal(), args["scope"], args["status"], args["overdue"], due_soon=args["due_soon"],
                                 sector=args["sector"], unit=args["unit"], window=args["offset"] + args["limit"]
                                 ).limit(args["limit"]).offset(args["offset"])
        return list(db().scalars(stmt))


@blp.route("/<int:task_id>")
class TaskOne(MethodView):
    @api_auth()
    @blp.response(200, TaskOut)
    def get(self, task_id: int) -> HumanTask:
        """One task with its form."""
        return tasks.get_task(db(), task_id, principal())


@blp.route("/<int:task_id>/claim")
class Claim(MethodView):
    @api_auth()
    @blp.response(200, TaskOut)
    def post(self, task_id: int) -> HumanTask:
        """Take a task: it leaves the group's list and waits in your own. 409 when someone else has it."""
        session = db()
        task = tasks.claim_task(session, task_id, principal())
        session.commit()
        return task


@blp.route("/<int:task_id>/complete")
class Complete(MethodView):
    @api_auth()
    @blp.arguments(CompleteIn)
    @blp.response(200, TaskOut)
    def post(self, body: dict[str, Any], task_id: int) -> HumanTask:
        """Complete a task with its form values; the process moves on to its next step at once.

        403 when the task is someone else's (`take_over_required`: not yours to work, take it over first), 409
        when it is already completed, 422 with the bad fields named when the form is not valid.
        """
        session = db()
        task = tasks.complete_task(session, task_id, principal(), body["values"])
        session.commit()
        return task


class TakeOverIn(Schema):
    class Meta:
        unknown = RAISE

    reason = fields.String(required=True, validate=validate.Length(1, 1000))


@blp.route("/<int:task_id>/take-over")
class TakeOver(MethodView):
    @api_auth("admin", "leader", scope=None)
    @blp.arguments(TakeOverIn)
    @blp.response(200, TaskOut)
    def post(self, body: dict[str, Any], task_id: int) -> HumanTask:
        """Take over a task that is not yours (another department's, a leader's review), with a `reason`: it is
        assigned to you and the take-over is audited; then you may complete it. Administrators and leaders only;
        people only. Without it, completing or claiming such a task gives 403 `take_over_required`."""
        session = db()
        task = tasks.take_over_task(session, task_id, principal(), body["reason"])
        session.commit()
        return task


@blp.route("/<int:task_id>/unclaim")
class Unclaim(MethodView):
    @api_auth()
    @blp.response(200, TaskOut)
    def post(self, task_id: int) -> HumanTask:
        """Give a task back to its group's inbox."""
        session = db()
        task = tasks.unclaim_task(session, task_id, principal())
        session.commit()
        return task


@blp.route("/<int:task_id>/delegate")
class Delegate(MethodView):
    @api_auth()
    @blp.arguments(DelegateIn)
    @blp.response(200, TaskOut)
    def post(self, body: dict[str, Any], task_id: int) -> HumanTask:
        """Hand a task to another person (`user`) or department (`department`), with a `reason`.

        The task shows in the new inbox at once; the hand-over is in the instance's history.
        """
        session = db()
        task = tasks.delegate_task(session, task_id, principal(), reason=body["reason"], user=body["user"],
                                   department=body["department"])
        session.commit()
        return task


@blp.route("/<int:task_id>/comments")
class Comments(MethodView):
    @api_auth()
    @blp.response(200, CommentOut(many=True))
    def get(self, task_id: int) -> list[Any]:
        """The task's comments, oldest first."""
        return tasks.comments_for(db(), task_id, principal())

    @api_auth()
    @blp.arguments(CommentIn)
    @blp.response(201, CommentOut)
    def post(self, body: dict[str, Any], task_id: int) -> Any:
        """Add a comment to a task."""
        session = db()
        comment = tasks.add_comment(session, task_id, principal(), body["body"])
        session.commit()
        return comment


class AttachmentOut(Schema):
    id = fields.Integer()
    filename = fields.String()
    kind = fields.String()
    size = fields.Integer()
    uploaded_by = fields.String()
    uploaded_at = fields.DateTime()


@blp.route("/<int:task_id>/attachments")
class Attachments(MethodView):
    @api_auth()
    @blp.response(200, AttachmentOut(many=True))
    def get(self, task_id: int) -> list[Any]:
        """The files attached to a task."""
        return attachments.for_task(db(), task_id, principal())

    @api_auth()
    @blp.response(201, AttachmentOut)
    @blp.doc(requestBody={"content": {"multipart/form-data": {"schema": {
        "type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}}}})
    def post(self, task_id: int) -> Any:
        """Attach a file (20 MB at most): PDF, Office, image, text/CSV, MP4 or ZIP, read from the content; HTML,
        SVG, XML and scripts are refused (422 active_content); the name takes the extension of the content."""
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise Invalid("Send the file in the multipart field 'file'")
        content = upload.read(attachments.MAX_BYTES + 1)
        session = db()
        row = attachments.attach(session, task_id, principal(), upload.filename, content)
        session.commit()
        return row


@blp.route("/attachments/<int:attachment_id>")
class AttachmentFile(MethodView):
    @api_auth()
    @blp.doc(responses={200: {"description": "the file"}})
    def get(self, attachment_id: int) -> Response:
        """An attached file, of the type read from its content: an image is shown, anything else is saved."""
        row, path = attachments.open_attachment(db(), attachment_id, principal())
        kind = attachments.KINDS[row.kind]
        return file_response(path, kind.media_type, attachments.display_name(row.filename, row.kind),
                             inline=kind.inline)


class DraftIn(Schema):
    values = fields.Dict(keys=fields.String(), load_default=dict)


@blp.route("/<int:task_id>/draft")
class Draft(MethodView):
    @api_auth()
    @blp.arguments(DraftIn)
    @blp.response(200, TaskOut)
    def post(self, body: dict[str, Any], task_id: int) -> HumanTask:
        """Save the form's values so far without completing the task; they come back in `draft`."""
        session = db()
        task = tasks.save_draft(session, task_id, principal(), body["values"])
        session.commit()
        return task
