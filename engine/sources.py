"""Data sources: their configuration (secrets encrypted), schedule, runs and health.

The connectors themselves live in ``connectors/`` (the engine imports nothing from there); this module keeps
what the IOC knows about each source and decides what its health means: fresh, failing, refused (an operator
must act), or **stale** — no new data for longer than the source's ``stale_after_s``, which opens an alert (and
resolves it when data flows again).
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import alerts, audit, bus, credentials, secrets
from engine.alerts import Firing
from engine.db import utcnow
from engine.errors import N_, Conflict, Forbidden, Invalid, NotFound
from engine.models import Alert, Source, SourceRun
from engine.org import Principal
from engine.text import nfc

MANAGERS = ("admin",)
UPLOADERS = ("admin", "operator", "officer", "leader")  # who may upload a source's file (not designers)
RETRY_AFTER_S = (30, 120, 600, 1800, 3600)  # after 1, 2, 3, 4, 5+ failures in a row
REPORT_LIMIT = 500
STALE_RULE = "source-stale"


def _check(principal: Principal) -> None:
    if principal.role not in MANAGERS:
        raise Forbidden(N_("Only administrators manage data sources"))


def get(session: Session, name: str, *, lock: bool = False) -> Source:
    stmt = select(Source).where(Source.name == name)
    source = session.scalar(stmt.with_for_update() if lock else stmt)
    if source is None:
        raise NotFound(N_("No data source %(name)s"), name=name)
    return source


def seal(config: dict[str, Any], secret_paths: list[str], previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """``config`` with its secrets encrypted: the properties at ``secret_paths`` (``params.*``: the entries of
    ``params`` named like a credential) and every URL carrying a password or a token, wherever it is. A secret
    left empty or shown hidden keeps the stored value; so does a URL's part still shown masked."""
    out = copy.deepcopy(config)
    for path in secret_paths:
        *parents, last = path.split(".")
        node: Any = out
        old: Any = previous or {}
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
            old = old.get(part) if isinstance(old, dict) else None
        if not isinstance(node, dict):
            continue
        for name in [k for k in node if credentials.sensitive(k)] if last == "*" else [last]:
            value = node.get(name)
            if value in (None, "", "••••••") and isinstance(old, dict) and old.get(name):
                node[name] = old[name]
            elif isinstance(value, str) and value and not secrets.is_encrypted(value):
                node[name] = secrets.encrypt(value)
    sealed: dict[str, Any] = _sealed_urls(out, previous or {}, "")
    return sealed


def _sealed_urls(value: Any, old: Any, path: str) -> Any:
    if isinstance(value, dict):
        return {k: _sealed_urls(v, old.get(k) if isinstance(old, dict) else None, f"{path}{k}.")
                for k, v in value.items()}
    if isinstance(value, list):
        return [_sealed_urls(v, old[i] if isinstance(old, list) and i < len(old) else None, f"{path}{i}.")
                for i, v in enumerate(value)]
    if not isinstance(value, str) or secrets.is_encrypted(value):
        return value
    try:
        clear = credentials.unmasked(value, secrets.decrypt(old) if isinstance(old, str) else None)
    except ValueError as exc:
        raise Invalid(N_("The configuration is not valid"), code="invalid_config",
                      details={"problems": [f"{path[:-1]}: {exc}"]}) from None
    return secrets.encrypt(clear) if credentials.has_secret(clear) else clear


