"""Units, departments and users: read; an administrator creates and edits people and departments, deactivates a
person, resets a password, ends a person's sessions, confirms a person's first single sign-on; a person changes
their own password."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import func, select

from engine import identities, org, sessions
from engine.errors import N_, Forbidden, NotFound
from engine.models import Department, Unit, User, UserSession
from engine.org import change_password, reset_password, set_active
from web.api.schemas import (
    DepartmentChange,
    DepartmentIn,
    DepartmentOut,
    Page,
    PasswordChange,
    PasswordReset,
    PendingUserOut,
    SessionsEnded,
    TemporaryPassword,
    UnitOut,
    UserChange,
    UserConfirm,
    UserCreated,
    UserIn,
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

    @api_auth("admin", scope=None)
    @blp.arguments(DepartmentIn)
    @blp.response(201, DepartmentOut)
    def post(self, args: dict[str, Any]) -> Department:
        """Add a department (administrators). Its code is kept once made: processes, rules and tasks name it."""
        dept = org.create_department(db(), args["code"], name=args["name"], name_en=args["name_en"],
                                     kind=args["kind"], unit_code=args["unit"], actor=principal().name)
        db().commit()
        return dept


@blp.route("/departments/<int(max=2147483647):department_id>")
class OneDepartment(MethodView):
    @api_auth("admin", scope=None)
    @blp.arguments(DepartmentChange)
    @blp.response(200, DepartmentOut)
    def patch(self, args: dict[str, Any], department_id: int) -> Department:
        """Rename a department, change its kind or its unit (administrators); the fields left out stay."""
        dept = db().get(Department, department_id)
        if dept is None:
            raise NotFound(N_("No department with id %(id)s"), id=department_id)
        unit = args["unit"] if "unit" in args else (dept.unit.code if dept.unit else None)
        org.update_department(db(), dept, name=args.get("name", dept.name), name_en=args.get("name_en", dept.name_en),
                              kind=args.get("kind", dept.kind), unit_code=unit, actor=principal().name)
        db().commit()
        return dept


@blp.route("/users")
class Users(MethodView):
    @api_auth("admin", scope=None)
    @blp.arguments(Page, location="query")
    @blp.response(200, UserOut(many=True))
    def get(self, args: dict[str, Any]) -> list[User]:
        """Users (administrators only)."""
        stmt = select(User).order_by(User.id).limit(args["limit"]).offset(args["offset"])
        return list(db().scalars(stmt))

    @api_auth("admin", scope=None)
    @blp.arguments(UserIn)
    @blp.response(201, UserCreated)
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """Add a person (administrators). Without `password`, a temporary one is made and returned this once (never
        stored in clear): the person chooses their own at the first login. An officer must have a department."""
        made = args["password"] is None
        password = org.temporary_password(args["username"], args["full_name"]) if made else args["password"]
        user = org.add_user(db(), args["username"], args["role"], password, department_code=args["department"],
                            full_name=args["full_name"], kiosk=args["kiosk"], email=args["email"],
                            must_change_password=made, actor=principal().name)
        db().commit()
        return {"user": user, "temporary_password": password if made else None}


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
    @api_auth("admin", scope=None)
    @blp.arguments(UserChange)
    @blp.response(200, UserOut)
    def patch(self, args: dict[str, Any], user_id: int) -> User:
        """Change a person's name, role, department, kiosk mark or e-mail address; deactivate (every session of
        theirs ends at once) or reactivate them (administrators). The fields left out stay. A new role, department
        or kiosk mark ends their sessions too; the last active administrator is neither demoted nor deactivated."""
        user = _user(user_id)
        profile = {"full_name", "role", "department", "kiosk", "email"}
        if profile & args.keys():
            current = user.department.code if user.department else None
            org.update_user(db(), user, full_name=args.get("full_name", user.full_name),
                            role=args.get("role", user.role_code), department_code=args.get("department", current),
                            kiosk=args.get("kiosk", user.kiosk), email=args.get("email", user.email),
                            actor=principal().name)
        if "active" in args:
            set_active(db(), user, args["active"], actor=principal().name, by_user_id=principal().user_id)
        db().commit()
        return user


@blp.route("/users/<int(max=2147483647):user_id>/password-reset")
class UserPasswordReset(MethodView):
    @api_auth("admin", scope=None)
    @blp.arguments(PasswordReset)
    @blp.response(200, TemporaryPassword)
    def post(self, args: dict[str, Any], user_id: int) -> dict[str, Any]:
        """Set a temporary password (administrators): the person's sessions end and they must choose a new password
        at their next login. Without `password`, one is made and returned once (never stored in clear)."""
        user = _user(user_id)
        made = args.get("password") is None
        temporary = org.temporary_password(user.username, user.full_name) if made else args["password"]
        live = _live_count(user.id)
        reset_password(db(), user, temporary, actor=principal().name)
        db().commit()
        return {"temporary_password": temporary if made else None, "sessions_ended": live}


@blp.route("/users/<int(max=2147483647):user_id>/sessions/end")
class UserSessionsEnd(MethodView):
    @api_auth("admin", scope=None)
    @blp.response(200, SessionsEnded)
    def post(self, user_id: int) -> dict[str, Any]:
        """Sign a person out everywhere (administrators): every session of theirs ends at once."""
        user = _user(user_id)
        count = sessions.end_all(db(), user.id, reason="signed_out_everywhere", actor=principal().name)
        db().commit()
        return {"sessions_ended": count}


@blp.route("/users/pending")
class PendingUsers(MethodView):
    @api_auth("admin", scope=None)
    @blp.response(200, PendingUserOut(many=True))
    def get(self) -> list[dict[str, Any]]:
        """The people whose first single sign-on waits for an administrator's confirmation (administrators), with
        the role and department proposed from the identity service's claims."""
        return [{"user": user, "issuer": identity.issuer, "requested_at": identity.created_at}
                for user, identity in identities.pending(db())]


@blp.route("/users/<int(max=2147483647):user_id>/confirm")
class UserConfirmation(MethodView):
    @api_auth("admin", scope=None)
    @blp.arguments(UserConfirm)
    @blp.response(200, UserOut)
    def post(self, args: dict[str, Any], user_id: int) -> User:
        """Confirm a person's first single sign-on (administrators, people only): give their final `role` and
        `department` (the account becomes active and their next sign-on signs them in), or `link_to` their existing
        account. Audited."""
        user = _user(user_id)
        target = _user(args["link_to"]) if args["link_to"] is not None else None
        confirmed = identities.confirm(db(), user, role=args["role"], department_code=args["department"],
                                       actor=principal().name, link_to=target)
        db().commit()
        return confirmed


@blp.route("/users/me/password")
class MyPassword(MethodView):
    @api_auth(scope=None)
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
