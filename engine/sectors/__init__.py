"""The sector registry: each monitoring sector declares itself once, and the core iterates the declarations.

A sector is a package under ``engine/sectors/`` whose ``__init__`` calls :func:`register` with a :class:`Sector`:
its code and names, the event types it derives from (a handler per event, or per chunk, and what to read before
a chunk), its entity kinds, its rules files and processes, its pages (the web module that holds its blueprint,
named as a string: the engine imports nothing from ``web``), its navigation entry and its periodic work. The worker,
the navigation and ``ioc sectors`` read :func:`all_sectors`; none of them names a sector. A test, or a province's
own package, may :func:`register` a sector of its own the same way.

This package may import the core, data intake, alerting and workflow modules; nothing in them imports it but the
dispatching points (``engine.jobs``, ``engine.entities``), which reach the sectors only through this registry.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

Handler = Callable[[Session, Any], Any]
BatchHandler = Callable[[Session, list[Any]], Any]


@dataclass(frozen=True)
class EventKind:
    """An event type a sector derives from, once its rules have judged it.

    ``handle`` runs per event; ``batch`` (when given) instead gets a chunk's events of this type together, after
    the chunk is read (AIS comes in bursts: a vessel is judged once per chunk). ``preload`` reads what a chunk's
    events of this type will need, in one query, before any is handled. ``entity_kind`` is the kind of entity the
    event speaks about (a station, a vessel, a camera)."""

    type: str
    entity_kind: str | None = None
    handle: Handler | None = None
    batch: BatchHandler | None = None
    preload: BatchHandler | None = None


@dataclass(frozen=True)
class Page:
    """A page in the navigation: a Flask endpoint and its title (an English msgid, translated by the web)."""

    endpoint: str
    title: str


@dataclass(frozen=True)
class Periodic:
    """Work the worker does on the clock, every ``every_s`` seconds, in a transaction of its own."""

    name: str
    run: Callable[[Session], Any]
    every_s: float


@dataclass(frozen=True)
class Sector:
    code: str
    name_vi: str
    name_en: str
    events: tuple[EventKind, ...] = ()
    entity_kinds: tuple[str, ...] = ()
    rules_files: tuple[str, ...] = ()
    processes: tuple[str, ...] = ()
    web_module: str | None = None  # "package.module" holding ``bp`` (the sector's pages), imported by the web
    api_module: str | None = None  # "package.module" holding ``blp`` (the sector's API), imported by the web
    pages: tuple[Page, ...] = ()  # the navigation's entries, the first is the monitor
    periodic: tuple[Periodic, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """What ``ioc sectors --json`` prints."""
        return {"code": self.code, "name_vi": self.name_vi, "name_en": self.name_en,
                "event_types": [e.type for e in self.events], "entity_kinds": list(self.entity_kinds),
                "rules_files": list(self.rules_files), "processes": list(self.processes),
                "pages": [p.endpoint for p in self.pages], "web_module": self.web_module,
                "api_module": self.api_module}


class SectorError(ValueError):
    """A declaration the registry cannot take (a second sector with a code, or an event type taken)."""


_registry: dict[str, Sector] = {}
_loaded = False


def register(sector: Sector) -> Sector:
    """Add ``sector``; registering the same declaration again changes nothing."""
    existing = _registry.get(sector.code)
    if existing is not None:
        if existing == sector:
            return sector
        raise SectorError(f"a sector with the code {sector.code!r} is registered already")
    taken = {e.type: s.code for s in _registry.values() for e in s.events}
    for kind in sector.events:
        if kind.type in taken:
            raise SectorError(f"the event type {kind.type!r} belongs to the sector {taken[kind.type]!r}")
    _registry[sector.code] = sector
    _by_type.cache = None
    return sector


def unregister(code: str) -> None:
    """Remove a sector (for tests that register their own)."""
    _registry.pop(code, None)
    _by_type.cache = None


def load() -> None:
    """Import every package under ``engine/sectors/`` once: each registers itself."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for info in pkgutil.iter_modules(__path__):
        if info.ispkg:
            importlib.import_module(f"{__name__}.{info.name}")


def all_sectors() -> list[Sector]:
    load()
    return list(_registry.values())


def get(code: str) -> Sector | None:
    load()
    return _registry.get(code)


class _TypeIndex:
    cache: dict[str, EventKind] | None = None

    def __call__(self) -> dict[str, EventKind]:
        if self.cache is None:
            load()
            self.cache = {kind.type: kind for s in _registry.values() for kind in s.events}
        return self.cache


_by_type = _TypeIndex()


def event_kind(event_type: str) -> EventKind | None:
    """The sector's declaration of an event type, or None for a type no sector derives from."""
    return _by_type().get(event_type)


def entity_kinds_of_events() -> dict[str, str]:
    return {t: k.entity_kind for t, k in _by_type().items() if k.entity_kind}


def entity_kinds() -> tuple[str, ...]:
    kinds: list[str] = []
    for s in all_sectors():
        kinds += [k for k in s.entity_kinds if k not in kinds]
    return tuple(kinds)
