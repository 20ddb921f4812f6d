"""People who sign in through the province's OpenID Connect provider (single sign-on).

A person is known by the provider's issuer and its stable subject for them (``sub``), kept in ``user_identities``;
never by a user name, which the provider may reuse or an attacker may choose. Their first sign-on proposes an
account (user name, name, e-mail address, role and department read from the claims as configured below) that stays
inactive until an administrator confirms it with the final role and department, or links the identity to an
existing account (``confirm``). Only an administrator links: a local account whose user name matches is never
taken over. Later sign-ons take nothing more from the claims: the IOC role and department are the administrator's.

| variable                  | default                | meaning                                                 |
|---------------------------|------------------------|---------------------------------------------------------|
| IOC_OIDC_ISSUER           | (none: local only)     | the provider's issuer, ``https://sso.thanhhoa.gov.vn``; |
|                           |                        | its discovery document is read at the first sign-on     |
| IOC_OIDC_CLIENT_ID        | (needed with issuer)   | this application's client id at the provider            |
| IOC_OIDC_CLIENT_SECRET    |                        | its secret (never logged or shown)                      |
| IOC_OIDC_SCOPES           | openid profile email   | the scopes asked for                                    |
| IOC_OIDC_REDIRECT_URI     | (the request's site)   | ``https://ioc.example/login/sso/callback``; needed in   |
|                           |                        | production (behind nginx a request says ``http``)       |
| IOC_OIDC_USERNAME_CLAIM   | preferred_username     | the claim proposed as the user name                     |
| IOC_OIDC_DEPARTMENT_CLAIM | (none)                 | a claim holding a department's code (or its name)       |
| IOC_OIDC_ROLE_CLAIM       | (none)                 | a claim (a value or a list, e.g. ``groups``) mapped by  |
| IOC_OIDC_ROLE_MAP         | (none)                 | ``ioc-leaders=leader,ioc-officers=officer``: the first  |
|                           |                        | entry whose value the person has proposes the role      |

A claim name with dots that is not itself a claim is a path (``realm_access.roles``). Entries of the role map are
separated by commas, or by semicolons when a value holds commas (an LDAP group's DN).
"""

from __future__ import annotations

import enum
import os
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import audit
from engine.config import ConfigError
from engine.db import utcnow
from engine.errors import N_, Conflict, Invalid
from engine.models import ROLES, Department, User, UserIdentity
from engine.org import check_role, department_by_code
from engine.security import hash_password
from engine.text import nfc

UNMAPPED_ROLE = "officer"  # proposed when no value maps to a role: the administrator chooses at confirmation
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: str = "openid profile email"
    redirect_uri: str | None = None
    username_claim: str = "preferred_username"
    department_claim: str | None = None
    role_claim: str | None = None
    role_map: tuple[tuple[str, str], ...] = ()  # (the provider's value, the IOC role), in order of precedence

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


def load_config(environ: dict[str, str] | None = None) -> OidcConfig | None:
    """The single sign-on settings, or None when IOC_OIDC_ISSUER is not set (local accounts only)."""
    env = os.environ if environ is None else environ
    issuer = (env.get("IOC_OIDC_ISSUER") or "").strip()
    if not issuer:
        return None
    url = urlparse(issuer)
    if url.scheme not in ("https", "http") or not url.netloc or url.query or url.fragment:
        raise ConfigError(f"IOC_OIDC_ISSUER: {issuer!r} is not an issuer such as https://sso.example.gov.vn")
    if url.scheme == "http" and env.get("IOC_ENV") == "production":
        raise ConfigError("IOC_OIDC_ISSUER must be an https:// address when IOC_ENV=production")
    client_id = (env.get("IOC_OIDC_CLIENT_ID") or "").strip()
    if not client_id:
        raise ConfigError("IOC_OIDC_CLIENT_ID must be set with IOC_OIDC_ISSUER")
    scopes = " ".join((env.get("IOC_OIDC_SCOPES") or "openid profile email").split())
    if "openid" not in scopes.split():
        raise ConfigError("IOC_OIDC_SCOPES must include openid")
    redirect_uri = (env.get("IOC_OIDC_REDIRECT_URI") or "").strip() or None
    if env.get("IOC_ENV") == "production" and not (redirect_uri or "").startswith("https://"):
        raise ConfigError("IOC_OIDC_REDIRECT_URI must be set to this site's https://…/login/sso/callback when "
                          "IOC_ENV=production (behind a proxy, IOC cannot tell its public address)")
    role_claim = (env.get("IOC_OIDC_ROLE_CLAIM") or "").strip() or None
    role_map = parse_role_map(env.get("IOC_OIDC_ROLE_MAP") or "")
    if role_map and not role_claim:
        raise ConfigError("IOC_OIDC_ROLE_MAP needs IOC_OIDC_ROLE_CLAIM: the claim whose values it maps")
    return OidcConfig(issuer=issuer, client_id=client_id, client_secret=env.get("IOC_OIDC_CLIENT_SECRET") or "",
                      scopes=scopes, redirect_uri=redirect_uri,
                      username_claim=(env.get("IOC_OIDC_USERNAME_CLAIM") or "").strip() or "preferred_username",
                      department_claim=(env.get("IOC_OIDC_DEPARTMENT_CLAIM") or "").strip() or None,
                      role_claim=role_claim, role_map=role_map)


