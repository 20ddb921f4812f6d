"""Messages correlated by business key: "alert cleared" ends an incident that nobody has triaged yet."""

from __future__ import annotations

from engine import jobs
from tests import factories
from tests.test_api import assert_error, bearer


def test_alert_cleared_before_triage_ends_the_incident(client) -> None:
    ids = client.post("/api/v1/events", json={"events": [factories.aqi_event(aqi=199)]},
                      headers=bearer(factories.token())).get_json()["ids"]
    jobs.process_events(ids)
    ops = bearer(factories.token("operator"))
    (alert,) = client.get("/api/v1/alerts", headers=ops).get_json()
    key = f"alert:{alert['id']}"

    assert_error(client.post("/api/v1/messages", json={"name": "no_such_message", "business_key": key},
                             headers=ops), 404)
    r = client.post("/api/v1/messages", json={"name": "alert_cleared", "business_key": key,
                                              "variables": {"reason": "AQI back under 100"}}, headers=ops)
    assert r.status_code == 200 and r.get_json() == {"delivered_to": [alert["instance_id"]]}

    instance = client.get(f"/api/v1/instances/{alert['instance_id']}", headers=ops).get_json()
    assert instance["status"] == "completed"
    assert [(t["bpmn_id"], t["status"]) for t in instance["tasks"]] == [("triage", "cancelled")]
    assert "message.received" in [h["action"] for h in instance["history"]]
    (closed,) = client.get("/api/v1/alerts?status=closed", headers=ops).get_json()
    assert closed["id"] == alert["id"]
    # delivered once: the instance no longer waits for it
    assert_error(client.post("/api/v1/messages", json={"name": "alert_cleared", "business_key": key},
                             headers=ops), 404)


def test_officers_cannot_send_messages(client) -> None:
    assert_error(client.post("/api/v1/messages", json={"name": "alert_cleared"},
                             headers=bearer(factories.token("officer"))), 403)
