"""A new version takes over running instances where safe: preview, then migrate, audited."""

from __future__ import annotations

from engine import registry, runtime
from engine.db import transaction
from tests import factories
from tests.test_api import assert_error, bearer
from tests.test_bpmn_deploy import minimal


def v2(pid: str) -> bytes:
    return minimal(pid=pid).replace(
    b'<bpmn:endEvent id="e"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>',
        b'<bpmn:userTask id="check" name="Check" camunda:candidateGroups="role:leader">'
        b'<bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f9</bpmn:outgoing></bpmn:userTask>'
        b'<bpmn:endEvent id="e"><bpmn:incoming>f9</bpmn:incoming></bpmn:endEvent>'
        b'<bpmn:sequenceFlow id="f9" sourceRef="check" targetRef="e" />').replace(
        b'<bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="e" />',
        b'<bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="check" />')


def start_v1(pid: str) -> int:
    with transaction() as session:
        registry.deploy(session, minimal(pid=pid), f"{pid}.bpmn")
        return runtime.start_process(session, pid, {}, actor="test").id


def test_preview_then_migrate_to_a_version_with_a_new_step(client) -> None:
    iid = start_v1("mig_a")
    with transaction() as session:
        (target,) = registry.deploy(session, v2("mig_a"), "mig_a.bpmn")
    admin = bearer(factories.token("admin"))
    plan = client.get(f"/api/v1/instances/{iid}/migration", headers=admin).get_json()
    assert plan["safe"] is True and (plan["from_version"], plan["to_version"]) == (1, 2)
    assert_error(client.post(f"/api/v1/instances/{iid}/migration", json={},
                             headers=bearer(factories.token("officer"))), 403)
    moved = client.post(f"/api/v1/instances/{iid}/migration", json={"to": target.id}, headers=admin).get_json()
    assert moved["version"] == 2
    assert "instance.migrated" in [h["action"] for h in moved["history"]]
    # the instance now follows version 2: after "work" comes the new "check" step
    officer = factories.user("officer", "SO-NNMT")
    with transaction() as session:
        from engine import tasks

        (work,) = runtime.current_step(session, runtime.get_instance(session, iid))
        tasks.complete_task(session, work.id, officer, {})
    with transaction() as session:
        assert [t.bpmn_id for t in runtime.current_step(session, runtime.get_instance(session, iid))] == ["check"]


def test_changing_a_step_already_done_is_refused(client) -> None:
    with transaction() as session:
        registry.deploy(session, v2("mig_b"), "mig_b.bpmn")  # v1 of "mig_b" here has the check step
        iid = runtime.start_process(session, "mig_b", {}, actor="test").id
    officer = factories.user("officer", "SO-NNMT")
    with transaction() as session:
        from engine import tasks

        (work,) = runtime.current_step(session, runtime.get_instance(session, iid))
        tasks.complete_task(session, work.id, officer, {})
    with transaction() as session:
        registry.deploy(session, v2("mig_b").replace(b'name="Do it"', b'name="Do it differently"'), "mig_b.bpmn")
    admin = bearer(factories.token("admin"))
    plan = client.get(f"/api/v1/instances/{iid}/migration", headers=admin).get_json()
    assert plan["safe"] is False and any("work" in r for r in plan["reasons"])
    err = assert_error(client.post(f"/api/v1/instances/{iid}/migration", json={}, headers=admin), 409,
                       "unsafe_migration")
    assert err["details"]["reasons"]


def test_the_instance_page_offers_the_migration(client) -> None:
    import re

    from tests.test_api import login

    iid = start_v1("mig_c")
    with transaction() as session:
        registry.deploy(session, v2("mig_c"), "mig_c.bpmn")
    factories.user("designer", "TT-IOC", name="tk")
    login(client, "tk")
    page = client.get(f"/instances/{iid}").get_data(as_text=True)
    assert 'id="migration"' in page and 'value="migrate"' in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post(f"/instances/{iid}", data={"csrf_token": token, "action": "migrate"}).status_code == 302
    assert 'id="migration"' not in client.get(f"/instances/{iid}").get_data(as_text=True)