def parse_role_map(value: str) -> tuple[tuple[str, str], ...]:
    """``ioc-leaders=leader,ioc-officers=officer`` → (("ioc-leaders", "leader"), ("ioc-officers", "officer"))."""
    entries = [e.strip() for e in value.split(";" if ";" in value else ",") if e.strip()]
    pairs = []
    for entry in entries:
        claimed, sep, role = entry.rpartition("=")
        if not sep or not claimed.strip() or role.strip() not in ROLES:
            raise ConfigError(f"IOC_OIDC_ROLE_MAP: {entry!r} is not VALUE=ROLE with a role among {', '.join(ROLES)}")
        pairs.append((claimed.strip(), role.strip()))
    return tuple(pairs)


def claim_values(claims: dict[str, Any], name: str | None) -> list[str]:
    """A claim's values as strings: a string, a number or a list of them; a dotted name is a path when it is not
    itself a claim."""
    if not name:
        return []
    value: Any = claims.get(name)
    if value is None and "." in name:
        value = claims
        for part in name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list):
        return []
    return [str(v).strip() for v in value if isinstance(v, str | int | float) and not isinstance(v, bool)]


def proposed_role(config: OidcConfig, claims: dict[str, Any]) -> str | None:
    have = set(claim_values(claims, config.role_claim))
    return next((role for claimed, role in config.role_map if claimed in have), None)


def _text(value: Any, limit: int) -> str:
    return nfc(CONTROL.sub("", value).strip())[:limit] if isinstance(value, str) else ""


def _department(session: Session, config: OidcConfig, claims: dict[str, Any]) -> Department | None:
    """The department a claim names by its code, or by its name (Vietnamese or English), ignoring case."""
    for value in claim_values(claims, config.department_claim):
        wanted = value.casefold()
        found = session.scalar(select(Department).where(func.upper(Department.code) == value.upper()))
        if found is None:
            found = next((d for d in session.scalars(select(Department))
                          if wanted in (d.name.casefold(), d.name_en.casefold())), None)
        if found is not None:
            return found
    return None


def _free_username(session: Session, wanted: str) -> str:
    """The user name the provider gives, or, when an account has it, that name marked ``.sso`` (then numbered):
    the account of that name is not the person's until an administrator links them."""
    candidates = [wanted] + [f"{wanted[:72]}.sso{n or ''}" for n in range(0, 100)]
    taken = set(session.scalars(select(User.username).where(User.username.in_(candidates))))
    return next(c for c in candidates if c not in taken)


class Outcome(enum.Enum):
    SIGNED_IN = "signed_in"
    PENDING = "pending"  # waits for an administrator's confirmation
    DEACTIVATED = "deactivated"


@dataclass(frozen=True)
class SignOn:
    outcome: Outcome
    user: User


class NoUserName(Invalid):
    code = "sso_no_username"


def sign_on(session: Session, config: OidcConfig, claims: dict[str, Any]) -> SignOn:
    """The person behind verified claims (an ID token's, with the userinfo's): signed in when their identity is
    confirmed and their account active; a first sign-on proposes an inactive account, audited."""
    issuer, subject = str(claims["iss"]), str(claims["sub"])
    identity = session.scalar(select(UserIdentity).where(UserIdentity.issuer == issuer,
                                                         UserIdentity.subject == subject))
    if identity is None:
        return SignOn(Outcome.PENDING, _propose(session, config, claims, issuer, subject))
    user = session.get(User, identity.user_id)
    assert user is not None  # noqa: S101 - a foreign key
    if identity.confirmed_at is None or not user.active:
        outcome = Outcome.PENDING if identity.confirmed_at is None else Outcome.DEACTIVATED
        audit.record(session, user.username, "user.login_refused", "user", user.id, method="sso",
                     reason=outcome.value)
        return SignOn(outcome, user)
    identity.last_login_at = utcnow()
    return SignOn(Outcome.SIGNED_IN, user)


