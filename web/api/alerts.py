"""GET /api/v1/alerts."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import Select

from engine.alerts import visible_alerts
from engine.models import Alert
from web.api.schemas import AlertOut, AlertQuery
from web.auth import api_auth, principal
from web.db import db

PREFIX = "/alerts"
blp = Blueprint("alerts", __name__, description="Alerts opened by rules")


def alert_query(args: dict[str, Any]) -> Select[Any]:
    p = principal()
    stmt = visible_alerts(p.role, p.department_id)
    status = args.get("status")
    if status == "open":
        stmt = stmt.where(Alert.status != "closed")
    elif status:
        stmt = stmt.where(Alert.status == status)
    if args.get("severity"):
        stmt = stmt.where(Alert.severity == args["severity"])
    if args.get("sector"):
        stmt = stmt.where(Alert.sector == args["sector"])
    return stmt.order_by(Alert.last_seen.desc(), Alert.id.desc())


@blp.route("")
class Alerts(MethodView):
    @api_auth()
    @blp.arguments(AlertQuery, location="query")
    @blp.response(200, AlertOut(many=True))
    def get(self, args: dict[str, Any]) -> list[Alert]:
        """Alerts, newest first. Officers see their department's alerts; other roles see all."""
        stmt = alert_query(args).limit(args["limit"]).offset(args["offset"])
        return list(db().scalars(stmt))
