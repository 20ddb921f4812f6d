"""Data sources over HTTP: list with health, add and configure (administrators), test, run now, the run log,
uploads (spreadsheets), and the signed webhook that departments' systems push to."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from connectors import runtime
from connectors.base import AuthFailed, BadConfig, check_config, masked, secret_keys
from engine import sources
from engine.errors import N_, Conflict, Forbidden, Invalid
from engine.models import Source
from web.api.schemas import Strict
from web.auth import Unauthorized, api_auth, principal
from web.db import db

PREFIX = "/sources"
blp = Blueprint("sources", __name__, description="Data sources (connectors) and their health")
UPLOADERS = sources.UPLOADERS
MAX_UPLOAD = 10 * 1024 * 1024


class SourceHealth(Schema):
    status = fields.String()
    last_success_at = fields.AwareDateTime(allow_none=True, metadata={"description": "ISO 8601, UTC"})
    newest_data_at = fields.AwareDateTime(allow_none=True, metadata={"description": "time of the newest data, UTC"})
    lag_s = fields.Integer(allow_none=True, metadata={"description": "seconds since the newest data"})
    error_count = fields.Integer()
    last_error = fields.String(allow_none=True)
    stale = fields.Boolean()


class SourceOut(Schema):
    name = fields.String()
    kind = fields.String()
    title = fields.String()
    enabled = fields.Boolean()
    interval_s = fields.Integer()
    stale_after_s = fields.Integer()
    config = fields.Dict()
    health = fields.Nested(SourceHealth)
    items_total = fields.Integer()
    bad_total = fields.Integer()


class SourceIn(Strict):
    name = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9_.-]{1,99}$"))
    kind = fields.String(required=True, validate=validate.OneOf(sorted(runtime.KINDS)))
    title = fields.String(load_default="", validate=validate.Length(max=250))
    config = fields.Dict(load_default=dict)
    interval_s = fields.Integer(load_default=300, validate=validate.Range(min=10))
    stale_after_s = fields.Integer(load_default=3600, validate=validate.Range(min=60))
    enabled = fields.Boolean(load_default=False)


class SourcePatch(Strict):
    title = fields.String(validate=validate.Length(max=250))
    config = fields.Dict()
    interval_s = fields.Integer(validate=validate.Range(min=10))
    stale_after_s = fields.Integer(validate=validate.Range(min=60))
    enabled = fields.Boolean()


class RunOut(Schema):
    id = fields.Integer()
    trigger = fields.String()
    started_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    ok = fields.Boolean()
    items = fields.Integer()
    bad = fields.Integer()
    error = fields.String(allow_none=True)
    report = fields.List(fields.Dict())


class TryOut(Schema):
    ok = fields.Boolean(metadata={"description": "the configuration works (and, for a polled kind, one poll did)"})
    message = fields.String()
    problems = fields.List(fields.String(), metadata={"description": "what is wrong in the configuration"})
    sample = fields.List(fields.Dict(), metadata={"description": "the first items one poll gave (nothing stored)"})
    bad = fields.List(fields.Dict(), metadata={"description": "the bad records of that poll"})


class RunNowOut(Schema):
    ok = fields.Boolean()
    items = fields.Integer(metadata={"description": "items stored (when ok)"})
    duplicates = fields.Integer()
    bad = fields.List(fields.Dict(), metadata={"description": "each bad record: index or row, field, reason"})
    source = fields.Nested(SourceOut, metadata={"description": "the source with its error (when not ok)"})


class PushedOut(Schema):
    stored = fields.Integer()
    duplicates = fields.Integer()
    bad = fields.List(fields.Dict(), metadata={"description": "each bad record: index or row, field, reason"})


class UploadOut(PushedOut):
    warnings = fields.List(fields.Dict(), metadata={"description": "columns that nothing reads"})


def view(source: Source) -> dict[str, Any]:
    schema = runtime.connector_class(source.kind).config_schema
    return {"name": source.name, "kind": source.kind, "title": source.title, "enabled": source.enabled,
            "interval_s": source.interval_s, "stale_after_s": source.stale_after_s,
            "config": masked(schema, sources.unsealed(source.config)), "health": sources.health(source),
            "items_total": source.items_total, "bad_total": source.bad_total}


def checked(kind: str, config: dict[str, Any], previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """The configuration validated against the kind's schema (a hidden secret keeps the stored one), sealed."""
    schema = runtime.connector_class(kind).config_schema
    sealed = sources.seal(config, secret_keys(schema), previous)
    problems = check_config(schema, sources.unsealed(sealed))
    if problems:
        raise Invalid(N_("The configuration is not valid"), code="invalid_config", details={"problems": problems})
    return sealed


@blp.route("")
class Sources(MethodView):
    @api_auth()
    @blp.response(200, SourceOut(many=True))
    def get(self) -> list[dict[str, Any]]:
        """Every source with its health: last success, newest data, lag, errors, stale or not."""
        return [view(s) for s in db().scalars(select(Source).order_by(Source.name))]

    @api_auth(*sources.MANAGERS)
    @blp.arguments(SourceIn)
    @blp.response(201, SourceOut)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Add a source (administrators): its kind's configuration is checked; secrets are stored encrypted."""
        session = db()
        body["config"] = checked(body["kind"], body["config"])
        source = sources.create(session, principal(), **body)
        session.commit()
        return view(source)


