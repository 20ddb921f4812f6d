"""Organisation: administrative units, departments, roles and users (machine tokens: engine.tokens)."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import audit, passwords, sessions
from engine.db import utcnow
from engine.errors import N_, Conflict, Forbidden, Invalid, NotFound
from engine.models import ROLES, Department, Role, Unit, User
from engine.security import hash_password, spend_password_check, verify_password
from engine.text import nfc

DATA = Path(__file__).parent / "data"
ROLE_NAMES = {
    "leader": ("Lãnh đạo", "Leader"),
    "officer": ("Chuyên viên", "Officer"),
    "operator": ("Trực ban IOC", "IOC operator"),
    "designer": ("Thiết kế quy trình", "Process designer"),
    "admin": ("Quản trị hệ thống", "Administrator"),
}
DEPARTMENT_KINDS = ("agency", "commune")  # a sở/ban/ngành of the province; a commune's or ward's UBND
DEPARTMENT_CODE = re.compile(r"[A-Z0-9][A-Z0-9_.-]{0,39}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class Principal:
    """Who is acting: a person (user) or a machine (token). Passed to every engine action."""

    name: str
    role: str
    department_id: int | None = None
    user_id: int | None = None
    # A token's (engine.scopes): what it may do, and the sources it may send events for (None: any).
    scopes: frozenset[str] | None = None
    sources: tuple[str, ...] | None = None
    token_id: int | None = None

    @property
    def is_person(self) -> bool:
        return self.user_id is not None


SYSTEM = Principal(name="system", role="admin")


def seed_organisation(session: Session) -> dict[str, int]:
    """Roles, the province's units and its departments. Safe to run again: adds what is missing."""
    added = {"roles": 0, "units": 0, "departments": 0}
    for code in ROLES:
        if session.get(Role, code) is None:
            vi, en = ROLE_NAMES[code]
            session.add(Role(code=code, name=vi, name_en=en))
            added["roles"] += 1
    units = json.loads((DATA / "thanh_hoa_units_2025.json").read_text(encoding="utf-8"))
    existing = {u.code: u for u in session.scalars(select(Unit))}
    province = existing.get(units["province"]["code"])
    if province is None:
        province = Unit(**units["province"])
        session.add(province)
        session.flush()
        added["units"] += 1
    depts = set(session.scalars(select(Department.code)))
    for row in json.loads((DATA / "departments.json").read_text(encoding="utf-8"))["departments"]:
        if row["code"] not in depts:
            session.add(Department(kind="agency", unit_id=province.id, **row))
            added["departments"] += 1
    for row in units["units"]:
        unit = existing.get(row["code"])
        if unit is None:
            unit = Unit(parent_id=province.id, **row)
            session.add(unit)
            session.flush()
            added["units"] += 1
        code = f"UBND-{row['code']}"
        if code not in depts:
            session.add(Department(code=code, kind="commune", unit_id=unit.id,
                                   name=f"UBND {row['full_name'].replace('Phường', 'phường').replace('Xã', 'xã')}",
                                   name_en=f"People's Committee of {row['name_en']}"))
            added["departments"] += 1
    if any(added.values()):
        audit.record(session, "system", "organisation.seeded", "organisation", "thanh_hoa", **added)
    return added


def department_by_code(session: Session, code: str) -> Department:
    dept = session.scalar(select(Department).where(Department.code == code))
    if dept is None:
        raise NotFound(N_("No department with code %(dept)s"), dept=code)
    return dept


def check_role(role: str) -> None:
    if role not in ROLES:
        raise Invalid(N_("Unknown role %(role)s; use one of: %(roles)s"), role=role, roles=", ".join(ROLES))


def temporary_password(username: str = "", full_name: str = "") -> str:
    """A random password that the policy accepts, for an administrator to hand over once."""
    while True:
        made = secrets.token_urlsafe(12)
        if not passwords.problems(made, username=username, full_name=full_name):
            return made


def _profile(role: str, department_code: str | None, full_name: str, email: str | None, *,
             need_department: bool = True) -> tuple[str, str | None]:
    """Check what an administrator gives of a person; returns the name and e-mail address as kept."""
    check_role(role)
    if role == "officer" and not department_code and need_department:
        raise Invalid(N_("An officer belongs to a department: choose one"), code="department_required")
    full_name = full_name.strip()
    if len(full_name) > 200:
        raise Invalid(N_("A name has at most 200 characters"))
    email = (email or "").strip() or None
    if email is not None and (len(email) > 200 or not EMAIL.fullmatch(email)):
        raise Invalid(N_("%(email)s is not an e-mail address"), code="invalid_email", email=email)
    return full_name, email


