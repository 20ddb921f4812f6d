"""Operating on instances like a cockpit: incidents retried, suspend/resume, cancel, move back; all audited."""

from __future__ import annotations

import re

from engine import registry, runtime
from engine.db import transaction
from tests import factories
from tests.test_api import assert_error, bearer, login
from tests.test_sandbox import MODEL
from tests.test_task_operations import triaged


def test_an_incident_is_retried_with_corrected_data(client) -> None:
    with transaction() as session:
        registry.deploy(session, MODEL.format(pid="fragile", script="total = base + 1").encode(), "fragile.bpmn")
        iid = runtime.start_process(session, "fragile", {}, actor="test").id
    ops = bearer(factories.token("operator"))
    inst = client.get(f"/api/v1/instances/{iid}", headers=ops).get_json()
    assert inst["status"] == "incident" and "base" in inst["error"] and inst["error"].startswith("calc:")
    again = client.post(f"/api/v1/instances/{iid}/retry", json={}, headers=ops).get_json()
    assert again["status"] == "incident"  # same data, same failure, still visible
    fixed = client.post(f"/api/v1/instances/{iid}/retry", json={"variables": {"base": 41}}, headers=ops).get_json()
    assert fixed["status"] == "running" and fixed["error"] is None
    assert [t["bpmn_id"] for t in fixed["tasks"]] == ["next"]
    actions = [h["action"] for h in fixed["history"]]
    assert actions.count("instance.incident") == 2 and actions.count("instance.retried") == 2


def test_suspend_holds_the_tasks_and_resume_releases_them(client) -> None:
    tid = triaged(client)
    factories.user("officer", "SO-NNMT", name="giang")
    officer = client.application.test_client()
    csrf = login(officer, "giang")
    iid = officer.get(f"/api/v1/tasks/{tid}").get_json()["instance_id"]
    ops = bearer(factories.token("operator"))
    assert_error(client.post(f"/api/v1/instances/{iid}/suspend", json={"reason": ""}, headers=ops), 422)
    assert client.post(f"/api/v1/instances/{iid}/suspend", json={"reason": "Chờ ý kiến Bộ"},
                       headers=ops).get_json()["status"] == "suspended"
    blocked = officer.post(f"/api/v1/tasks/{tid}/complete", headers={"X-CSRFToken": csrf},
                           json={"values": {"actions_taken": "x"}})
    assert_error(blocked, 409, "instance_not_running")
    assert client.post(f"/api/v1/instances/{iid}/resume", json={}, headers=ops).get_json()["status"] == "running"
    done = officer.post(f"/api/v1/tasks/{tid}/complete", headers={"X-CSRFToken": csrf},
                        json={"values": {"actions_taken": "Đã xử lý"}})
    assert done.status_code == 200
    assert_error(client.post(f"/api/v1/instances/{iid}/suspend", json={"reason": "x"},
                             headers=bearer(factories.token("officer"))), 403)


def test_cancel_with_a_reason_closes_tasks_and_alert(client) -> None:
    tid = triaged(client)
    ops = bearer(factories.token("operator"))
    iid = client.get(f"/api/v1/tasks/{tid}", headers=bearer(factories.token("leader"))).get_json()["instance_id"]
    out = client.post(f"/api/v1/instances/{iid}/cancel", json={"reason": "Báo động giả"}, headers=ops).get_json()
    assert out["status"] == "cancelled" and [t["status"] for t in out["tasks"]] == ["completed", "cancelled"]
    (cancel,) = [h for h in out["history"] if h["action"] == "instance.cancelled"]
    assert cancel["details"]["reason"] == "Báo động giả"
    assert client.get("/api/v1/alerts?status=closed", headers=ops).get_json()[0]["instance_id"] == iid
    assert_error(client.post(f"/api/v1/instances/{iid}/cancel", json={"reason": "again"}, headers=ops), 409)


def test_an_administrator_moves_the_token_back_from_the_page(client) -> None:
    tid = triaged(client)
    factories.user("officer", "SO-NNMT", name="hoa")
    officer = client.application.test_client()
    csrf = login(officer, "hoa")
    officer.post(f"/api/v1/tasks/{tid}/complete", headers={"X-CSRFToken": csrf},
                 json={"values": {"actions_taken": "Sai địa điểm"}})
    iid = officer.get(f"/api/v1/tasks/{tid}").get_json()["instance_id"]
    factories.user("admin", "TT-IOC", name="root1")
    admin = client.application.test_client()
    login(admin, "root1")
    page = admin.get(f"/instances/{iid}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert 'value="rewind"' in page
    r = admin.post(f"/instances/{iid}", data={"csrf_token": token, "action": "rewind", "task": "handle",
                                              "reason": "Xử lý lại tại đúng địa điểm"})
    assert r.status_code == 302
    tasks = admin.get(f"/api/v1/instances/{iid}").get_json()["tasks"]
    assert [(t["bpmn_id"], t["status"]) for t in tasks][-2:] == [("report", "cancelled"), ("handle", "open")]
