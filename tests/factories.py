"""Small factories for tests: users, tokens, events."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from engine import scopes
from engine.db import transaction
from engine.events import IncomingEvent
from engine.org import Principal, add_user, principal_for
from engine.tokens import create_token

PASSWORD = "Test-Password-2026"
_seq = itertools.count(1)


def user(role: str, department: str | None = None, name: str | None = None) -> Principal:
    if role == "officer" and department is None:
        department = "SO-NNMT"
    with transaction() as session:
        u = add_user(session, name or f"{role}{next(_seq)}", role, PASSWORD, department_code=department)
        return principal_for(u)


def token(role: str = "operator", scope_list: list[str] | None = None, sources: list[str] | None = None) -> str:
    """A bearer token of ``role``; with every scope unless ``scope_list`` names some (tests of roles, through the
    API, use tokens where a person would need a login)."""
    with transaction() as session:
        return create_token(session, f"machine{next(_seq)}", role,
                            scope_list=list(scopes.SCOPES) if scope_list is None else scope_list, sources=sources)


def aqi_event(entity: str = "TH-AQ-01", aqi: float = 180, key: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"source": "test", "type": "air_quality", "sector": "environment", "entity": entity,
            "time": datetime.now(UTC).isoformat(), "values": {"aqi": aqi},
            "idempotency_key": key or f"k{next(_seq)}", **extra}


def incoming(**kw: Any) -> IncomingEvent:
    e = aqi_event(**kw)
    e["time"] = datetime.fromisoformat(e["time"])
    return IncomingEvent(**e)
