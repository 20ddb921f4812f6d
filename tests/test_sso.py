"""Single sign-on (issue 18) against a real OpenID Connect provider (tests/oidc: npm's oidc-provider, started once
per session): the code flow through the provider's own login and consent pages; a first sign-on waits for an
administrator, who confirms the role and department (or links an existing account); a tampered state or nonce is
refused; a deactivated person cannot sign on. Flask's test client is IOC, requests is the browser at the provider."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from sqlalchemy import select

from engine import identities, org
from engine.config import ConfigError
from engine.db import transaction
from engine.models import AuditEntry, User, UserIdentity, UserSession
from tests import factories
from tests.oidc.fixtures import TEST_CLIENT_CALLBACK, OidcProvider, path_of, through_provider
from tests.test_api import login


@pytest.fixture
def sso_app(oidc_provider: OidcProvider, monkeypatch: pytest.MonkeyPatch) -> Any:
    for key, value in oidc_provider.app_env().items():
        monkeypatch.setenv(key, value)
    from web.app import create_app

    return create_app({"TESTING": True})


def sign_on(app: Any, client: Any, browser: requests.Session, login_name: str) -> Any:
    """Click "Single sign-on", go through the provider, and come back to IOC's callback."""
    resp = client.get("/login/sso?next=/alerts")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    back = through_provider(resp.headers["Location"], browser, login_name, stop_at=TEST_CLIENT_CALLBACK)
    return client.get(path_of(back))


def page_text(resp: Any) -> str:
    return re.sub(r"\s+", " ", resp.get_data(as_text=True))


def admin_client(app: Any) -> tuple[Any, str]:
    factories.user("admin", name="quantri")
    client = app.test_client()
    return client, login(client, "quantri")


def the_user(username: str) -> tuple[User, UserIdentity | None]:
    with transaction() as s:
        user = s.scalar(select(User).where(User.username == username))
        assert user is not None
        identity = s.scalar(select(UserIdentity).where(UserIdentity.user_id == user.id))
        s.expunge_all()
        return user, identity


def test_first_sign_on_waits_for_an_administrator_then_signs_in(sso_app, oidc_provider) -> None:  # type: ignore[no-untyped-def]
    assert "Đăng nhập một lần (SSO)" in page_text(sso_app.test_client().get("/login"))
    client, browser = sso_app.test_client(), requests.Session()
    first = sign_on(sso_app, client, browser, "an.nguyen")
    assert first.status_code == 403
    assert "Tài khoản của bạn đang chờ quản trị viên xác nhận" in page_text(first)
    user, identity = the_user("nguyenvana")  # proposed from the claims, inactive until confirmed
    assert (user.active, user.role_code, user.full_name, user.email) == (False, "officer", "Nguyễn Văn An",
                                                                        "an.nguyen@thanhhoa.gov.vn")
    assert identity is not None and (identity.issuer, identity.subject) == (oidc_provider.issuer, "an.nguyen")
    assert identity.confirmed_at is None
    assert client.get("/inbox").status_code == 302  # not signed in
    assert sign_on(sso_app, client, browser, "an.nguyen").status_code == 403  # still waiting; no second account

    admin, csrf = admin_client(sso_app)
    waiting = admin.get("/api/v1/users/pending").get_json()
    assert [(w["user"]["username"], w["user"]["role"], w["user"]["department"]) for w in waiting] == [
        ("nguyenvana", "officer", "SO-NNMT")]
    resp = admin.post(f"/api/v1/users/{user.id}/confirm", json={"role": "leader", "department": "VP-UBND"},
                      headers={"X-CSRFToken": csrf})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert (resp.get_json()["active"], resp.get_json()["role"]) == (True, "leader")
    again = admin.post(f"/api/v1/users/{user.id}/confirm", json={"role": "leader", "department": "VP-UBND"},
                       headers={"X-CSRFToken": csrf})
    assert again.status_code == 409

    signed = sign_on(sso_app, client, browser, "an.nguyen")  # the provider remembers them: straight back
    assert signed.status_code == 302 and signed.headers["Location"].endswith("/alerts")
    inbox = client.get("/inbox")
    assert inbox.status_code == 200 and "Nguyễn Văn An" in page_text(inbox)
    with transaction() as s:
        user = s.scalar(select(User).where(User.username == "nguyenvana"))
        assert (user.role_code, user.department.code) == ("leader", "VP-UBND")
        assert s.scalar(select(UserSession).where(UserSession.user_id == user.id)) is not None
        audited = {(a.actor, a.action): a.details for a in s.scalars(select(AuditEntry))}
    assert audited[("nguyenvana", "user.login")]["method"] == "sso"
    assert audited[("quantri", "user.confirmed")]["role"] == "leader"
    assert audited[("nguyenvana", "user.created")]["proposed_department"] == "SO-NNMT"
    assert oidc_provider.client_secret not in str(audited)
    page = client.get("/inbox").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/inbox").status_code == 302  # the same server-side session as a local login: it ends


