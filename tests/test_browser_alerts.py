"""In Chromium: an administrator changes a threshold in the rule editor (preview, save; a second administrator
approves it; history), and an operator with the alert list open sees the next alert arrive live, is notified, and
acknowledges it.
Saves docs/screenshots/rules.png, rule-editor.png, alerts-live.png and alert.png."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, Server, free_port, ioc, ioc_env
from tests.test_browser import PASSWORD, SHOTS, browser, login, wait_for_js  # noqa: F401 - the browser fixture

pytestmark = pytest.mark.browser  # runs once, against the embedded default (the demo's setup)


@pytest.fixture
def server_with_rules(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    srv = Server({**ioc_env(tmp_path / "var"), "IOC_RULES_DIR": str(rules)}, free_port(), tmp_path / "server.log")
    srv.start()
    try:
        yield srv, rules
    finally:
        srv.stop()
        log = srv.log.read_text(errors="replace")
        assert "Traceback (most recent call last)" not in log, log[-3000:]


def test_a_threshold_changed_in_the_browser_judges_the_next_event_live(server_with_rules, browser) -> None:  # noqa: F811
    server, rules = server_with_rules
    for name, role, dept, full in (("quantri", "admin", "TT-IOC", "Quản trị hệ thống"),
                                   ("quantri2", "admin", "TT-IOC", "Quản trị viên thứ hai"),
                                   ("trucban", "operator", "TT-IOC", "Trực ban IOC")):
        ioc("user", "add", name, "--role", role, "--department", dept, "--password", PASSWORD, "--full-name", full,
            env=server.env)
    token = ioc("token", "create", "sensors", "--role", "operator", env=server.env).stdout.strip()
    SHOTS.mkdir(parents=True, exist_ok=True)

    def post(entity: str, aqi: int) -> None:
        ev = {"source": "sensors", "type": "air_quality", "sector": "environment", "entity": entity,
              "time": datetime.now(UTC).isoformat(), "values": {"aqi": aqi}}
        r = requests.post(f"{server.base}/api/v1/events", json={"events": [ev]},
                          headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 202

    # The operator keeps the alert list open.
    op_ctx = browser.new_context(viewport={"width": 1400, "height": 800}, locale="vi-VN")
    operator = op_ctx.new_page()
    login(operator, server, "trucban")
    operator.goto(f"{server.base}/alerts")
    assert "Không có cảnh báo" in operator.inner_text("main")

    # The administrator lowers the AQI threshold from 150 to 120.
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, locale="vi-VN")
    admin = ctx.new_page()
    login(admin, server, "quantri")
    admin.goto(f"{server.base}/rules")
    admin.wait_for_selector("#rules")
    admin.screenshot(path=str(SHOTS / "rules.png"), full_page=True)
    admin.click("#rules a:has-text('VN_AQI')")
    admin.wait_for_selector("#rule-form")
    admin.fill("#value", "120")
    admin.click("#preview-button")
    admin.wait_for_selector("#preview")
    assert "0 lần" in admin.inner_text("#preview")  # no stored event above 120 yet
    admin.click("#save")
    admin.wait_for_selector(".flash.ok")
    assert "+    value: 120" in admin.inner_text("#pending")  # waiting for a second administrator
    assert "    value: 150\n" in (rules / "environment.yaml").read_text()
    second = browser.new_context(viewport={"width": 1400, "height": 900}, locale="vi-VN").new_page()
    login(second, server, "quantri2")
    second.goto(f"{server.base}/rules/aqi-poor")
    second.click("#pending button.approve")
    second.wait_for_selector(".flash.ok")
    assert "    value: 120\n" in (rules / "environment.yaml").read_text()
    assert "+    value: 120" in second.inner_text("#history")
    second.screenshot(path=str(SHOTS / "rule-editor.png"), full_page=True)

    # The next event (130: under the old threshold, over the new one) opens an alert the operator sees at once.
    post("TH-AQ-SAMSON", 130)
    operator.wait_for_selector("#alerts tbody tr:has-text('TH-AQ-SAMSON')", timeout=45000)
    wait_for_js(operator, "document.getElementById('bell-count').textContent !== ''", timeout=45000)
    operator.screenshot(path=str(SHOTS / "alerts-live.png"), full_page=True)
    operator.click("#alerts a:has-text('TH-AQ-SAMSON')")
    operator.click("#acknowledge")
    operator.wait_for_selector(".badge.ack")
    assert re.search(r"được trucban tiếp nhận", operator.inner_text("#alert-state"))
    operator.screenshot(path=str(SHOTS / "alert.png"), full_page=True)