@blp.route("/<name>")
class OneSource(MethodView):
    @api_auth()
    @blp.response(200, SourceOut)
    def get(self, name: str) -> dict[str, Any]:
        """One source, its configuration with secrets hidden."""
        return view(sources.get(db(), name))

    @api_auth(*sources.MANAGERS)
    @blp.arguments(SourcePatch)
    @blp.response(200, SourceOut)
    def patch(self, body: dict[str, Any], name: str) -> dict[str, Any]:
        """Change a source: configuration, schedule, enable or disable."""
        session = db()
        source = sources.get(session, name, lock=True)
        if "config" in body:
            body["config"] = checked(source.kind, body["config"], source.config)
        sources.update(session, principal(), source, **body)
        session.commit()
        return view(source)


@blp.route("/<name>/test")
class TestSource(MethodView):
    @api_auth(*sources.MANAGERS)
    @blp.response(200, TryOut)
    def post(self, name: str) -> dict[str, Any]:
        """Try the source's configuration once: its problems, or the first items it gives (nothing stored)."""
        source = sources.get(db(), name)
        return runtime.try_config(source.kind, sources.unsealed(source.config), source.name)


@blp.route("/<name>/run")
class RunSource(MethodView):
    @api_auth(*sources.MANAGERS, "operator")
    @blp.response(200, RunNowOut)
    def post(self, name: str) -> dict[str, Any]:
        """Poll the source now (besides its schedule); a source that receives its data (webhook, uploads,
        notifications, a stream) has nothing to poll: 409."""
        source = sources.get(db(), name)
        if not runtime.polls(source.kind):
            raise Conflict(N_("This source receives its data: there is nothing to poll"), code="not_polled",
                           details={"kind": source.kind})
        db().close()
        outcome = runtime.run(name, trigger="manual")
        if outcome is None:
            return {"ok": False, "source": view(sources.get(db(), name))}
        return {"ok": True, "items": outcome.items, "duplicates": outcome.duplicates, "bad": outcome.bad[:100]}


@blp.route("/<name>/runs")
class Runs(MethodView):
    @api_auth()
    @blp.response(200, RunOut(many=True))
    def get(self, name: str) -> list[Any]:
        """The latest runs of a source, each with its bad records (row/index, field, reason)."""
        return sources.runs(db(), sources.get(db(), name))


@blp.route("/<name>/upload")
class Upload(MethodView):
    @api_auth(*UPLOADERS)
    @blp.response(200, UploadOut)
    def post(self, name: str) -> tuple[dict[str, Any], int]:
        """Upload a file for a spreadsheet or file source (multipart field `file`): good rows are stored, each
        bad one reported with its row, column and reason; a file with wrong headers (a missing column, two headers
        that read alike) is stored not at all; `warnings` name the columns that nothing reads."""
        session = db()
        source = sources.get(session, name)
        upload = request.files.get("file")
        if upload is None:
            raise Invalid(N_("Send the file in the multipart field 'file'"), code="no_file")
        content = upload.read(MAX_UPLOAD + 1)
        if len(content) > MAX_UPLOAD:
            raise Invalid(N_("The file is larger than 10 MB"), code="file_too_large")
        if source.kind not in ("spreadsheet",):
            raise Forbidden(N_("This source does not take uploads"))
        try:
            outcome = runtime.accept(session, source, content, upload.mimetype or "", "upload", principal().name)
        except BadConfig as exc:
            raise Invalid(N_("The file cannot be read: %(reason)s"), reason=str(exc), code="unreadable_file",
                          details={"problems": exc.problems}) from None
        session.commit()
        return {"stored": outcome.items, "duplicates": outcome.duplicates, "bad": outcome.bad,
                "warnings": outcome.warnings}, 200


@blp.route("/<name>/webhook")
class WebhookIn(MethodView):
    @blp.doc(security=[], responses={401: {"description": "missing, wrong or expired signature"}})
    @blp.response(202, PushedOut)
    def post(self, name: str) -> tuple[dict[str, Any], int]:
        """A department's system pushes data here, signed: `X-IOC-Timestamp: <unix seconds>` and
        `X-IOC-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + body with the source's secret>`. No bearer
        token: the signature is the credential. Good records are stored; bad ones answered by index."""
        session = db()
        source = sources.get(session, name)
        if source.kind != "webhook" or not source.enabled:
            raise Forbidden(N_("This source does not take webhook calls"))
        try:
            outcome = runtime.accept(session, source, request.get_data(), request.mimetype or "", "webhook",
                                     f"source:{name}", headers=dict(request.headers))
        except AuthFailed:
            raise Unauthorized(N_("The signature is missing, wrong or too old")) from None
        session.commit()
        return {"stored": outcome.items, "duplicates": outcome.duplicates, "bad": outcome.bad}, 202


@blp.route("/<name>/notifications")
class Notify(MethodView):
    @api_auth("operator", "admin")
    @blp.response(202, PushedOut)
    def post(self, name: str) -> tuple[dict[str, Any], int]:
        """Notifications from an NGSI-LD context broker (FIWARE) for an `ngsi_ld` source: point the broker's
        subscription here, with the IOC's bearer token in the subscription's `receiverInfo` headers."""
        session = db()
        source = sources.get(session, name)
        if source.kind != "ngsi_ld" or not source.enabled:
            raise Forbidden(N_("This source does not take notifications"))
        outcome = runtime.accept(session, source, request.get_data(), request.mimetype or "", "notification",
                                 principal().name)
        session.commit()
        return {"stored": outcome.items, "duplicates": outcome.duplicates, "bad": outcome.bad}, 202