def _propose(session: Session, config: OidcConfig, claims: dict[str, Any], issuer: str, subject: str) -> User:
    names = claim_values(claims, config.username_claim)
    wanted = _text(names[0], 80) if names else ""
    if not wanted:
        raise NoUserName(N_("The identity service did not give a user name (%(claim)s): ask an administrator"),
                         claim=config.username_claim)
    role = proposed_role(config, claims)
    dept = _department(session, config, claims)
    email = _text(claims.get("email"), 200) if claims.get("email_verified", True) is not False else ""
    user = User(username=_free_username(session, wanted), full_name=_text(claims.get("name"), 200) or wanted,
                email=email or None, role_code=role or UNMAPPED_ROLE, department_id=dept.id if dept else None,
                active=False, password_hash=hash_password(secrets.token_urlsafe(32)))  # no local password
    session.add(user)
    session.flush()
    now = utcnow()
    session.add(UserIdentity(user_id=user.id, issuer=issuer, subject=subject, created_at=now, last_login_at=now))
    audit.record(session, user.username, "user.created", "user", user.id, method="sso", issuer=issuer,
                 username=user.username, claimed_username=wanted, full_name=user.full_name, email=user.email,
                 proposed_role=role, proposed_department=dept.code if dept else None, pending=True)
    return user


def pending_identity(session: Session, user: User) -> UserIdentity | None:
    return session.scalar(select(UserIdentity).where(UserIdentity.user_id == user.id,
                                                     UserIdentity.confirmed_at.is_(None)))


def pending(session: Session) -> list[tuple[User, UserIdentity]]:
    """The people whose first sign-on waits for an administrator, oldest first."""
    rows = session.execute(select(User, UserIdentity).join(UserIdentity, UserIdentity.user_id == User.id)
                           .where(UserIdentity.confirmed_at.is_(None)).order_by(UserIdentity.created_at))
    return [(u, i) for u, i in rows]


def confirm(session: Session, user: User, *, role: str | None, department_code: str | None, actor: str,
            link_to: User | None = None) -> User:
    """An administrator confirms a person's first sign-on: with their final role and department (the account is
    activated), or by linking the identity to an existing account (which keeps its role and department; the
    proposed account, never used, is removed). Returns the account that now signs in."""
    identity = pending_identity(session, user)
    if identity is None:
        raise Conflict(N_("%(name)s does not wait for a confirmation"), code="not_pending", name=user.username)
    if link_to is not None:
        return _link(session, user, identity, link_to, role=role, department_code=department_code, actor=actor)
    if not role:
        raise Invalid(N_("Choose the person's role"), code="role_required")
    check_role(role)
    if role == "officer" and not department_code:
        raise Invalid(N_("An officer belongs to a department: choose one"), code="department_required")
    dept = department_by_code(session, department_code) if department_code else None
    before = {"role": user.role_code, "department": user.department.code if user.department else None}
    user.role_code, user.department_id, user.department, user.active = role, dept.id if dept else None, dept, True
    identity.confirmed_at, identity.confirmed_by = utcnow(), actor[:80]
    audit.record(session, actor, "user.confirmed", "user", user.id, username=user.username, issuer=identity.issuer,
                 role=role, department=dept.code if dept else None, proposed=before)
    return user


def _link(session: Session, user: User, identity: UserIdentity, target: User, *, role: str | None,
          department_code: str | None, actor: str) -> User:
    if role or department_code:
        raise Invalid(N_("A linked account keeps its role and department: change them on that account"),
                      code="link_keeps_role")
    if target.id == user.id or pending_identity(session, target) is not None:
        raise Conflict(N_("Link to an account that is already in use, not to one waiting for confirmation"),
                       code="link_target_pending")
    if session.scalar(select(UserIdentity.id).where(UserIdentity.user_id == target.id,
                                                    UserIdentity.issuer == identity.issuer)) is not None:
        raise Conflict(N_("%(name)s already has an identity at this provider"), code="already_linked",
                       name=target.username)
    identity.user_id, identity.confirmed_at, identity.confirmed_by = target.id, utcnow(), actor[:80]
    session.flush()
    audit.record(session, actor, "user.identity_linked", "user", target.id, username=target.username,
                 issuer=identity.issuer, proposed_account=user.username)
    session.delete(user)
    return target
