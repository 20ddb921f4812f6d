"""The alert journey end to end: an event breaks a rule, the alert fires and starts its process, reaches the
operator's mailbox (a real SMTP server), escalates to the leader when nobody acknowledges it and reaches the
leader's browser as a web push (a real local push service; the test decrypts it with the browser's keys),
then resolves itself when the value returns to normal, and its process ends."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import alerts, jobs, notifications
from engine.db import transaction, utcnow
from engine.events import IncomingEvent, ingest_events
from engine.models import Alert, AuditEntry, Notification, ProcessInstance, PushSubscription, User
from tests import factories
from tests.test_notify_email import Inbox, start
from tests.test_notify_webpush import Browser, PushService


def ingest(aqi: float) -> None:
    with transaction() as session:
        result = ingest_events(session, [factories.incoming(aqi=aqi)], "test")
    jobs.process_events(result.accepted)


def reachable(user: User, address: str) -> None:
    """An e-mail address, and no quiet hours (the default 22:00–06:00 would make the test depend on the clock)."""
    user.email, user.notification_preferences = address, {"quiet_hours": None}


@pytest.fixture
def channels(monkeypatch):
    inbox = Inbox()
    controller = start(inbox)
    push = PushService()
    import threading
    threading.Thread(target=push.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    monkeypatch.setenv("IOC_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("IOC_SMTP_PORT", str(controller.port))
    monkeypatch.setenv("IOC_SMTP_FROM", "IOC Thanh Hóa <ioc@thanhhoa.test>")
    yield inbox, push
    controller.stop()
    push.shutdown()
    push.server_close()


def _people(push: PushService) -> tuple[User, User, Browser]:
    operator, leader = factories.user("operator"), factories.user("leader")
    browser = Browser(push.origin + "/push/leader-laptop")
    with transaction() as s:
        for user_id, address in ((operator.user_id, "truc-ban@thanhhoa.test"),
                                 (leader.user_id, "lanh-dao@thanhhoa.test")):
            reachable(s.get(User, user_id), address)
        s.add(PushSubscription(user_id=leader.user_id, endpoint=browser.subscription["endpoint"],
                               keys=browser.subscription["keys"]))
    return operator, leader, browser


def test_an_alert_mails_escalates_to_a_push_and_resolves_itself(session, channels) -> None:
    inbox, push = channels
    operator, leader, browser = _people(push)
    ingest(182)
    alert = session.scalar(select(Alert))
    assert alert.status == "in_handling" and alert.instance_id is not None  # its process started
    notifications.deliver_due()
    (rcpts, mail, _raw, _auth) = inbox.received[0]
    assert rcpts == ["truc-ban@thanhhoa.test"]
    assert "VN_AQI 182 tại trạm TH-AQ-01" in mail["Subject"] and "cao" in mail.get_content()
    # Nobody acknowledges it: 15 minutes later (a "cao" alert) the leader is told, on their browser too.
    with transaction() as s:
        assert alerts.escalate_due(s, utcnow() + timedelta(minutes=10)) == 0
        assert alerts.escalate_due(s, utcnow() + timedelta(minutes=16)) == 1
    notifications.deliver_due()
    (path, headers, body) = push.requests[-1]
    assert path == "/push/leader-laptop" and headers["content-encoding"] == "aes128gcm"
    shown = json.loads(browser.decrypt(body))
    assert "VN_AQI 182" in shown["title"] and shown["url"].endswith(f"/alerts/{alert.id}")
    assert any(r[0] == ["lanh-dao@thanhhoa.test"] for r in inbox.received)
    # Each change reaches each person once per channel, even if delivery runs again.
    count = len(push.requests)
    with transaction() as s:
        a = s.get(Alert, alert.id)
        assert notifications.notify(s, a, "escalated", level=1) == 0
    notifications.deliver_due()
    assert len(push.requests) == count
    # The value returns to normal: the alert resolves itself and its incident ends (nobody had triaged it).
    ingest(95)
    session.rollback()
    alert = session.get(Alert, alert.id)
    assert alert.status == "closed" and alert.resolved_at is not None
    instance = session.get(ProcessInstance, alert.instance_id)
    assert instance.status == "completed"
    actions = [a.action for a in session.scalars(select(AuditEntry).where(AuditEntry.object_id == str(alert.id),
                                                                        AuditEntry.object_type == "alert")
                                                 .order_by(AuditEntry.id))]
    assert actions[:1] == ["alert.opened"] and "alert.escalated" in actions and "alert.resolved" in actions
    assert operator.user_id and leader.user_id


def test_an_acknowledged_alert_does_not_escalate(session, channels) -> None:
    operator = factories.user("operator")
    ingest(190)
    with transaction() as s:
        a = s.scalar(select(Alert))
        assert alerts.acknowledge(s, a, operator.name)
        assert not alerts.acknowledge(s, a, operator.name)  # twice: nothing more
    with transaction() as s:
        assert alerts.escalate_due(s, utcnow() + timedelta(hours=2)) == 0


def test_a_failing_channel_is_retried_with_backoff_and_never_blocks_the_alert(session, monkeypatch) -> None:
    monkeypatch.setenv("IOC_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("IOC_SMTP_PORT", "1")  # nothing listens there
    operator = factories.user("operator")
    with transaction() as s:
        reachable(s.get(User, operator.user_id), "truc-ban@thanhhoa.test")
    ingest(185)
    assert session.scalar(select(Alert)).status == "in_handling"  # the alert and its process went on
    notifications.deliver_due()
    session.rollback()
    row = session.scalar(select(Notification).where(Notification.channel == "email"))
    assert row.status == "pending" and row.attempts == 1 and row.last_error
    assert row.next_attempt_at > utcnow() + timedelta(seconds=20)  # backoff: not hammered again at once


def test_a_silence_holds_back_notifications(session, channels) -> None:
    from engine import silences

    inbox, _push = channels
    operator = factories.user("operator")
    with transaction() as s:
        reachable(s.get(User, operator.user_id), "truc-ban@thanhhoa.test")
        silences.create(s, operator, ends_at=utcnow() + timedelta(hours=1), reason="Bảo trì trạm quan trắc",
                        entity="TH-AQ-01", kind="maintenance")
    ingest(200)
    notifications.deliver_due()
    assert inbox.received == []
    alert = session.scalar(select(Alert))
    assert alert.silenced and alert.status == "in_handling"  # opened and handled, just not paged
    with transaction() as s:
        assert alerts.escalate_due(s, utcnow() + timedelta(hours=3)) == 0


def test_an_emergency_reaches_the_sms_gateway_webhook_signed_even_in_quiet_hours(session, monkeypatch) -> None:
    import threading

    from engine.notify.webhook import verify_signature
    from tests.test_notify_webhook import Receiver

    gateway = Receiver()
    threading.Thread(target=gateway.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    monkeypatch.setenv("IOC_WEBHOOK_URL", gateway.url)
    monkeypatch.setenv("IOC_WEBHOOK_SECRET", "bí-mật-cổng-sms")
    operator = factories.user("operator")
    with transaction() as s:  # quiet hours all day long: only khẩn cấp comes through
        s.get(User, operator.user_id).notification_preferences = {"quiet_hours": "00:00-23:59"}
    ev = IncomingEvent(source="test", type="water_level", sector="environment", time=utcnow(),
                       values={"level_m": 6.4}, entity="GIANG")
    with transaction() as s:
        accepted = ingest_events(s, [ev], "test").accepted
    jobs.process_events(accepted)
    notifications.deliver_due()
    try:
        (path, headers, body) = gateway.requests[0]
        payload = json.loads(body)
        assert payload["user"] == operator.name and "Mực nước 6.4 m tại trạm GIANG" in payload["subject"]
        assert verify_signature("bí-mật-cổng-sms", body, headers["X-IOC-Signature"])
        assert not verify_signature("another secret", body, headers["X-IOC-Signature"])
    finally:
        gateway.shutdown()
        gateway.server_close()
