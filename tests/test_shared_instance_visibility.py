"""A directive to two departments is one shared process: the officer of one department follows where the other
stands (its steps, their status and dates) but never reads its notes, report, comments or files; the leader reads
everything (engine.visibility, docs/security.md)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

from engine import bus
from engine.redis_conn import redis_client
from tests import factories
from tests.test_api import assert_error, login
from tests.test_directives import complete, issue, only_task
from web.api.stream import visible_change

SECRETS = ("ghi chú bí mật A", "báo cáo A", "bình luận A", "bao-cao-A.png", "Bổ sung số liệu A")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def _client(client, name: str):  # type: ignore[no-untyped-def]
    c = client.application.test_client()
    c.environ_base["HTTP_X_CSRFTOKEN"] = login(c, name)
    return c


def _text(resp) -> str:  # type: ignore[no-untyped-def]
    return json.dumps(resp.get_json(), ensure_ascii=False) if resp.is_json else resp.get_data(as_text=True)


def _leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def test_an_officer_follows_another_department_without_reading_its_work(client) -> None:
    factories.user("leader", "VP-UBND", name="chu_tich")
    factories.user("officer", "SO-YT", name="yte")
    officer_b = factories.user("officer", "SO-XD", name="xaydung")
    leader, a, b = (_client(client, n) for n in ("chu_tich", "yte", "xaydung"))
    d = issue(leader, datetime.now(UTC) + timedelta(days=3), ["SO-YT", "SO-XD"])

    # Sở Y tế (A): acknowledges with a note, comments and attaches a file on its report, reports; returned
    complete(a, only_task(a, "acknowledge"), {"ack_note": "ghi chú bí mật A"})
    a_execute = only_task(a, "execute")
    assert a.post(f"/api/v1/tasks/{a_execute['id']}/comments", json={"body": "bình luận A"}).status_code == 201
    file = a.post(f"/api/v1/tasks/{a_execute['id']}/attachments", data={"file": (io.BytesIO(PNG), "bao-cao-A.png")},
                  content_type="multipart/form-data").get_json()
    complete(a, a_execute, {"outcome": "report", "report_text": "báo cáo A"})
    complete(leader, only_task(leader, "review"), {"decision": "return", "review_comment": "Bổ sung số liệu A"})
    # Sở Xây dựng (B): acknowledges with its own note
    complete(b, only_task(b, "acknowledge"), {"ack_note": "ghi chú B"})
    b_execute = only_task(b, "execute")
    url = f"/api/v1/instances/{d['instance_id']}"

    seen = b.get(url)
    assert seen.status_code == 200 and _leaks(_text(seen)) == []
    body = seen.get_json()
    a_steps = [t for t in body["tasks"] if t["candidate_department"] == "SO-YT"]
    assert {(t["bpmn_id"], t["status"]) for t in a_steps} >= {("acknowledge", "completed"), ("execute", "open")}
    assert all(t["result"] is None and t["form"] == [] for t in a_steps)  # where A stands, not what A wrote
    assert "ghi chú B" in _text(seen)  # B's own work is B's to read
    a_done = [h for h in body["history"]
              if h["action"] == "task.completed" and h["details"].get("department") == "SO-YT"]
    assert a_done and all(set(h["details"]) == {"task", "name", "department"} for h in a_done)

    for page in (f"/instances/{d['instance_id']}", f"/tasks/{b_execute['id']}"):  # the task page shows the history
        html = b.get(page)
        assert html.status_code == 200 and _leaks(html.get_data(as_text=True)) == [], page
    assert f"/tasks/{a_execute['id']}\"" not in b.get(f"/instances/{d['instance_id']}").get_data(as_text=True)
    for path in (f"/api/v1/tasks/{a_execute['id']}", f"/api/v1/tasks/{a_execute['id']}/comments",
                 f"/api/v1/tasks/{a_execute['id']}/attachments", f"/api/v1/tasks/attachments/{file['id']}"):
        assert_error(b.get(path), 403)
    steps = {p["department"]: p for p in b.get(f"/api/v1/directives/{d['id']}").get_json()["departments"]}
    assert steps["SO-YT"]["state"] == "in_progress" and steps["SO-YT"]["task_id"] is None
    assert steps["SO-XD"]["task_id"] == b_execute["id"]

    # the live stream carries no contents, and B receives none of A's changes
    changes = [json.loads(f[b"data"]) for _id, f in redis_client().xrange(bus.STREAM)]
    assert changes and _leaks(json.dumps(changes, ensure_ascii=False)) == []
    assert [c for c in changes if visible_change(officer_b, c) and c.get("task_id") == a_execute["id"]] == []

    # A reads its own work and the leader's reason for the return, not B's note; the leader reads everything
    own = _text(a.get(url))
    assert {"ghi chú bí mật A", "báo cáo A", "Bổ sung số liệu A"} <= set(_leaks(own)) and "ghi chú B" not in own
    everything = _text(leader.get(url))
    assert {"ghi chú bí mật A", "báo cáo A", "Bổ sung số liệu A"} <= set(_leaks(everything))
    assert "ghi chú B" in everything
    assert "ghi chú bí mật A" in leader.get(f"/instances/{d['instance_id']}").get_data(as_text=True)
