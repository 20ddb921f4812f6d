"""In Chromium: a person signs on through the province's OpenID Connect provider (tests/oidc: its own login and
consent pages), waits for an administrator's confirmation, and after it lands in IOC with their name. Saves
docs/screenshots/login-sso.png (the login page with its single sign-on button)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Server, ioc, ioc_env, running
from tests.oidc.fixtures import OidcProvider
from tests.test_browser import PASSWORD, SHOTS, api_session, browser  # noqa: F401 - the browser fixture

pytestmark = pytest.mark.browser  # runs once, against the embedded default (the demo's setup)


@pytest.fixture
def sso_server(tmp_path: Path, oidc_provider: OidcProvider) -> Iterator[Server]:
    """`ioc run` with single sign-on, on the port whose callback the provider's client has registered."""
    srv = Server({**ioc_env(tmp_path / "var"), **oidc_provider.app_env()}, oidc_provider.app_port,
                 tmp_path / "server.log")
    with running(srv):
        yield srv
    assert oidc_provider.client_secret not in srv.log.read_text(errors="replace")


def test_a_person_signs_on_through_the_provider(sso_server: Server, browser) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    server = sso_server
    ioc("user", "add", "quantri", "--role", "admin", "--department", "TT-IOC", "--password", PASSWORD,
        "--full-name", "Quản trị hệ thống", env=server.env)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_context(viewport={"width": 1366, "height": 800}, locale="vi-VN").new_page()
    page.goto(f"{server.base}/login")
    assert page.inner_text("#sso") == "Đăng nhập một lần (SSO)"
    page.screenshot(path=str(SHOTS / "login-sso.png"), full_page=True)

    page.click("#sso")  # the provider's own login page, then its consent page
    page.fill("input[name=login]", "an.nguyen")
    page.fill("input[name=password]", "the provider's password")
    page.click("button[type=submit]")
    page.click("button:has-text('Continue')")
    page.wait_for_url(re.compile(r".*/login/sso/callback.*"))
    assert "đang chờ quản trị viên xác nhận" in page.inner_text(".flash")

    admin = api_session(server, "quantri")
    waiting = admin.get(f"{server.base}/api/v1/users/pending").json()
    assert [w["user"]["username"] for w in waiting] == ["nguyenvana"]
    resp = admin.post(f"{server.base}/api/v1/users/{waiting[0]['user']['id']}/confirm",
                      json={"role": "officer", "department": "SO-NNMT"})
    assert resp.status_code == 200, resp.text

    page.click("#sso")  # the provider remembers the person: straight back, signed in
    page.wait_for_url(re.compile(r".*/inbox.*"))
    assert "Nguyễn Văn An" in page.inner_text("header")
