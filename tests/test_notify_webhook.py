"""Webhooks against a real HTTP server on 127.0.0.1: signed JSON arrives, statuses map to retryable or not."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from engine.notify import DeliveryError
from engine.notify.webhook import send, signature, verify_signature

SECRET = "bí-mật-chung-0123456789"
PAYLOAD = {"event": "alert.opened", "alert": {"id": 42, "title": "Ùn tắc tại cầu Hiền Lương", "severity": "cao",
                                               "first_seen": datetime(2026, 3, 1, 1, 0, tzinfo=UTC)}}


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.status = 200
        self.delay = 0.0
        self.requests: list[tuple[str, dict[str, str], bytes]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/ioc"


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append((self.path, dict(self.headers), body))
        time.sleep(self.server.delay)
        self.send_response(self.server.status)
        if 300 <= self.server.status < 400:
            self.send_header("Location", "http://127.0.0.1:9/elsewhere")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_signed_json_arrives(receiver: Receiver) -> None:
    send(receiver.url, PAYLOAD, SECRET, delivery_id="abc123")
    [(path, headers, body)] = receiver.requests
    assert path == "/hooks/ioc"
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(body) == {"event": "alert.opened", "alert": {
        "id": 42, "title": "Ùn tắc tại cầu Hiền Lương", "severity": "cao", "first_seen": "2026-03-01T01:00:00+00:00"}}
    assert "Ùn tắc".encode() in body  # UTF-8 as is, not \\u escapes
    assert verify_signature(SECRET, body, headers["X-IOC-Signature"])
    assert not verify_signature("another-secret", body, headers["X-IOC-Signature"])
    assert not verify_signature(SECRET, body.replace(b"42", b"43"), headers["X-IOC-Signature"])
    assert abs(int(headers["X-IOC-Timestamp"]) - time.time()) < 60
    assert headers["X-IOC-Delivery"] == "abc123"


@pytest.mark.parametrize(("status", "retryable"), [
    (200, None), (202, None), (204, None),
    (500, True), (502, True), (503, True), (408, True), (429, True),
    (400, False), (401, False), (404, False), (410, False), (302, False),
])
def test_status_decides_retry(receiver: Receiver, status: int, retryable: bool | None) -> None:
    receiver.status = status
    if retryable is None:
        send(receiver.url, PAYLOAD, SECRET)
        return
    with pytest.raises(DeliveryError) as err:
        send(receiver.url, PAYLOAD, SECRET)
    assert err.value.retryable is retryable
    assert len(receiver.requests) == 1  # redirects are not followed


def test_closed_port_is_retryable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DeliveryError) as err:
        send(f"http://127.0.0.1:{port}/", PAYLOAD, SECRET)
    assert err.value.retryable is True


def test_slow_receiver_times_out_and_is_retryable(receiver: Receiver) -> None:
    receiver.delay = 1.0
    started = time.monotonic()
    with pytest.raises(DeliveryError) as err:
        send(receiver.url, PAYLOAD, SECRET, timeout=0.2)
    assert err.value.retryable is True
    assert time.monotonic() - started < 0.9


@pytest.mark.parametrize("url", ["not a url", "ftp://127.0.0.1/x", "http://"])
def test_unusable_url_is_not_retryable(url: str) -> None:
    with pytest.raises(DeliveryError) as err:
        send(url, PAYLOAD, SECRET)
    assert err.value.retryable is False


BODY = b'{"id":1}'
GOOD = "sha256=" + "0" * 64


@pytest.mark.parametrize(("secret", "body", "header", "ok"), [
    (SECRET, BODY, signature(SECRET, BODY), True),
    (SECRET.encode(), BODY, signature(SECRET, BODY), True),  # str and bytes secrets agree
    (SECRET, BODY, " " + signature(SECRET, BODY) + " ", True),
    ("other", BODY, signature(SECRET, BODY), False),
    (SECRET, BODY + b" ", signature(SECRET, BODY), False),
    (SECRET, BODY, signature(SECRET, BODY).replace("sha256=", "sha1="), False),
    (SECRET, BODY, signature(SECRET, BODY).upper(), False),
    (SECRET, BODY, GOOD, False),
    (SECRET, BODY, "", False),
    (SECRET, BODY, None, False),
    (SECRET, BODY, "sha256=ủa", False),
])
def test_verify_signature(secret: str | bytes, body: bytes, header: str | None, ok: bool) -> None:
    assert verify_signature(secret, body, header) is ok


def test_signature_is_hmac_sha256_hex() -> None:
    # RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?"
    assert signature("Jefe", b"what do ya want for nothing?") == (
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
