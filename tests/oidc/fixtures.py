"""The OpenID Connect provider of the single sign-on tests (tests/test_sso.py, tests/test_browser_sso.py): npm's
oidc-provider (panva's, OpenID Certified) run by node with the configuration in provider.mjs, started once per test
session on a free port. Loaded by tests/conftest.py as a plugin, so that both test files share the one provider."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent.parent
SCRIPT = Path(__file__).with_name("provider.mjs")
NODE = shutil.which("node")
MISSING = ("node is not installed" if NODE is None else
           "npm's oidc-provider is not installed" if not (ROOT / "node_modules" / "oidc-provider").is_dir() else "")
TEST_CLIENT_CALLBACK = "http://localhost/login/sso/callback"  # where Flask's test client says it is


@dataclass(frozen=True)
class OidcProvider:
    issuer: str
    client_secret: str
    app_port: int  # a free port for a test's `ioc run`, whose callback the provider's client has registered

    def app_env(self) -> dict[str, str]:
        """The IOC settings for this provider (engine.identities)."""
        return {"IOC_OIDC_ISSUER": self.issuer, "IOC_OIDC_CLIENT_ID": "ioc",
                "IOC_OIDC_CLIENT_SECRET": self.client_secret, "IOC_OIDC_SCOPES": "openid profile email ioc",
                "IOC_OIDC_DEPARTMENT_CLAIM": "ioc_department", "IOC_OIDC_ROLE_CLAIM": "ioc_groups",
                "IOC_OIDC_ROLE_MAP": "ioc-leaders=leader,ioc-officers=officer"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    if MISSING:
        pytest.skip(f"{MISSING}: bash scripts/install.sh --dev installs it (the single sign-on tests need it)")
    port, app_port = _free_port(), _free_port()
    found = OidcProvider(f"http://127.0.0.1:{port}", "test-secret-" + secrets.token_hex(16), app_port)
    log = tmp_path_factory.mktemp("oidc") / "provider.log"
    env = dict(os.environ, OIDC_PORT=str(port), OIDC_CLIENT_SECRET=found.client_secret,
               OIDC_REDIRECT_URIS=f"{TEST_CLIENT_CALLBACK},http://127.0.0.1:{app_port}/login/sso/callback")
    with log.open("wb") as out:
        proc = subprocess.Popen([str(NODE), str(SCRIPT)], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{found.issuer}/.well-known/openid-configuration", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the OpenID Connect provider did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield found
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


def through_provider(url: str, browser: requests.Session, login: str, *, stop_at: str) -> str:
    """Follow the provider from its authorization URL as a browser would: fill its own login page (its dev login
    takes any password) and its consent page, until it sends the browser back to ``stop_at``; returns that URL."""
    resp = browser.get(url, allow_redirects=False, timeout=10)
    for _ in range(12):
        if resp.is_redirect:
            url = urljoin(resp.url, resp.headers["Location"])
            if url.startswith(stop_at):
                return url
            resp = browser.get(url, allow_redirects=False, timeout=10)
            continue
        assert resp.status_code == 200, resp.text[:2000]
        form = _form(resp.text)
        data = {"prompt": form["prompt"]}
        if form["prompt"] == "login":
            data.update(login=login, password="the provider's password")
        resp = browser.post(urljoin(resp.url, form["action"]), data=data, allow_redirects=False, timeout=10)
    raise AssertionError("the provider did not send the browser back")


def _form(html: str) -> dict[str, Any]:
    action = re.search(r'<form[^>]*action="([^"]+)"', html)
    prompt = re.search(r'name="prompt" value="([^"]+)"', html)
    assert action and prompt, html[:2000]
    return {"action": action.group(1).replace("&amp;", "&"), "prompt": prompt.group(1)}


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"
