"""In Chromium: an administrator adds an officer with a department at /admin, resets their password and deactivates
them. Saves docs/screenshots/admin-users.png and admin-user-edit.png."""

from __future__ import annotations

import pytest

from tests.conftest import Server, ioc
from tests.test_browser import PASSWORD, SHOTS, browser, login  # noqa: F401 - the browser fixture

pytestmark = pytest.mark.browser  # runs once, against the embedded default (the demo's setup)


def test_an_administrator_manages_a_user(server: Server, browser) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    ioc("user", "add", "quantri", "--role", "admin", "--department", "TT-IOC", "--password", PASSWORD,
        "--full-name", "Quản trị hệ thống", env=server.env)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_context(viewport={"width": 1366, "height": 800}, locale="vi-VN").new_page()
    login(page, server, "quantri")
    page.click("summary:has-text('Thiết lập')")
    page.click("a:has-text('Quản trị')")
    page.click("#admin-users a.button")
    page.fill("#username", "cv-lan")
    page.fill("#full_name", "Nguyễn Thị Lan")
    page.select_option("#role", "officer")
    page.click("#save")  # no department: refused, with the reason
    assert "Chuyên viên phải thuộc" in page.inner_text("#form-error")
    page.select_option("#department", "SO-NNMT")
    page.fill("#email", "lan.nt@thanhhoa.gov.vn")
    page.click("#save")
    first = page.inner_text("#temporary-password")
    page.click("a.button:has-text('Quay lại người dùng')")
    page.click("#reset-password")
    assert page.inner_text("#temporary-password") not in ("", first)
    page.click("a.button:has-text('Quay lại người dùng')")
    page.click("#deactivate")
    assert "Đã vô hiệu hóa" in page.inner_text(".flash.ok") and page.locator("#reactivate").count() == 1
    page.screenshot(path=str(SHOTS / "admin-user-edit.png"), full_page=True)
    page.goto(f"{server.base}/admin/users")
    row = page.inner_text("#users tr:has-text('cv-lan')")
    assert "Chuyên viên" in row and "Sở Nông nghiệp và Môi trường" in row and "Đã vô hiệu hóa" in row
    page.screenshot(path=str(SHOTS / "admin-users.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 800})  # a phone: the table scrolls in its box, not the page
    assert page.evaluate("document.querySelector('main').scrollWidth") <= 390
    assert page.evaluate("document.querySelector('.table-scroll').scrollWidth") > 390