def unsealed(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with its secrets decrypted, for the connector only (never shown, never logged)."""
    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return secrets.decrypt(value) if secrets.is_encrypted(value) else value
    result: dict[str, Any] = walk(config)
    return result


def create(session: Session, principal: Principal, *, name: str, kind: str, config: dict[str, Any],
           title: str = "", interval_s: int = 300, stale_after_s: int = 3600, enabled: bool = False) -> Source:
    _check(principal)
    name = nfc(name)
    if session.scalar(select(Source.id).where(Source.name == name)) is not None:
        raise Conflict(N_("A data source with this name already exists"), code="source_exists")
    if interval_s < 10 or stale_after_s < 60:
        raise Invalid(N_("Poll at most every 10 seconds, and call a source stale after a minute at least"))
    source = Source(name=name, kind=kind, title=title, config=config, interval_s=interval_s,
                    stale_after_s=stale_after_s, enabled=enabled, next_run_at=utcnow() if enabled else None,
                    status="new", state={})
    session.add(source)
    session.flush()
    audit.record(session, principal.name, "source.created", "source", name, kind=kind, enabled=enabled)
    bus.publish(session, "source.changed", source=name)
    return source


def update(session: Session, principal: Principal, source: Source, **changes: Any) -> Source:
    _check(principal)
    allowed = {"title", "config", "interval_s", "stale_after_s", "enabled"}
    for key, value in changes.items():
        if key in allowed and value is not None:
            setattr(source, key, value)
    if changes.get("enabled"):
        source.next_run_at = utcnow()
        if source.status == "auth_failed":
            source.status, source.error_count = "new", 0
    audit.record(session, principal.name, "source.changed", "source", source.name,
                 changed=sorted(k for k in changes if k in allowed and k != "config") + (
                     ["config"] if "config" in changes else []))
    bus.publish(session, "source.changed", source=source.name)
    return source


def due(session: Session, now: datetime | None = None, limit: int = 20) -> list[str]:
    """Claim the enabled sources whose next run is due (their next run moves on, so nobody runs them twice)."""
    now = now or utcnow()
    rows = list(session.scalars(select(Source).where(Source.enabled.is_(True), Source.next_run_at <= now)
                                .order_by(Source.next_run_at).limit(limit).with_for_update(skip_locked=True)))
    for source in rows:
        source.next_run_at = now + timedelta(seconds=source.interval_s)
    return [s.name for s in rows]


def record_run(session: Session, source: Source, *, trigger: str, ok: bool, items: int, bad: list[dict[str, Any]],
               error: str | None = None, auth_failed: bool = False, newest: datetime | None = None,
               started_at: datetime | None = None) -> SourceRun:
    """Write a run's log and the source's health (``error`` is a reason for people: any secret in it masked)."""
    now = utcnow()
    error = credentials.scrub(error) if error else error
    run = SourceRun(source_id=source.id, trigger=trigger, started_at=started_at or now, finished_at=now, ok=ok,
                    items=items, bad=len(bad), error=(error or "")[:500] or None, report=bad[:REPORT_LIMIT])
    session.add(run)
    source.last_run_at = now
    source.items_total += items
    source.bad_total += len(bad)
    if ok:
        source.last_success_at, source.error_count, source.last_error = now, 0, None
        if newest is not None and (source.newest_data_at is None or newest > source.newest_data_at):
            source.newest_data_at = newest
        source.status = "ok"
    else:
        source.error_count += 1
        source.last_error = (error or "")[:500]
        source.status = "auth_failed" if auth_failed else "failing"
        if auth_failed:
            source.enabled = False  # an operator must fix the credentials; retrying only locks the account
        elif trigger == "schedule":
            wait = RETRY_AFTER_S[min(source.error_count, len(RETRY_AFTER_S)) - 1]
            source.next_run_at = now + timedelta(seconds=min(wait, source.interval_s * 10))
        audit.record(session, "connectors", "source.failed", "source", source.name, error=source.last_error,
                     failures=source.error_count)
    bus.publish(session, "source.run", source=source.name, ok=ok, items=items, bad=len(bad))
    return run


def check_stale(session: Session, now: datetime | None = None) -> int:
    """Open an alert for each enabled source with no new data for longer than its ``stale_after_s``; resolve it
    when data flows again. Returns the number of changes."""
    now = now or utcnow()
    changes = 0
    for source in session.scalars(select(Source).where(Source.enabled.is_(True))):
        reference = source.newest_data_at or source.created_at
        stale = now - reference > timedelta(seconds=source.stale_after_s)
        key = f"{STALE_RULE}:{source.name}"
        open_alert = session.scalar(select(Alert).where(Alert.open_key == key))
        if stale and open_alert is None:
            minutes = round((now - reference).total_seconds() / 60)
            alerts.open_alert(session, Firing(
                rule_id=STALE_RULE, dedupe_key=key, severity="trung_binh", sector="data", entity=source.name,
                unit_code=None, value=float(minutes), time=now, title=f"Nguồn dữ liệu {source.title or source.name} "
                f"không có dữ liệu mới trong {minutes} phút", details={"source": source.name}), actor="connectors")
            if source.status == "ok":
                source.status = "stale"
            changes += 1
        elif not stale and open_alert is not None:
            alerts.resolve_alert(session, open_alert, "connectors", reason="data flows again")
            changes += 1
    return changes


def runs(session: Session, source: Source, limit: int = 50) -> list[SourceRun]:
    stmt = select(SourceRun).where(SourceRun.source_id == source.id).order_by(SourceRun.id.desc()).limit(limit)
    return list(session.scalars(stmt))


def health(source: Source, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    lag = (now - source.newest_data_at).total_seconds() if source.newest_data_at else None
    return {"status": source.status, "last_success_at": source.last_success_at, "newest_data_at": source.newest_data_at,
            "lag_s": None if lag is None else round(lag), "error_count": source.error_count,
            "last_error": source.last_error, "stale": lag is not None and lag > source.stale_after_s}
