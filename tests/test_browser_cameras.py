"""In Chromium: an operator registers a camera, draws its calibration on the snapshot (a stop line outside the
image is refused with its name; a good one is kept), and watches the live view with its overlays; the traffic
monitor lists the camera's violations after a run. Saves docs/screenshots/cameras.png, camera-calibration.png,
camera-live.png and traffic.png."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import Server, ioc
from tests.test_browser import PASSWORD, SHOTS, browser, login, wait_for, wait_for_js  # noqa: F401 - the browser fixture

pytestmark = pytest.mark.browser  # runs once, against the embedded default (the demo's setup)


def test_an_operator_registers_calibrates_and_watches_a_camera(server: Server, browser) -> None:  # noqa: F811
    ioc("user", "add", "trucban-cam", "--role", "operator", "--department", "TT-IOC", "--password", PASSWORD,
        "--full-name", "Trực ban camera", env=server.env)
    SHOTS.mkdir(parents=True, exist_ok=True)
    ctx = browser.new_context(viewport={"width": 1400, "height": 1400}, locale="vi-VN")
    page = ctx.new_page()
    login(page, server, "trucban-cam")
    page.goto(f"{server.base}/cameras")
    page.fill("#code", "CAM-DEMO-1")
    page.fill("#name", "Ngã tư minh họa")
    page.fill("#source", "synthetic:720p")
    page.fill("#lat", "19.8067")
    page.fill("#lon", "105.7852")
    page.click("#new-camera button[type=submit]")
    page.wait_for_selector("#calibration-editor")
    assert "CAM-DEMO-1" in page.inner_text("h1")
    wait_for_js(page, "document.getElementById('cal-snapshot').naturalWidth === 1280")

    box = page.locator("#cal-overlay").bounding_box()
    sx, sy = box["width"] / 1280, box["height"] / 720

    def click(x: float, y: float) -> None:
        page.mouse.click(box["x"] + x * sx, box["y"] + y * sy)

    page.select_option("#cal-tool", "road")
    for x, y in ((0, 240), (1279, 240), (1279, 600), (0, 600)):
        click(x, y)
    page.click("#cal-finish")
    page.select_option("#cal-tool", "stop_line")
    click(840, 600)
    click(840, 240)
    page.select_option("#cal-tool", "light")
    click(1120, 40)
    click(1168, 172)
    page.select_option("#cal-tool", "crowd")
    page.fill("#cal-name", "via-he")
    page.fill("#cal-people", "8")
    for x, y in ((0, 604), (1276, 604), (1276, 716), (0, 716)):
        click(x, y)
    page.click("#cal-finish")
    page.select_option("#cal-tool", "lane")
    page.fill("#cal-name", "C")
    page.select_option("#cal-kinds", "motorbike")
    for x, y in ((0, 480), (1279, 480), (1279, 600), (0, 600)):
        click(x, y)
    page.click("#cal-finish")
    items = page.inner_text("#cal-items")
    assert "Vạch dừng" in items and "Đèn tín hiệu" in items and "Làn C" in items and "(tụ tập) via-he (≥ 8)" in items
    page.screenshot(path=str(SHOTS / "camera-calibration.png"), full_page=True)

    # a hand-edited stop line that leaves the image is refused, with the line's name
    first_x = '"segment": [\n      [\n        '
    text = page.input_value("#cal-json").replace(first_x + "840", first_x + "4000", 1)
    page.click("#calibration-editor details summary")
    page.fill("#cal-json", text)
    page.dispatch_event("#cal-json", "change")
    page.click("#cal-save")
    wait_for_js(page, "document.getElementById('cal-problems').children.length > 0")
    assert "stop" in page.inner_text("#cal-problems")
    # put it back and save
    page.fill("#cal-json", text.replace("4000", "840", 1))
    page.dispatch_event("#cal-json", "change")
    page.click("#cal-save")
    wait_for_js(page, "document.getElementById('cal-status').textContent.includes('Đã lưu')")
    kept = requests.get(f"{server.base}/api/v1/cameras/CAM-DEMO-1/calibration",
                        cookies={c["name"]: c["value"] for c in ctx.cookies()}).json()
    assert kept["stop_line"]["segment"][0][0] == 840 and kept["lanes"][0]["kinds"] == ["motorbike"]
    zone = kept["zones"][0]
    assert (zone["name"], zone["rule"], zone["min_people"], len(zone["polygon"])) == ("via-he", "crowd", 8, 4)

    page.reload()
    page.click("#live-start")
    wait_for_js(page, "document.getElementById('live').naturalWidth > 0", timeout=30000)
    page.wait_for_timeout(5000)  # vehicles enter the picture after about 4 s
    page.locator("#live").screenshot(path=str(SHOTS / "camera-live.png"))
    page.goto(f"{server.base}/cameras")
    assert "CAM-DEMO-1" in page.inner_text("#camera-list")
    page.screenshot(path=str(SHOTS / "cameras.png"), full_page=True)

    run = ioc("camera", "run", "CAM-DEMO-1", env=server.env, check=False)
    assert run.returncode == 0, run.stderr
    page.goto(f"{server.base}/traffic")
    wait_for(lambda: page.reload() or "Vượt đèn đỏ" in page.inner_text("#violations"), timeout=60)
    assert "36-D1 246.02" not in page.inner_text("#violations")  # motorbikes in their own lane are not flagged
    page.fill("#trace input[name=plate]", "36A-999.01")
    page.click("#trace button[type=submit]")
    assert "36A-999.01" in page.inner_text("#sightings")
    assert page.locator("#route-map g.camera.seen").count() == 1  # the camera on the map, marked on the route
    page.screenshot(path=str(SHOTS / "traffic.png"), full_page=True)
    page.goto(f"{server.base}/cameras")
    assert "Đã dừng" in page.inner_text("#camera-list")  # the run ended with the synthetic video
    ctx.close()
