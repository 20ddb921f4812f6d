"""Pages for alerts and notifications: one alert (acknowledge it, its history, CAP), silences, my
notifications and their preferences, and the service worker that shows web pushes."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select, update

from engine import alerts, audit, silences
from engine.config import settings
from engine.db import transaction, utcnow
from engine.errors import N_, Invalid
from engine.models import AuditEntry, Notification, User
from engine.notify.preferences import CHANNELS, DEFAULT_PREFERENCES, SEVERITIES, validate_preferences
from web.api.alerts import visible_alert
from web.auth import page_auth
from web.db import db
from web.input_guard import bounded_int

bp = Blueprint("alert_pages", __name__)
CHANNEL_LABELS = {"in_app": N_("In the app"), "webpush": N_("Browser and phone (web push)"),
                  "email": N_("E-mail"), "webhook": N_("SMS / Zalo gateway")}


@bp.route("/alerts/<int:alert_id>", methods=["GET", "POST"])
@page_auth()
def alert(alert_id: int) -> Any:
    row = visible_alert(alert_id)
    if request.method == "POST":
        if alerts.acknowledge_as(db(), row, g.principal):
            db().commit()
            flash(_("You have acknowledged this alert: its escalation stops"), "ok")
        return redirect(url_for("alert_pages.alert", alert_id=alert_id))
    history = list(db().scalars(select(AuditEntry).where(AuditEntry.object_type == "alert",
                                                         AuditEntry.object_id == str(alert_id))
                                .order_by(AuditEntry.id)))
    return render_template("alert.html", alert=row, history=history,
                           may_acknowledge=g.principal.role in alerts.ACKNOWLEDGERS)


def _local(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid(N_("Give a date and time"), details={"value": text}) from None
    return value if value.tzinfo else value.replace(tzinfo=ZoneInfo(settings().timezone))


@bp.route("/silences", methods=["GET", "POST"])
@page_auth(post_roles=silences.MANAGERS)
def silences_page() -> Any:
    if request.method == "POST":
        form = request.form
        if form.get("end"):
            silences.end(db(), g.principal, form.get("end", type=bounded_int) or 0)
            message = _("The silence has ended")
        else:
            starts = _local(form["starts_at"]) if form.get("starts_at") else None
            silences.create(db(), g.principal, ends_at=_local(form.get("ends_at", "")), starts_at=starts,
                            reason=form.get("reason", ""), rule_id=form.get("rule_id") or None,
                            entity=form.get("entity") or None, sector=form.get("sector") or None,
                            kind=form.get("kind") or "silence")
            message = _("Silence saved: matching alerts will not be notified until it ends")
        db().commit()
        flash(message, "ok")
        return redirect(url_for("alert_pages.silences_page"))
    return render_template("silences.html", silences=silences.current(db()))


@bp.route("/notifications", methods=["GET", "POST"])
@page_auth()
def notifications_page() -> Any:
    me = db().get(User, g.principal.user_id)
    assert me is not None
    errors: list[str] = []
    if request.method == "POST":
        prefs = {"channels": {sev: [c for c in CHANNELS if request.form.get(f"{sev}.{c}")] for sev in SEVERITIES},
                 "quiet_hours": request.form.get("quiet_hours", "").strip() or None}
        errors = validate_preferences(prefs)
        if not errors:
            me.notification_preferences, me.email = prefs, request.form.get("email", "").strip() or None
            audit.record(db(), me.username, "user.notification_preferences", "user", me.id, preferences=prefs,
                         email_set=bool(me.email))
            db().commit()
            flash(_("Your notification settings are saved"), "ok")
            return redirect(url_for("alert_pages.notifications_page"))
    rows = list(db().scalars(select(Notification).where(Notification.user_id == me.id)
                             .order_by(Notification.id.desc()).limit(50)))
    unread = [r.id for r in rows if r.channel == "in_app" and r.read_at is None]
    if unread:  # seen: the bell's count goes back to zero (a write, in its own transaction)
        with transaction() as session:
            session.execute(update(Notification).where(Notification.id.in_(unread)).values(read_at=utcnow()))
    prefs = {**DEFAULT_PREFERENCES, **(me.notification_preferences or {})}
    labels = {c: _(label) for c, label in CHANNEL_LABELS.items()}
    return render_template("notifications.html", me=me, rows=rows, prefs=prefs, errors=errors,
                           severities=SEVERITIES, channels=CHANNELS, channel_labels=labels), (422 if errors else 200)


@bp.route("/sw.js")
def service_worker() -> Response:
    """The service worker, served from the root so that it controls every page (it shows web pushes)."""
    response = current_app.send_static_file("js/sw.js")
    response.headers["Service-Worker-Allowed"] = "/"
    response.headers["Cache-Control"] = "no-cache"
    return response
