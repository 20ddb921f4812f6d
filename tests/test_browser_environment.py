"""In Chromium: an operator opens the air-quality monitor while stations report; the map colours each station by
the VN_AQI the IOC computed; the Nghi Sơn station's page shows each pollutant against its QCVN 05:2023 limit, and
its AQI alert has started the environmental incident process. Saves docs/screenshots/environment.png and
environment-station.png."""

from __future__ import annotations

import random

import pytest
import requests

from connectors.simulator import backlog
from tests.conftest import Server, ioc
from tests.test_browser import PASSWORD, SHOTS, browser, login, wait_for  # noqa: F401 - the browser fixture

pytestmark = pytest.mark.browser  # runs once, against the embedded default (the demo's setup)


def test_the_air_quality_monitor_shows_stations_by_aqi_and_a_stations_limits(server: Server, browser) -> None:  # noqa: F811
    ioc("user", "add", "trucban", "--role", "operator", "--department", "TT-IOC", "--password", PASSWORD,
        "--full-name", "Trực ban IOC", env=server.env)
    token = ioc("token", "create", "tram-quan-trac", "--role", "operator", "--scope",
                "events:write,alerts:read,instances:read", env=server.env).stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    r = requests.post(f"{server.base}/api/v1/events", headers=headers, json={"events": backlog(random.Random(3))})
    assert r.status_code == 202 and not r.json()["errors"], r.text
    (alert,) = wait_for(lambda: [a for a in requests.get(f"{server.base}/api/v1/alerts", headers=headers).json()
                                 if a["rule_id"] == "aqi-poor-2h"], timeout=60)
    instance = requests.get(f"{server.base}/api/v1/instances/{alert['instance_id']}", headers=headers).json()
    assert instance["process"] == "environment_incident" and alert["entity"] == "TH-AQ-NGHISON"
    SHOTS.mkdir(parents=True, exist_ok=True)
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="vi-VN")
    page = ctx.new_page()
    login(page, server, "trucban")
    page.goto(f"{server.base}/environment")
    page.wait_for_selector("#station-map g.station")
    assert page.locator("#station-map g.station").count() == 8
    first = page.locator("#stations tbody tr").first.inner_text()
    assert first.startswith("TH-AQ-NGHISON") and ("Xấu" in first or "Rất xấu" in first)
    page.screenshot(path=str(SHOTS / "environment.png"), full_page=True)
    page.click("#stations a:has-text('TH-AQ-NGHISON')")
    page.wait_for_selector("#parameters figure")
    assert "QCVN 05:2023" in page.inner_text("#parameters") and page.locator("#parameters svg").count() == 6
    page.screenshot(path=str(SHOTS / "environment-station.png"), full_page=True)
    ctx.close()
