"""The connector contract: what every data source looks like to the IOC.

A connector kind is a class with:

- ``kind``: its name (``http_pull``, ``webhook``, ``spreadsheet``, ``mqtt``, ``ngsi_ld``, ``folder``, ``ftp`` …);
- ``config_schema``: a JSON Schema (draft 2020-12) of its configuration. Unknown keys are refused
  (``"additionalProperties": false``); a property marked ``"x-secret": true`` (a password, a token, an HMAC
  key) is hidden when the configuration is shown and encrypted at rest by the runtime;
- one entry point, which yields what the source said, one item at a time:
  - ``poll(state)`` for sources the IOC asks on a schedule (``state`` is the connector's own cursor —
    the last page, the last file seen — a JSON-able dict it may change; the runtime stores it);
  - ``parse(payload, content_type)`` for data pushed to the IOC or uploaded (a webhook body, a file);
  - ``stream(stop)`` for long-lived connections (MQTT, a TCP socket), until ``stop`` is set.

Items are ``engine.events.IncomingEvent`` (something observed), ``engine.tracks.PositionReport`` (a vessel's
position from a stream, stored as a track fix), ``ObservationIn`` (a value of an indicator), ``BadRecord``
(one record the connector could not read: skipped, counted, reported; the rest goes on) or ``Notice`` (a warning:
something read past, such as an unknown column, reported and nothing refused).

Connectors raise only these errors (``STYLE.md``): ``NotReady`` (try again later: the runtime retries with
backoff), ``AuthFailed`` (an operator must act), ``BadConfig`` (the configuration is wrong). A bad record is
not an exception: it is yielded as ``BadRecord``.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from jsonschema import Draft202012Validator

from engine import credentials
from engine.events import IncomingEvent
from engine.tracks import PositionReport

HIDDEN = "••••••"


class ConnectorError(Exception):
    """Base of the few errors a connector raises."""


class NotReady(ConnectorError):
    """The source cannot answer now (down, timeout, 5xx): try again later."""


class AuthFailed(ConnectorError):
    """The source refused our credentials: an operator must fix the configuration."""


class BadConfig(ConnectorError):
    """The configuration is not valid for this connector; ``problems`` names each key and reason."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


@dataclass(frozen=True)
class ObservationIn:
    """A value of an indicator (KPI) for a unit or an entity over a period starting at ``period_start``."""

    indicator: str
    value: float
    period_start: datetime
    unit: str | None = None
    entity: str | None = None
    source: str = ""


@dataclass(frozen=True)
class BadRecord:
    """One record that could not be read: where it is (row / index, field) and why. Skipped and reported."""

    index: int
    reason: str
    field: str | None = None
    raw: Any = None


@dataclass(frozen=True)
class Notice:
    """Something the connector read past without refusing anything, for the operator to know (a spreadsheet's
    column that no indicator reads): where it is and what it is. Reported beside the bad records, never stored."""

    index: int
    reason: str
    field: str | None = None


Item = IncomingEvent | PositionReport | ObservationIn | BadRecord | Notice


@dataclass
class Connector:
    """Base class: keeps the validated configuration and the source name."""

    config: dict[str, Any]
    source: str
    kind: ClassVar[str] = ""
    config_schema: ClassVar[dict[str, Any]] = {"type": "object", "additionalProperties": False}

    def __post_init__(self) -> None:
        problems = check_config(self.config_schema, self.config)
        if problems:
            raise BadConfig(f"the {self.kind} configuration is not valid", problems)

    # One of these is implemented by each kind.
    def poll(self, state: dict[str, Any]) -> Iterator[Item]:
        raise NotImplementedError

    def parse(self, payload: bytes, content_type: str = "") -> Iterator[Item]:
        raise NotImplementedError

    def stream(self, stop: threading.Event) -> Iterator[Item]:
        raise NotImplementedError


def check_config(schema: dict[str, Any], config: dict[str, Any]) -> list[str]:
    """Each problem as ``path: reason`` (unknown keys included); empty when the configuration is valid."""
    problems = []
    for err in sorted(Draft202012Validator(schema).iter_errors(config), key=lambda e: list(e.absolute_path)):
        where = ".".join(str(p) for p in err.absolute_path) or "(config)"
        problems.append(f"{where}: {err.message}")
    return problems


def secret_keys(schema: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of the properties marked ``"x-secret": true`` (nested objects included); a free-form object
    marked ``"x-secret": "by-name"`` (query parameters) gives ``path.*``: its entries named like a credential."""
    keys = []
    for name, prop in (schema.get("properties") or {}).items():
        path = f"{prefix}{name}"
        if prop.get("x-secret") == "by-name":
            keys.append(f"{path}.*")
        elif prop.get("x-secret"):
            keys.append(path)
        if prop.get("type") == "object":
            keys.extend(secret_keys(prop, f"{path}."))
    return keys


def masked(schema: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """The configuration as it may be shown: secrets replaced by ``HIDDEN``, and the password or token of any URL
    in it by ``credentials.MASK``."""
    shown = copy.deepcopy(config)
    for path in secret_keys(schema):
        node: Any = shown
        *parents, last = path.split(".")
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            continue
        for name in [k for k in node if credentials.sensitive(k)] if last == "*" else [last]:
            if node.get(name) not in (None, ""):
                node[name] = HIDDEN
    return _masked_urls(shown)


def _masked_urls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _masked_urls(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked_urls(v) for v in value]
    return credentials.masked(value) if isinstance(value, str) and value != HIDDEN else value
