"""Entities: the stations, vessels and cameras the IOC follows — their registry facts and what they last said.

An event about an entity updates its ``latest`` (time, position, values) when it is evaluated; a registry import
(the fisheries department's vessel list, say) sets ``attributes`` and marks it ``registered``. Data about an
entity that no registry knows is kept too, and shown as unregistered, so that nothing is silently dropped."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import audit, bus, credentials
from engine.db import insert as db_insert
from engine.db import utcnow
from engine.errors import N_, NotFound
from engine.models import Entity, Event
from engine.text import nfc


def kind_of_event(event_type: str) -> str | None:
    """Which kind of entity an event type speaks about, as its sector declares (engine.sectors)."""
    from engine import sectors

    return sectors.entity_kinds_of_events().get(event_type)


def kinds() -> tuple[str, ...]:
    from engine import sectors

    return sectors.entity_kinds()


IDENTIFIERS = ("mmsi", "imo", "callsign")  # kept as text, so that lookups compare like with like


def get(session: Session, kind: str, code: str, *, create: bool = False) -> Entity:
    known = session.info.setdefault("entities", {})  # rows found in this session, kept for its next lookups
    row = known.get((kind, code))
    if row is not None and row in session:
        return row
    row = session.scalar(select(Entity).where(Entity.kind == kind, Entity.code == code))
    if row is None and create:
        row = Entity(kind=kind, code=code, attributes={}, latest={})
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:  # made a moment ago by another worker
            row = session.scalar(select(Entity).where(Entity.kind == kind, Entity.code == code))
    if row is None:
        raise NotFound(N_("No %(kind)s %(entity)s"), kind=kind, entity=code)
    known[(kind, code)] = row
    return row


def lock(session: Session, kind: str, code: str) -> Entity | None:
    """The entity, read and locked for a change of its ``latest`` outside the worker (a camera's health): the
    worker's chunk holds the rows it will write (``preload``), so neither overwrites the other's change with a
    state read before it. (SQLite has one writer at a time: there the transactions simply follow each other.)"""
    row = session.scalar(select(Entity).where(Entity.kind == kind, Entity.code == code).with_for_update()
                         .execution_options(populate_existing=True))
    if row is not None:
        session.info.setdefault("entities", {})[(kind, code)] = row
    return row


def preload(session: Session, events: list[Event], *, create: bool = False) -> None:
    """Find the entities of a chunk of events with one query, for the lookups that follow in this session; with
    ``create``, those not known yet are made first (the chunk's ``observe`` calls would make them)."""
    known = session.info.setdefault("entities", {})
    wanted: dict[str, set[str]] = {}
    for ev in events:
        kind = kind_of_event(ev.type)
        if kind is not None and ev.entity and (kind, ev.entity) not in known:
            wanted.setdefault(kind, set()).add(ev.entity)
    for kind, codes in wanted.items():  # locked (in code order) until the chunk commits: see ``lock``
        stmt = select(Entity).where(Entity.kind == kind, Entity.code.in_(codes)).order_by(Entity.code)
        for row in session.scalars(stmt.with_for_update()):
            known[(kind, row.code)] = row
        new = sorted(code for code in codes if (kind, code) not in known)
        if new and create:  # first seen: made here in one statement, not one savepoint each in the chunk
            _insert_missing(session, kind, new)
            for row in session.scalars(stmt.where(Entity.code.in_(new)).with_for_update()):
                known[(kind, row.code)] = row


def ensure(session: Session, kind: str, codes: list[str]) -> dict[str, Entity]:
    """The entities of these codes, those not known yet made (in one statement), for a batch of reports."""
    known = session.info.setdefault("entities", {})
    out = {c: known[(kind, c)] for c in codes if (kind, c) in known and known[(kind, c)] in session}
    missing = [c for c in dict.fromkeys(codes) if c not in out]
    if missing:
        found = {r.code: r for r in session.scalars(select(Entity).where(Entity.kind == kind,
                                                                          Entity.code.in_(missing)))}
        new = [c for c in missing if c not in found]
        if new:
            _insert_missing(session, kind, new)
            found |= {r.code: r for r in session.scalars(select(Entity).where(Entity.kind == kind,
                                                                               Entity.code.in_(new)))}
        for code, row in found.items():
            known[(kind, code)] = out[code] = row
    return out


def _insert_missing(session: Session, kind: str, codes: list[str]) -> None:
    stmt = db_insert(session, Entity.__table__).on_conflict_do_nothing(index_elements=["kind", "code"])
    session.execute(stmt, [{"kind": kind, "code": c, "attributes": {}, "latest": {}} for c in codes])


def latest_states(session: Session, kind: str, codes: list[str]
                  ) -> dict[str, tuple[int, datetime | None, dict[str, Any]]]:
    """(id, last seen, latest state) of these entities, read without the ORM (those not known yet made): for a
    batch that only writes their latest state back (``write_latest``). Not for entities this session also holds
    as ORM objects, whose flush would write over it."""
    def read(wanted: list[str]) -> dict[str, tuple[int, datetime | None, dict[str, Any]]]:
        return {code: (eid, seen, latest or {}) for eid, code, seen, latest in session.execute(
            select(Entity.id, Entity.code, Entity.last_seen, Entity.latest).where(Entity.kind == kind,
                                                                                  Entity.code.in_(wanted)))}
    out = read(codes) if codes else {}
    missing = [c for c in dict.fromkeys(codes) if c not in out]
    if missing:
        _insert_missing(session, kind, missing)
        out |= read(missing)
    return out


def write_latest(session: Session, changes: list[dict[str, Any]]) -> None:
    """Write entities' latest state (``id``, ``latest``, ``last_seen``) in one statement."""
    if not changes:
        return
    table = cast(Table, Entity.__table__)
    stamp = utcnow()
    session.execute(update(table).where(table.c.id == bindparam("eid")).values(
        latest=bindparam("new_latest"), last_seen=bindparam("seen"), updated_at=stamp),
        [{"eid": c["id"], "new_latest": c["latest"], "seen": c["last_seen"]} for c in changes])


def observe(session: Session, event: Event) -> Entity | None:
    """Keep the entity's latest state from one of its events (a later event never yields to an older one)."""
    kind = kind_of_event(event.type)
    if kind is None or not event.entity:
        return None
    row = get(session, kind, event.entity, create=True)
    if row.last_seen is not None and event.time < row.last_seen and event.type != "vessel_static":
        return row
    latest = dict(row.latest or {})
    if event.type == "vessel_static":
        row.attributes = {**(row.attributes or {}), **{k: v for k, v in (event.values or {}).items() if v is not None}}
        if not row.name and (event.values or {}).get("name"):
            row.name = str(event.values["name"])
    else:
        latest.update(time=event.time.isoformat(), values=event.values or {}, type=event.type)
        if event.location:
            latest["location"] = event.location
        row.latest = latest
        row.last_seen = event.time
    if event.unit_code and not row.unit_code:
        row.unit_code = event.unit_code
    row.updated_at = utcnow()
    return row


def register(session: Session, kind: str, records: list[dict[str, Any]], actor: str
             ) -> tuple[int, int, list[dict[str, Any]]]:
    """Import a registry (one record per entity: ``code``, ``name``, other attributes): returns (added, updated,
    problems by index). Records without a code are refused; nothing else is guessed."""
    added = updated = 0
    problems = []
    for index, record in enumerate(records):
        code = nfc(str(record.get("code") or "").strip())  # one entity, however its name was typed
        if not code:
            problems.append({"index": index, "field": "code", "reason": "no registration code"})
            continue
        secret = next((k for k, v in record.items() if isinstance(v, str) and credentials.has_secret(v)), None)
        if secret is not None:  # a registry is shown to everyone: a camera's source goes through engine.cameras
            problems.append({"index": index, "field": secret, "reason": "holds a password or a token"})
            continue
        existing = session.scalar(select(Entity).where(Entity.kind == kind, Entity.code == code))
        row = existing or get(session, kind, code, create=True)
        attributes = {k: (str(v) if k in IDENTIFIERS else v) for k, v in record.items()
                      if k not in ("code", "name") and v not in (None, "")}
        row.attributes = {**(row.attributes or {}), **attributes}
        row.name = nfc(str(record.get("name") or row.name or ""))
        row.registered = True
        added, updated = (added, updated + 1) if existing else (added + 1, updated)
    audit.record(session, actor, "entities.registered", "entity", kind, added=added, updated=updated,
                 refused=len(problems))
    bus.publish(session, "entities.registered", entity_kind=kind, added=added, updated=updated)
    return added, updated, problems


def listing(session: Session, kind: str | None = None, since: datetime | None = None, limit: int = 5000
            ) -> list[Entity]:
    stmt = select(Entity).order_by(Entity.kind, Entity.code)
    if kind:
        stmt = stmt.where(Entity.kind == kind)
    if since is not None:
        stmt = stmt.where(Entity.last_seen >= since)
    return list(session.scalars(stmt.limit(limit)))
