"""The directive journey: issue → acknowledge → report → return → report → accept; extension → approve;
overdue → escalation to the leader. Each department runs in its own branch (parallel multi-instance)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from engine import timers
from tests import factories
from tests.test_api import assert_error, login


def people(client):  # type: ignore[no-untyped-def]
    factories.user("leader", "VP-UBND", name="chu_tich")
    factories.user("officer", "SO-YT", name="yte")
    factories.user("officer", "SO-XD", name="xaydung")
    out = {}
    for name in ("chu_tich", "yte", "xaydung"):
        c = client.application.test_client()
        csrf = login(c, name)
        c.environ_base["HTTP_X_CSRFTOKEN"] = csrf
        out[name] = c
    return out


def only_task(c, bpmn_id: str) -> dict:  # type: ignore[no-untyped-def]
    tasks = [t for t in c.get("/api/v1/tasks").get_json() if t["bpmn_id"] == bpmn_id]
    assert len(tasks) == 1, (bpmn_id, tasks)
    return tasks[0]


def complete(c, task: dict, values: dict) -> None:  # type: ignore[no-untyped-def]
    r = c.post(f"/api/v1/tasks/{task['id']}/complete", json={"values": values})
    assert r.status_code == 200, r.get_json()


def progress(c, directive_id: int) -> dict[str, str]:  # type: ignore[no-untyped-def]
    d = c.get(f"/api/v1/directives/{directive_id}").get_json()
    return {p["department"]: p["state"] for p in d["departments"]}


def issue(c, deadline: datetime, departments: list[str]) -> dict:  # type: ignore[no-untyped-def]
    r = c.post("/api/v1/directives", json={"title": "Kiểm tra an toàn thực phẩm dịp Tết", "content": "Báo cáo kết quả",
                                           "deadline": deadline.isoformat(), "departments": departments})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_return_then_accept_and_extension_then_approve(client) -> None:
    p = people(client)
    leader, yte, xd = p["chu_tich"], p["yte"], p["xaydung"]
    assert_error(yte.post("/api/v1/directives", json={"title": "x", "deadline": "2030-01-01T00:00:00Z",
                                                      "departments": ["SO-YT"]}), 403)
    assert_error(leader.post("/api/v1/directives", json={"title": "x", "deadline": "2020-01-01T00:00:00Z",
                                                         "departments": ["NOPE"]}), 422)
    d = issue(leader, datetime.now(UTC) + timedelta(days=3), ["SO-YT", "SO-XD"])
    assert progress(leader, d["id"]) == {"SO-YT": "to_acknowledge", "SO-XD": "to_acknowledge"}
    assert only_task(yte, "acknowledge")["title"] == "Chỉ đạo: Kiểm tra an toàn thực phẩm dịp Tết"

    # Sở Y tế: acknowledge, report, returned, report again, accepted
    complete(yte, only_task(yte, "acknowledge"), {"ack_note": "Phòng Nghiệp vụ chủ trì"})
    execute = only_task(yte, "execute")
    assert abs(datetime.fromisoformat(execute["due_at"]) - datetime.fromisoformat(d["deadline"])) < timedelta(seconds=1)
    complete(yte, execute, {"outcome": "report", "report_text": "Đã kiểm tra 12 cơ sở"})
    assert progress(leader, d["id"])["SO-YT"] == "to_review"
    complete(leader, only_task(leader, "review"), {"decision": "return", "review_comment": "Bổ sung số liệu xử phạt"})
    assert progress(leader, d["id"])["SO-YT"] == "in_progress"
    complete(yte, only_task(yte, "execute"), {"outcome": "report", "report_text": "Đã kiểm tra 12 cơ sở, xử phạt 2"})
    complete(leader, only_task(leader, "review"), {"decision": "accept"})
    assert progress(leader, d["id"]) == {"SO-YT": "done", "SO-XD": "to_acknowledge"}

    # Sở Xây dựng: asks for an extension, the leader approves: the deadline moves
    complete(xd, only_task(xd, "acknowledge"), {})
    complete(xd, only_task(xd, "execute"), {"outcome": "extension", "report_text": "Chờ số liệu quý IV",
                                            "requested_date": "2027-01-15"})
    assert progress(leader, d["id"])["SO-XD"] == "extension_asked"
    complete(leader, only_task(leader, "extension"), {"extension_decision": "approve"})
    again = only_task(xd, "execute")
    assert datetime.fromisoformat(again["due_at"]) == datetime(2027, 1, 15, 10, 0, tzinfo=UTC)  # 17:00 in Hà Nội
    complete(xd, again, {"outcome": "report", "report_text": "Hoàn thành"})
    complete(leader, only_task(leader, "review"), {"decision": "accept"})

    final = leader.get(f"/api/v1/directives/{d['id']}").get_json()
    assert final["done"] == 2 and final["total"] == 2 and final["status"] == "completed"
    page = leader.get("/directives").get_data(as_text=True)
    assert "2/2" in page and "Kiểm tra an toàn thực phẩm dịp Tết" in page


def test_overdue_work_is_escalated_to_the_leader(client) -> None:
    p = people(client)
    leader, yte = p["chu_tich"], p["yte"]
    d = issue(leader, datetime.now(UTC) + timedelta(seconds=2), ["SO-YT"])
    complete(yte, only_task(yte, "acknowledge"), {})
    timers.fire_due_timers()  # the reminder (24 h before a 2-second deadline) is already due
    time.sleep(2.2)
    timers.fire_due_timers()
    escalation = only_task(leader, "escalation")
    assert escalation["title"].startswith("Chỉ đạo:") and escalation["priority"] == 90
    assert progress(leader, d["id"]) == {"SO-YT": "overdue"}
    history = leader.get(f"/api/v1/instances/{d['instance_id']}").get_json()["history"]
    assert [h["action"] for h in history].count("timer.fired") >= 1
    # the department can still report; the escalation stays with the leader
    complete(yte, only_task(yte, "execute"), {"outcome": "report", "report_text": "Muộn nhưng đã xong"})
    assert progress(leader, d["id"]) == {"SO-YT": "to_review"}


def test_a_department_sees_only_directives_addressed_to_it(client) -> None:
    p = people(client)
    d = issue(p["chu_tich"], datetime.now(UTC) + timedelta(days=1), ["SO-XD"])
    assert p["yte"].get("/api/v1/directives").get_json() == []
    assert_error(p["yte"].get(f"/api/v1/directives/{d['id']}"), 403)
    assert [x["id"] for x in p["xaydung"].get("/api/v1/directives").get_json()] == [d["id"]]
