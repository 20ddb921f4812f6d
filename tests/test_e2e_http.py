"""The whole loop through HTTP only, against a real ``ioc run`` (web + worker + Redis + database)."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime

import requests

from tests.conftest import Server, ioc

PASSWORD = "E2e-Password-2026"


def person(server: Server, username: str, role: str, department: str | None = None) -> requests.Session:
    args = ["user", "add", username, "--role", role, "--password", PASSWORD]
    if department:
        args += ["--department", department]
    ioc(*args, env=server.env)
    s = requests.Session()
    page = s.get(f"{server.base}/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = s.post(f"{server.base}/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf},
               allow_redirects=False)
    assert r.status_code == 302
    s.headers["X-CSRFToken"] = re.search(r'name="csrf-token" content="([^"]+)"', s.get(f"{server.base}/inbox").text
                                         ).group(1)
    return s


def wait_for_task(s: requests.Session, server: Server, bpmn_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for t in s.get(f"{server.base}/api/v1/tasks").json():
            if t["bpmn_id"] == bpmn_id:
                return t
        time.sleep(0.2)
    raise AssertionError(f"no {bpmn_id} task within {timeout} s")


def complete(s: requests.Session, server: Server, task: dict, values: dict) -> dict:
    r = s.post(f"{server.base}/api/v1/tasks/{task['id']}/complete", json={"values": values})
    assert r.status_code == 200, r.text
    return r.json()


def test_event_to_closed_incident_over_http(server: Server) -> None:
    token = ioc("token", "create", "station-gateway", "--role", "operator", env=server.env).stdout.strip()
    operator = person(server, "e2e_trucban", "operator", "TT-IOC")
    officer = person(server, "e2e_chuyenvien", "officer", "SO-NNMT")
    leader = person(server, "e2e_lanhdao", "leader")

    event = {"source": "aqi-gateway", "type": "air_quality", "sector": "environment", "entity": "TH-AQ-E2E",
             "time": datetime.now(UTC).isoformat(), "values": {"aqi": 231}, "idempotency_key": "e2e-1"}
    r = requests.post(f"{server.base}/api/v1/events", json={"events": [event]},
                      headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 202 and r.json()["accepted"] == 1

    triage = wait_for_task(operator, server, "triage")
    assert officer.get(f"{server.base}/api/v1/tasks").json() == []  # not the officer's yet
    complete(operator, server, triage, {"department": "SO-NNMT", "due_in": "PT4H", "instruction": "Xử lý gấp"})

    handle = wait_for_task(officer, server, "handle", timeout=5)
    assert officer.post(f"{server.base}/api/v1/tasks/{handle['id']}/claim").json()["assignee"] == "e2e_chuyenvien"
    complete(officer, server, handle, {"actions_taken": "Kiểm tra hiện trường, yêu cầu dừng đốt"})
    report = wait_for_task(officer, server, "report", timeout=5)
    complete(officer, server, report, {"report_text": "Đã xử lý", "resolved": True})
    review = wait_for_task(leader, server, "review", timeout=5)
    done = complete(leader, server, review, {"decision": "accept", "leader_comment": "Đồng ý"})

    instance = leader.get(f"{server.base}/api/v1/instances/{done['instance_id']}").json()
    assert instance["status"] == "completed"
    steps = [(h["action"], h["actor"]) for h in instance["history"]]
    assert steps[0][0] == "instance.started" and steps[-1][0] == "instance.completed"
    assert ("task.completed", "e2e_lanhdao") in steps and ("task.claimed", "e2e_chuyenvien") in steps
    alerts = leader.get(f"{server.base}/api/v1/alerts?status=closed").json()
    assert [a["title"] for a in alerts] == ["VN_AQI 231 tại trạm TH-AQ-E2E"]
    page = leader.get(f"{server.base}/instances/{done['instance_id']}").text
    assert 'id="instance-status" class="status completed"' in page


def test_live_stream_sends_a_snapshot_then_changes(server: Server) -> None:
    token = ioc("token", "create", "gw", "--role", "operator", "--scope", "events:write,stream:read",
                env=server.env).stdout.strip()
    auth = {"Authorization": f"Bearer {token}"}
    with requests.get(f"{server.base}/api/v1/stream", headers=auth, stream=True, timeout=30) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        lines = stream.iter_lines(decode_unicode=True)
        events: list[dict] = []
        current: dict = {}
        posted = False
        deadline = time.monotonic() + 30
        for line in lines:
            if time.monotonic() > deadline:
                break
            if line.startswith(("id:", "event:", "data:")):
                key, _, value = line.partition(":")
                current[key] = value.strip()
            elif line == "" and current:
                events.append(current)
                current = {}
                if len(events) == 1 and not posted:
                    assert events[0]["event"] == "snapshot" and "alerts_open" in json.loads(events[0]["data"])
                    ev = {"source": "gw", "type": "air_quality", "sector": "environment", "entity": "S-LIVE",
                          "time": datetime.now(UTC).isoformat(), "values": {"aqi": 201}}
                    requests.post(f"{server.base}/api/v1/events", json={"events": [ev]}, headers=auth)
                    posted = True
                if any(json.loads(e.get("data", "{}")).get("kind") == "alert.opened" for e in events[1:]):
                    break
    kinds = [json.loads(e["data"]).get("kind") for e in events[1:]]
    assert "events.ingested" in kinds and "alert.opened" in kinds
    last_id = events[-1]["id"]
    # resuming with Last-Event-ID replays what came after it, without a new snapshot
    first_id = events[1]["id"]
    with requests.get(f"{server.base}/api/v1/stream", headers={**auth, "Last-Event-ID": first_id}, stream=True,
                      timeout=30) as again:
        replay = []
        for line in again.iter_lines(decode_unicode=True):
            if line.startswith("id:"):
                replay.append(line[3:].strip())
                if replay[-1] == last_id:
                    break
    assert first_id not in replay and last_id in replay


def test_the_same_batch_posted_concurrently_is_accepted_once(server: Server) -> None:
    from concurrent.futures import ThreadPoolExecutor

    token = ioc("token", "create", "retrying-gateway", "--role", "operator", env=server.env).stdout.strip()
    now = datetime.now(UTC).isoformat()
    batch = {"events": [{"source": "gw", "type": "air_quality", "sector": "environment", "entity": f"S{i}",
                         "time": now, "values": {"aqi": 50}, "idempotency_key": f"k{i}"} for i in range(200)]}

    def post(_: int) -> dict:
        r = requests.post(f"{server.base}/api/v1/events", json=batch, headers={"Authorization": f"Bearer {token}"},
                          timeout=60)
        assert r.status_code == 202
        return r.json()

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(post, range(6)))
    assert sum(a["accepted"] for a in answers) == 200
    assert sum(a["duplicates"] for a in answers) == 5 * 200
