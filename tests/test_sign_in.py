"""Issue 18, holes 1-4 and 13: the signing key, server-side sessions, sign-in throttling, the password policy,
the CLI's passwords and its not redeploying the processes."""

from __future__ import annotations

import re
import stat
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from engine import login_throttle, passwords
from engine.config import ConfigError, load_settings
from engine.db import transaction, utcnow
from engine.models import AuditEntry, User, UserSession
from tests import factories
from tests.conftest import ioc, ioc_env

OLD_SOURCE_KEY = "ioc-development-key-change-me"  # the key that was written in the source until 2026-12


def csrf_of(client) -> str:  # type: ignore[no-untyped-def]
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def sign_in(client, username: str, password: str = factories.PASSWORD):  # type: ignore[no-untyped-def]
    return client.post("/login", data={"username": username, "password": password, "csrf_token": csrf_of(client)})


def logged_in(app, username: str):  # type: ignore[no-untyped-def]
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    return client


def page_csrf(client) -> str:  # type: ignore[no-untyped-def]
    html = client.get("/account").get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)


def copy_of(app, client):  # type: ignore[no-untyped-def]
    """Another browser holding a copy of ``client``'s session cookie."""
    other = app.test_client()
    cookie = client.get_cookie("session")
    other.set_cookie("session", cookie.value)
    return other


def audit_actions() -> list[tuple[str, str, dict]]:
    with transaction() as s:
        return [(a.actor, a.action, a.details) for a in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]


# --- 1. The signing key -------------------------------------------------------------------------------------------

@pytest.mark.no_database
def test_without_a_configured_key_a_random_one_is_made_kept_and_reused(tmp_path: Path) -> None:
    first = load_settings({"IOC_DATA_DIR": str(tmp_path / "a")})
    again = load_settings({"IOC_DATA_DIR": str(tmp_path / "a")})
    other = load_settings({"IOC_DATA_DIR": str(tmp_path / "b")})
    assert first.secret_key != OLD_SOURCE_KEY and len(first.secret_key) >= 32
    assert again.secret_key == first.secret_key and other.secret_key != first.secret_key
    key_file = tmp_path / "a" / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    production = load_settings({"IOC_DATA_DIR": str(tmp_path / "c"), "IOC_ENV": "production"})
    with pytest.raises(ConfigError, match="IOC_SECRET_KEY"):
        production.check_production()
    assert not (tmp_path / "c" / "secret_key").exists()


def test_a_cookie_signed_with_the_key_but_naming_a_user_is_refused(app) -> None:  # type: ignore[no-untyped-def]
    """Even with the signing key, a cookie names no user: it carries a session id that the server must know."""
    admin = factories.user("admin")
    forged = app.test_client()
    with forged.session_transaction() as sess:
        sess["user_id"] = admin.user_id
        sess["sid"] = "made-up-session-id"
    assert forged.get("/api/v1/users").status_code == 401
    assert forged.get("/inbox").status_code == 302


# --- 2. Sessions end on the server --------------------------------------------------------------------------------

def test_logout_ends_the_session_for_a_copied_cookie_too(app) -> None:  # type: ignore[no-untyped-def]
    factories.user("operator", "TT-IOC", name="trucban1")
    browser = logged_in(app, "trucban1")
    thief = copy_of(app, browser)
    assert thief.get("/api/v1/alerts").status_code == 200
    browser.post("/logout", data={"csrf_token": page_csrf(browser)})
    assert thief.get("/api/v1/alerts").status_code == 401
    assert thief.get("/inbox").headers["Location"].startswith("/login")
    assert ("trucban1", "user.logout") in [(a, b) for a, b, _ in audit_actions()]


