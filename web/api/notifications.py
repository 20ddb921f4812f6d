"""Notifications over HTTP: my in-app notifications, my channel preferences, Web Push subscriptions, and
silences (maintenance windows)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import select

from engine import audit, silences
from engine.config import settings
from engine.db import utcnow
from engine.errors import N_, Forbidden, Invalid, NotFound
from engine.models import Notification, PushSubscription, Silence, User
from engine.notify import webpush
from engine.notify.preferences import DEFAULT_PREFERENCES, validate_preferences
from web.api.schemas import NotificationOut, PushSubscriptionIn, SilenceIn, SilenceOut
from web.auth import api_auth, principal
from web.db import db

PREFIX = "/notifications"
blp = Blueprint("notifications", __name__, description="Notifications, push subscriptions and silences")


def _me() -> User:
    p = principal()
    user = db().get(User, p.user_id) if p.user_id is not None else None
    if user is None:
        raise Forbidden(N_("Only a person has notifications"))
    return user


class PreferencesIO(Schema):
    channels = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    quiet_hours = fields.String(allow_none=True)
    email = fields.Email(allow_none=True)


@blp.route("")
class Mine(MethodView):
    @api_auth()
    @blp.response(200, NotificationOut(many=True))
    def get(self) -> list[Notification]:
        """My latest notifications on every channel, with their delivery state (newest first)."""
        stmt = select(Notification).where(Notification.user_id == _me().id).order_by(Notification.id.desc())
        return list(db().scalars(stmt.limit(100)))


@blp.route("/<int:notification_id>/read")
class Read(MethodView):
    @api_auth()
    @blp.response(200, NotificationOut)
    def post(self, notification_id: int) -> Notification:
        """Mark one of my notifications as read."""
        session = db()
        row = session.get(Notification, notification_id)
        if row is None or row.user_id != _me().id:
            raise NotFound(N_("No notification %(id)s"), id=notification_id)
        row.read_at = row.read_at or utcnow()
        session.commit()
        return row


@blp.route("/preferences")
class Preferences(MethodView):
    @api_auth()
    @blp.response(200, PreferencesIO)
    def get(self) -> dict[str, Any]:
        """My channels per severity and quiet hours (khẩn cấp alerts come through quiet hours)."""
        me = _me()
        return {**DEFAULT_PREFERENCES, **(me.notification_preferences or {}), "email": me.email}

    @api_auth()
    @blp.arguments(PreferencesIO)
    @blp.response(200, PreferencesIO)
    def put(self, body: dict[str, Any]) -> dict[str, Any]:
        """Change my preferences; refused with the reasons when a channel, severity or time is unknown."""
        session = db()
        me = _me()
        email = body.pop("email", me.email)
        problems = validate_preferences(body)
        if problems:
            raise Invalid(N_("These preferences cannot be used"), code="invalid_preferences",
                          details={"problems": problems})
        me.notification_preferences, me.email = body, email
        audit.record(session, me.username, "user.notification_preferences", "user", me.id, preferences=body,
                     email_set=bool(email))
        session.commit()
        return {**DEFAULT_PREFERENCES, **body, "email": me.email}


class PushKeyOut(Schema):
    public_key = fields.String(metadata={"description": "VAPID public key, base64url"})


@blp.route("/push/key")
class PushKey(MethodView):
    @api_auth()
    @blp.response(200, PushKeyOut)
    def get(self) -> dict[str, str]:
        """The server's VAPID public key, for the browser's ``applicationServerKey``."""
        key = webpush.ensure_vapid_key(webpush.vapid_key_path(settings().data_dir))
        return {"public_key": webpush.application_server_key(key)}


@blp.route("/push/subscriptions")
class PushSubscriptions(MethodView):
    @api_auth()
    @blp.arguments(PushSubscriptionIn)
    @blp.response(201)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Register this browser for Web Push (the ``PushSubscription`` JSON the browser gives)."""
        session = db()
        me = _me()
        endpoint = body["endpoint"]
        row = session.scalar(select(PushSubscription).where(PushSubscription.endpoint == endpoint))
        if row is None:
            row = PushSubscription(user_id=me.id, endpoint=endpoint, keys=dict(body["keys"]))
            session.add(row)
        else:  # the same browser, perhaps another person now: it belongs to whoever subscribed last
            row.user_id, row.keys = me.id, dict(body["keys"])
        session.flush()
        audit.record(session, me.username, "push.subscribed", "push_subscription", row.id)
        session.commit()
        return {"id": row.id}


@blp.route("/silences")
class Silences(MethodView):
    @api_auth()
    @blp.response(200, SilenceOut(many=True))
    def get(self) -> list[Silence]:
        """Silences and maintenance windows in force or planned."""
        return silences.current(db())

    @api_auth("admin", "operator", "leader")
    @blp.arguments(SilenceIn)
    @blp.response(201, SilenceOut)
    def post(self, body: dict[str, Any]) -> Silence:
        """Hold back the notifications of matching alerts until ``ends_at`` (empty matchers match all)."""
        session = db()
        silence = silences.create(session, principal(), **body)
        session.commit()
        return silence


@blp.route("/silences/<int:silence_id>")
class OneSilence(MethodView):
    @api_auth("admin", "operator", "leader")
    @blp.response(200, SilenceOut)
    def delete(self, silence_id: int) -> Silence:
        """End a silence now."""
        session = db()
        silence = silences.end(session, principal(), silence_id)
        session.commit()
        return silence
