"""Who is asking: a person by session cookie, a machine by bearer token. Role checks for every endpoint."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, redirect, request, session, url_for
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from engine.errors import EngineError, Forbidden
from engine.models import User
from engine.org import Principal, principal_for, principal_for_token
from web.db import db, lookup_db

F = TypeVar("F", bound=Callable[..., Any])
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
ALL_ROLES = ("leader", "officer", "operator", "designer", "admin")


class Unauthorized(EngineError):
    status = 401
    code = "unauthorized"


def current_user() -> User | None:
    if "user" not in g:
        uid = session.get("user_id")
        user = db().get(User, uid) if uid else None
        g.user = user if user is not None and user.active else None
    result: User | None = g.user
    return result


def current_principal() -> Principal | None:
    if "principal" in g:
        result: Principal | None = g.principal
        return result
    header = request.headers.get("Authorization", "")
    principal: Principal | None = None
    if header.lower().startswith("bearer "):
        with lookup_db() as session_:
            principal = principal_for_token(session_, header[7:].strip())
        if principal is None:
            raise Unauthorized("The bearer token is not valid")
    else:
        user = current_user()
        if user is not None:
            principal = principal_for(user)
            g.cookie_auth = True
    g.principal = principal
    return principal


def _check_csrf_for_cookie() -> None:
    if request.method in SAFE_METHODS or not g.get("cookie_auth"):
        return
    try:
        validate_csrf(request.headers.get("X-CSRFToken") or request.form.get("csrf_token"))
    except (ValidationError, CSRFError) as exc:
        raise EngineError("The request lacks a valid CSRF token (send the X-CSRFToken header)",
                          code="csrf_failed") from exc


def api_auth(*roles: str) -> Callable[[F], F]:
    """API endpoints: a principal of one of ``roles`` (any role when none are named)."""
    allowed = roles or ALL_ROLES

    def decorate(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = current_principal()
            if principal is None:
                raise Unauthorized("Log in, or send a bearer token")
            _check_csrf_for_cookie()
            if principal.role not in allowed:
                raise Forbidden("Your role may not do this")
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def page_auth(*roles: str) -> Callable[[F], F]:
    """Pages: a logged-in person of one of ``roles``; others go to the login page."""
    allowed = roles or ALL_ROLES

    def decorate(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                return redirect(url_for("pages.login", next=request.full_path))
            if user.role_code not in allowed:
                raise Forbidden("Your role may not open this page")
            g.principal = principal_for(user)
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def principal() -> Principal:
    p = current_principal()
    assert p is not None
    return p

