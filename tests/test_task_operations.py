"""Human tasks beyond claim/complete: give back, hand over with a reason, comments, inbox filters,
and fifty simultaneous completions of one task."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import requests

from engine import jobs
from tests import factories
from tests.conftest import Server, ioc
from tests.test_api import assert_error, bearer, login


def incident(client, **event) -> None:
    ids = client.post("/api/v1/events", json={"events": [factories.aqi_event(aqi=199, **event)]},
                      headers=bearer(factories.token())).get_json()["ids"]
    jobs.process_events(ids)


def triaged(client, department: str = "SO-NNMT", **event) -> int:
    """An incident assigned to ``department``; returns its handle task's id."""
    incident(client, **event)
    factories.user("operator", "TT-IOC", name=f"op_{department}")
    op = client.application.test_client()
    csrf = login(op, f"op_{department}")
    (triage,) = [t for t in op.get("/api/v1/tasks").get_json() if t["bpmn_id"] == "triage"]
    r = op.post(f"/api/v1/tasks/{triage['id']}/complete", headers={"X-CSRFToken": csrf},
                json={"values": {"department": department, "due_in": "PT4H"}})
    assert r.status_code == 200
    (handle,) = [t for t in op.get(f"/api/v1/instances/{r.get_json()['instance_id']}").get_json()["tasks"]
                 if t["bpmn_id"] == "handle"]
    return int(handle["id"])


def test_give_back_and_hand_over_to_another_department(client) -> None:
    tid = triaged(client)
    factories.user("officer", "SO-NNMT", name="an")
    factories.user("officer", "SO-XD", name="binh")
    an = client.application.test_client()
    csrf_an = login(an, "an")
    binh = client.application.test_client()
    csrf_binh = login(binh, "binh")
    assert an.post(f"/api/v1/tasks/{tid}/claim", headers={"X-CSRFToken": csrf_an}).get_json()["assignee"] == "an"
    assert_error(binh.post(f"/api/v1/tasks/{tid}/unclaim", headers={"X-CSRFToken": csrf_binh}), 403)
    back = an.post(f"/api/v1/tasks/{tid}/unclaim", headers={"X-CSRFToken": csrf_an}).get_json()
    assert back["assignee"] is None

    no_reason = an.post(f"/api/v1/tasks/{tid}/delegate", headers={"X-CSRFToken": csrf_an},
                        json={"reason": "", "department": "SO-XD"})
    assert_error(no_reason, 422)
    assert [t["id"] for t in binh.get("/api/v1/tasks").get_json()] == []
    moved = an.post(f"/api/v1/tasks/{tid}/delegate", headers={"X-CSRFToken": csrf_an},
                    json={"reason": "Thuộc thẩm quyền Sở Xây dựng", "department": "SO-XD"})
    assert moved.status_code == 200 and moved.get_json()["candidate_department"] == "SO-XD"
    assert [t["id"] for t in binh.get("/api/v1/tasks").get_json()] == [tid]  # at once in the new inbox
    assert [t["id"] for t in an.get("/api/v1/tasks").get_json()] == []      # and gone from the old one
    history = binh.get(f"/api/v1/instances/{moved.get_json()['instance_id']}").get_json()["history"]
    (handover,) = [h for h in history if h["action"] == "task.delegated"]
    assert handover["actor"] == "an" and handover["details"]["reason"] == "Thuộc thẩm quyền Sở Xây dựng"


def test_hand_over_to_a_person_and_comments(client) -> None:
    tid = triaged(client)
    factories.user("officer", "SO-NNMT", name="chi")
    factories.user("officer", "SO-YT", name="dung")
    chi = client.application.test_client()
    csrf = login(chi, "chi")
    r = chi.post(f"/api/v1/tasks/{tid}/delegate", headers={"X-CSRFToken": csrf},
                 json={"reason": "Cán bộ y tế nắm địa bàn", "user": "dung"})
    assert r.get_json()["assignee"] == "dung"
    dung = client.application.test_client()
    csrf_d = login(dung, "dung")
    assert dung.post(f"/api/v1/tasks/{tid}/comments", headers={"X-CSRFToken": csrf_d},
                     json={"body": "Đã liên hệ trạm y tế xã"}).status_code == 201
    comments = dung.get(f"/api/v1/tasks/{tid}/comments").get_json()
    assert [(c["author"], c["body"]) for c in comments] == [("dung", "Đã liên hệ trạm y tế xã")]
    assert_error(dung.post(f"/api/v1/tasks/{tid}/comments", headers={"X-CSRFToken": csrf_d}, json={"body": ""}), 422)
    page = dung.get(f"/tasks/{tid}").get_data(as_text=True)
    assert "Đã liên hệ trạm y tế xã" in page


