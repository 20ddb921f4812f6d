"""E-mail against a real SMTP server (aiosmtpd) on 127.0.0.1: Vietnamese text arrives intact, STARTTLS and
login work, refusals and unreachable servers become DeliveryError with the right ``retryable``."""

from __future__ import annotations

import email
import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from engine.notify import DeliveryError
from engine.notify.email import SmtpConfig, send
from engine.notify.message import build_message

SUBJECT = "[Khẩn cấp] Cảnh báo mới: Mực nước sông Hiếu vượt báo động 3"
BODY = "Cảnh báo mới: Mực nước sông Hiếu vượt báo động 3\n\nMức độ: khẩn cấp\nĐối tượng: Trạm Đông Hà\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    """aiosmtpd handler: keeps what it receives; refuses no-such-user@ (550) and busy@ (450)."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], EmailMessage, bytes, Any]] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:  # noqa: N802
        if address.startswith("no-such-user@"):
            return "550 5.1.1 No such user"
        if address.startswith("busy@"):
            return "450 4.2.1 Mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=default_policy)
        self.received.append((list(envelope.rcpt_tos), msg, raw, session.authenticated and session.auth_data))
        return "250 Message accepted"


def start(inbox: Inbox, **smtp_parameters: Any) -> Controller:
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), **smtp_parameters)
    controller.start()
    return controller


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller = start(inbox)
    yield inbox, controller.port
    controller.stop()


def self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp / "smtp.crt", tmp / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def config(port: int, **kw: Any) -> SmtpConfig:
    return SmtpConfig(host="127.0.0.1", port=port, sender="IOC Quảng Trị <ioc@ioc.example.vn>",
                      local_hostname="ioc.test", timeout=5.0, **kw)


def test_vietnamese_subject_and_body_arrive_intact(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    send(config(port), "truc.ban@sotnmt.example.vn", SUBJECT, BODY)
    [(rcpts, msg, raw, _)] = inbox.received
    assert rcpts == ["truc.ban@sotnmt.example.vn"]
    assert msg["Subject"] == SUBJECT
    assert msg["To"] == "truc.ban@sotnmt.example.vn"
    assert msg["From"].addresses[0].display_name == "IOC Quảng Trị"
    assert msg.get_content_type() == "text/plain" and msg.get_content_charset() == "utf-8"
    assert msg.get_content().replace("\r\n", "\n") == BODY  # SMTP carries CRLF line ends
    assert msg["Message-ID"].endswith("@ioc.example.vn>")
    # headers travel as RFC 2047 encoded words, so any mail client can show them
    assert b"Subject: =?utf-8?" in raw
    assert raw.split(b"\r\n\r\n", 1)[0].isascii()


def test_message_builder_output_goes_through(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    alert = {"id": 3, "title": "Tàu cá QT-90123-TS mất tín hiệu VMS", "severity": "cao", "sector": "fisheries"}
    message = build_message(alert, "escalated")
    send(config(port), "chi.cuc.thuy.san@example.vn", message.subject, message.body)
    [(_, msg, _, _)] = inbox.received
    assert msg["Subject"] == "[Cao] Cảnh báo tăng mức độ: Tàu cá QT-90123-TS mất tín hiệu VMS"
    assert "Lĩnh vực: Thủy sản" in msg.get_content()


@pytest.mark.parametrize(("to", "retryable"), [("no-such-user@example.vn", False), ("busy@example.vn", True)])
def test_refused_recipient(smtp: tuple[Inbox, int], to: str, retryable: bool) -> None:
    inbox, port = smtp
    with pytest.raises(DeliveryError) as err:
        send(config(port), to, SUBJECT, BODY)
    assert err.value.retryable is retryable
    assert inbox.received == []


def test_closed_port_is_retryable() -> None:
    with pytest.raises(DeliveryError) as err:
        send(config(free_port()), "a@example.vn", SUBJECT, BODY)
    assert err.value.retryable is True


def test_starttls_and_login(tmp_path: Path) -> None:
    cert_file, key_file = self_signed(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert_file, key_file)

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        accounts = {b"ioc": "mật-khẩu".encode(), b"ops": b"plain-ascii"}
        ok = isinstance(data, LoginPassword) and accounts.get(data.login) == data.password
        return AuthResult(success=ok, handled=False, auth_data=data)

    inbox = Inbox()
    controller = start(inbox, tls_context=tls, require_starttls=True, authenticator=authenticate,
                       auth_required=True)
    try:
        good = config(controller.port, starttls=True, ca_file=str(cert_file), username="ioc", password="mật-khẩu")
        send(good, "lanh.dao@example.vn", SUBJECT, BODY)
        [(rcpts, msg, _, auth)] = inbox.received
        assert rcpts == ["lanh.dao@example.vn"] and msg["Subject"] == SUBJECT
        assert auth.login == b"ioc"  # logged in, with the UTF-8 password
        send(config(controller.port, starttls=True, ca_file=str(cert_file), username="ops", password="plain-ascii"),
             "lanh.dao@example.vn", SUBJECT, BODY)
        assert inbox.received[1][3].login == b"ops"

        cases = [
            (config(controller.port, starttls=True, ca_file=str(cert_file), username="ioc", password="sai"), False),
            (config(controller.port, starttls=True, username="ioc", password="mật-khẩu"), False),  # CA not trusted
            (config(controller.port), False),  # server requires STARTTLS first
        ]
        for bad, retryable in cases:
            with pytest.raises(DeliveryError) as err:
                send(bad, "lanh.dao@example.vn", SUBJECT, BODY)
            assert err.value.retryable is retryable, err.value
        assert len(inbox.received) == 2
    finally:
        controller.stop()


def test_starttls_against_a_server_without_it(smtp: tuple[Inbox, int]) -> None:
    _, port = smtp
    with pytest.raises(DeliveryError) as err:
        send(config(port, starttls=True), "a@example.vn", SUBJECT, BODY)
    assert err.value.retryable is False


@pytest.mark.parametrize("kw", [{"username": "ioc"}, {"username": "ioc", "password": "x"}])
def test_config_refuses_half_or_clear_text_login(kw: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        config(25, **kw)
