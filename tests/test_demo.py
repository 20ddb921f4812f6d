"""The README's first command ends in ``ioc demo``: users printed, alerts and tasks within a minute."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, free_port, ioc_env


@pytest.mark.once  # the demo is the embedded stack whatever the pass
def test_demo_prints_users_and_alerts_arrive_within_a_minute(tmp_path: Path) -> None:
    port = free_port()
    env = ioc_env(tmp_path / "var", embedded=True)  # the demo is the embedded stack, as on a fresh machine
    env["IOC_DEMO_INTERVAL"] = "2"
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "web.cli", "demo", "--port", str(port)], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        users: dict[str, str] = {}
        while time.monotonic() < deadline and len(users) < 5:
            users = dict(re.findall(r"^  (\w+)\s+\w+\s+(\S+)$", log.read_text(), re.M))
            time.sleep(0.3)
        assert set(users) == {"lanhdao", "trucban", "chuyenvien", "thietke", "quantri"}, log.read_text()
        s = requests.Session()
        while time.monotonic() < deadline:
            try:
                page = s.get(f"{base}/login", timeout=2).text
                break
            except requests.RequestException:
                time.sleep(0.3)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        assert s.post(f"{base}/login", data={"username": "trucban", "password": users["trucban"],
                                             "csrf_token": csrf}).ok
        started = time.monotonic()
        alerts: list = []
        tasks: list = []
        while time.monotonic() - started < 60 and not (alerts and tasks):
            alerts = s.get(f"{base}/api/v1/alerts").json()
            tasks = s.get(f"{base}/api/v1/tasks").json()
            time.sleep(1)
        assert alerts, "no alert within 60 s of the demo starting"
        assert any(t["bpmn_id"] == "triage" for t in tasks), "no triage task waits in the operator's inbox"
        assert "Màn hình giám sát" in s.get(f"{base}/wall").text
        while time.monotonic() - started < 90 and not any(a["rule_id"] == "aqi-poor-2h" for a in alerts):
            alerts = s.get(f"{base}/api/v1/alerts").json()
            time.sleep(1)
        aqi_alert = next(a for a in alerts if a["rule_id"] == "aqi-poor-2h")  # from the VN_AQI the IOC computed
        assert aqi_alert["entity"] == "TH-AQ-NGHISON" and aqi_alert["instance_id"]
        assert "TH-AQ-NGHISON" in s.get(f"{base}/environment").text
        first = {v["code"]: v["latest"].get("location") for v in s.get(f"{base}/api/v1/entities?kind=vessel").json()}
        time.sleep(5)
        later = {v["code"]: v["latest"].get("location") for v in s.get(f"{base}/api/v1/entities?kind=vessel").json()}
        assert len(later) == 40 and sum(first.get(k) != v for k, v in later.items()) >= 20  # the fleet moves
        assert "Tàu cá" in s.get(f"{base}/fisheries").text
        budget = next(i for i in s.get(f"{base}/api/v1/indicators").json() if i["code"] == "budget_revenue")
        assert budget["targets"] and budget["progress"] is not None  # the demo's made-up figures and targets
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    text = log.read_text()
    assert "Traceback (most recent call last)" not in text, text[-3000:]
    assert not (tmp_path / "var" / "redis.sock").exists()  # the embedded Redis stopped with the demo
