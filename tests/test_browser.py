"""In a real browser (Playwright driving Debian's Chromium): an officer logs in and completes a task;
the wall updates live. Saves the screenshots in docs/screenshots/ that the README shows."""

from __future__ import annotations

import os
import re
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, Server, ioc

pytestmark = pytest.mark.browser  # runs once, against the embedded default (the demo's setup)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = ROOT / "docs" / "screenshots"
PASSWORD = "Browser-Pass-2026"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

if not Path(CHROMIUM).exists():
    if os.environ.get("IOC_SKIP_BROWSER") == "1":
        pytest.skip("IOC_SKIP_BROWSER=1 and no Chromium: browser tests not run", allow_module_level=True)
    raise RuntimeError("Chromium is missing: scripts/test.sh installs it (apt-get install chromium)")


def api_session(server: Server, username: str) -> requests.Session:
    s = requests.Session()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', s.get(f"{server.base}/login").text).group(1)
    s.post(f"{server.base}/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf})
    s.headers["X-CSRFToken"] = re.search(r'name="csrf-token" content="([^"]+)"',
                                         s.get(f"{server.base}/inbox").text).group(1)
    return s


def wait_for(fn, timeout: float = 30):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def wait_for_js(page, expression: str, timeout: float = 30000) -> None:  # type: ignore[no-untyped-def]
    """``page.wait_for_function`` runs its string through eval(), which the pages' Content-Security-Policy
    refuses; ``page.evaluate`` goes through the DevTools protocol, which the policy does not govern."""
    wait_for(lambda: page.evaluate(expression), timeout / 1000)


@pytest.fixture
def browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        refused: list[str] = []  # what the Content-Security-Policy stopped: a page part that silently does not work
        new_context = b.new_context

        def watched_context(**options):
            ctx = new_context(**options)
            ctx.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
            return ctx

        b.new_context = watched_context  # type: ignore[method-assign]
        try:
            yield b
        finally:
            b.close()
        assert refused == [], refused


def login(page, server: Server, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server.base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/inbox.*"))


def test_officer_completes_a_task_and_the_wall_updates(server: Server, browser) -> None:  # type: ignore[no-untyped-def]
    for name, role, dept, full in (("trucban", "operator", "TT-IOC", "Trực ban IOC"),
                                   ("chuyenvien", "officer", "SO-NNMT", "Nguyễn Văn An"),
                                   ("lanhdao", "leader", "VP-UBND", "Lê Thị Bình")):
        ioc("user", "add", name, "--role", role, "--department", dept, "--password", PASSWORD,
            "--full-name", full, env=server.env)
    token = ioc("token", "create", "sensors", "--role", "operator", env=server.env).stdout.strip()
    SHOTS.mkdir(parents=True, exist_ok=True)

    def post(entity: str, aqi: int) -> None:
        ev = {"source": "sensors", "type": "air_quality", "sector": "environment", "entity": entity,
              "time": datetime.now(UTC).isoformat(), "values": {"aqi": aqi}}
        r = requests.post(f"{server.base}/api/v1/events", json={"events": [ev]},
                          headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 202

    # The operator watches the wall; an alert arrives while it is open.
    wall_ctx = browser.new_context(viewport={"width": 1600, "height": 900}, locale="vi-VN")
    wall = wall_ctx.new_page()
    login(wall, server, "trucban")
    wall.goto(f"{server.base}/wall")
    wall.wait_for_selector("#live.on")
    assert wall.inner_text("[data-k=alerts_open]") == "0"
    post("TH-AQ-NGHISON", 187)
    post("TH-AQ-BIMSON", 163)
    wait_for_js(wall, "document.querySelector('[data-k=alerts_open]').textContent === '2'", timeout=45000)
    assert "TH-AQ-NGHISON" in wall.inner_text("#feed")

    # The operator assigns the first incident to the department (through the API, as the inbox does).
    operator = api_session(server, "trucban")
    triage = wait_for(lambda: [t for t in operator.get(f"{server.base}/api/v1/tasks").json()
                               if t["bpmn_id"] == "triage"])
    for t in triage:
        r = operator.post(f"{server.base}/api/v1/tasks/{t['id']}/complete",
                          json={"values": {"department": "SO-NNMT", "due_in": "PT4H"}})
        assert r.status_code == 200

    # The officer logs in, finds the task in the inbox, and completes it through the form.
    ctx = browser.new_context(viewport={"width": 1366, "height": 800}, locale="vi-VN")
    page = ctx.new_page()
    login(page, server, "chuyenvien")
    page.wait_for_selector("#inbox")
    assert page.locator("#inbox tbody tr").count() == 2
    assert "Hộp công việc" in page.inner_text("h1")  # Vietnamese by default
    page.screenshot(path=str(SHOTS / "inbox.png"), full_page=True)
    page.click("#inbox tbody tr:first-child a")
    page.wait_for_selector("#task-form")
    page.click("button[value=complete]")  # empty required field: the browser blocks it, so bypass:
    page.evaluate("document.querySelector('#f-actions_taken').removeAttribute('required')")
    page.click("button[value=complete]")
    page.wait_for_selector(".field-error")
    assert page.locator(".field-error").count() == 1
    page.fill("#f-actions_taken", "Đã kiểm tra hiện trường; yêu cầu nhà máy dừng lò đốt.")
    page.screenshot(path=str(SHOTS / "task-form.png"), full_page=True)
    page.click("button[value=complete]")
    page.wait_for_url(re.compile(r".*/inbox.*"))
    assert page.locator(".flash.ok").count() == 1
    # the report task now waits in the same officer's inbox
    rows = page.locator("#inbox tbody tr").all_inner_texts()
    assert any("Báo cáo kết quả xử lý" in r for r in rows)

    wait_for_js(wall, "document.querySelector('[data-k=tasks_open]').textContent === '2'", timeout=45000)
    # where work waits, refreshed live: one incident at "handle", the other at its report
    wait_for_js(wall, "document.querySelector('#waiting').textContent.includes('Báo cáo kết quả xử lý')",
                           timeout=45000)
    waiting = wall.inner_text("#waiting")
    assert "Xử lý sự cố từ cảnh báo" in waiting and "Xử lý sự cố\t1" in waiting
    wall.screenshot(path=str(SHOTS / "wall.png"))

    # The officer reports; the leader accepts; the instance page shows it closed with its history.
    page.click("#inbox tbody tr:has-text('Báo cáo kết quả xử lý') a")
    page.fill("#f-report_text", "Nhà máy đã dừng lò; VN_AQI về mức trung bình sau 3 giờ.")
    page.click("button[value=complete]")
    page.wait_for_url(re.compile(r".*/inbox.*"))
    ctx.close()
    leader_ctx = browser.new_context(viewport={"width": 1366, "height": 900}, locale="vi-VN")
    leader = leader_ctx.new_page()
    login(leader, server, "lanhdao")
    leader.click("#inbox tbody tr:has-text('Lãnh đạo xem xét báo cáo') a")
    leader.select_option("#f-decision", "accept")
    leader.fill("#f-leader_comment", "Đồng ý. Tiếp tục theo dõi.")
    leader.click("button[value=complete]")
    leader.wait_for_url(re.compile(r".*/inbox.*"))
    leader.goto(f"{server.base}/alerts?status=closed")
    leader.click("#alerts tbody tr:has-text('TH-AQ-NGHISON') a[href*='/instances/']")
    leader.wait_for_selector("#instance-status.completed")
    history = leader.inner_text("ol.history")
    for step in ("Phân loại và giao xử lý", "Xử lý sự cố", "Báo cáo kết quả xử lý", "Lãnh đạo xem xét báo cáo"):
        assert step in history
    leader.screenshot(path=str(SHOTS / "instance.png"), full_page=True)
    leader_ctx.close()
    wait_for_js(wall, "document.querySelector('[data-k=instances_completed_today]').textContent === '1'",
                           timeout=45000)
    wall_ctx.close()


def test_designer_checks_and_deploys_a_model_and_the_instance_shows_its_diagram(server: Server, browser) -> None:  # type: ignore[no-untyped-def]
    ioc("user", "add", "thietke", "--role", "designer", "--department", "TT-IOC", "--password", PASSWORD,
        env=server.env)
    ioc("user", "add", "lanhdao", "--role", "leader", "--password", PASSWORD, env=server.env)
    SHOTS.mkdir(parents=True, exist_ok=True)
    ctx = browser.new_context(viewport={"width": 1400, "height": 1100}, locale="vi-VN")
    page = ctx.new_page()
    login(page, server, "thietke")
    page.goto(f"{server.base}/designer")
    page.click("#processes tbody tr:has-text('incident') a")
    page.wait_for_selector("#modeler[data-loaded=true]")
    page.click("#validate")
    page.wait_for_selector("#result.ok")
    assert "hợp lệ" in page.inner_text("#result")
    # a model with a due date that means nothing is refused, naming the element, which is marked
    broken = (ROOT / "processes" / "incident.bpmn").read_text().replace('camunda:dueDate="PT8H"',
                                                                         'camunda:dueDate="ngày mai"')
    page.evaluate("xml => window.iocDesigner.load(xml)", broken)
    page.click("#validate")
    page.wait_for_selector("#result.error")
    assert "review" in page.inner_text("#result") and "ngày mai" in page.inner_text("#result")
    assert page.locator(".ioc-failed").count() == 1
    # a new process drawn from the blank template deploys as version 1, waiting for a second person's approval
    page.goto(f"{server.base}/designer?new=1")
    page.wait_for_selector("#modeler[data-loaded=true]")
    page.click("#deploy")
    page.wait_for_selector("#result.ok")
    assert "quy_trinh_moi v1 (chờ phê duyệt)" in page.inner_text("#result")
    page.screenshot(path=str(SHOTS / "designer.png"))

    token = ioc("token", "create", "s", "--role", "operator", env=server.env).stdout.strip()
    ev = {"source": "s", "type": "air_quality", "sector": "environment", "entity": "TH-AQ-DIAGRAM",
          "time": datetime.now(UTC).isoformat(), "values": {"aqi": 177}}
    requests.post(f"{server.base}/api/v1/events", json={"events": [ev]}, headers={"Authorization": f"Bearer {token}"})
    ctx.close()
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="vi-VN")
    leader = ctx.new_page()
    login(leader, server, "lanhdao")
    instance_id = wait_for(lambda: [a["instance_id"] for a in
                                    api_session(server, "lanhdao").get(f"{server.base}/api/v1/alerts").json()
                                    if a["instance_id"]])[0]
    leader.goto(f"{server.base}/instances/{instance_id}")
    leader.wait_for_selector("#diagram[data-rendered=true]")
    assert leader.locator(".ioc-active").count() == 1  # the triage step waits, and is marked
    leader.screenshot(path=str(SHOTS / "instance-diagram.png"))
    ctx.close()


def test_leader_issues_a_directive_and_follows_each_department(server: Server, browser) -> None:  # type: ignore[no-untyped-def]
    for name, role, dept in (("chutich", "leader", "VP-UBND"), ("soyte", "officer", "SO-YT"),
                             ("soxd", "officer", "SO-XD")):
        ioc("user", "add", name, "--role", role, "--department", dept, "--password", PASSWORD, env=server.env)
    SHOTS.mkdir(parents=True, exist_ok=True)
    ctx = browser.new_context(viewport={"width": 1366, "height": 1000}, locale="vi-VN")
    page = ctx.new_page()
    login(page, server, "chutich")
    page.click("nav a:has-text('Chỉ đạo')")
    page.click("text=Ban hành chỉ đạo")
    page.fill("#title", "Rà soát, kiểm tra an toàn hồ đập trước mùa mưa bão")
    page.fill("#content", "Các đơn vị kiểm tra toàn bộ hồ đập xung yếu, báo cáo kết quả và phương án xử lý.")
    page.fill("#deadline", "2030-06-30T17:00")
    page.set_input_files("#document", files=[{"name": "cv-chi-dao.pdf", "mimeType": "application/pdf",
                                              "buffer": b"%PDF-1.7\n%%EOF\n"}])
    page.select_option("#departments", ["SO-YT", "SO-XD"])
    page.click("#directive-form button[type=submit]")
    page.wait_for_selector(".directive")
    assert page.inner_text(".directive .done-count") == "0/2"
    wall = ctx.new_page()  # the wall follows the directive's progress
    wall.goto(f"{server.base}/wall")
    wall.wait_for_selector("#live.on")
    assert "0/2 đơn vị đã hoàn thành" in wall.inner_text("#directives")

    officer = browser.new_context(viewport={"width": 1366, "height": 800}, locale="vi-VN").new_page()
    login(officer, server, "soyte")
    officer.click("#inbox tbody tr:has-text('Tiếp nhận chỉ đạo') a")
    assert "cv-chi-dao.pdf" in officer.inner_text("#files")  # the signed directive comes with the task
    officer.fill("#f-ack_note", "Phòng Nghiệp vụ Y chủ trì")
    officer.click("button[value=complete]")
    officer.wait_for_url(re.compile(r".*/inbox.*"))
    officer.click("#inbox tbody tr:has-text('Thực hiện và báo cáo kết quả') a")
    officer.fill("#f-report_text", "Đã kiểm tra 5 cơ sở y tế ven hồ, không có nguy cơ.")
    officer.click("button[value=complete]")
    officer.wait_for_url(re.compile(r".*/inbox.*"))

    page.goto(f"{server.base}/directives")
    assert "báo cáo chờ lãnh đạo duyệt" in page.inner_text("tr[data-department=SO-YT]")
    assert "chờ tiếp nhận" in page.inner_text("tr[data-department=SO-XD]")
    page.click("tr[data-department=SO-YT] a")
    page.select_option("#f-decision", "accept")
    page.click("button[value=complete]")
    page.goto(f"{server.base}/directives")
    assert page.inner_text(".directive .done-count") == "1/2"
    assert "đã xong" in page.inner_text("tr[data-department=SO-YT]")
    page.screenshot(path=str(SHOTS / "directives.png"), full_page=True)
    wait_for_js(wall, "document.querySelector('#directives').textContent.includes('1/2 đơn vị đã hoàn thành')",
                           timeout=45000)

    # The cockpit: the directive's instance waits at the department that has not acknowledged yet.
    page.click("nav summary:has-text('Giám sát')")
    page.click("nav a:has-text('Vận hành quy trình')")
    page.wait_for_selector("#instances")
    assert page.inner_text("#processes tr[data-process=directive] td[data-status=running]") == "1"
    row = page.inner_text("#instances tbody tr:first-child")
    assert "Văn bản chỉ đạo" in row and "Tiếp nhận chỉ đạo" in row, row
    page.screenshot(path=str(SHOTS / "instances.png"), full_page=True)
    ctx.close()
