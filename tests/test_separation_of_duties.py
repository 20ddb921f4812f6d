"""Separation of duties (docs/adr/0012-separation-of-duties.md): a person's process version or rule change takes
effect only once a second person approves it, having seen its diff, and nobody approves their own; an
administrator completes an officer's task only after taking it over, with a reason; a designer does not acknowledge
alerts."""

from __future__ import annotations

import io
import re

from sqlalchemy import select

from engine import alerts, registry, runtime
from engine.db import transaction, utcnow
from engine.models import AuditEntry, RuleChange
from tests import factories
from tests.conftest import ROOT
from tests.test_api import assert_error, login
from tests.test_bpmn_deploy import minimal
from tests.test_rule_editor import form_of, rules_dir  # noqa: F401 - the fixture

INCIDENT = (ROOT / "processes" / "incident.bpmn").read_bytes().replace(
    b'processRef="incident"', b'processRef="sod_incident"').replace(b'<bpmn:process id="incident"',
                                                                   b'<bpmn:process id="sod_incident"')


def person(app, role: str, name: str, department: str | None = None):  # type: ignore[no-untyped-def]
    """A logged-in test client of a new user, and the headers its API calls need."""
    factories.user(role, department, name=name)
    c = app.test_client()
    return c, {"X-CSRFToken": login(c, name)}


def deploy(c, headers, content: bytes, name: str):  # type: ignore[no-untyped-def]
    return c.post("/api/v1/processes", headers=headers, content_type="multipart/form-data",
                  data={"file": (io.BytesIO(content), name)})


def audit(action: str) -> list[AuditEntry]:
    with transaction() as s:
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))
        s.expunge_all()
        return rows


def test_a_designer_routing_the_review_to_himself_waits_for_an_administrator(app) -> None:
    with transaction() as s:
        (v1,) = registry.deploy(s, INCIDENT, "sod_incident.bpmn")
    designer, dh = person(app, "designer", "thietke_sod")
    rerouted = INCIDENT.replace(b'camunda:candidateGroups="role:leader"', b'camunda:candidateGroups="role:designer"')
    r = deploy(designer, dh, rerouted, "sod_incident.bpmn")
    assert r.status_code == 201, r.get_data(as_text=True)
    (v2,) = r.get_json()
    assert (v2["version"], v2["status"]) == (v1.version + 1, "pending")
    with transaction() as s:  # a new instance (an alert's scenario, a directive) still starts from the approved one
        assert runtime.start_process(s, "sod_incident", {}, actor="test").definition.version == v1.version
        assert registry.latest(s, "sod_incident").version == v1.version
    assert_error(designer.post(f"/api/v1/processes/{v2['id']}/approve", headers=dh), 403)

    admin, ah = person(app, "admin", "quantri_sod")
    (pending,) = [p for p in admin.get("/api/v1/processes/pending").get_json() if p["id"] == v2["id"]]
    assert pending["current_version"] == v1.version
    assert '-                   camunda:candidateGroups="role:leader"' in pending["diff"]
    assert '+                   camunda:candidateGroups="role:designer"' in pending["diff"]
    page = admin.get("/approvals").get_data(as_text=True)
    assert "role:designer" in page and "thietke_sod" in page
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert admin.post(f"/approvals/processes/{v2['id']}", data={"action": "approve", "csrf_token": csrf}
                      ).status_code == 302
    with transaction() as s:
        assert runtime.start_process(s, "sod_incident", {}, actor="test").definition.version == v2["version"]
    (deployed,) = [e for e in audit("process.deployed") if e.object_id == str(v2["id"])]
    (approved,) = [e for e in audit("process.approved") if e.object_id == str(v2["id"])]
    assert (deployed.actor, approved.actor, approved.details["deployed_by"]) == (
        "thietke_sod", "quantri_sod", "thietke_sod")


def test_nobody_approves_their_own_version_and_leaders_approve_directive_flows_only(app) -> None:
    admin, ah = person(app, "admin", "quantri_own")
    leader, lh = person(app, "leader", "lanhdao_own")
    (mine,) = deploy(admin, ah, minimal(pid="sod_own"), "sod_own.bpmn").get_json()
    err = assert_error(admin.post(f"/api/v1/processes/{mine['id']}/approve", headers=ah), 403, "own_change")
    assert "another person" in err["message"] or "người khác" in err["message"]
    assert_error(leader.post(f"/api/v1/processes/{mine['id']}/approve", headers=lh), 403, "not_an_approver")
    (flow,) = deploy(admin, ah, minimal(pid="directive_sod"), "directive_sod.bpmn").get_json()
    assert leader.post(f"/api/v1/processes/{flow['id']}/approve", headers=lh).get_json()["status"] == "approved"


