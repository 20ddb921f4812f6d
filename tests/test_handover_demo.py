"""The handover of a demo that has run for a while (issue 19): ``ioc demo`` until there are alerts, an incident's
triage task and a directive waiting on its deadline timer; the demo stopped; ``ioc export``; ``ioc import`` into a
fresh instance (PostgreSQL when a server is reachable, as in test_handover.py; SQLite otherwise); ``ioc run`` on it.
The imported instance serves the operator's inbox, the alert list and the running incident; the directive's timer
row has its due time, and its deadline, passed while no instance ran, fires at the worker's first pass."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from engine import db as engine_db
from tests.conftest import ROOT, Server, free_port, ioc, ioc_env, running
from tests.test_handover import _postgres_server, instance, scratch_database

DEADLINE_S = 15  # the directive's deadline after it is issued: ahead when the demo stops, passed before ioc run


def signed_in(base: str, username: str, password: str) -> requests.Session:
    s = requests.Session()
    page = s.get(f"{base}/login", timeout=5).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert s.post(f"{base}/login", data={"username": username, "password": password, "csrf_token": csrf},
                  timeout=10).ok
    s.headers["X-CSRFToken"] = re.search(r'<meta name="csrf-token" content="([^"]+)"',
                                         s.get(f"{base}/inbox", timeout=10).text).group(1)
    return s


def wait_for(what: str, probe: Any, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := probe():
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {seconds:.0f} s")


def run_the_demo_until_there_is_work(var: Path, log: Path) -> dict[str, Any]:
    """``ioc demo`` until an alert, a triage task and an acknowledged directive (its reminder, 24 hours before a
    deadline seconds away, is due at once; its deadline waits); then stopped."""
    port = free_port()
    env = dict(ioc_env(var, embedded=True), IOC_DEMO_INTERVAL="2")
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "web.cli", "demo", "--port", str(port)], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        users = wait_for("the demo's users", lambda: len(found := dict(re.findall(
            r"^  (\w+)\s+\w+\s+(\S+)$", log.read_text(), re.M))) == 5 and found, 60)
        wait_for("the demo's server", lambda: _answers(base), 60)
        operator = signed_in(base, "trucban", users["trucban"])
        wait_for("an alert and a triage task", lambda: operator.get(f"{base}/api/v1/alerts").json() and any(
            t["bpmn_id"] == "triage" for t in operator.get(f"{base}/api/v1/tasks").json()), 60)
        leader = signed_in(base, "lanhdao", users["lanhdao"])
        deadline = datetime.now(UTC) + timedelta(seconds=DEADLINE_S)
        issued = leader.post(f"{base}/api/v1/directives", json={
            "title": "Kiểm tra đê điều trước mùa mưa bão", "content": "Báo cáo kết quả kiểm tra",
            "deadline": deadline.isoformat(), "departments": ["SO-NNMT"]})
        assert issued.status_code == 201, issued.text
        officer = signed_in(base, "chuyenvien", users["chuyenvien"])
        (ack,) = [t for t in officer.get(f"{base}/api/v1/tasks").json()
                  if t["bpmn_id"] == "acknowledge" and t["instance_id"] == issued.json()["instance_id"]]
        assert officer.post(f"{base}/api/v1/tasks/{ack['id']}/complete", json={"values": {}}).status_code == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    assert "Traceback (most recent call last)" not in log.read_text()
    return {"users": users, "directive_instance": ack["instance_id"], "deadline": deadline}


def _answers(base: str) -> bool:
    try:
        return requests.get(f"{base}/login", timeout=2).ok
    except requests.RequestException:
        return False


def what_the_demo_left(url: str, directive_instance: int) -> dict[str, Any]:
    with engine_db.get_engine(url, write=False).connect() as conn:
        alerts = {r.id: r.title for r in conn.execute(sa.text("SELECT id, title FROM alerts"))}
        triage = set(conn.scalars(sa.text("SELECT id FROM human_tasks WHERE bpmn_id = 'triage' AND status = 'open'")))
        incident = conn.scalar(sa.text("SELECT i.id FROM process_instances i JOIN process_definitions d ON "
                                       "d.id = i.definition_id WHERE d.process_key = 'incident' AND i.status = "
                                       "'running' ORDER BY i.id LIMIT 1"))
        escalations = conn.scalar(sa.text("SELECT count(*) FROM human_tasks WHERE bpmn_id = 'escalation' AND "
                                          "instance_id = :i"), {"i": directive_instance})
    engine_db.get_engine(url, write=False).dispose()
    return {"alerts": alerts, "triage": triage, "incident": incident, "escalations": escalations,
            "next_timer_at": next_timer_at(url, directive_instance)}


def next_timer_at(url: str, instance_id: int) -> datetime | None:
    """An instance's timer row: when its earliest timer is due."""
    with engine_db.get_engine(url, write=False).connect() as conn:
        due = conn.scalar(sa.text("SELECT next_timer_at FROM process_instances WHERE id = :i"), {"i": instance_id})
    engine_db.get_engine(url, write=False).dispose()
    if isinstance(due, str):  # SQLite, read without the model's type
        due = datetime.fromisoformat(due)
    return due.replace(tzinfo=UTC) if due is not None and due.tzinfo is None else due


