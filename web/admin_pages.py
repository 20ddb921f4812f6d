"""Administration (administrators only): people — create, edit, deactivate and reactivate, reset a password, sign
out everywhere — and departments with their units. Every change is an engine action (engine.org), which audits it;
this module parses the forms and renders the pages."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, make_response, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from engine import identities, org, sessions
from engine.errors import N_, EngineError, NotFound
from engine.models import ROLES, Department, Unit, User
from web.auth import page_auth
from web.db import db
from web.input_guard import bounded_int

bp = Blueprint("admin_pages", __name__)
PER_PAGE = 50
NO_DEPARTMENT = "-"  # the users filter's value for "no department"
KIND_LABELS = {"agency": N_("Provincial department or agency"), "commune": N_("Commune or ward People's Committee")}


@bp.context_processor
def _helpers() -> dict[str, Any]:
    english = str(get_locale()) == "en"

    def role_name(code: str) -> str:
        names = org.ROLE_NAMES.get(code)
        return (names[1] if english else names[0]) if names else code

    def dept_name(dept: Department | None) -> str:
        if dept is None:
            return "—"
        return dept.name_en if english and dept.name_en else dept.name

    return {"role_name": role_name, "dept_name": dept_name, "roles": ROLES, "no_department": NO_DEPARTMENT,
            "kind_label": lambda kind: _(KIND_LABELS[kind]) if kind in KIND_LABELS else kind}


def _message(exc: EngineError) -> str:
    return _(exc.message, **exc.params)


def _departments() -> list[Department]:
    return list(db().scalars(select(Department).order_by(Department.kind, Department.name)))


@bp.route("/admin")
@page_auth("admin")
def overview() -> Any:
    s = db()
    by_role = dict(s.execute(select(User.role_code, func.count()).where(User.active.is_(True))
                             .group_by(User.role_code)).all())
    inactive = s.scalar(select(func.count()).select_from(User).where(User.active.is_(False))) or 0
    homeless = s.scalar(select(func.count()).select_from(User).where(
        User.role_code == "officer", User.department_id.is_(None), User.active.is_(True))) or 0
    by_kind = dict(s.execute(select(Department.kind, func.count()).group_by(Department.kind)).all())
    units = s.scalar(select(func.count()).select_from(Unit)) or 0
    return render_template("admin.html", by_role=by_role, inactive=inactive, homeless=homeless, by_kind=by_kind,
                           units=units, waiting=identities.pending(s), departments=_departments())


@bp.route("/admin/users/<int(max=2147483647):user_id>/confirm", methods=["POST"])
@page_auth("admin")
def confirm_sign_on(user_id: int) -> Any:
    """A person's first single sign-on, confirmed with their final role and department (engine.identities)."""
    user = _user(user_id)
    try:
        identities.confirm(db(), user, role=request.form.get("role") or None,
                           department_code=request.form.get("department") or None, actor=g.principal.name)
        db().commit()
        flash(_("%(name)s may now sign in", name=user.username), "ok")
    except EngineError as exc:
        db().rollback()
        flash(_message(exc), "error")
    return redirect(url_for("admin_pages.overview"))


@bp.route("/admin/users")
@page_auth("admin")
def users() -> Any:
    args = request.args
    q = (args.get("q") or "").strip()[:100]
    role = args.get("role") if args.get("role") in ROLES else ""
    department = (args.get("department") or "").strip()[:40]
    active = args.get("active") if args.get("active") in ("1", "0") else ""
    page = max(1, args.get("page", default=1, type=bounded_int) or 1)
    stmt = select(User)
    if q:
        stmt = stmt.where(or_(User.username.ilike(f"%{q}%"), User.full_name.ilike(f"%{q}%")))
    if role:
        stmt = stmt.where(User.role_code == role)
    if department == NO_DEPARTMENT:
        stmt = stmt.where(User.department_id.is_(None))
    elif department:
        stmt = stmt.join(Department, Department.id == User.department_id).where(Department.code == department)
    if active:
        stmt = stmt.where(User.active.is_(active == "1"))
    s = db()
    total = s.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = list(s.scalars(stmt.options(selectinload(User.department)).order_by(User.active.desc(), User.username)
                          .limit(PER_PAGE).offset((page - 1) * PER_PAGE)))
    return render_template("admin_users.html", rows=rows, live=sessions.live_counts(s, rows), total=total,
                           page=page, per_page=PER_PAGE, q=q, role=role, department=department, active=active,
                           departments=_departments())


