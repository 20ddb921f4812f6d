"""Units, departments and users: read; an administrator deactivates a person, resets a password, ends a
person's sessions; a person changes their own password."""

from __future__ import annotations

import secrets
from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import func, select

from engine import sessions
from engine.errors import N_, Forbidden, NotFound
from engine.models import Department, Unit, User, UserSession
from engine.org import change_password, reset_password, set_active
from web.api.schemas import (
    DepartmentOut,
    Page,
    PasswordChange,
    PasswordReset,
    SessionsEnded,
    TemporaryPassword,
    UnitOut,
    UserChange,
    UserOut,
)
from web.auth import api_auth, current_user, principal
from web.db import db

PREFIX = ""
blp = Blueprint("organisation", __name__, description="Administrative units, departments, users")


@blp.route("/units")
class Units(MethodView):
    @api_auth()
    @blp.arguments(Page, location="query")
    @blp.response(200, UnitOut(many=True))
    def get(self, args: dict[str, Any]) -> list[Unit]:
        """The province and its 166 communes and wards (codes of the 1 July 2025 reform)."""
        stmt = select(Unit).order_by(Unit.id)
        if args.get("kind"):
            stmt = stmt.where(Unit.kind == args["kind"])
        return list(db().scalars(stmt.limit(args["limit"]).offset(args["offset"])))


@blp.route("/departments")
class Departments(MethodView):
    @api_auth()
    @blp.arguments(Page, location="query")
    @blp.response(200, DepartmentOut(many=True))
    def get(self, args: dict[str, Any]) -> list[Department]:
        """Provincial departments (sở, ban, ngành) and the People's Committees of communes and wards."""
        stmt = select(Department).order_by(Department.kind, Department.id)
        if args.get("kind"):
            stmt = stmt.where(Department.kind == args["kind"])
        return list(db().scalars(stmt.limit(args["limit"]).offset(args["offset"])))


@blp.route("/users")
class Users(MethodView):
    @api_auth("admin")
    @blp.arguments(Page, location="query")
    @blp.response(200, UserOut(many=True))
    def get(self, args: dict[str, Any]) -> list[User]:
        """Users (administrators only)."""
        stmt = select(User).order_by(User.id).limit(args["limit"]).offset(args["offset"])
        return list(db().scalars(stmt))


def _user(user_id: int) -> User:
    user = db().get(User, user_id)
    if user is None:
        raise NotFound(N_("No user with id %(id)s"), id=user_id)
    return user


def _live_count(user_id: int) -> int:
    return db().scalar(select(func.count()).select_from(UserSession).where(
        UserSession.user_id == user_id, UserSession.revoked_at.is_(None))) or 0


@blp.route("/users/<int(max=2147483647):user_id>")
class OneUser(MethodView):
    @api_auth("admin")
    @blp.arguments(UserChange)
    @blp.response(200, UserOut)
    def patch(self, args: dict[str, Any], user_id: int) -> User:
        """Deactivate (every session of theirs ends at once) or reactivate a person (administrators)."""
        user = _user(user_id)
        if "active" in args:
            if not args["active"] and user.id == principal().user_id:
                raise Forbidden(N_("You cannot deactivate yourself"))
            set_active(db(), user, args["active"], actor=principal().name)
        db().commit()
        return user


@blp.route("/users/<int(max=2147483647):user_id>/password-reset")
class UserPasswordReset(MethodView):
    @api_auth("admin")
    @blp.arguments(PasswordReset)
    @blp.response(200, TemporaryPassword)
    def post(self, args: dict[str, Any], user_id: int) -> dict[str, Any]:
        """Set a temporary password (administrators): the person's sessions end and they must choose a new password
        at their next login. Without `password`, one is made and returned once (never stored in clear)."""
        user = _user(user_id)
        made = args.get("password") is None
        temporary = secrets.token_urlsafe(12) if made else args["password"]
        live = _live_count(user.id)
        reset_password(db(), user, temporary, actor=principal().name)
        db().commit()
        return {"temporary_password": temporary if made else None, "sessions_ended": live}


@blp.route("/users/<int(max=2147483647):user_id>/sessions/end")
class UserSessionsEnd(MethodView):
    @api_auth("admin")
    @blp.response(200, SessionsEnded)
    def post(self, user_id: int) -> dict[str, Any]:
        """Sign a person out everywhere (administrators): every session of theirs ends at once."""
        user = _user(user_id)
        count = sessions.end_all(db(), user.id, reason="signed_out_everywhere", actor=principal().name)
        db().commit()
        return {"sessions_ended": count}


@blp.route("/users/me/password")
class MyPassword(MethodView):
    @api_auth()
    @blp.arguments(PasswordChange)
    @blp.response(200, SessionsEnded)
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """Change your own password (people only, not tokens): your other sessions end."""
        me = current_user()
        if me is None or not principal().is_person:
            raise Forbidden(N_("Only a person changes a password"))
        live = _live_count(me.id)
        change_password(db(), me, args["current_password"], args["new_password"], keep_session=g.session_id)
        db().commit()
        return {"sessions_ended": max(0, live - 1)}