@pytest.mark.once  # the demo is the embedded stack whatever the pass
def test_a_demo_that_ran_a_while_carries_on_after_export_and_import(tmp_path: Path) -> None:
    made = run_the_demo_until_there_is_work(tmp_path / "var", tmp_path / "demo.log")
    left = what_the_demo_left(f"sqlite:///{tmp_path / 'var' / 'ioc.db'}", made["directive_instance"])
    assert left["alerts"] and left["triage"] and left["incident"]
    assert left["escalations"] == 0 and left["next_timer_at"] is not None  # the directive's timers wait

    demo_env = dict(ioc_env(tmp_path / "var", embedded=True))
    ioc("export", str(tmp_path / "out"), "--with-password-hashes", env=demo_env)
    kind = "postgresql" if _postgres_server() else "sqlite"
    with scratch_database(kind, tmp_path / "new") as url:
        target = instance(url, tmp_path / "new")
        env = dict(ioc_env(target.data_dir, embedded=False), IOC_DATABASE_URL=url, IOC_RULES_DIR=str(target.rules_dir))
        env.pop("IOC_REDIS_URL", None)  # its own embedded Redis, as a new server starts with
        ioc("import", str(tmp_path / "out"), env=env)
        assert next_timer_at(url, made["directive_instance"]) == left["next_timer_at"]  # the timer row, its due time
        # it falls due while no instance runs
        time.sleep(max(0.0, (made["deadline"] - datetime.now(UTC)).total_seconds() + 0.5))

        with running(Server(env, free_port(), tmp_path / "new.log")) as srv:
            operator = signed_in(srv.base, "trucban", made["users"]["trucban"])
            alerts = {a["id"]: a["title"] for a in operator.get(f"{srv.base}/api/v1/alerts?limit=500").json()}
            assert left["alerts"].items() <= alerts.items()
            inbox = {t["id"] for t in operator.get(f"{srv.base}/api/v1/tasks?limit=500").json()}
            assert left["triage"] <= inbox
            incident = operator.get(f"{srv.base}/api/v1/instances/{left['incident']}").json()
            assert incident["status"] == "running" and any(t["status"] == "open" for t in incident["tasks"])
            leader = signed_in(srv.base, "lanhdao", made["users"]["lanhdao"])
            wait_for("the overdue directive's escalation, fired by the new instance's worker", lambda: any(
                t["bpmn_id"] == "escalation" and t["instance_id"] == made["directive_instance"]
                for t in leader.get(f"{srv.base}/api/v1/tasks").json()), 30)
