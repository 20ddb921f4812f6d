"""Web push against a real local HTTP server playing the push service: the test holds the browser's keys,
decrypts what arrived, and checks the VAPID token as a push service would. Plus RFC 8291's own test vector."""

from __future__ import annotations

import base64
import json
import os
import socket
import stat
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import http_ece  # no type hints shipped; ignore_missing_imports in pyproject covers it
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from engine.notify import DeliveryError, SubscriptionGone
from engine.notify.webpush import (
    MAX_PAYLOAD_BYTES,
    application_server_key,
    ensure_vapid_key,
    send,
    validate_subscription,
    vapid_key_path,
)

RFC8291_VECTOR = Path(__file__).resolve().parents[2] / "shared" / "data" / "webpush" / "rfc8291_appendix_a.json"
PAYLOAD = {"title": "[Khẩn cấp] Cảnh báo mới: Sạt lở đất tại huyện Hướng Hóa", "body": "Mức độ: khẩn cấp",
           "url": "https://ioc.example.vn/alerts/7", "tag": "ioc-alert-7"}


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


class PushService(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.status = 201
        self.requests: list[tuple[str, dict[str, str], bytes]] = []

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: PushService

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        headers = {name.lower(): value for name, value in self.headers.items()}  # names are case-insensitive
        self.server.requests.append((self.path, headers, body))
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        pass


@pytest.fixture
def push_service() -> Iterator[PushService]:
    server = PushService()
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


class Browser:
    """The user agent's side of a subscription: an ECDH P-256 key pair and a 16-byte auth secret."""

    def __init__(self, endpoint: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        self.subscription = {"endpoint": endpoint, "expirationTime": None,
                             "keys": {"p256dh": b64e(point(self.key.public_key())), "auth": b64e(self.auth)}}

    def decrypt(self, body: bytes) -> bytes:
        return bytes(http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"))


def check_vapid(authorization: str, audience: str, subject: str, server_key: str) -> None:
    """What a push service does (RFC 8292): the key matches, the ES256 JWT verifies, the claims fit."""
    scheme, _, params = authorization.partition(" ")
    fields = dict(part.strip().split("=", 1) for part in params.split(","))
    assert scheme == "vapid" and set(fields) == {"t", "k"}
    assert fields["k"] == server_key
    signing_input, _, sig = fields["t"].rpartition(".")
    header, claims = (json.loads(b64d(part)) for part in signing_input.split("."))
    assert header == {"typ": "JWT", "alg": "ES256"}
    assert claims["aud"] == audience and claims["sub"] == subject
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600
    raw = b64d(sig)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64d(server_key))
    public.verify(der, signing_input.encode(), ec.ECDSA(hashes.SHA256()))  # raises if forged


def test_push_arrives_encrypted_for_the_browser(push_service: PushService, tmp_path: Path) -> None:
    key_file = vapid_key_path(tmp_path)
    server_key = application_server_key(key_file)
    browser = Browser(push_service.origin + "/wpush/v2/abc-123")
    send(browser.subscription, PAYLOAD, key_file, subject="mailto:ioc@quangtri.example.vn", urgency="high")
    [(path, headers, body)] = push_service.requests
    assert path == "/wpush/v2/abc-123"
    assert headers["content-encoding"] == "aes128gcm"
    assert headers["ttl"] == str(24 * 3600) and headers["urgency"] == "high"
    assert "Khẩn".encode() not in body
    assert json.loads(browser.decrypt(body)) == PAYLOAD
    check_vapid(headers["authorization"], push_service.origin, "mailto:ioc@quangtri.example.vn", server_key)


@pytest.mark.parametrize(("status", "error", "retryable"), [
    (410, SubscriptionGone, False), (404, SubscriptionGone, False),
    (500, DeliveryError, True), (503, DeliveryError, True), (429, DeliveryError, True),
    (413, DeliveryError, False), (400, DeliveryError, False), (403, DeliveryError, False),
])
def test_push_service_answers(push_service: PushService, tmp_path: Path, status: int, error: type,
                              retryable: bool) -> None:
    push_service.status = status
    browser = Browser(push_service.origin + "/sub/1")
    with pytest.raises(DeliveryError) as err:
        send(browser.subscription, PAYLOAD, ensure_vapid_key(vapid_key_path(tmp_path)))
    assert type(err.value) is error and err.value.retryable is retryable


def test_unreachable_push_service_is_retryable(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DeliveryError) as err:
        send(Browser(f"http://127.0.0.1:{port}/x").subscription, PAYLOAD, ensure_vapid_key(tmp_path / "k.pem"))
    assert type(err.value) is DeliveryError and err.value.retryable is True


def test_oversized_payload_is_refused_before_sending(push_service: PushService, tmp_path: Path) -> None:
    browser = Browser(push_service.origin + "/sub/1")
    with pytest.raises(DeliveryError) as err:
        send(browser.subscription, {"body": "x" * MAX_PAYLOAD_BYTES}, ensure_vapid_key(tmp_path / "k.pem"))
    assert err.value.retryable is False and push_service.requests == []
    fits = {"b": "x" * (MAX_PAYLOAD_BYTES - len('{"b":""}'))}
    send(browser.subscription, fits, ensure_vapid_key(tmp_path / "k.pem"))
    assert len(push_service.requests[0][2]) == 4096  # one full record, what push services accept at most


def test_vapid_key_is_made_once_with_mode_0600(tmp_path: Path) -> None:
    key_file = tmp_path / "data" / "vapid_private.pem"
    with ThreadPoolExecutor(8) as pool:  # several workers starting at once still agree on one key
        keys = set(pool.map(lambda _: application_server_key(key_file), range(16)))
    assert len(keys) == 1
    [public] = keys
    assert len(b64d(public)) == 65 and b64d(public)[0] == 4 and "=" not in public
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert sorted(p.name for p in key_file.parent.iterdir()) == ["vapid_private.pem"]  # no temp files left
    assert application_server_key(key_file) == public


def test_vapid_key_path_defaults_to_the_data_directory() -> None:
    assert vapid_key_path() == Path(os.environ["IOC_DATA_DIR"]).resolve() / "vapid_private.pem"


GOOD_KEYS = {"p256dh": b64e(b"\x04" + b"\x01" * 64), "auth": b64e(b"\x02" * 16)}


@pytest.mark.parametrize(("subscription", "require_https", "errors"), [
    ({"endpoint": "https://fcm.googleapis.com/fcm/send/x", "keys": GOOD_KEYS}, True, []),
    ({"endpoint": "http://127.0.0.1/x", "keys": GOOD_KEYS}, False, []),
    ({"endpoint": "http://127.0.0.1/x", "keys": GOOD_KEYS}, True, ["endpoint must be an https URL"]),
    ({"endpoint": "ftp://x", "keys": GOOD_KEYS}, False, ["endpoint must be an https or http URL"]),
    ({"keys": GOOD_KEYS}, True, ["endpoint must be an https URL"]),
    ({"endpoint": "https://x/y"}, True,
     ["keys.p256dh must be 65 bytes in base64url", "keys.auth must be 16 bytes in base64url"]),
    ({"endpoint": "https://x/y", "keys": GOOD_KEYS | {"p256dh": b64e(b"\x02" + b"\x01" * 64)}}, True,
     ["keys.p256dh must be 65 bytes in base64url"]),
    ({"endpoint": "https://x/y", "keys": GOOD_KEYS | {"auth": b64e(b"\x02" * 15)}}, True,
     ["keys.auth must be 16 bytes in base64url"]),
    ({"endpoint": "https://x/y", "keys": GOOD_KEYS | {"auth": "***"}}, True,
     ["keys.auth must be 16 bytes in base64url"]),
    ({"endpoint": "https://x/y", "keys": GOOD_KEYS | {"auth": 16}}, True, ["keys.auth must be 16 bytes in base64url"]),
    ("https://x/y", True, ["subscription must be an object"]),
])
def test_validate_subscription(subscription: Any, require_https: bool, errors: list[str]) -> None:
    assert validate_subscription(subscription, require_https=require_https) == errors


def test_bad_subscription_is_not_retryable(tmp_path: Path) -> None:
    with pytest.raises(DeliveryError) as err:
        send({"endpoint": "http://127.0.0.1:9/x", "keys": {"p256dh": "short", "auth": "x"}}, PAYLOAD,
             ensure_vapid_key(tmp_path / "k.pem"))
    assert err.value.retryable is False


def rfc8291_vector() -> dict[str, str]:
    if not RFC8291_VECTOR.is_file():
        pytest.skip(f"RFC 8291 test vector not found at {RFC8291_VECTOR} (the shared/ folder beside the repository)")
    return dict(json.loads(RFC8291_VECTOR.read_text()))


def scalar_key(text: str) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int.from_bytes(b64d(text), "big"), ec.SECP256R1())


def test_aes128gcm_matches_rfc8291_appendix_a() -> None:
    v = rfc8291_vector()
    receiver, sender = scalar_key(v["ua_private"]), scalar_key(v["as_private"])
    assert b64e(point(receiver.public_key())) == v["ua_public"]
    assert b64e(point(sender.public_key())) == v["as_public"]
    # the receiving side: the RFC's message decrypts to the RFC's plaintext
    plain = http_ece.decrypt(b64d(v["body"]), private_key=receiver, auth_secret=b64d(v["auth_secret"]),
                             version="aes128gcm")
    assert bytes(plain).decode() == v["plaintext"]
    # the sending side (what pywebpush calls, with the RFC's salt and sender key): byte for byte the RFC's message
    body = http_ece.encrypt(v["plaintext"].encode(), salt=b64d(v["salt"]), private_key=sender,
                            dh=b64d(v["ua_public"]), auth_secret=b64d(v["auth_secret"]), version="aes128gcm")
    assert body == b64d(v["body"])
