"""Organisation: administrative units, departments, roles, users and machine tokens."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit, passwords, sessions
from engine.db import utcnow
from engine.errors import N_, Conflict, Invalid, NotFound
from engine.models import ROLES, ApiToken, Department, Role, Unit, User
from engine.security import hash_password, new_token, spend_password_check, token_digest, verify_password

DATA = Path(__file__).parent / "data"
ROLE_NAMES = {
    "leader": ("Lãnh đạo", "Leader"),
    "officer": ("Chuyên viên", "Officer"),
    "operator": ("Trực ban IOC", "IOC operator"),
    "designer": ("Thiết kế quy trình", "Process designer"),
    "admin": ("Quản trị hệ thống", "Administrator"),
}


@dataclass(frozen=True)
class Principal:
    """Who is acting: a person (user) or a machine (token). Passed to every engine action."""

    name: str
    role: str
    department_id: int | None = None
    user_id: int | None = None

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


def add_user(session: Session, username: str, role: str, password: str, *, department_code: str | None = None,
             full_name: str = "", actor: str = "system", kiosk: bool = False) -> User:
    check_role(role)
    username = username.strip()
    if not username or len(username) > 80:
        raise Invalid(N_("A user name has 1 to 80 characters"))
    if role == "officer" and not department_code:
        raise Invalid(N_("An officer belongs to a department: give one (--department CODE)"),
                      code="department_required")
    passwords.check(password, username=username, full_name=full_name)
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise Conflict(N_("The user %(name)s already exists"), name=username)
    dept = department_by_code(session, department_code) if department_code else None
    user = User(username=username, role_code=role, password_hash=hash_password(password),
                department_id=dept.id if dept else None, full_name=full_name or username, kiosk=kiosk,
                password_changed_at=utcnow())
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.created", "user", user.id, username=username, role=role,
                 department=department_code, kiosk=kiosk)
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with that name and password. Takes the same time whether or not the name exists."""
    user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
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


def set_active(session: Session, user: User, active: bool, *, actor: str) -> None:
    """Deactivate (every session ends at once) or reactivate a person."""
    if user.active == active:
        return
    user.active = active
    audit.record(session, actor, "user.reactivated" if active else "user.deactivated", "user", user.id,
                 username=user.username)
    if not active:
        sessions.end_all(session, user.id, reason="deactivated", actor=actor)


def principal_for(user: User) -> Principal:
    return Principal(name=user.username, role=user.role_code, department_id=user.department_id, user_id=user.id)


def create_token(session: Session, name: str, role: str, *, department_code: str | None = None,
                 actor: str = "system") -> str:
    """Make a bearer token for a machine; returns the token, which is shown once and never stored."""
    check_role(role)
    dept = department_by_code(session, department_code) if department_code else None
    token = new_token()
    row = ApiToken(name=name, role_code=role, department_id=dept.id if dept else None,
                   token_hash=token_digest(token))
    session.add(row)
    session.flush()
    audit.record(session, actor, "token.created", "api_token", row.id, name=name, role=role)
    return token


def revoke_tokens(session: Session, name: str, actor: str = "system") -> int:
    """Revoke every live token of that name; returns how many."""
    rows = list(session.scalars(select(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))))
    if not rows:
        raise NotFound(N_("No live token named %(name)s"), name=name)
    now = utcnow()
    for row in rows:
        row.revoked_at = now
        audit.record(session, actor, "token.revoked", "api_token", row.id, name=name)
    return len(rows)


def principal_for_token(session: Session, token: str) -> Principal | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token),
                                                ApiToken.revoked_at.is_(None)))
    if row is None:
        return None
    return Principal(name=f"token:{row.name}", role=row.role_code, department_id=row.department_id)
