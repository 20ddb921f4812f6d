"""Who is asking: a person by session cookie, a machine by bearer token. Role checks for every endpoint."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, redirect, request, session, url_for
from flask_wtf.csrf import CSRFError, validate_csrf
from sqlalchemy.exc import SQLAlchemyError
from wtforms import ValidationError

from engine import scopes, sessions, tokens
from engine.db import transaction, utcnow
from engine.errors import N_, EngineError, Forbidden
from engine.models import User
from engine.org import Principal, principal_for
from web.db import db, lookup_db

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
ALL_ROLES = ("leader", "officer", "operator", "designer", "admin")


class Unauthorized(EngineError):
    status = 401
    code = "unauthorized"


def signed_in() -> sessions.Signed | None:
    """This request's session cookie's session, while it is valid on the server (engine.sessions), with what the
    checks need of its person; ``g.session_id`` is the session's row. Its use is noted (at most once a minute)."""
    if "signed" not in g:
        sid = session.get("sid")
        row = sessions.signed(db(), sid, cached=True)
        g.signed, g.session_id = row, row.id if row is not None else None
        if row is not None:
            now = utcnow()
            if sessions.needs_touch(row, now) and request.path != STREAM_PATH and _touch(row.id, now):
                sessions.noted(sid, now)
    result: sessions.Signed | None = g.signed
    return result


def current_user() -> User | None:
    """The person of this request's session (an ORM object, for pages and for what changes the person)."""
    if "user" not in g:
        row = signed_in()
        g.user = db().get(User, row.user_id) if row is not None else None
    result: User | None = g.user
    return result


OWN_PASSWORD_PATH = "/api/v1/users/me/password"  # noqa: S105 - a path, not a password
STREAM_PATH = "/api/v1/stream"  # not a person's activity: a page left open must not keep its session alive


def _touch(session_id: int, now: object) -> bool:
    """Note the session's use. A reading request writes in a short transaction of its own; a writing one in its
    own session (on SQLite that session already holds the write lock), committed before its work begins."""
    try:
        if request.method in SAFE_METHODS:
            with transaction() as s:
                sessions.touch(s, session_id, now)  # type: ignore[arg-type]
        else:
            sessions.touch(db(), session_id, now)  # type: ignore[arg-type]
            db().commit()
    except SQLAlchemyError as exc:  # the use is noted next minute; the request goes on
        log.warning("could not note the use of session %s: %s", session_id, exc.__class__.__name__)
        db().rollback()
        return False
    return True


def _note_token_use(principal: Principal) -> None:
    """A token's last use, noted (and audited) at most every few minutes, in a short transaction of its own."""
    try:
        with transaction() as s:
            tokens.note_use(s, principal.token_id, principal.name[len("token:"):], address=request.remote_addr,
                            now=utcnow())  # type: ignore[arg-type]
    except SQLAlchemyError as exc:
        log.warning("could not note the use of token %s: %s", principal.token_id, exc.__class__.__name__)


def check_person(user: User | sessions.Signed) -> None:
    """What a valid session still may not do: anything but change the password once an administrator has reset
    it; anything but read, for a kiosk account (the wall's screen)."""
    if user.must_change_password and request.path != OWN_PASSWORD_PATH:
        raise Forbidden(N_("Choose a new password first (Account page)"), code="password_change_required")
    if user.kiosk and request.method not in SAFE_METHODS:
        raise Forbidden(N_("A kiosk account only reads"), code="kiosk_read_only")


def current_principal() -> Principal | None:
    if "principal" in g:
        result: Principal | None = g.principal
        return result
    header = request.headers.get("Authorization", "")
    principal: Principal | None = None
    if header.lower().startswith("bearer "):
        with lookup_db() as session_:
            row = tokens.lookup(session_, header[7:].strip()[:200])
            principal = tokens.principal_of(row) if row is not None else None
            note = row is not None and tokens.needs_note(row, utcnow())
        if principal is None:
            raise Unauthorized("The bearer token is not valid, or has expired or been revoked")
        if note:
            _note_token_use(principal)
    else:
        person = signed_in()
        if person is not None:
            check_person(person)
            principal = Principal(name=person.username, role=person.role_code, department_id=person.department_id,
                                  user_id=person.user_id)
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


AUTO = "auto"  # the scope of the endpoint's area and method (engine.scopes.needed)


def check_scope(principal: Principal, scope: str | None) -> None:
    """A token may do only what one of its scopes names; an endpoint without a scope is for people only."""
    if principal.scopes is None:
        return
    needed = scopes.needed(request.blueprint, request.method) if scope == AUTO else scope
    if needed is None:
        raise Forbidden(N_("Only a person may do this, not a token"), code="token_not_allowed")
    if needed not in principal.scopes:
        raise Forbidden(N_("This token lacks the scope %(scope)s"), code="scope_missing", scope=needed,
                        details={"needed": needed})


def api_auth(*roles: str, scope: str | None = AUTO) -> Callable[[F], F]:
    """API endpoints: a principal of one of ``roles`` (any role when none are named); a token also needs the
    endpoint's scope (by default its area's ``read`` or ``write``; ``scope=None``: people only)."""
    allowed = roles or ALL_ROLES

    def decorate(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = current_principal()
            if principal is None:
                raise Unauthorized("Log in, or send a bearer token")
            _check_csrf_for_cookie()
            check_scope(principal, scope)
            if principal.role not in allowed:
                raise Forbidden("Your role may not do this")
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def page_auth(*roles: str, post_roles: tuple[str, ...] | None = None) -> Callable[[F], F]:
    """Pages: a logged-in person of one of ``roles``; others go to the login page. A page whose form changes
    things names who may send it (``post_roles``): the others are refused before the form is read."""
    allowed = roles or ALL_ROLES

    def decorate(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                return redirect(url_for("pages.login", next=request.full_path))
            if user.must_change_password:
                return redirect(url_for("account.password"))
            check_person(user)
            if user.role_code not in allowed:
                raise Forbidden("Your role may not open this page")
            if post_roles is not None and request.method not in SAFE_METHODS and user.role_code not in post_roles:
                raise Forbidden(N_("Your role may not do this"))
            g.principal = principal_for(user)
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def principal() -> Principal:
    p = current_principal()
    assert p is not None
    return p

