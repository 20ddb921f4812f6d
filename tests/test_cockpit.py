"""The cockpit (issue 3, point 9): every process with its instances by status, the instances filtered and paged
with the step each waits at — a failed one found without knowing its number — and the wall's workflow status."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from engine import registry, runtime
from engine.db import transaction
from engine.models import HumanTask
from tests import factories
from tests.test_api import assert_error, bearer, login
from tests.test_directives import issue, people
from tests.test_sandbox import MODEL
from tests.test_task_operations import incident, triaged


def fragile(business_key: str = "hs-2026-001") -> int:
    """An instance stopped at once by a failed script step (status ``incident``)."""
    with transaction() as session:
        registry.deploy(session, MODEL.format(pid="fragile", script="total = base + 1").encode(), "fragile.bpmn")
        return runtime.start_process(session, "fragile", {}, actor="test", business_key=business_key).id


def test_a_failed_instance_is_found_by_status_number_and_business_key(client) -> None:
    failed = fragile()
    tid = triaged(client)  # an incident waiting at "handle" in SO-NNMT
    ops = bearer(factories.token("operator"))
    handling = client.get(f"/api/v1/tasks/{tid}", headers=bearer(factories.token("leader"))).get_json()["instance_id"]

    r = client.get("/api/v1/instances?status=incident", headers=ops)
    assert r.status_code == 200 and r.headers["X-Total-Count"] == "1"
    (row,) = r.get_json()
    assert row["id"] == failed and row["process"] == "fragile" and row["status"] == "incident"
    assert row["error"].startswith("calc:") and "base" in row["error"]

    active = client.get("/api/v1/instances", headers=ops).get_json()  # default: not ended
    assert {i["id"] for i in active} == {failed, handling}
    (waiting,) = [i for i in active if i["id"] == handling]
    assert [w["name"] for w in waiting["waiting_at"]] == ["Xử lý sự cố"] and waiting["waiting_at"][0]["due_at"]
    assert waiting["process"] == "incident" and waiting["version"] == 1

    assert [i["id"] for i in client.get("/api/v1/instances?process=incident", headers=ops).get_json()] == [handling]
    assert [i["id"] for i in client.get(f"/api/v1/instances?q=%23{failed}", headers=ops).get_json()] == [failed]
    assert [i["id"] for i in client.get("/api/v1/instances?q=2026-001", headers=ops).get_json()] == [failed]
    assert client.get("/api/v1/instances?status=completed", headers=ops).get_json() == []
    assert client.get("/api/v1/instances?q=99999999999999", headers=ops).get_json() == []  # no 500

    assert_error(client.get("/api/v1/instances?status=broken", headers=ops), 422)
    assert_error(client.get("/api/v1/instances", headers=bearer(factories.token("officer"))), 403)


def test_the_list_pages_newest_first(client) -> None:
    ids = [fragile(f"hs-{n}") for n in range(5)]
    ops = bearer(factories.token("leader"))
    first = client.get("/api/v1/instances?status=all&limit=2", headers=ops)
    second = client.get("/api/v1/instances?status=all&limit=2&offset=2", headers=ops)
    assert first.headers["X-Total-Count"] == "5"
    assert [i["id"] for i in first.get_json() + second.get_json()] == sorted(ids, reverse=True)[:4]


def test_overview_counts_instances_by_status_and_open_tasks(client) -> None:
    fragile()
    triaged(client)
    incident(client, entity="TH-AQ-02")  # a second incident, waiting at triage
    ops = bearer(factories.token("operator"))
    overview = {p["process_key"]: p for p in client.get("/api/v1/processes/overview", headers=ops).get_json()}
    assert overview["incident"]["by_status"]["running"] == 2 and overview["incident"]["tasks_open"] == 2
    assert overview["incident"]["tasks_overdue"] == 0
    assert overview["fragile"]["by_status"] == {"running": 0, "incident": 1, "suspended": 0, "completed": 0,
                                                "cancelled": 0}
    assert "directive" in overview and overview["directive"]["by_status"]["running"] == 0
    assert_error(client.get("/api/v1/processes/overview", headers=bearer(factories.token("officer"))), 403)

    # the triage task goes overdue: it is counted, and its step comes first on the wall though fewer wait there
    with transaction() as session:
        session.execute(update(HumanTask).where(HumanTask.bpmn_id == "triage", HumanTask.status == "open")
                        .values(due_at=datetime.now(UTC) - timedelta(minutes=5)))
    overview = {p["process_key"]: p for p in client.get("/api/v1/processes/overview", headers=ops).get_json()}
    assert (overview["incident"]["tasks_open"], overview["incident"]["tasks_overdue"]) == (2, 1)
    first = client.get("/api/v1/wall", headers=ops).get_json()["waiting_steps"][0]
    assert (first["bpmn_id"], first["name"], first["open"], first["overdue"]) == ("triage", "Phân loại và giao xử lý",
                                                                                  1, 1)


def test_the_cockpit_page_in_vietnamese_links_each_instance(client) -> None:
    failed = fragile()
    factories.user("operator", "TT-IOC", name="truc_ban")
    op = client.application.test_client()
    login(op, "truc_ban")
    page = op.get("/instances?status=incident").get_data(as_text=True)
    assert "Vận hành quy trình" in page and "Quy trình dừng" not in page
    assert f'href="/instances/{failed}"' in page and "gặp sự cố" in page and "calc:" in page
    assert re.search(r"1–1 trong 1 lượt chạy", page)
    # the overview's count links to the filtered list
    assert 'href="/instances?process=fragile&amp;status=incident"' in page
    empty = op.get("/instances?status=completed").get_data(as_text=True)
    assert "Không có lượt chạy nào phù hợp." in empty
    assert op.get("/instances?status=nonsense&page=-3").status_code == 200  # falls back, no error

    factories.user("officer", "SO-NNMT", name="can_bo")
    officer = client.application.test_client()
    login(officer, "can_bo")
    assert officer.get("/instances").status_code == 403


def test_the_wall_shows_where_work_waits_and_the_directives_in_progress(client) -> None:
    fragile()
    triaged(client)
    c = people(client)
    directive = issue(c["chu_tich"], datetime.now(UTC) + timedelta(days=3), ["SO-YT", "SO-XD"])
    ops = bearer(factories.token("operator"))
    wall = client.get("/api/v1/wall", headers=ops).get_json()
    assert wall["instances_incident"] == 1 and wall["instances_suspended"] == 0
    # the task counts come from the same pass: the incident's handle task is due within 4 hours (PT4H)
    assert (wall["tasks_open"], wall["tasks_overdue"], wall["tasks_due_soon"]) == (3, 0, 1)
    steps = {(w["process_name"], w["name"]): (w["open"], w["overdue"]) for w in wall["waiting_steps"]}
    assert steps[("Xử lý sự cố từ cảnh báo", "Xử lý sự cố")] == (1, 0)  # the incident, at its "handle" step
    directive_steps = {step: count for (process, step), count in steps.items() if process != "Xử lý sự cố từ cảnh báo"}
    assert sum(open_ for open_, _late in directive_steps.values()) == 2, directive_steps  # one per department
    (d,) = wall["directives"]
    assert d["id"] == directive["id"] and (d["done"], d["total"], d["overdue"]) == (0, 2, 0) and not d["late"]

    factories.user("leader", "VP-UBND", name="pho_chu_tich")
    leader = client.application.test_client()
    login(leader, "pho_chu_tich")
    page = leader.get("/wall").get_data(as_text=True)
    assert "Công việc đang chờ ở đâu" in page and "Chỉ đạo đang thực hiện" in page
    assert "0/2 đơn vị đã hoàn thành" in page and "Kiểm tra an toàn thực phẩm dịp Tết" in page
    assert 'href="/instances?status=incident"' in page