def test_a_rule_change_waits_for_a_second_administrator(app, rules_dir) -> None:  # noqa: F811
    author, _h = person(app, "admin", "quantri_a")
    before = (rules_dir / "environment.yaml").read_text()
    form = form_of(author.get("/rules/aqi-poor").get_data(as_text=True))
    form.update(value="120", action="save")
    assert author.post("/rules/aqi-poor", data=form).status_code == 302
    assert (rules_dir / "environment.yaml").read_text() == before  # not in effect yet
    with transaction() as s:
        change_id = s.scalar(select(RuleChange.id).where(RuleChange.status == "pending"))
    page = author.get("/rules/aqi-poor").get_data(as_text=True)
    assert "+    value: 120" in page and 'value="approve"' not in page  # the author sees no approve button
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert author.post(f"/rules/aqi-poor/changes/{change_id}", data={"action": "approve", "csrf_token": csrf}
                       ).status_code == 403
    assert (rules_dir / "environment.yaml").read_text() == before

    second, _h = person(app, "admin", "quantri_b")
    page = second.get("/rules/aqi-poor").get_data(as_text=True)
    assert "-    value: 150" in page and 'value="approve"' in page
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert second.post(f"/rules/aqi-poor/changes/{change_id}", data={"action": "approve", "csrf_token": csrf}
                       ).status_code == 302
    assert "    value: 120\n" in (rules_dir / "environment.yaml").read_text()
    (proposed,), (changed,) = audit("rules.change_proposed"), audit("rules.changed")
    assert (proposed.actor, changed.actor, changed.details["proposed_by"]) == ("quantri_a", "quantri_b", "quantri_a")


def test_an_administrator_takes_over_an_officers_task_before_completing_it(app) -> None:
    with transaction() as s:
        registry.deploy(s, minimal(pid="sod_task").replace(b"role:officer", b"department:SO-XD"), "sod_task.bpmn")
        instance = runtime.start_process(s, "sod_task", {}, actor="test")
        (task,) = runtime.current_step(s, instance)
        task_id = task.id
    admin, ah = person(app, "admin", "quantri_task")
    assert_error(admin.post(f"/api/v1/tasks/{task_id}/complete", headers=ah, json={"values": {}}), 403,
                 "take_over_required")
    assert_error(admin.post(f"/api/v1/tasks/{task_id}/claim", headers=ah), 403, "take_over_required")
    assert "take-over-form" in admin.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert_error(admin.post(f"/api/v1/tasks/{task_id}/take-over", headers=ah, json={"reason": ""}), 422)
    reason = "Sở Xây dựng mất điện, quản trị nhập thay theo điện thoại của giám đốc sở"
    taken = admin.post(f"/api/v1/tasks/{task_id}/take-over", headers=ah, json={"reason": reason})
    assert taken.status_code == 200 and taken.get_json()["assignee"] == "quantri_task"
    done = admin.post(f"/api/v1/tasks/{task_id}/complete", headers=ah, json={"values": {}})
    assert done.status_code == 200 and done.get_json()["status"] == "completed"
    (entry,) = [e for e in audit("task.taken_over") if e.object_id == str(task_id)]
    assert (entry.actor, entry.details["reason"]) == ("quantri_task", reason)


def test_a_designer_does_not_acknowledge_alerts(app) -> None:
    with transaction() as s:
        alert, _new = alerts.open_alert(s, alerts.Firing(
            rule_id="sod", dedupe_key="sod:ack", title="Cảnh báo thử", severity="cao", sector="environment",
            entity="TH-SOD", unit_code=None, value=1.0, time=utcnow()))
        alert_id = alert.id
    designer, dh = person(app, "designer", "thietke_ack")
    assert_error(designer.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=dh), 403, "role_cannot_acknowledge")
    page = designer.get(f"/alerts/{alert_id}").get_data(as_text=True)
    assert 'id="acknowledge"' not in page
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert designer.post(f"/alerts/{alert_id}", data={"csrf_token": csrf}).status_code == 403
    operator, oh = person(app, "operator", "trucban_ack", "TT-IOC")
    assert operator.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=oh).get_json()["acknowledged_by"] == \
        "trucban_ack"
