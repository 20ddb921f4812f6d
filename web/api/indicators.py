"""Indicators (KPIs): definitions with their progress, observations in and out with roll-ups."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from engine import indicators
from engine.db import utcnow
from engine.models import Indicator
from web.api.schemas import Strict
from web.auth import api_auth, principal
from web.db import db

PREFIX = "/indicators"
blp = Blueprint("indicators", __name__, description="Indicators (KPIs) and their observations")
WRITERS = ("admin", "operator", "leader")


class IndicatorOut(Schema):
    code = fields.String()
    sector = fields.String()
    name = fields.String()
    name_en = fields.String()
    unit_of_measure = fields.String()
    period = fields.String()
    aggregation = fields.String()
    direction = fields.String()
    source = fields.String()
    targets = fields.Dict(keys=fields.String(), values=fields.Float())
    progress = fields.Dict(allow_none=True)
    latest_period = fields.DateTime(allow_none=True)


class IndicatorQuery(Schema):
    sector = fields.String(load_default=None)


class ObservationQuery(Schema):
    level = fields.String(load_default="province", validate=validate.OneOf(["province", "unit", "entity"]))
    period = fields.String(load_default="month", validate=validate.OneOf(list(indicators.GRANULARITIES)))
    unit = fields.String(load_default=None)
    entity = fields.String(load_default=None)
    start = fields.AwareDateTime(load_default=None, data_key="from")
    end = fields.AwareDateTime(load_default=None, data_key="to")


class PointOut(Schema):
    period = fields.String()
    unit = fields.String(allow_none=True)
    entity = fields.String(allow_none=True)
    value = fields.Float()
    previous_year = fields.Float(allow_none=True)
    change_pct = fields.Float(allow_none=True)


class ObservationBatchIn(Strict):
    observations = fields.List(fields.Dict(), required=True, validate=validate.Length(min=1, max=10_000))
    source = fields.String(load_default="api", validate=validate.Length(max=100))


class RecordOut(Schema):
    stored = fields.Integer()
    duplicates = fields.Integer()
    errors = fields.List(fields.Dict())


class TargetsIn(Strict):
    targets = fields.Dict(keys=fields.String(), values=fields.Float(), required=True)


def _view(indicator: Indicator, latest: dict[str, datetime]) -> dict[str, Any]:
    year = utcnow().astimezone(indicators.tz()).year
    return {**{c: getattr(indicator, c) for c in ("code", "sector", "name", "name_en", "unit_of_measure", "period",
                                                   "aggregation", "direction", "source", "targets")},
            "progress": indicators.progress(db(), indicator, year), "latest_period": latest.get(indicator.code)}


@blp.route("")
class Indicators(MethodView):
    @api_auth()
    @blp.arguments(IndicatorQuery, location="query")
    @blp.response(200, IndicatorOut(many=True))
    def get(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        """Every indicator with its year's progress against the target and its newest period."""
        stmt = select(Indicator).order_by(Indicator.sector, Indicator.code)
        if args["sector"]:
            stmt = stmt.where(Indicator.sector == args["sector"])
        rows = list(db().scalars(stmt))
        latest = indicators.latest(db(), rows)
        return [_view(i, latest) for i in rows]


@blp.route("/<code>")
class OneIndicator(MethodView):
    @api_auth()
    @blp.response(200, IndicatorOut)
    def get(self, code: str) -> dict[str, Any]:
        """One indicator."""
        indicator = indicators.get(db(), code)
        return _view(indicator, indicators.latest(db(), [indicator]))


@blp.route("/<code>/targets")
class Targets(MethodView):
    @api_auth(*indicators.TARGET_SETTERS)
    @blp.arguments(TargetsIn)
    @blp.response(200, IndicatorOut)
    def put(self, body: dict[str, Any], code: str) -> dict[str, Any]:
        """Set the plan's targets by year (leaders, administrators)."""
        session = db()
        indicator = indicators.get(session, code)
        indicators.set_targets(session, principal(), indicator, body["targets"])
        session.commit()
        return _view(indicator, indicators.latest(session, [indicator]))


@blp.route("/<code>/observations")
class Observations(MethodView):
    @api_auth()
    @blp.arguments(ObservationQuery, location="query")
    @blp.response(200, PointOut(many=True))
    def get(self, args: dict[str, Any], code: str) -> list[dict[str, Any]]:
        """Values rolled up to `period` (raw, day, month, quarter, year) and `level` (province, unit, entity),
        filtered by `unit`, `entity`, `from`, `to`; each with the same period of the previous year."""
        indicator = indicators.get(db(), code)
        return indicators.series(db(), indicator, level=args["level"], granularity=args["period"], unit=args["unit"],
                                 entity=args["entity"], start=args["start"], end=args["end"])

    @api_auth(*WRITERS)
    @blp.arguments(ObservationBatchIn)
    @blp.response(200, RecordOut)
    def post(self, body: dict[str, Any], code: str) -> dict[str, Any]:
        """Store observations (up to 10,000): good ones stored, bad ones answered by index, field and reason,
        repeats (same unit or entity and period) ignored."""
        session = db()
        indicator = indicators.get(session, code)
        result = indicators.record(session, indicator, body["observations"], source=body["source"],
                                   actor=principal().name)
        session.commit()
        return {"stored": result.stored, "duplicates": result.duplicates, "errors": result.errors}


@blp.route("/<code>/export.csv")
class Export(MethodView):
    @api_auth()
    @blp.arguments(ObservationQuery, location="query")
    @blp.response(200, content_type="text/csv")
    def get(self, args: dict[str, Any], code: str) -> Response:
        """The same values as `/observations`, as CSV for Excel (UTF-8 with BOM; cells that a spreadsheet would
        run as formulas are neutralised)."""
        from connectors.spreadsheet import export_csv

        indicator = indicators.get(db(), code)
        points = indicators.series(db(), indicator, level=args["level"], granularity=args["period"], unit=args["unit"],
                                   entity=args["entity"], start=args["start"], end=args["end"])
        rows = [{"indicator": indicator.code, **p} for p in points]
        return Response(export_csv(rows), mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment; filename={code}.csv"})
