"""Traffic over HTTP: tracing a plate across cameras, and the violations with their confirmed counts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine import traffic
from engine.db import utcnow
from web.auth import api_auth
from web.db import db

PREFIX = "/traffic"
blp = Blueprint("traffic", __name__, description="Traffic cameras: tracing plates, violations")
TRACERS = ("leader", "operator", "admin", "officer")


class SightingQuery(Schema):
    plate = fields.String(required=True, validate=validate.Length(min=4, max=20))
    approximate = fields.Boolean(load_default=False)


class ViolationQuery(Schema):
    hours = fields.Integer(load_default=24, validate=validate.Range(min=1, max=24 * 90))


class SightingOut(Schema):
    camera = fields.String(allow_none=True)
    time = fields.String(metadata={"description": "ISO 8601, UTC"})
    plate = fields.String()
    exact = fields.Boolean(metadata={"description": "false: a read one character off (`approximate`)"})
    kind = fields.String(allow_none=True, metadata={"description": "the violation's kind, or null for a sighting"})
    location = fields.Dict(allow_none=True)


class ConfirmedOut(Schema):
    camera = fields.String(allow_none=True)
    kind = fields.String(allow_none=True)
    count = fields.Integer()


class ViolationsOut(Schema):
    violations = fields.List(fields.Dict(), metadata={"description": "each: camera, time and the event's values "
                                                                     "(kind, plate, evidence…)"})
    confirmed = fields.List(fields.Nested(ConfirmedOut))


@blp.route("/sightings")
class Sightings(MethodView):
    @api_auth(*TRACERS)
    @blp.arguments(SightingQuery, location="query")
    @blp.response(200, SightingOut(many=True))
    def get(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        """Tracing (truy vết): where and when a plate was seen, newest first; `approximate` also finds reads one
        character off (marked `exact: false`)."""
        return [{**s, "time": s["time"].isoformat()}
                for s in traffic.sightings(db(), args["plate"], approximate=args["approximate"])]


@blp.route("/violations")
class Violations(MethodView):
    @api_auth()
    @blp.arguments(ViolationQuery, location="query")
    @blp.response(200, ViolationsOut)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Violations reported in the last `hours`, and the confirmed ones counted by camera and kind."""
        since = utcnow() - timedelta(hours=args["hours"])
        counts = traffic.confirmed_counts(db(), since)
        return {"violations": [{**v, "time": v["time"].isoformat()} for v in traffic.recent_violations(db(), since)],
                "confirmed": [{"camera": c, "kind": k, "count": n} for (c, k), n in sorted(counts.items())]}
