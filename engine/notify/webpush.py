"""Web push (RFC 8030) with VAPID (RFC 8292) and aes128gcm message encryption (RFC 8291), via pywebpush.

The server's VAPID key pair is made at first use and kept as a PKCS#8 PEM file (mode 0600) in the data
directory; browsers get its public half from :func:`application_server_key` for ``pushManager.subscribe``.
A subscription is what the browser's ``PushSubscription.toJSON()`` gives:
``{"endpoint": "https://...", "keys": {"p256dh": "<base64url>", "auth": "<base64url>"}}``.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

# No type hints shipped (pyproject sets ignore_missing_imports, so no ignore comment is needed).
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

from engine.notify.errors import DeliveryError, SubscriptionGone

VAPID_KEY_FILENAME = "vapid_private.pem"
# One aes128gcm record of 4096 bytes: 86 header + 16 tag + 1 delimiter leave 3993 for the payload.
MAX_PAYLOAD_BYTES = 3993
GONE_STATUSES = frozenset({404, 410})
PERMANENT_STATUSES = frozenset({400, 401, 403, 413})  # our request is wrong: sending it again won't help


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def vapid_key_path(data_dir: Path | None = None) -> Path:
    """Where the VAPID private key lives: ``$IOC_DATA_DIR/vapid_private.pem`` unless a folder is given."""
    if data_dir is None:
        from engine.config import settings

        data_dir = settings().data_dir
    return Path(data_dir) / VAPID_KEY_FILENAME


def ensure_vapid_key(path: Path) -> Path:
    """Create the key file (0600) if it is missing. Safe when several processes race: one key wins."""
    path = Path(path)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mode 0600
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # atomic, and fails when another process got there first
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_vapid_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError(f"{path} does not hold a P-256 private key")
    return key


def application_server_key(path: Path) -> str:
    """The public key for the browser's ``applicationServerKey``: base64url uncompressed point, no padding."""
    key = load_vapid_key(ensure_vapid_key(path))
    return b64url(key.public_key().public_bytes(serialization.Encoding.X962,
                                                serialization.PublicFormat.UncompressedPoint))


def validate_subscription(subscription: Any, *, require_https: bool = True) -> list[str]:
    """Errors in a browser's subscription; empty when it can be stored and pushed to."""
    if not isinstance(subscription, Mapping):
        return ["subscription must be an object"]
    errors = []
    endpoint = subscription.get("endpoint")
    schemes = ("https://",) if require_https else ("https://", "http://")
    if not isinstance(endpoint, str) or not endpoint.startswith(schemes):
        errors.append(f"endpoint must be an {' or '.join(s[:-3] for s in schemes)} URL")
    keys = subscription.get("keys")
    keys = keys if isinstance(keys, Mapping) else {}
    for name, size in (("p256dh", 65), ("auth", 16)):
        try:
            raw = b64url_decode(keys[name])
        except (KeyError, TypeError, ValueError, binascii.Error):
            raw = b""
        if len(raw) != size or (name == "p256dh" and raw[:1] != b"\x04"):
            errors.append(f"keys.{name} must be {size} bytes in base64url")
    return errors


def send(subscription: Mapping[str, Any], payload: Mapping[str, Any], vapid_private_pem_path: Path | str,
         subject: str = "mailto:ioc@localhost", *, ttl: int = 24 * 3600, urgency: str | None = None,
         timeout: float = 10.0) -> None:
    """Encrypt ``payload`` (as UTF-8 JSON) for the subscription and POST it to its push service.
    Raises SubscriptionGone on 404/410, DeliveryError otherwise (retryable unless the request itself is wrong).
    ``subject`` is the VAPID contact (``mailto:`` or ``https:``); ``urgency`` is very-low, low, normal or high."""
    if not subject.startswith(("mailto:", "https:")):
        raise ValueError("the VAPID subject must be a mailto: or https: URL")
    problems = validate_subscription(subscription, require_https=False)
    if problems:
        raise DeliveryError("bad subscription: " + "; ".join(problems), retryable=False)
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if len(data) > MAX_PAYLOAD_BYTES:
        raise DeliveryError(f"payload is {len(data)} bytes; web push carries at most {MAX_PAYLOAD_BYTES}",
                            retryable=False)
    vapid = Vapid(private_key=load_vapid_key(Path(vapid_private_pem_path)))
    headers = {"Urgency": urgency} if urgency else None
    try:
        webpush(dict(subscription), data, vapid_private_key=vapid, vapid_claims={"sub": subject},
                content_encoding="aes128gcm", timeout=timeout, ttl=ttl, headers=headers)
    except WebPushException as exc:
        status = exc.status_code
        if status in GONE_STATUSES:
            raise SubscriptionGone(f"push service answered {status}: subscription expired") from exc
        if status is None:  # refused before sending (pywebpush found the request unusable)
            raise DeliveryError(f"cannot push: {exc.message}", retryable=False) from exc
        raise DeliveryError(f"push service answered {status}", retryable=status not in PERMANENT_STATUSES) from exc
    except requests.RequestException as exc:
        raise DeliveryError(f"push service unreachable: {type(exc).__name__}", retryable=True) from exc