def test_inbox_filters_by_sector_unit_and_due_soon(client) -> None:
    triaged(client, unit="14758")
    factories.user("officer", "SO-NNMT", name="em")
    em = client.application.test_client()
    login(em, "em")
    assert len(em.get("/api/v1/tasks?unit=14758").get_json()) == 1
    assert em.get("/api/v1/tasks?unit=14797").get_json() == []
    assert len(em.get("/api/v1/tasks?sector=environment").get_json()) == 1
    assert em.get("/api/v1/tasks?sector=traffic").get_json() == []
    assert len(em.get("/api/v1/tasks?due_soon=true").get_json()) == 1  # due in 4 hours, counted as soon
    page = em.get("/inbox?unit=14758").get_data(as_text=True)
    assert page.count('data-task-id="') == 1


PASSWORD = "Race-Password-2026"


def test_fifty_simultaneous_completions_one_wins(server: Server) -> None:
    token = ioc("token", "create", "gw", "--role", "operator", env=server.env).stdout.strip()
    ioc("user", "add", "racer", "--role", "operator", "--department", "TT-IOC", "--password", PASSWORD,
        env=server.env)
    ev = {"source": "gw", "type": "air_quality", "sector": "environment", "entity": "RACE",
          "time": datetime.now(UTC).isoformat(), "values": {"aqi": 201}}
    requests.post(f"{server.base}/api/v1/events", json={"events": [ev]}, headers={"Authorization": f"Bearer {token}"})
    sessions = []
    for _ in range(50):
        s = requests.Session()
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', s.get(f"{server.base}/login").text).group(1)
        s.post(f"{server.base}/login", data={"username": "racer", "password": PASSWORD, "csrf_token": csrf})
        s.headers["X-CSRFToken"] = re.search(r'name="csrf-token" content="([^"]+)"',
                                             s.get(f"{server.base}/inbox").text).group(1)
        sessions.append(s)
    task = None
    for _ in range(100):
        tasks = sessions[0].get(f"{server.base}/api/v1/tasks").json()
        if tasks:
            task = tasks[0]
            break
        __import__("time").sleep(0.2)
    assert task is not None
    url = f"{server.base}/api/v1/tasks/{task['id']}/complete"
    body = {"values": {"department": "SO-NNMT", "due_in": "PT4H"}}
    with ThreadPoolExecutor(max_workers=50) as pool:
        codes = list(pool.map(lambda s: s.post(url, json=body, timeout=60).status_code, sessions))
    assert sorted(codes) == [200] + [409] * 49, codes
    instance = sessions[0].get(f"{server.base}/api/v1/instances/{task['instance_id']}").json()
    assert [t["bpmn_id"] for t in instance["tasks"]] == ["triage", "handle"]  # the flow moved on once


def test_candidate_users_see_the_task_and_others_do_not(client) -> None:
    from engine import registry, runtime
    from engine.db import transaction
    from tests.test_bpmn_deploy import minimal

    factories.user("officer", "SO-YT", name="quang")
    factories.user("officer", "SO-YT", name="son")
    content = minimal(pid="named").replace(b'camunda:candidateGroups="role:officer"',
                                           b'camunda:candidateUsers="quang, ${second}"')
    with transaction() as session:
        registry.deploy(session, content, "named.bpmn")
        runtime.start_process(session, "named", {"second": "nobody"}, actor="test")
    quang = client.application.test_client()
    login(quang, "quang")
    son = client.application.test_client()
    login(son, "son")
    assert [t["bpmn_id"] for t in quang.get("/api/v1/tasks").get_json()] == ["work"]
    assert [t["bpmn_id"] for t in quang.get("/api/v1/tasks?scope=department").get_json()] == ["work"]
    assert son.get("/api/v1/tasks").get_json() == []


def test_the_task_list_pages_with_limit_and_offset(client) -> None:
    for entity in ("P1", "P2", "P3"):
        incident(client, entity=entity)
    ops = bearer(factories.token("leader"))
    all_ids = [t["id"] for t in client.get("/api/v1/tasks", headers=ops).get_json()]
    assert len(all_ids) == 3
    pages = [client.get(f"/api/v1/tasks?limit=2&offset={o}", headers=ops).get_json() for o in (0, 2)]
    assert [t["id"] for p in pages for t in p] == all_ids