def test_idle_timeout_and_absolute_lifetime(app) -> None:  # type: ignore[no-untyped-def]
    factories.user("officer", name="cv-idle")
    client = logged_in(app, "cv-idle")
    assert client.get("/api/v1/tasks").status_code == 200
    with transaction() as s:
        s.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=31)))
    assert client.get("/api/v1/tasks").status_code == 401
    client = logged_in(app, "cv-idle")
    with transaction() as s:
        s.execute(update(UserSession).where(UserSession.revoked_at.is_(None))
                  .values(expires_at=utcnow() - timedelta(seconds=1)))
    assert client.get("/api/v1/tasks").status_code == 401


def test_a_kiosk_account_stays_signed_in_for_hours_and_only_reads(app) -> None:  # type: ignore[no-untyped-def]
    with transaction() as s:
        from engine.org import add_user

        add_user(s, "manhinh", "operator", factories.PASSWORD, department_code="TT-IOC", kiosk=True)
    wall = logged_in(app, "manhinh")
    with transaction() as s:
        s.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(hours=2)))
    assert wall.get("/api/v1/wall").status_code == 200
    refused = wall.post("/api/v1/notifications/silences", json={}, headers={"X-CSRFToken": page_csrf(wall)})
    assert refused.status_code == 403 and refused.get_json()["code"] == "kiosk_read_only"


def test_a_password_change_ends_the_other_sessions(app) -> None:  # type: ignore[no-untyped-def]
    factories.user("leader", name="lanhdao1")
    phone, desk = logged_in(app, "lanhdao1"), logged_in(app, "lanhdao1")
    new = "ba con mèo đi chợ sớm"
    resp = phone.post("/account/password", data={"current_password": factories.PASSWORD, "new_password": new,
                                                 "confirm_password": new, "csrf_token": page_csrf(phone)})
    assert resp.status_code == 302
    assert desk.get("/api/v1/tasks").status_code == 401
    assert phone.get("/api/v1/tasks").status_code == 200
    rows = audit_actions()
    assert ("lanhdao1", "user.password_changed") in [(a, b) for a, b, _ in rows]
    assert new not in str(rows) and factories.PASSWORD not in str(rows)
    assert sign_in(app.test_client(), "lanhdao1", new).status_code == 302


def test_deactivation_and_sign_out_everywhere_end_sessions_at_once(app) -> None:  # type: ignore[no-untyped-def]
    factories.user("admin", "TT-IOC", name="quantri1")
    officer = factories.user("officer", name="cv-out")
    admin = logged_in(app, "quantri1")
    token = page_csrf(admin)
    one, two = logged_in(app, "cv-out"), logged_in(app, "cv-out")
    ended = admin.post(f"/api/v1/users/{officer.user_id}/sessions/end", headers={"X-CSRFToken": token})
    assert ended.get_json() == {"sessions_ended": 2}
    assert one.get("/api/v1/tasks").status_code == 401 and two.get("/api/v1/tasks").status_code == 401
    three = logged_in(app, "cv-out")
    resp = admin.patch(f"/api/v1/users/{officer.user_id}", json={"active": False}, headers={"X-CSRFToken": token})
    assert resp.status_code == 200 and resp.get_json()["active"] is False
    assert three.get("/api/v1/tasks").status_code == 401
    assert sign_in(app.test_client(), "cv-out").status_code == 401


def test_the_live_stream_ends_when_the_session_ends(app) -> None:  # type: ignore[no-untyped-def]
    factories.user("operator", "TT-IOC", name="trucban-live")
    browser = logged_in(app, "trucban-live")
    other_tab = copy_of(app, browser)
    stream = other_tab.get("/api/v1/stream?last_event_id=0-0", buffered=False)
    chunks: list[str] = []

    def read() -> None:
        for chunk in stream.response:
            chunks.append(chunk if isinstance(chunk, str) else chunk.decode())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    browser.post("/logout", data={"csrf_token": page_csrf(browser)})
    reader.join(10)
    assert not reader.is_alive(), "the stream went on after logout"
    assert "event: signed_out" in "".join(chunks)


# --- 3. Throttling ------------------------------------------------------------------------------------------------

