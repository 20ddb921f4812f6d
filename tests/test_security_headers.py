"""Security headers: a Content-Security-Policy that runs only this site's script files, on every page; framing
by configured origins only; HSTS and Secure cookies over HTTPS and in production; no inline script left."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest

from engine.config import ConfigError, load_settings, settings
from tests import factories
from tests.conftest import ROOT
from tests.test_api import login

DATA_BLOCKS = {"application/json", "application/xml"}  # read by scripts, never run


def directives(policy: str) -> dict[str, str]:
    return {d.split()[0]: d.partition(" ")[2] for d in (p.strip() for p in policy.split(";")) if d}


class InlineCode(HTMLParser):
    """Finds what a CSP without 'unsafe-inline' would not run: script blocks with code, on*= attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._script: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [f"<{tag} {name}=…>" for name, _ in attrs if name.startswith("on")]
        self.found += [f"<{tag} {name}=javascript:…>" for name, v in attrs
                       if (v or "").strip().lower().startswith("javascript:")]
        if tag == "script":
            self._script = dict(attrs)

    def handle_data(self, data: str) -> None:
        s = self._script
        if s is not None and data.strip() and "src" not in s and (s.get("type") or "") not in DATA_BLOCKS:
            self.found.append(f"<script> {data.strip()[:60]}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None


@pytest.mark.no_database
def test_no_template_holds_inline_script_or_event_handlers() -> None:
    found = {}
    for template in sorted((ROOT / "web" / "templates").glob("*.html")):
        parser = InlineCode()
        parser.feed(template.read_text())
        if parser.found:
            found[template.name] = parser.found
    assert found == {}


@pytest.mark.no_database
def test_frame_ancestors_must_be_origins() -> None:
    value = "https://ioc.thanhhoa.gov.vn, https://wall.thanhhoa.gov.vn:8443"
    assert load_settings({"IOC_FRAME_ANCESTORS": value}).frame_ancestors == (
        "https://ioc.thanhhoa.gov.vn", "https://wall.thanhhoa.gov.vn:8443")
    for bad in ("*", "'unsafe-inline'", "https://wall.thanhhoa.gov.vn/path", "https://a.vn;script-src"):
        with pytest.raises(ConfigError, match="IOC_FRAME_ANCESTORS"):
            load_settings({"IOC_FRAME_ANCESTORS": bad})


def page_routes(app) -> list[str]:
    return sorted({r.rule for r in app.url_map.iter_rules() if "GET" in r.methods and not r.arguments
                   and not r.rule.startswith(("/api/v1/stream", "/static"))})


def test_every_page_runs_only_this_sites_scripts(client) -> None:
    factories.user("admin", "TT-IOC", name="quantri")
    login(client, "quantri")
    pages = 0
    for path in page_routes(client.application):
        response = client.get(path)
        if response.mimetype != "text/html":
            continue
        pages += 1
        policy = directives(response.headers.get("Content-Security-Policy", ""))
        assert policy.get("script-src") == "'self'", path
        assert policy["object-src"] == "'none'" and policy["base-uri"] == "'self'", path
        assert policy["frame-ancestors"] == "'self'" and response.headers["X-Frame-Options"] == "SAMEORIGIN", path
        assert "unsafe-inline" not in policy["default-src"], path
    assert pages > 20  # the wall, the inbox, the monitors, the designer, /api/v1/docs…
    docs = client.get("/api/v1/docs").get_data(as_text=True)
    assert "/static/js/api-docs.js" in docs and "window.onload" not in docs  # swagger-ui starts from a file


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Environment variables set for the app made next (settings are read once per process)."""
    yield monkeypatch
    monkeypatch.undo()
    settings.cache_clear()


def make_client(configured: pytest.MonkeyPatch, **env: str):
    for name, value in env.items():
        configured.setenv(name, value)
    settings.cache_clear()
    from web.app import create_app

    return create_app({"TESTING": True}).test_client()


def test_the_wall_may_be_framed_by_the_configured_origins(configured) -> None:
    c = make_client(configured, IOC_FRAME_ANCESTORS="https://ioc.thanhhoa.gov.vn https://wall.thanhhoa.gov.vn")
    r = c.get("/login")
    assert directives(r.headers["Content-Security-Policy"])["frame-ancestors"] == \
        "'self' https://ioc.thanhhoa.gov.vn https://wall.thanhhoa.gov.vn"
    assert "X-Frame-Options" not in r.headers  # it cannot name other origins: browsers would refuse them


def test_hsts_and_secure_cookies_over_https_and_in_production(client, configured) -> None:
    plain = client.get("/login")
    assert "Strict-Transport-Security" not in plain.headers
    assert all("Secure" not in c for c in plain.headers.getlist("Set-Cookie"))
    assert plain.headers["Permissions-Policy"].startswith("camera=(), microphone=()")
    app = client.application
    for secure in (app.test_client().get("/login", base_url="https://ioc.example.vn"),
                   app.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})):  # behind nginx
        assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        cookies = secure.headers.getlist("Set-Cookie")
        assert cookies and all(re.search(r";\s*Secure\b", c) for c in cookies)
    production = make_client(configured, IOC_ENV="production").get("/login")
    assert production.headers["Strict-Transport-Security"].startswith("max-age=31536000")
