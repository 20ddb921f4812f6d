"""Secrets at rest (a source's password, token or HMAC key): encrypted with a key derived from the app's
secret key (Fernet: AES-128-CBC with HMAC-SHA256). Changing IOC_SECRET_KEY makes stored secrets unreadable:
they must then be entered again."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from engine.config import settings

PREFIX = "enc:"


def _fernet() -> Fernet:
    key = hashlib.sha256(b"ioc-secrets\0" + settings().secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(value: str) -> str:
    return PREFIX + _fernet().encrypt(value.encode()).decode()


def decrypt(value: str) -> str:
    """The clear text of an ``encrypt``ed value (a value without the prefix is returned as it is)."""
    if not value.startswith(PREFIX):
        return value
    try:
        return _fernet().decrypt(value[len(PREFIX):].encode()).decode()
    except InvalidToken:
        raise ValueError("a stored secret cannot be read with this IOC_SECRET_KEY: enter it again") from None


def is_encrypted(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)
