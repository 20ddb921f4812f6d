"""POST a notification as JSON to a configured URL, signed with a shared secret.

Headers: ``X-IOC-Signature: sha256=<hex HMAC-SHA256 of the raw body>``, ``X-IOC-Timestamp: <unix seconds>``
and, when given, ``X-IOC-Delivery: <dedupe id>`` (receivers use it to drop repeats). The signature covers the
body only, so a receiver that wants replay protection should remember delivery ids.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import requests

from engine.credentials import scrub
from engine.notify.errors import DeliveryError

SIGNATURE_HEADER = "X-IOC-Signature"
TIMESTAMP_HEADER = "X-IOC-Timestamp"
DELIVERY_HEADER = "X-IOC-Delivery"
RETRYABLE_STATUSES = frozenset({408, 425, 429})  # client-side codes that mean "later", not "never"


def _key(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def signature(secret: str | bytes, body: bytes) -> str:
    """The ``X-IOC-Signature`` value for ``body``."""
    return "sha256=" + hmac.new(_key(secret), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str | bytes, body: bytes, header: str | None) -> bool:
    """For receivers: whether ``header`` is the signature of the raw ``body`` (constant-time compare)."""
    if not header:
        return False
    return hmac.compare_digest(signature(secret, body).encode("ascii"), header.strip().encode("utf-8"))


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode_body(payload: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON (Vietnamese letters as they are, datetimes as ISO 8601)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=_jsonable).encode("utf-8")


def send(url: str, payload: Mapping[str, Any], secret: str | bytes, *, timeout: float = 10.0,
         delivery_id: str | None = None, session: requests.Session | None = None) -> None:
    """POST ``payload``; any 2xx is success. 5xx, 408/425/429 and network errors are retryable; other
    statuses (4xx, and 3xx: redirects are not followed) are not."""
    body = encode_body(payload)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "IOC-notify/1",
        SIGNATURE_HEADER: signature(secret, body),
        TIMESTAMP_HEADER: str(int(time.time())),
    }
    if delivery_id:
        headers[DELIVERY_HEADER] = delivery_id
    try:
        response = (session or requests).post(url, data=body, headers=headers, timeout=timeout,
                                              allow_redirects=False)
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema) as exc:
        raise DeliveryError(scrub(f"webhook URL is not usable: {exc}"), retryable=False) from exc
    except requests.RequestException as exc:  # its text quotes the URL, whose query may hold the gateway's token
        raise DeliveryError(scrub(f"webhook unreachable: {type(exc).__name__}: {exc}"), retryable=True) from exc
    status = response.status_code
    if 200 <= status < 300:
        return
    retryable = status >= 500 or status in RETRYABLE_STATUSES
    raise DeliveryError(f"webhook answered {status} {response.reason}", retryable=retryable)
