"""GET /api/v1/alerts, one alert, its CAP 1.2 message, and the Atom feed of active alerts."""

from __future__ import annotations

import os
from typing import Any

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import Select

from engine import alerts, cap
from engine.alerts import visible_alerts
from engine.db import utcnow
from engine.errors import N_, Conflict, NotFound
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


CAP_SENDER = os.environ.get("IOC_CAP_SENDER", "ioc@thanhhoa.gov.vn")
FIELDS = ("id", "title", "severity", "status", "sector", "entity", "unit_code", "value", "count", "first_seen",
          "last_seen", "closed_at")


def visible_alert(alert_id: int) -> Alert:
    p = principal()
    alert = db().scalar(visible_alerts(p.role, p.department_id).where(Alert.id == alert_id))
    if alert is None:
        raise NotFound(N_("No alert %(id)s"), id=alert_id)
    return alert


def as_mapping(alert: Alert) -> dict[str, Any]:
    return {name: getattr(alert, name) for name in FIELDS}


@blp.route("/<int:alert_id>")
class OneAlert(MethodView):
    @api_auth()
    @blp.response(200, AlertOut)
    def get(self, alert_id: int) -> Alert:
        """One alert (404 when it does not exist or is not the caller's to see)."""
        return visible_alert(alert_id)


@blp.route("/<int:alert_id>/acknowledge")
class Acknowledge(MethodView):
    @api_auth()
    @blp.response(200, AlertOut)
    def post(self, alert_id: int) -> Alert:
        """Take note of an alert: its escalation stops, and the wall shows who acknowledged it. 403 for a process
        designer (`role_cannot_acknowledge`)."""
        session = db()
        alert = visible_alert(alert_id)
        if not alerts.acknowledge_as(session, alert, principal()):
            raise Conflict(N_("This alert is already acknowledged or over"), code="alert_acknowledged")
        session.commit()
        return alert


@blp.route("/<int:alert_id>/cap")
class AlertCap(MethodView):
    @api_auth()
    @blp.response(200, content_type=cap.CAP_MIME)
    def get(self, alert_id: int) -> Response:
        """The alert as an OASIS CAP 1.2 message (Update once it repeats or is handled, Cancel once closed)."""
        body = cap.alert_to_cap(as_mapping(visible_alert(alert_id)), sender=CAP_SENDER,
                                base_url=request.url_root.rstrip("/"))
        return Response(body, mimetype=cap.CAP_MIME)


@blp.route("/feed.atom")
class AlertFeed(MethodView):
    @api_auth()
    @blp.response(200, content_type="application/atom+xml")
    def get(self) -> Response:
        """An Atom feed of the active alerts the caller may see, each linking to its CAP message."""
        stmt = alert_query({"status": "open"}).limit(500)
        body = cap.atom_feed([as_mapping(a) for a in db().scalars(stmt)], base_url=request.url_root.rstrip("/"),
                             updated=utcnow())
        return Response(body, mimetype="application/atom+xml")
