"""Pull JSON records from an HTTP API on a schedule, page by page, and map each to an event.

``poll(state)`` reads every page, yields an ``IncomingEvent`` per record (or a ``BadRecord`` for one that does
not fit the mapping, with its index counted from 0 across all pages) and skips records whose time is not newer
than ``state["last_time"]``. Only when the last page has been read does it set ``state["last_time"]`` to the
newest time seen (ISO 8601, UTC): a poll cut short by an error leaves the state as it was, so the next poll
yields those records again and the events' idempotency keys drop the repeats. With ``since_param`` the last
time is also sent to the API as that query parameter, so it can filter on its side.

Redirects are not followed and a ``next_link`` must stay on the configured scheme, host and port: credentials
go only where the operator pointed them.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

import requests

from connectors.base import AuthFailed, BadConfig, BadRecord, Connector, Item, NotReady
from connectors.mapping import MAPPING_SCHEMA, MISSING, MappingError, get_path, map_record, mapping_problems

log = logging.getLogger("ioc.connectors.http_pull")

RETRY_LATER = frozenset({408, 425, 429})  # client-side statuses that mean "later", not "fix the config"


def _variants(key: str, variants: dict[str, tuple[list[str], list[str]]]) -> list[dict[str, Any]]:
    """``if key == name then (required, allowed keys)`` for each variant of a tagged object."""
    return [{"if": {"properties": {key: {"const": name}}},
             "then": {"required": required, "propertyNames": {"enum": [key, *required, *optional]}}}
            for name, (required, optional) in variants.items()]


AUTH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type"],
    "properties": {
        "type": {"enum": ["none", "basic", "bearer", "api_key"]},
        "username": {"type": "string", "minLength": 1},
        "password": {"type": "string", "x-secret": True},
        "token": {"type": "string", "minLength": 1, "x-secret": True},
        "header": {"type": "string", "pattern": r"^[A-Za-z0-9-]+$", "default": "X-API-Key"},
        "key": {"type": "string", "minLength": 1, "x-secret": True},
    },
    "allOf": _variants("type", {"none": ([], []), "basic": (["username", "password"], []),
                                "bearer": (["token"], []), "api_key": (["key"], ["header"])}),
}

PAGING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type"],
    "properties": {
        "type": {"enum": ["none", "page", "next_link", "cursor"]},
        "param": {"type": "string", "minLength": 1},
        "start": {"type": "integer", "default": 1},
        "size_param": {"type": "string", "minLength": 1},
        "size": {"type": "integer", "minimum": 1},
        "path": {"type": "string", "minLength": 1},
        "max_pages": {"type": "integer", "minimum": 1, "default": 100},
    },
    "allOf": _variants("type", {"none": ([], []),
                                "page": ([], ["param", "start", "size_param", "size", "max_pages"]),
                                "next_link": ([], ["path", "max_pages"]),
                                "cursor": ([], ["param", "path", "max_pages"])}),
}

PAGING_DEFAULTS: dict[str, dict[str, Any]] = {
    "page": {"param": "page", "start": 1},
    "next_link": {"path": "links.next"},
    "cursor": {"param": "cursor", "path": "meta.next_cursor"},
}


class HttpPull(Connector):
    kind: ClassVar[str] = "http_pull"
    config_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["url", "mapping"],
        "properties": {
            "url": {"type": "string", "pattern": r"^https?://[^\s/]+"},
            "auth": AUTH_SCHEMA,
            "params": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]},
                       "x-secret": "by-name"},  # api_key, token, signature…: kept encrypted, shown hidden
            "records": {"type": "string", "default": ""},
            "paging": PAGING_SCHEMA,
            "mapping": MAPPING_SCHEMA,
            "since_param": {"type": "string", "minLength": 1},
            "timeout_s": {"type": "number", "exclusiveMinimum": 0, "default": 10},
        },
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        problems = mapping_problems(self.config["mapping"])
        if problems:
            raise BadConfig(f"the {self.kind} configuration is not valid", problems)

    def poll(self, state: dict[str, Any]) -> Iterator[Item]:
        last = _last_time(state)
        params = dict(self.config.get("params") or {})
        if last is not None and self.config.get("since_param"):
            params[self.config["since_param"]] = last.isoformat()
        newest = last
        index = 0
        with requests.Session() as session:
            session.headers.update(self._headers())
            for body in self._pages(session, params):
                for record in self._records(body):
                    try:
                        event = map_record(self.config["mapping"], record, self.source)
                    except MappingError as exc:
                        yield BadRecord(index, exc.reason, exc.field, raw=record)
                    else:
                        if last is None or event.time > last:
                            newest = event.time if newest is None else max(newest, event.time)
                            yield event
                    index += 1
        if newest is not None:
            state["last_time"] = newest.isoformat()

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "IOC-http-pull/1"}
        auth = self.config.get("auth") or {"type": "none"}
        if auth["type"] == "basic":
            pair = f"{auth['username']}:{auth['password']}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        elif auth["type"] == "bearer":
            headers["Authorization"] = f"Bearer {auth['token']}"
        elif auth["type"] == "api_key":
            headers[auth.get("header", "X-API-Key")] = auth["key"]
        return headers

    def _pages(self, session: requests.Session, params: dict[str, Any]) -> Iterator[Any]:
        """Each response body in turn, following the configured paging until it ends or ``max_pages``."""
        paging = self.config.get("paging") or {"type": "none"}
        kind = paging["type"]
        paging = {**PAGING_DEFAULTS.get(kind, {}), **paging}
        url: str = self.config["url"]
        for n in range(paging.get("max_pages", 100) if kind != "none" else 1):
            if kind == "page":
                params[paging["param"]] = paging["start"] + n
                if "size_param" in paging and "size" in paging:
                    params[paging["size_param"]] = paging["size"]
            body = self._get(session, url, params)
            yield body
            if kind == "none" or (kind == "page" and not self._records(body)):
                return
            if kind == "next_link":
                next_url = self._next_link(url, get_path(body, paging["path"]))
                if next_url is None:
                    return
                url, params = next_url, {}
            elif kind == "cursor":
                cursor = get_path(body, paging["path"])
                if cursor in (None, "", MISSING):
                    return
                params[paging["param"]] = cursor
        log.warning("source %s: stopped after max_pages pages; more may be left", self.source)

    def _next_link(self, current: str, link: Any) -> str | None:
        if link in (None, "", MISSING):
            return None
        if not isinstance(link, str):
            raise BadConfig(f"the next link is not a URL: {link!r}")
        target = urljoin(current, link)
        if urlsplit(target)[:2] != urlsplit(self.config["url"])[:2]:
            raise BadConfig(f"the next link leaves the configured host: {urlsplit(target).netloc}")
        return target

    def _get(self, session: requests.Session, url: str, params: dict[str, Any]) -> Any:
        timeout = self.config.get("timeout_s", 10)
        shown = urlsplit(url)._replace(query="").geturl()
        try:
            response = session.get(url, params=params, timeout=timeout, allow_redirects=False)
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                requests.exceptions.InvalidSchema) as exc:
            raise BadConfig(f"the URL is not usable: {exc}") from exc
        except requests.RequestException as exc:
            raise NotReady(f"{shown} unreachable: {type(exc).__name__}") from exc
        status = response.status_code
        if status in (401, 403):
            raise AuthFailed(f"{shown} refused the credentials ({status})")
        if status >= 500 or status in RETRY_LATER:
            raise NotReady(f"{shown} answered {status} {response.reason}")
        if 300 <= status < 400:
            raise BadConfig(f"{shown} redirects to {response.headers.get('Location')}; configure that URL")
        if status >= 400:
            raise BadConfig(f"{shown} answered {status} {response.reason}")
        try:
            return json.loads(response.content)
        except ValueError as exc:
            raise BadConfig(f"{shown} did not answer JSON: {exc}") from exc

    def _records(self, body: Any) -> list[Any]:
        path = self.config.get("records", "")
        found = get_path(body, path)
        if found is None:
            return []  # some APIs answer {"data": null} past the last page
        if not isinstance(found, list):
            problem = "is not in the response" if found is MISSING else "is not a list in the response"
            raise BadConfig(f"records: {path or 'the body'} {problem}")
        return found


def _last_time(state: dict[str, Any]) -> datetime | None:
    try:
        last = datetime.fromisoformat(state["last_time"])
    except (KeyError, TypeError, ValueError):
        return None
    return last if last.tzinfo is not None else None
