"""Signing in and out with a local account: throttled (engine.login_throttle), a server-side session
(engine.sessions), audited. Single sign-on (web.sso) starts the same session."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from flask import g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from engine import audit, login_throttle, sessions
from engine.models import User
from engine.org import authenticate
from engine.text import nfc
from web.auth import current_user
from web.db import db


def safe_next(target: str | None) -> str:
    if target and urlparse(target).netloc == "" and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("pages.inbox")


def _throttled(seconds: int) -> Any:
    minutes = max(1, -(-seconds // 60))
    error = ngettext("Too many failed attempts: try again in %(num)d minute",
                     "Too many failed attempts: try again in %(num)d minutes", minutes)
    return render_template("login.html", error=error), 429, {"Retry-After": str(seconds)}


def attempt(username: str, password: str, next_url: str | None) -> Any:
    username = nfc(username.strip())[:80]
    address = request.remote_addr or "-"
    wait = login_throttle.retry_after(username, address)
    if wait:
        return _throttled(wait)
    user = authenticate(db(), username, password[:1024])
    if user is None:
        return _failed(username, address)
    login_throttle.succeeded(username)
    return start_session(user, next_url)


def start_session(user: User, next_url: str | None, *, method: str = "password") -> Any:
    """Sign ``user`` in (a new server-side session, audited; the cookie's other keys but the language go) and
    send them on; ``method``: how they proved who they are (``password``, ``sso``: web.sso)."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    session["sid"] = sessions.start(db(), user, address=request.remote_addr or "-",
                                    user_agent=request.headers.get("User-Agent"), method=method)
    session.permanent = True
    db().commit()
    if user.must_change_password:
        return redirect(url_for("account.password"))
    return redirect(safe_next(next_url))


def _failed(username: str, address: str) -> Any:
    from sqlalchemy import select

    known = db().scalar(select(User.id).where(User.username == username))
    locked = login_throttle.failed(username, address)
    if known is not None:
        audit.record(db(), username, "user.login_failed", "user", known, address=address)
    elif login_throttle.first_unknown_failure(address):
        audit.record(db(), "?", "user.login_failed_unknown_name", "user", "-", address=address)
    if locked:
        audit.record(db(), "?", "user.login_locked", "user", known if known is not None else "-", address=address,
                     seconds=locked)
    db().commit()
    if locked:
        return _throttled(locked)
    return render_template("login.html", error=_("Wrong user name or password")), 401


def sign_out() -> None:
    user = current_user()
    if user is not None and g.get("session_id") is not None:
        sessions.end(db(), g.session_id, reason="logout", actor=user.username)
        db().commit()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
