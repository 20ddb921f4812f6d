"""In Chromium: a department officer uploads the month's spreadsheet (one bad row), sees the bad row and the
source's health; a leader opens the indicator against its target, with the chart and the table by commune; an
operator sends a quarantined event back for evaluation. Saves docs/screenshots/source-upload.png, sources.png,
indicator.png and quarantine.png."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
import requests
from openpyxl import Workbook

from tests.conftest import Server, ioc
from tests.test_browser import PASSWORD, SHOTS, browser, login  # noqa: F401 - the browser fixture

pytestmark = pytest.mark.browser  # runs once, against the embedded default (the demo's setup)


def test_an_officer_uploads_figures_and_a_leader_reads_them_against_the_plan(server: Server, browser) -> None:  # noqa: F811
    for name, role, dept, full in (("quantri", "admin", "TT-IOC", "Quản trị hệ thống"),
                                   ("canbo", "officer", "SO-TC", "Nguyễn Thị Hoa"),
                                   ("lanhdao", "leader", "VP-UBND", "Lê Thị Bình")):
        ioc("user", "add", name, "--role", role, "--department", dept, "--password", PASSWORD, "--full-name", full,
            env=server.env)
    admin = ioc("token", "create", "setup", "--role", "admin", "--scope", "sources:write",
                env=server.env).stdout.strip()
    headers = {"Authorization": f"Bearer {admin}"}
    r = requests.post(f"{server.base}/api/v1/sources", headers=headers, json={
        "name": "so-tai-chinh", "kind": "spreadsheet", "title": "Sở Tài chính — thu ngân sách theo tháng",
        "config": {"period": "month", "indicators": [{"code": "budget_revenue", "column": "Thu ngân sách (tỷ đồng)"}]}})
    assert r.status_code == 201, r.text
    year = datetime.now().year
    leader_token = ioc("token", "create", "plan", "--role", "leader", "--scope", "indicators:write",
                       env=server.env).stdout.strip()
    r = requests.put(f"{server.base}/api/v1/indicators/budget_revenue/targets",
                     headers={"Authorization": f"Bearer {leader_token}"}, json={"targets": {str(year): 3000}})
    assert r.status_code == 200, r.text
    wb = Workbook()
    wb.active.append(["Mã đơn vị", "Tên đơn vị", "Kỳ", "Thu ngân sách (tỷ đồng)"])
    for month in range(1, 4):
        for code, name, value in (("14758", "Phường Hàm Rồng", 62.5), ("14797", "Phường Hạc Thành", 118.25),
                                  ("16531", "Phường Sầm Sơn", 40)):
            wb.active.append([code, name, f"{year}-{month:02d}", value])
    wb.active.append(["1479", "Sai mã", f"{year}-03", 5])
    content = io.BytesIO()
    wb.save(content)
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS.parent / ".upload.xlsx"
    path.write_bytes(content.getvalue())
    try:
        ctx = browser.new_context(viewport={"width": 1400, "height": 900}, locale="vi-VN")
        page = ctx.new_page()
        login(page, server, "canbo")
        page.goto(f"{server.base}/sources")
        page.click("#sources a:has-text('Sở Tài chính')")
        page.set_input_files("#upload input[type=file]", str(path))
        page.click("#upload button[type=submit]")
        page.wait_for_selector("#report")
        assert "9 giá trị đã lưu" in page.inner_text("#report") and "Mã đơn vị" in page.inner_text("#report")
        page.screenshot(path=str(SHOTS / "source-upload.png"), full_page=True)
        page.goto(f"{server.base}/sources")
        assert "đang hoạt động" in page.inner_text("#sources")
        page.screenshot(path=str(SHOTS / "sources.png"), full_page=True)
        ctx.close()
    finally:
        path.unlink()
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="vi-VN")
    page = ctx.new_page()
    login(page, server, "lanhdao")
    page.goto(f"{server.base}/indicators")
    page.click("#indicators a:has-text('Thu ngân sách')")
    page.wait_for_selector("#chart polyline")
    assert "kế hoạch năm" in page.inner_text("#progress")
    rows = page.locator("#by-unit tbody tr").all_inner_texts()
    assert rows[0].startswith("Phường Hạc Thành") and len(rows) == 3
    page.screenshot(path=str(SHOTS / "indicator.png"), full_page=True)
    ctx.close()


def test_an_operator_sends_a_quarantined_event_back_and_it_opens_its_alert(server: Server, browser) -> None:  # noqa: F811
    from datetime import UTC, timedelta
    from pathlib import Path

    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from engine.models import Event

    ioc("user", "add", "trucban", "--role", "operator", "--department", "TT-IOC", "--password", PASSWORD,
        "--full-name", "Trần Văn Minh", env=server.env)
    # A reading whose evaluation failed five times (the rule engine broken meanwhile), kept with its error.
    db = create_engine(f"sqlite:///{Path(server.env['IOC_DATA_DIR']) / 'ioc.db'}")
    now = datetime.now(UTC)
    with Session(db) as s:
        s.add(Event(source="tram-quan-trac", idempotency_key="TH-AQ-07@1", type="air_quality", sector="environment",
                    entity="TH-AQ-07", time=now - timedelta(minutes=20), received_at=now - timedelta(minutes=19),
                    values={"aqi": 182, "pm25": 96.4}, processed_at=now - timedelta(minutes=10), attempts=5,
                    error="RuntimeError: rule 'aqi_high' refers to a missing field"))
        s.commit()
    db.dispose()
    ctx = browser.new_context(viewport={"width": 1400, "height": 800}, locale="vi-VN")
    page = ctx.new_page()
    login(page, server, "trucban")
    page.goto(f"{server.base}/wall")
    page.click("#tiles a:has-text('Sự kiện bị cách ly')")
    page.wait_for_selector("#quarantined")
    row = page.inner_text("#quarantined tbody tr")
    assert "TH-AQ-07" in row and "missing field" in row and "5" in row
    page.screenshot(path=str(SHOTS / "quarantine.png"), full_page=True)
    page.click("#quarantined button:has-text('Gửi lại')")
    page.wait_for_selector(".flash")
    assert "1 sự kiện đã được gửi lại để đánh giá" in page.inner_text(".flash")
    assert "Không có sự kiện nào bị cách ly" in page.inner_text("main")
    page.goto(f"{server.base}/alerts")  # the worker evaluates it: the alert it should have raised opens
    page.wait_for_selector("text=TH-AQ-07", timeout=15_000)
    ctx.close()
