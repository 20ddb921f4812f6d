"""Notifications of alert changes: who is told, on which channels, and their delivery with retries.

``notify`` (inside the alert's own transaction) writes one ``notifications`` row per person and channel;
the row's ``dedupe_id`` makes a state change reach a person on a channel at most once. In-app rows are
delivered by being there (and live, over the stream); the others are sent by ``deliver_due`` in the worker,
outside any database transaction, with backoff on failure. A channel that fails never blocks the alert
or its process: the row records the error and the next attempt.

Channels are configured by environment variables (unset: the channel is off):
IOC_SMTP_HOST, IOC_SMTP_PORT (25), IOC_SMTP_FROM, IOC_SMTP_STARTTLS (1/0), IOC_SMTP_USER,
IOC_SMTP_PASSWORD; IOC_WEBHOOK_URL, IOC_WEBHOOK_SECRET (SMS and Zalo gateways); Web Push needs no setting
(its VAPID key is made in the data folder at first use); IOC_BASE_URL for the links in messages.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import audit, bus
from engine.config import settings
from engine.db import transaction, utcnow
from engine.models import Alert, Notification, PushSubscription, Silence, User
from engine.notify import backoff, email, webhook, webpush
from engine.notify.errors import DeliveryError, SubscriptionGone
from engine.notify.message import build_message, dedupe_id
from engine.notify.preferences import channels_for

log = logging.getLogger(__name__)
# Who hears of a change: the operators on duty for a new alert; leaders, then administrators, when it
# escalates; the department handling it once it has one.
RECIPIENT_ROLES = {"opened": ("operator",), "resolved": ("operator",), "acknowledged": ("operator",),
                   "closed": ()}
ESCALATION_ROLES = {1: ("leader",), 2: ("leader", "admin")}
SENDING_TIMEOUT = timedelta(minutes=5)


def base_url() -> str:
    return os.environ.get("IOC_BASE_URL", "http://127.0.0.1:8080").rstrip("/")


def smtp_config() -> email.SmtpConfig | None:
    host = os.environ.get("IOC_SMTP_HOST")
    if not host:
        return None
    return email.SmtpConfig(host=host, port=int(os.environ.get("IOC_SMTP_PORT", "25")),
                            sender=os.environ.get("IOC_SMTP_FROM", "IOC Thanh Hóa <ioc@localhost>"),
                            starttls=os.environ.get("IOC_SMTP_STARTTLS", "0") == "1",
                            username=os.environ.get("IOC_SMTP_USER") or None,
                            password=os.environ.get("IOC_SMTP_PASSWORD") or None, local_hostname="ioc.local")


def active_silence(session: Session, alert: Alert, now: datetime | None = None) -> Silence | None:
    """A silence or maintenance window in force that matches the alert (an empty matcher matches all)."""
    now = now or utcnow()
    stmt = select(Silence).where(Silence.starts_at <= now, Silence.ends_at > now,
                                 or_(Silence.rule_id.is_(None), Silence.rule_id == alert.rule_id),
                                 or_(Silence.entity.is_(None), Silence.entity == alert.entity),
                                 or_(Silence.sector.is_(None), Silence.sector == alert.sector))
    return session.scalars(stmt.limit(1)).first()


def alert_fields(alert: Alert) -> dict[str, Any]:
    return {"id": alert.id, "title": alert.title, "severity": alert.severity, "status": alert.status,
            "sector": alert.sector, "entity": alert.entity, "value": alert.value, "first_seen": alert.first_seen,
            "last_seen": alert.last_seen, "count": alert.count, "url": f"{base_url()}/alerts/{alert.id}"}


def recipients(session: Session, alert: Alert, change: str, level: int = 0) -> list[User]:
    roles = ESCALATION_ROLES.get(level, ()) if change == "escalated" else RECIPIENT_ROLES.get(change, ())
    stmt = select(User).where(User.active.is_(True), User.role_code.in_(roles))
    if alert.department_id is not None and change != "escalated":
        stmt = select(User).where(User.active.is_(True), or_(User.role_code.in_(roles),
                                                             User.department_id == alert.department_id))
    return list(session.scalars(stmt.order_by(User.id)))


def notify(session: Session, alert: Alert, change: str, *, level: int = 0) -> int:
    """Queue the notifications of one alert change; returns how many were written (0 when silenced)."""
    silence = active_silence(session, alert)
    if silence is not None:
        audit.record(session, "notifications", "alert.notification_silenced", "alert", alert.id, change=change,
                     silence_id=silence.id)
        return 0
    now = utcnow()
    local = now.astimezone(ZoneInfo(settings().timezone))
    smtp, hook = smtp_config(), os.environ.get("IOC_WEBHOOK_URL")
    message = build_message(alert_fields(alert), change)
    written = 0
    for user in recipients(session, alert, change, level):
        for channel in channels_for(user.notification_preferences, alert.severity, local):
            if (channel == "email" and (smtp is None or not user.email)) or (channel == "webhook" and not hook):
                continue
            row = Notification(user_id=user.id, alert_id=alert.id, change=change, channel=channel,
                               dedupe_id=dedupe_id(alert.id, change, user.id, channel, revision=str(level)),
                               subject=message.subject[:300], body=message.body,
                               status="sent" if channel == "in_app" else "pending",
                               sent_at=now if channel == "in_app" else None, next_attempt_at=now)
            try:
                with session.begin_nested():
                    session.add(row)
            except IntegrityError:  # already told of this change on this channel
                continue
            written += 1
            if channel == "in_app":
                bus.publish(session, "notification", user_id=user.id, alert_id=alert.id, change=change,
                            subject=row.subject, severity=alert.severity)
    return written


def _claim(limit: int) -> list[int]:
    """Mark due rows as being sent (committed at once, so the sending happens outside a transaction)."""
    now = utcnow()
    with transaction() as session:
        stale = now - SENDING_TIMEOUT  # a worker died while sending: try those again
        for row in session.scalars(select(Notification).where(Notification.status == "sending",
                                                              Notification.next_attempt_at < stale)):
            row.status = "pending"
        rows = list(session.scalars(select(Notification).where(Notification.status == "pending",
                                                               Notification.next_attempt_at <= now)
                                    .order_by(Notification.id).limit(limit).with_for_update(skip_locked=True)))
        for row in rows:
            row.status, row.next_attempt_at = "sending", now
        return [row.id for row in rows]


def _send(session: Session, row: Notification) -> None:
    user = session.get(User, row.user_id)
    assert user is not None
    if row.channel == "email":
        config = smtp_config()
        if config is None or not user.email:
            raise DeliveryError("e-mail is not configured", retryable=False)
        email.send(config, user.email, row.subject, row.body)
    elif row.channel == "webhook":
        url = os.environ.get("IOC_WEBHOOK_URL")
        if not url:
            raise DeliveryError("no webhook is configured", retryable=False)
        webhook.send(url, {"user": user.username, "full_name": user.full_name, "alert_id": row.alert_id,
                           "change": row.change, "subject": row.subject, "body": row.body},
                     os.environ.get("IOC_WEBHOOK_SECRET", ""), delivery_id=row.dedupe_id)
    elif row.channel == "webpush":
        subs = list(session.scalars(select(PushSubscription).where(PushSubscription.user_id == user.id)))
        if not subs:
            raise DeliveryError("no browser of this person has subscribed", retryable=False)
        key = webpush.ensure_vapid_key(webpush.vapid_key_path(settings().data_dir))
        payload = {"title": row.subject, "body": row.body.splitlines()[0] if row.body else "",
                   "url": f"{base_url()}/alerts/{row.alert_id}", "tag": f"alert-{row.alert_id}"}
        delivered = 0
        for sub in subs:
            try:
                webpush.send({"endpoint": sub.endpoint, "keys": sub.keys}, payload, key)
                delivered += 1
            except SubscriptionGone:
                session.delete(sub)
        if not delivered:
            raise DeliveryError("every subscription of this person is gone", retryable=False)


def deliver_due(limit: int = 50) -> int:
    """Send the notifications that are due; returns how many were sent."""
    sent = 0
    for row_id in _claim(limit):
        with transaction() as session:
            row = session.get(Notification, row_id)
            if row is None or row.status != "sending":
                continue
            try:
                _send(session, row)
            except DeliveryError as exc:
                row.attempts += 1
                row.last_error = str(exc)[:500]
                retry = backoff.next_attempt(row.attempts, utcnow()) if exc.retryable else None
                row.status, row.next_attempt_at = ("pending", retry) if retry else ("gave_up", None)
                log.warning("notification %s (%s) failed, attempt %d: %s", row.id, row.channel, row.attempts, exc)
                continue
            row.attempts += 1
            row.status, row.sent_at, row.last_error = "sent", utcnow(), None
            sent += 1
    return sent


def unread_for(session: Session, user_id: int, limit: int = 20) -> list[Notification]:
    stmt = select(Notification).where(Notification.user_id == user_id, Notification.channel == "in_app",
                                      Notification.read_at.is_(None)).order_by(Notification.id.desc())
    return list(session.scalars(stmt.limit(limit)))
