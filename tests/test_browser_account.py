"""In Chromium: a leader changes her password on the desk computer, and the session on her phone ends at once; she
logs out in one tab and the other tab goes to the login page by itself. Saves docs/screenshots/account.png and
account-password.png."""

from __future__ import annotations

import re

import pytest

from tests.conftest import Server, ioc
from tests.test_browser import PASSWORD, SHOTS, browser, login  # noqa: F401 - the browser fixture

pytestmark = pytest.mark.browser  # runs once, against the embedded default (the demo's setup)
NEW_PASSWORD = "hoa phượng đỏ sân trường"


def test_password_change_and_logout_end_the_other_sessions(server: Server, browser) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    ioc("user", "add", "lanhdao", "--role", "leader", "--department", "VP-UBND", "--password", PASSWORD,
        "--full-name", "Lê Thị Bình", env=server.env)
    SHOTS.mkdir(parents=True, exist_ok=True)
    desk = browser.new_context(viewport={"width": 1366, "height": 800}, locale="vi-VN")
    phone = browser.new_context(viewport={"width": 390, "height": 800}, locale="vi-VN", is_mobile=True)
    tab, mobile = desk.new_page(), phone.new_page()
    login(tab, server, "lanhdao")
    login(mobile, server, "lanhdao")
    mobile.wait_for_load_state("networkidle")  # the inbox follows the live stream

    tab.click("a.user")  # her name in the header: My account
    assert "Nơi tôi đang đăng nhập" in tab.inner_text("main")
    assert tab.locator("table.list tbody tr").count() == 2  # the desk and the phone
    tab.screenshot(path=str(SHOTS / "account.png"), full_page=True)
    tab.click("a.button:has-text('Đổi mật khẩu')")
    tab.fill("input[name=current_password]", PASSWORD)
    tab.fill("input[name=new_password]", "matkhau123456")
    tab.fill("input[name=confirm_password]", "matkhau123456")
    tab.click("main button[type=submit]")
    assert "phổ biến" in tab.inner_text(".flash.error")  # a common password is refused, with the reason
    tab.screenshot(path=str(SHOTS / "account-password.png"), full_page=True)
    tab.fill("input[name=current_password]", PASSWORD)
    tab.fill("input[name=new_password]", NEW_PASSWORD)
    tab.fill("input[name=confirm_password]", NEW_PASSWORD)
    tab.click("main button[type=submit]")
    assert "đã được đổi" in tab.inner_text(".flash.ok")
    mobile.wait_for_url(re.compile(r".*/login.*"), timeout=15000)  # the phone's session ended, and it shows

    other_tab = desk.new_page()
    other_tab.goto(f"{server.base}/inbox")
    other_tab.wait_for_load_state("networkidle")
    assert "/inbox" in other_tab.url
    tab.click("button:has-text('Đăng xuất')")
    other_tab.wait_for_url(re.compile(r".*/login.*"), timeout=15000)  # logged out in one tab: the other follows
    other_tab.goto(f"{server.base}/alerts")
    assert "/login" in other_tab.url