def _profile_form() -> dict[str, Any]:
    form = request.form
    return {"full_name": form.get("full_name", "")[:200], "role": form.get("role", ""),
            "department_code": form.get("department") or None, "kiosk": form.get("kiosk") == "on",
            "email": form.get("email", "")[:200] or None}


def _temporary_page(user: User, password: str, created: bool) -> Any:
    """The temporary password, shown in this one response and never again (nor kept by the browser)."""
    response = make_response(render_template("admin_temporary.html", person=user, password=password,
                                             created=created))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/admin/users/new", methods=["GET", "POST"])
@page_auth("admin")
def new_user() -> Any:
    values: dict[str, Any] = {"username": "", "full_name": "", "role": "officer", "department_code": None,
                              "kiosk": False, "email": None}
    if request.method == "POST":
        values = {"username": request.form.get("username", "")[:80], **_profile_form()}
        try:
            password = org.temporary_password(values["username"], values["full_name"])
            user = org.add_user(db(), values.pop("username"), values.pop("role"), password,
                                must_change_password=True, actor=g.principal.name, **values)
            db().commit()
            return _temporary_page(user, password, created=True)
        except EngineError as exc:
            db().rollback()
            values = {"username": request.form.get("username", ""), **_profile_form()}
            return render_template("admin_user.html", person=None, values=values, error=_message(exc),
                                   departments=_departments()), exc.status
    return render_template("admin_user.html", person=None, values=values, error=None, departments=_departments())


def _user(user_id: int) -> User:
    user = db().get(User, user_id)
    if user is None:
        raise NotFound(N_("No user with id %(id)s"), id=user_id)
    return user


def _user_page(user: User, *, error: str | None = None, status: int = 200, values: dict[str, Any] | None = None
               ) -> Any:
    if values is None:
        values = {"username": user.username, "full_name": user.full_name, "role": user.role_code,
                  "department_code": user.department.code if user.department else None, "kiosk": user.kiosk,
                  "email": user.email}
    return render_template("admin_user.html", person=user, values=values, error=error, departments=_departments(),
                           live=sessions.live_counts(db(), [user])[user.id]), status


@bp.route("/admin/users/<int(max=2147483647):user_id>", methods=["GET", "POST"])
@page_auth("admin")
def edit_user(user_id: int) -> Any:
    user = _user(user_id)
    if request.method == "GET":
        return _user_page(user)
    values = _profile_form()
    try:
        changes = org.update_user(db(), user, actor=g.principal.name, **values)
        db().commit()
    except EngineError as exc:
        db().rollback()
        return _user_page(_user(user_id), error=_message(exc), status=exc.status,
                          values={"username": user.username, **values})
    if not changes:
        flash(_("Nothing changed"), "ok")
    elif changes.keys() & {"role", "department", "kiosk"}:
        flash(_("Saved. Their rights changed: their sessions have ended, they sign in again"), "ok")
    else:
        flash(_("Saved"), "ok")
    return redirect(url_for("admin_pages.edit_user", user_id=user_id))


@bp.route("/admin/users/<int(max=2147483647):user_id>/active", methods=["POST"])
@page_auth("admin")
def set_active(user_id: int) -> Any:
    user = _user(user_id)
    active = request.form.get("active") == "1"
    try:
        org.set_active(db(), user, active, actor=g.principal.name, by_user_id=g.principal.user_id)
        db().commit()
    except EngineError as exc:
        db().rollback()
        return _user_page(_user(user_id), error=_message(exc), status=exc.status)
    flash(_("Reactivated") if active else _("Deactivated: every session of theirs has ended"), "ok")
    return redirect(url_for("admin_pages.edit_user", user_id=user_id))