def test_an_account_is_locked_after_five_failures_even_for_the_right_password(app) -> None:  # type: ignore[no-untyped-def]
    factories.user("admin", "TT-IOC", name="quantri2")
    client = app.test_client()
    codes = [sign_in(client, "quantri2", "wrong password here").status_code for _ in range(5)]
    assert codes == [401, 401, 401, 401, 429]
    locked = sign_in(client, "quantri2")
    assert locked.status_code == 429 and 0 < int(locked.headers["Retry-After"]) <= 60
    assert "try again in 1 minute" in sign_in(client, "quantri2").get_data(as_text=True).lower() or \
        "thử lại" in locked.get_data(as_text=True).lower()
    failed = [b for a, b, _ in audit_actions() if a == "quantri2"]
    assert failed.count("user.login_failed") == 5


def test_unknown_names_are_throttled_alike_and_do_not_fill_the_audit_log(app) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    for i in range(12):
        assert sign_in(client, f"<script>attacker-name-{i}", "whatever password").status_code == 401
    rows = audit_actions()
    assert [b for _, b, _ in rows].count("user.login_failed_unknown_name") == 1
    assert "attacker-name" not in str(rows)
    codes = {sign_in(client, "nobody-here", "x" * 12).status_code for _ in range(5)}
    assert codes == {401, 429}


@pytest.mark.no_database
@pytest.mark.parametrize(("failures", "seconds"), [(4, 0), (5, 30), (6, 60), (9, 480), (30, 900)])
def test_account_lock_doubles_up_to_its_cap(failures: int, seconds: int) -> None:
    assert login_throttle.lock_seconds(failures, login_throttle.ACCOUNT_LIMIT, login_throttle.ACCOUNT_LOCK,
                                       login_throttle.ACCOUNT_LOCK_MAX) == seconds


# --- 4. Passwords -------------------------------------------------------------------------------------------------

@pytest.mark.no_database
@pytest.mark.parametrize(("password", "ok"), [
    ("short-one", False),                      # under 12
    ("password1234", False),                   # common, with digits
    ("Password2026!", False),                  # a common word inside digits and signs
    ("iloveyou!!!!", False),
    ("matkhau12345", False),                   # Vietnamese "password"
    ("aaaaaaaaaaaaaaa", False),                # too few characters
    ("nguyenvana-2026", False),                # the user's own name
    ("Nguyễn Văn A 2026", False),              # the same, with diacritics
    ("ba con mèo đi chợ sớm", True),           # a passphrase
    ("Test-Password-2026", True),
    ("x7#Lq9!vR2@m", True),
])
def test_password_policy(password: str, ok: bool) -> None:
    found = passwords.problems(password, username="nguyenvana", full_name="Nguyễn Văn A")
    assert (found == []) is ok, found


def test_an_administrators_reset_makes_the_person_choose_a_new_password(app) -> None:  # type: ignore[no-untyped-def]
    factories.user("admin", "TT-IOC", name="quantri3")
    officer = factories.user("officer", name="cv-reset")
    admin = logged_in(app, "quantri3")
    body = admin.post(f"/api/v1/users/{officer.user_id}/password-reset", json={},
                      headers={"X-CSRFToken": page_csrf(admin)}).get_json()
    temporary = body["temporary_password"]
    client = app.test_client()
    first = sign_in(client, "cv-reset", temporary)
    assert first.headers["Location"] == "/account/password"
    assert client.get("/inbox").headers["Location"] == "/account/password"
    refused = client.get("/api/v1/tasks")
    assert refused.status_code == 403 and refused.get_json()["code"] == "password_change_required"
    html = client.get("/account/password").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    weak = client.post("/account/password", data={"current_password": temporary, "new_password": "password1234",
                                                  "confirm_password": "password1234", "csrf_token": csrf})
    assert weak.status_code == 422
    new = "sông Mã chảy về biển"
    client.post("/account/password", data={"current_password": temporary, "new_password": new,
                                           "confirm_password": new, "csrf_token": csrf})
    assert client.get("/api/v1/tasks").status_code == 200
    assert temporary not in str(audit_actions())


