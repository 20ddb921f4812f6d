"""Quarantined events: an operator sees the events whose evaluation kept failing, with their error, and sends
them back for evaluation once the cause is fixed — through the API and on the page."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engine import jobs, rule_engine
from engine.db import transaction
from engine.events import ingest_events
from engine.models import Alert, AuditEntry, Event
from engine.queue import get_queue
from tests import factories
from tests.test_api import assert_error, bearer, login


@pytest.fixture
def quarantined(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Two readings over the threshold whose evaluation failed every time (the rule engine broken meanwhile),
    and one evaluated normally."""
    with transaction() as s:
        readings = [factories.incoming(aqi=170, entity="BAD-1"), factories.incoming(aqi=175, entity="BAD-2"),
                    factories.incoming(aqi=20, entity="FINE")]
        ids = ingest_events(s, readings, "test").accepted
    real = rule_engine.judge_event

    def broken(session, rules, obs, local_time):  # type: ignore[no-untyped-def]
        if obs.entity.startswith("BAD"):
            raise RuntimeError("rule 'aqi_high' refers to a missing field")
        return real(session, rules, obs, local_time)

    with monkeypatch.context() as m:
        m.setattr(rule_engine, "judge_event", broken)
        for _ in range(jobs.MAX_ATTEMPTS):
            jobs.process_events(ids)
    return ids  # the cause is fixed from here on: the real rule engine is back


def test_the_api_lists_quarantined_events_with_their_error_and_sends_them_back(client, quarantined) -> None:
    operator = bearer(factories.token("operator"))
    body = client.get("/api/v1/events/quarantined", headers=operator).get_json()
    assert body["total"] == 2
    assert [(e["entity"], e["attempts"]) for e in body["events"]] == [("BAD-2", 5), ("BAD-1", 5)]  # newest first
    assert "missing field" in body["events"][0]["error"] and body["events"][0]["values"]["aqi"] == 175

    queued = get_queue().count
    resp = client.post("/api/v1/events/quarantined/requeue", json={"ids": [quarantined[0], quarantined[2]]},
                       headers=operator)
    # FINE was evaluated: not quarantined, left alone
    assert resp.status_code == 202 and resp.get_json() == {"requeued": 1, "ids": [quarantined[0]]}
    assert get_queue().count == queued + 1  # the worker gets it
    jobs.process_events([quarantined[0]])  # what the worker does with the job
    with transaction() as s:
        assert [a.entity for a in s.scalars(select(Alert).order_by(Alert.id))] == ["BAD-1"]
        first = s.get(Event, quarantined[0])
        assert first.error is None and first.processed_at is not None
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "events.requeued")).details["count"] == 1
    assert client.get("/api/v1/events/quarantined", headers=operator).get_json()["total"] == 1

    assert client.post("/api/v1/events/quarantined/requeue", json={}, headers=operator).get_json()["requeued"] == 1
    assert client.get("/api/v1/events/quarantined", headers=operator).get_json()["total"] == 0


def test_only_operators_and_administrators_may_see_or_send_back(client, quarantined) -> None:
    officer = bearer(factories.token("officer"))
    assert_error(client.get("/api/v1/events/quarantined", headers=officer), 403, "forbidden")
    assert_error(client.post("/api/v1/events/quarantined/requeue", json={}, headers=officer), 403, "forbidden")
    assert_error(client.post("/api/v1/events/quarantined/requeue", json={"ids": "all"},
                             headers=bearer(factories.token("admin"))), 422)
    with transaction() as s:
        assert s.scalar(select(Event).where(Event.entity == "BAD-1")).error is not None  # nothing changed


def test_the_page_shows_them_and_its_button_sends_one_back(client, quarantined) -> None:
    factories.user("operator", name="trucban")
    login(client, "trucban")
    page = client.get("/events/quarantined").get_data(as_text=True)
    assert "Sự kiện bị cách ly" in page and "missing field" in page and "BAD-1" in page and "FINE" not in page
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = client.post("/events/quarantined", data={"csrf_token": csrf, "event_id": str(quarantined[1])})
    assert resp.status_code == 302
    page = client.get("/events/quarantined").get_data(as_text=True)
    assert "đã được gửi lại để đánh giá" in page and "BAD-2" not in page and "BAD-1" in page
    assert client.post("/events/quarantined", data={"event_id": "all"}).status_code == 400  # no CSRF token


def test_an_officer_cannot_open_the_page(client, quarantined) -> None:
    factories.user("officer", name="chuyenvien")
    login(client, "chuyenvien")
    assert client.get("/events/quarantined").status_code == 403