@bp.route("/admin/users/<int(max=2147483647):user_id>/password-reset", methods=["POST"])
@page_auth("admin")
def reset_password(user_id: int) -> Any:
    user = _user(user_id)
    password = org.temporary_password(user.username, user.full_name)
    org.reset_password(db(), user, password, actor=g.principal.name)
    db().commit()
    return _temporary_page(user, password, created=False)


@bp.route("/admin/users/<int(max=2147483647):user_id>/sessions/end", methods=["POST"])
@page_auth("admin")
def end_sessions(user_id: int) -> Any:
    user = _user(user_id)
    count = sessions.end_all(db(), user.id, reason="signed_out_everywhere", actor=g.principal.name)
    db().commit()
    flash(_("%(n)s session(s) ended", n=count), "ok")
    return redirect(url_for("admin_pages.edit_user", user_id=user_id))


def _units() -> list[Unit]:
    return list(db().scalars(select(Unit).order_by(Unit.parent_id.is_not(None), Unit.name)))


def _department_form() -> dict[str, Any]:
    form = request.form
    return {"name": form.get("name", "")[:250], "name_en": form.get("name_en", "")[:250],
            "kind": form.get("kind", ""), "unit_code": form.get("unit") or None}


@bp.route("/admin/departments", methods=["GET", "POST"])
@page_auth("admin")
def departments() -> Any:
    args = request.args
    q = (args.get("q") or "").strip()[:100]
    kind = args.get("kind") if args.get("kind") in org.DEPARTMENT_KINDS else ""
    page = max(1, args.get("page", default=1, type=bounded_int) or 1)
    values: dict[str, Any] = {"code": "", "name": "", "name_en": "", "kind": "agency", "unit_code": None}
    error, status = None, 200
    if request.method == "POST":
        values = {"code": request.form.get("code", "")[:40], **_department_form()}
        try:
            dept = org.create_department(db(), values.pop("code"), actor=g.principal.name, **values)
            db().commit()
            flash(_("Department %(code)s added", code=dept.code), "ok")
            return redirect(url_for("admin_pages.edit_department", department_id=dept.id))
        except EngineError as exc:
            db().rollback()
            values = {"code": request.form.get("code", ""), **_department_form()}
            error, status = _message(exc), exc.status
    stmt = select(Department)
    if q:
        stmt = stmt.where(or_(Department.code.ilike(f"%{q}%"), Department.name.ilike(f"%{q}%"),
                              Department.name_en.ilike(f"%{q}%")))
    if kind:
        stmt = stmt.where(Department.kind == kind)
    s = db()
    total = s.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = list(s.scalars(stmt.options(selectinload(Department.unit)).order_by(Department.kind, Department.name)
                          .limit(PER_PAGE).offset((page - 1) * PER_PAGE)))
    people = dict(s.execute(select(User.department_id, func.count()).where(
        User.department_id.in_([d.id for d in rows]), User.active.is_(True)).group_by(User.department_id)).all())
    return render_template("admin_departments.html", rows=rows, people=people, total=total, page=page,
                           per_page=PER_PAGE, q=q, kind=kind, values=values, error=error, units=_units(),
                           kinds=org.DEPARTMENT_KINDS), status


@bp.route("/admin/departments/<int(max=2147483647):department_id>", methods=["GET", "POST"])
@page_auth("admin")
def edit_department(department_id: int) -> Any:
    dept = db().get(Department, department_id)
    if dept is None:
        raise NotFound(N_("No department with id %(id)s"), id=department_id)
    values: dict[str, Any] = {"name": dept.name, "name_en": dept.name_en, "kind": dept.kind,
                              "unit_code": dept.unit.code if dept.unit else None}
    error, status = None, 200
    if request.method == "POST":
        values = _department_form()
        try:
            changes = org.update_department(db(), dept, actor=g.principal.name, **values)
            db().commit()
            flash(_("Saved") if changes else _("Nothing changed"), "ok")
            return redirect(url_for("admin_pages.edit_department", department_id=department_id))
        except EngineError as exc:
            db().rollback()
            error, status = _message(exc), exc.status
            dept = db().get(Department, department_id)
    return render_template("admin_department.html", dept=dept, values=values, error=error, units=_units(),
                           kinds=org.DEPARTMENT_KINDS), status