def test_a_tampered_state_or_nonce_is_refused(sso_app) -> None:  # type: ignore[no-untyped-def]
    client, browser = sso_app.test_client(), requests.Session()
    start = client.get("/login/sso")
    back = through_provider(start.headers["Location"], browser, "an.nguyen", stop_at=TEST_CLIENT_CALLBACK)
    state = re.search(r"state=([^&]+)", back).group(1)
    forged = client.get(path_of(back).replace(f"state={state}", "state=forged-by-an-attacker"))
    assert forged.status_code == 400
    assert "Lượt đăng nhập này không hợp lệ hoặc đã hết hạn" in page_text(forged)

    start = client.get("/login/sso")
    state = re.search(r"state=([^&]+)", start.headers["Location"]).group(1)
    with client.session_transaction() as cookie:  # the nonce that the ID token must carry, changed
        kept = cookie[f"_state_province_{state}"]
        kept["data"]["nonce"] = "not-the-nonce-that-was-sent"
        cookie[f"_state_province_{state}"] = kept
    back = through_provider(start.headers["Location"], browser, "an.nguyen", stop_at=TEST_CLIENT_CALLBACK)
    wrong_nonce = client.get(path_of(back))
    assert wrong_nonce.status_code == 400
    assert "Không xác minh được câu trả lời của dịch vụ định danh" in page_text(wrong_nonce)
    assert client.get(path_of(back)).status_code == 400  # and a callback is not taken twice
    with transaction() as s:
        assert s.scalars(select(User.username)).all() == []  # nobody was proposed


def test_a_deactivated_person_cannot_sign_on(sso_app) -> None:  # type: ignore[no-untyped-def]
    client, browser = sso_app.test_client(), requests.Session()
    assert sign_on(sso_app, client, browser, "an.nguyen").status_code == 403
    with transaction() as s:
        user = s.scalar(select(User).where(User.username == "nguyenvana"))
        identities.confirm(s, user, role="officer", department_code="SO-NNMT", actor="quantri")
        org.set_active(s, user, False, actor="quantri")
    refused = sign_on(sso_app, client, browser, "an.nguyen")
    assert refused.status_code == 403 and "Tài khoản này đã bị vô hiệu hóa" in page_text(refused)
    assert client.get("/inbox").status_code == 302


def test_only_an_administrator_links_an_existing_account(sso_app) -> None:  # type: ignore[no-untyped-def]
    local = factories.user("leader", department="VP-UBND", name="lethibinh")  # the provider's user name, locally
    client, browser = sso_app.test_client(), requests.Session()
    assert sign_on(sso_app, client, browser, "binh.le").status_code == 403  # not signed in as the local account
    proposed, _ = the_user("lethibinh.sso")
    admin, csrf = admin_client(sso_app)
    resp = admin.post(f"/api/v1/users/{proposed.id}/confirm", json={"link_to": local.user_id},
                      headers={"X-CSRFToken": csrf})
    assert resp.status_code == 200 and resp.get_json()["username"] == "lethibinh"
    assert sign_on(sso_app, client, browser, "binh.le").status_code == 302
    with transaction() as s:
        assert s.scalar(select(User).where(User.username == "lethibinh.sso")) is None
        assert s.scalar(select(UserSession).where(UserSession.user_id == local.user_id)) is not None


@pytest.mark.no_database
def test_claims_map_to_a_role_by_configuration() -> None:
    env = {"IOC_OIDC_ISSUER": "https://sso.thanhhoa.gov.vn", "IOC_OIDC_CLIENT_ID": "ioc",
           "IOC_OIDC_CLIENT_SECRET": "s3cret", "IOC_OIDC_ROLE_CLAIM": "realm_access.roles",
           "IOC_OIDC_ROLE_MAP": "ioc-leaders=leader, ioc-officers=officer"}
    config = identities.load_config(env)
    assert config is not None and "s3cret" not in repr(config)
    for claims, role in (({"realm_access": {"roles": ["x", "ioc-officers", "ioc-leaders"]}}, "leader"),
                         ({"realm_access": {"roles": ["ioc-officers"]}}, "officer"),
                         ({"realm_access": {"roles": "ioc-officers"}}, "officer"),
                         ({"realm_access": {"roles": ["staff"]}}, None), ({}, None)):
        assert identities.proposed_role(config, claims) == role, claims
    assert identities.parse_role_map("cn=lead,ou=ioc=leader;cn=off,ou=ioc=officer") == (
        ("cn=lead,ou=ioc", "leader"), ("cn=off,ou=ioc", "officer"))
    assert identities.load_config({}) is None
    assert identities.load_config({**env, "IOC_ENV": "production",
                                   "IOC_OIDC_REDIRECT_URI": "https://ioc.thanhhoa.gov.vn/login/sso/callback"})
    for bad in ({"IOC_OIDC_CLIENT_ID": ""}, {"IOC_OIDC_ROLE_MAP": "ioc-bosses=boss"},
                {"IOC_OIDC_ISSUER": "sso.thanhhoa.gov.vn"}, {"IOC_OIDC_ISSUER": "http://sso", "IOC_ENV": "production"},
                {"IOC_ENV": "production"}):
        with pytest.raises(ConfigError):
            identities.load_config({**env, **bad})
