"""Send a notification e-mail through an SMTP relay (optional STARTTLS and login), UTF-8 throughout."""

from __future__ import annotations

import base64
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from engine.notify.errors import DeliveryError


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    sender: str  # From address, e.g. "IOC Quảng Trị <ioc@example.gov.vn>"
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 10.0
    ca_file: str | None = None  # trust this CA bundle for STARTTLS instead of the system's
    local_hostname: str | None = None  # name sent in EHLO; None asks the OS (may need DNS)

    def __post_init__(self) -> None:
        if (self.username is None) != (self.password is None):
            raise ValueError("SMTP username and password go together")
        if self.username is not None and not self.starttls:
            raise ValueError("SMTP login needs STARTTLS: the password would cross the network in clear")


def build_email(sender: str, to: str, subject: str, body: str) -> EmailMessage:
    """A plain-text message; non-ASCII headers are RFC 2047 encoded and the body is UTF-8."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    domain = sender.rpartition("@")[2].rstrip(">").strip() or "localhost"
    msg["Message-ID"] = make_msgid(domain=domain)
    msg.set_content(body, charset="utf-8")
    return msg


def _smtp_error(exc: smtplib.SMTPException) -> DeliveryError:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        retryable = bool(codes) and all(400 <= code < 500 for code in codes)
        return DeliveryError(f"recipient refused with {codes}", retryable=retryable)  # no address: personal data
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return DeliveryError(f"SMTP login refused ({exc.smtp_code})", retryable=False)
    if isinstance(exc, smtplib.SMTPResponseException):
        return DeliveryError(f"SMTP error {exc.smtp_code}: {exc.smtp_error!r}",
                             retryable=400 <= exc.smtp_code < 500)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryError(f"SMTP server lacks a required extension: {exc}", retryable=False)
    return DeliveryError(f"SMTP failure: {exc}", retryable=True)  # e.g. the server hung up


def _login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    if (username + password).isascii():
        smtp.login(username, password)
        return
    # smtplib sends ASCII only; SASL PLAIN (RFC 4616) carries UTF-8, so non-ASCII passwords go that way.
    smtp.ehlo_or_helo_if_needed()
    if "plain" not in smtp.esmtp_features.get("auth", "").lower().split():
        raise smtplib.SMTPNotSupportedError("the server offers no AUTH PLAIN for a non-ASCII password")
    token = base64.b64encode(f"\0{username}\0{password}".encode()).decode("ascii")
    code, reply = smtp.docmd("AUTH", "PLAIN " + token)
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


def send(config: SmtpConfig, to: str, subject: str, body: str) -> None:
    """Deliver one message to one recipient. Raises DeliveryError (4xx and network trouble are retryable)."""
    msg = build_email(config.sender, to, subject, body)
    try:
        with smtplib.SMTP(config.host, config.port, timeout=config.timeout,
                          local_hostname=config.local_hostname) as smtp:
            if config.starttls:
                smtp.starttls(context=ssl.create_default_context(cafile=config.ca_file))
            if config.username is not None and config.password is not None:
                _login(smtp, config.username, config.password)
            smtp.send_message(msg)
    except smtplib.SMTPException as exc:
        raise _smtp_error(exc) from exc
    except ssl.SSLCertVerificationError as exc:
        raise DeliveryError(f"SMTP server certificate not trusted: {exc.verify_message}", retryable=False) from exc
    except OSError as exc:  # refused, unreachable, timed out, TLS handshake failed
        raise DeliveryError(f"cannot reach SMTP server {config.host}:{config.port}: {exc}", retryable=True) from exc
