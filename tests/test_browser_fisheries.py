"""In Chromium: the fisheries monitor draws 2,500 vessels on the sea zones without stalling, lists a vessel
flagged for fishing in the wrong zone and its port departure, and the vessel's page replays its track with a
slider. Saves docs/screenshots/fisheries.png and fisheries-vessel.png."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.conftest import Server, ioc
from tests.test_browser import PASSWORD, SHOTS, browser, login, wait_for  # noqa: F401 - the browser fixture

pytestmark = pytest.mark.browser  # runs once, against the embedded default (the demo's setup)


def test_the_fisheries_monitor_shows_thousands_of_vessels_and_replays_a_track(server: Server, browser) -> None:  # noqa: F811
    ioc("user", "add", "trucban", "--role", "operator", "--department", "TT-IOC", "--password", PASSWORD,
        "--full-name", "Trực ban IOC", env=server.env)
    token = ioc("token", "create", "vms", "--role", "operator", "--scope", "entities:write,alerts:read",
                env=server.env).stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    rnd = random.Random(4)
    registry = [{"code": f"TH-{90000 + i}-TS", "name": f"TH-{90000 + i}-TS", "length_m": rnd.choice([15.5, 16.5, 22]),
                 "home_port": "Lạch Hới"} for i in range(2500)]  # offshore vessels, fishing offshore: no finding
    assert requests.post(f"{server.base}/api/v1/entities/registry", headers=headers,
                         json={"kind": "vessel", "records": registry}).status_code == 200
    now = datetime.now(UTC)
    positions = [{"registration": r["code"], "time": (now - timedelta(minutes=30)).isoformat(),
                  "lat": round(rnd.uniform(19.35, 20.0), 4), "lon": round(rnd.uniform(106.5, 107.6), 4)}
                 for r in registry]
    track = [(now - timedelta(hours=5 - h), 19.78 + 0.004 * h, 105.91 + 0.25 * h) for h in range(5)]
    positions += [{"registration": "TH-90000-TS", "time": t.isoformat(), "lat": lat, "lon": lon}
                  for t, lat, lon in track] + [{"registration": "TH-90000-TS", "time": now.isoformat(),
                                                "lat": 19.80, "lon": 106.12}]  # vùng lộng
    for i in range(0, len(positions), 1000):
        r = requests.post(f"{server.base}/api/v1/entities/vessels/positions", headers=headers,
                          json={"positions": positions[i:i + 1000]})
        assert r.status_code == 202, r.text
    wait_for(lambda: [a for a in requests.get(f"{server.base}/api/v1/alerts", headers=headers).json()
                      if a["entity"] == "TH-90000-TS"], timeout=90)
    SHOTS.mkdir(parents=True, exist_ok=True)
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, locale="vi-VN")
    page = ctx.new_page()
    login(page, server, "trucban")
    started = datetime.now()
    page.goto(f"{server.base}/fisheries")
    page.wait_for_load_state("load")
    assert (datetime.now() - started).total_seconds() < 5  # 2,500 vessels on the canvas: no stall
    assert "2500 tàu" in page.inner_text("h1")
    assert "TH-90000-TS" in page.inner_text("#out-of-zone")
    page.screenshot(path=str(SHOTS / "fisheries.png"), full_page=True)
    page.click("#out-of-zone a:has-text('TH-90000-TS')")
    page.wait_for_selector("#replay")
    page.fill("#replay", "1")
    page.dispatch_event("#replay", "input")
    assert page.inner_text("#replay-time")
    page.screenshot(path=str(SHOTS / "fisheries-vessel.png"), full_page=True)
    ctx.close()