def add_user(session: Session, username: str, role: str, password: str, *, department_code: str | None = None,
             full_name: str = "", actor: str = "system", kiosk: bool = False, email: str | None = None,
             must_change_password: bool = False, inactive_without_department: bool = False) -> User:
    """A person. An officer needs a department; with ``inactive_without_department`` (the CLI, whose contract lets
    the department out) an officer without one is made *deactivated*, to be given a department and reactivated
    by an administrator: they can do nothing meanwhile."""
    username = nfc(username.strip())  # the same name typed composed or decomposed is one account
    if not username or len(username) > 80:
        raise Invalid(N_("A user name has 1 to 80 characters"))
    waiting = inactive_without_department and role == "officer" and not department_code
    full_name, email = _profile(role, department_code, full_name, email, need_department=not waiting)
    passwords.check(password, username=username, full_name=full_name)
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise Conflict(N_("The user %(name)s already exists"), name=username)
    dept = department_by_code(session, department_code) if department_code else None
    user = User(username=username, role_code=role, password_hash=hash_password(password),
                department_id=dept.id if dept else None, full_name=full_name or username, kiosk=kiosk,
                email=email, must_change_password=must_change_password, password_changed_at=utcnow(),
                active=not waiting)
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.created", "user", user.id, username=username, role=role,
                 department=department_code, kiosk=kiosk, full_name=user.full_name, email=email,
                 must_change_password=must_change_password, active=user.active)
    return user


def _keep_an_administrator(session: Session, user: User) -> None:
    """Refuse to deactivate or demote the last active administrator: nobody could manage the users after."""
    if user.role_code != "admin" or not user.active:
        return
    others = session.scalar(select(func.count()).select_from(User).where(
        User.role_code == "admin", User.active.is_(True), User.id != user.id)) or 0
    if not others:
        raise Conflict(N_("%(name)s is the last active administrator: make another administrator first"),
                       code="last_admin", name=user.username)