def test_a_weak_password_is_refused_by_the_api_with_its_reasons(app) -> None:  # type: ignore[no-untyped-def]
    factories.user("officer", name="cv-weak")
    client = logged_in(app, "cv-weak")
    resp = client.post("/api/v1/users/me/password", json={"current_password": factories.PASSWORD,
                                                           "new_password": "cv-weak-2026!"},
                       headers={"X-CSRFToken": page_csrf(client)})
    body = resp.get_json()
    assert resp.status_code == 422 and body["code"] == "weak_password" and body["details"]["reasons"]


def cli_env(tmp_path: Path) -> dict[str, str]:
    """An ``ioc`` command on the tests' own database."""
    from engine.config import settings

    return dict(ioc_env(tmp_path, embedded=False), IOC_DATABASE_URL=settings().database_url)


def test_cli_reads_the_password_from_standard_input_and_refuses_to_guess(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = cli_env(tmp_path)
    done = subprocess.run([sys.executable, "-m", "web.cli", "user", "add", "cv-stdin", "--role", "officer",
                           "--department", "SO-NNMT", "--password-stdin"], input="một hai ba bốn năm sáu\n",
                          env=env, cwd=ROOT, text=True, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    no_password = subprocess.run([sys.executable, "-m", "web.cli", "user", "add", "cv-none", "--role", "leader"],
                                 stdin=subprocess.DEVNULL, env=env, cwd=ROOT, text=True, capture_output=True,
                                 timeout=120)
    assert no_password.returncode != 0 and "--password-stdin" in no_password.stderr
    assert "Traceback" not in no_password.stderr
    no_department = ioc("user", "add", "cv-nodept", "--role", "officer", "--password", factories.PASSWORD, env=env)
    assert "deactivated" in no_department.stdout and "department" in no_department.stdout
    with transaction() as s:
        assert s.scalar(select(User.id).where(User.username == "cv-stdin")) is not None
        waiting = s.scalar(select(User).where(User.username == "cv-nodept"))
        assert waiting is not None and waiting.active is False  # can do nothing until given a department
        from engine.errors import Invalid
        from engine.org import set_active

        with pytest.raises(Invalid, match="department"):
            set_active(s, waiting, True, actor="quantri")


def test_cli_user_and_token_commands_do_not_deploy_the_processes_folder(tmp_path: Path) -> None:
    """Hole 13: `ioc user add` deployed whatever the processes folder held, credited to "system", so a designer's
    upload of that file afterwards added nothing and the audit named "system" as its author."""
    import shutil

    from engine import registry
    from tests.conftest import ROOT

    folder = tmp_path / "processes"
    shutil.copytree(ROOT / "processes", folder)
    incident = folder / "incident.bpmn"
    incident.write_text(incident.read_text(encoding="utf-8").replace(
        "</bpmn:definitions>", "<!-- the designer's next version --></bpmn:definitions>"), encoding="utf-8")
    with transaction() as s:
        before = registry.latest(s, "incident").version
    env = dict(cli_env(tmp_path), IOC_PROCESSES_DIR=str(folder))
    ioc("user", "add", "cv-cli", "--role", "officer", "--department", "SO-NNMT", "--password", factories.PASSWORD,
        env=env)
    ioc("token", "create", "sensor-cli", "--role", "operator", env=env)
    with transaction() as s:
        assert registry.latest(s, "incident").version == before
        registry.deploy(s, incident.read_bytes(), "incident.bpmn", "thietke")
    with transaction() as s:
        assert registry.latest(s, "incident").version == before + 1
        deployers = [a.actor for a in s.scalars(select(AuditEntry).where(AuditEntry.action == "process.deployed"))]
        assert deployers == ["thietke"]
