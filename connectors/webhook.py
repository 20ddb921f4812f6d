"""Events pushed to the IOC: a signed JSON body, mapped to events with the connector's ``mapping``.

The sender signs each request with the shared ``secret``::

    X-IOC-Timestamp: <unix seconds>
    X-IOC-Signature: sha256=<hex HMAC-SHA256 of f"{timestamp}.".encode() + raw body>

``parse_request`` (what ``connectors.runtime.accept`` calls with the request headers) verifies, then parses;
``verify`` / ``Webhook.verify_request`` are there for a web layer that checks the request itself:
the timestamp inside the signature stops a captured request from being replayed after ``tolerance_s``; a
replay inside that window is dropped by the events' idempotency keys. (Unlike the IOC's outgoing
notifications, which sign the body alone, the timestamp is part of what is signed here.)

``parse`` takes one record, a list of records or ``{"events": [...]}``; a body that is not JSON is one
``BadRecord`` at index 0, never an exception.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from connectors.base import AuthFailed, BadConfig, BadRecord, Connector, Item
from connectors.mapping import MAPPING_SCHEMA, MappingError, map_record, mapping_problems

SIGNATURE_HEADER = "X-IOC-Signature"
TIMESTAMP_HEADER = "X-IOC-Timestamp"
TOLERANCE_S = 300
MIN_SECRET_LENGTH = 16  # checked in code, not by the schema, whose messages would quote the secret


def sign(secret: str, body: bytes, timestamp: str) -> str:
    """The signature header value for ``body`` sent at ``timestamp`` (unix seconds, as text)."""
    message = f"{timestamp}.".encode() + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature_header: str | None, timestamp_header: str | None,
           now: datetime, tolerance_s: float = TOLERANCE_S) -> bool:
    """Whether the request is signed with ``secret`` and was sent within ``tolerance_s`` of ``now`` (aware)."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    if not signature_header or not timestamp_header:
        return False
    timestamp = timestamp_header.strip()
    if not timestamp.isascii() or not timestamp.isdigit():
        return False
    if abs(now.timestamp() - int(timestamp)) > tolerance_s:
        return False
    expected = sign(secret, body, timestamp).encode("ascii")
    return hmac.compare_digest(expected, signature_header.strip().lower().encode("utf-8"))


class Webhook(Connector):
    kind: ClassVar[str] = "webhook"
    config_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["secret", "mapping"],
        "properties": {
            "secret": {"type": "string", "x-secret": True},
            "mapping": MAPPING_SCHEMA,
        },
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        problems = mapping_problems(self.config["mapping"])
        if len(self.config["secret"]) < MIN_SECRET_LENGTH:
            problems.append(f"secret: must be at least {MIN_SECRET_LENGTH} characters")
        if problems:
            raise BadConfig(f"the {self.kind} configuration is not valid", problems)

    def verify_request(self, body: bytes, headers: Mapping[str, str], now: datetime) -> bool:
        """``verify`` with this connector's secret and the signature headers (names in any case)."""
        lowered = {name.lower(): value for name, value in headers.items()}
        return verify(self.config["secret"], body, lowered.get(SIGNATURE_HEADER.lower()),
                      lowered.get(TIMESTAMP_HEADER.lower()), now)

    def parse_request(self, payload: bytes, content_type: str, headers: Mapping[str, str]) -> Iterator[Item]:
        """What ``connectors.runtime.accept`` calls: ``AuthFailed`` (at once) unless the request verifies now."""
        if not self.verify_request(payload, headers, datetime.now(UTC)):
            raise AuthFailed("the webhook request is not signed with the shared secret, or is too old")
        return self.parse(payload, content_type)

    def parse(self, payload: bytes, content_type: str = "") -> Iterator[Item]:
        media_type = content_type.split(";")[0].strip().lower()
        if media_type and media_type != "application/json" and not media_type.endswith("+json"):
            yield BadRecord(0, f"the body is {media_type}, not JSON")
            return
        try:
            body = json.loads(payload)
        except ValueError as exc:
            yield BadRecord(0, f"the body is not JSON: {exc}", raw=payload[:200].decode("utf-8", "replace"))
            return
        if isinstance(body, dict) and "events" in body:
            body = body["events"]
            if not isinstance(body, list):
                yield BadRecord(0, "events must be a list", field="events")
                return
        for index, record in enumerate(body if isinstance(body, list) else [body]):
            try:
                yield map_record(self.config["mapping"], record, self.source)
            except MappingError as exc:
                yield BadRecord(index, exc.reason, exc.field, raw=record)