def update_user(session: Session, user: User, *, full_name: str, role: str, department_code: str | None,
                kiosk: bool, email: str | None, actor: str) -> dict[str, list[Any]]:
    """An administrator changes a person's name, role, department, kiosk mark or e-mail address; returns what
    changed ({field: [before, after]}), audited. A new role, department or kiosk mark changes what the person may
    do: every session of theirs ends, and they sign in again with their new rights."""
    full_name, email = _profile(role, department_code, full_name, email)
    dept = department_by_code(session, department_code) if department_code else None
    full_name = full_name or user.username
    before: dict[str, Any] = {"full_name": user.full_name, "role": user.role_code,
                              "department": user.department.code if user.department else None,
                              "kiosk": user.kiosk, "email": user.email}
    after: dict[str, Any] = {"full_name": full_name, "role": role, "department": dept.code if dept else None,
                             "kiosk": kiosk, "email": email}
    changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if not changes:
        return changes
    if "role" in changes:
        _keep_an_administrator(session, user)
    user.full_name, user.role_code, user.kiosk, user.email = full_name, role, kiosk, email
    user.department_id, user.department = (dept.id if dept else None), dept
    audit.record(session, actor, "user.updated", "user", user.id, username=user.username, changes=changes)
    if changes.keys() & {"role", "department", "kiosk"}:
        sessions.end_all(session, user.id, reason="rights_changed", actor=actor)
    return changes


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with that name and password. Takes the same time whether or not the name exists."""
    user = session.scalar(select(User).where(User.username == nfc(username), User.active.is_(True)))
    if user is None:
        spend_password_check(password)
        return None
    return user if verify_password(user.password_hash, password) else None


def change_password(session: Session, user: User, current: str, new: str, *, keep_session: int | None) -> None:
    """A person changes their own password; their other sessions end."""
    if not verify_password(user.password_hash, current):
        raise Invalid(N_("The current password is not right"), code="wrong_password")
    if current == new:
        raise Invalid(N_("The new password must differ from the current one"), code="weak_password")
    passwords.check(new, username=user.username, full_name=user.full_name)
    user.password_hash, user.must_change_password, user.password_changed_at = hash_password(new), False, utcnow()
    audit.record(session, user.username, "user.password_changed", "user", user.id)
    sessions.end_all(session, user.id, reason="password_changed", actor=user.username, keep=keep_session)


def reset_password(session: Session, user: User, temporary: str, *, actor: str) -> None:
    """An administrator sets a temporary password: every session of the person ends, and they must choose a new
    password at their next login."""
    passwords.check(temporary, username=user.username, full_name=user.full_name)
    user.password_hash, user.must_change_password, user.password_changed_at = (hash_password(temporary), True,
                                                                               utcnow())
    audit.record(session, actor, "user.password_reset", "user", user.id, username=user.username)
    sessions.end_all(session, user.id, reason="password_reset", actor=actor)


def set_active(session: Session, user: User, active: bool, *, actor: str, by_user_id: int | None = None) -> None:
    """Deactivate (every session ends at once) or reactivate a person. The last active administrator stays, and
    nobody deactivates themselves (``by_user_id``: the person acting)."""
    if user.active == active:
        return
    if not active:
        _keep_an_administrator(session, user)
        if by_user_id == user.id:
            raise Forbidden(N_("You cannot deactivate yourself"))
    elif user.role_code == "officer" and user.department_id is None:
        raise Invalid(N_("An officer belongs to a department: choose one"), code="department_required")
    user.active = active
    audit.record(session, actor, "user.reactivated" if active else "user.deactivated", "user", user.id,
                 username=user.username)
    if not active:
        sessions.end_all(session, user.id, reason="deactivated", actor=actor)


def _unit(session: Session, unit_code: str | None) -> Unit | None:
    if not unit_code:
        return None
    unit = session.scalar(select(Unit).where(Unit.code == unit_code))
    if unit is None:
        raise NotFound(N_("No unit with code %(unit)s"), unit=unit_code)
    return unit


def _department_fields(name: str, name_en: str, kind: str) -> tuple[str, str]:
    name, name_en = name.strip(), name_en.strip()
    if not name or len(name) > 250 or len(name_en) > 250:
        raise Invalid(N_("A department's name has 1 to 250 characters"), code="invalid_department")
    if kind not in DEPARTMENT_KINDS:
        raise Invalid(N_("Unknown kind of department %(kind)s; use one of: %(kinds)s"), code="invalid_department",
                      kind=kind, kinds=", ".join(DEPARTMENT_KINDS))
    return name, name_en or name


def create_department(session: Session, code: str, *, name: str, name_en: str = "", kind: str = "agency",
                      unit_code: str | None = None, actor: str) -> Department:
    """A new department. Its code is how processes, rules and tasks name it, so it is kept once made."""
    code = code.strip().upper()
    if not DEPARTMENT_CODE.fullmatch(code):
        raise Invalid(N_("A department's code has 1 to 40 letters, digits, dots, dashes or underscores (SO-YT)"),
                      code="invalid_department")
    name, name_en = _department_fields(name, name_en, kind)
    if session.scalar(select(Department).where(Department.code == code)) is not None:
        raise Conflict(N_("The department %(dept)s already exists"), dept=code)
    unit = _unit(session, unit_code)
    dept = Department(code=code, name=name, name_en=name_en, kind=kind, unit_id=unit.id if unit else None)
    session.add(dept)
    session.flush()
    audit.record(session, actor, "department.created", "department", dept.id, code=code, name=name,
                 name_en=name_en, kind=kind, unit=unit.code if unit else None)
    return dept


def update_department(session: Session, dept: Department, *, name: str, name_en: str, kind: str,
                      unit_code: str | None, actor: str) -> dict[str, list[Any]]:
    """Rename a department, change its kind or its unit; returns what changed ({field: [before, after]})."""
    name, name_en = _department_fields(name, name_en, kind)
    unit = _unit(session, unit_code)
    old_unit = session.get(Unit, dept.unit_id) if dept.unit_id else None
    before = {"name": dept.name, "name_en": dept.name_en, "kind": dept.kind,
              "unit": old_unit.code if old_unit else None}
    after = {"name": name, "name_en": name_en, "kind": kind, "unit": unit.code if unit else None}
    changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if changes:
        dept.name, dept.name_en, dept.kind, dept.unit_id = name, name_en, kind, unit.id if unit else None
        audit.record(session, actor, "department.updated", "department", dept.id, code=dept.code, changes=changes)
    return changes


def principal_for(user: User) -> Principal:
    return Principal(name=user.username, role=user.role_code, department_id=user.department_id, user_id=user.id)


