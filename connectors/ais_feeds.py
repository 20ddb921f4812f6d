"""AIS connectors: where the NMEA lines come from; ``connectors.ais`` decodes them.

- ``ais_file``: a log another program appends to; ``state`` keeps the byte offset (and line number), so each
  poll reads what was added. A line still being written, or a multi-part message whose last parts are not
  written yet, is read again next time. A file that shrank is read again from the start.
- ``ais_tcp``: client of a feed (a receiver, AIS-catcher, a dispatcher). Only the first connection failing
  raises ``NotReady``; later it reconnects after 1 s, 2 s, 4 s … up to ``reconnect_max_s``, logging once
  when the feed is lost and once when it is back.
- ``ais_tcp_server``: listens; several senders may push lines at once, each with its own decoder.
- ``ais_udp``: datagrams of lines, one decoder per sender address.

Streams read sockets with a 0.2 s timeout, so ``stop`` ends them promptly; each connector counts what it saw
in ``connector.stats`` (``connectors.ais.Stats``).
"""

from __future__ import annotations

import logging
import selectors
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, cast

from connectors.ais import AisDecoder, Stats
from connectors.base import Connector, Item, NotReady

log = logging.getLogger("ioc.connectors.ais")
MAX_LINE = 4096  # bytes without an end of line: junk, not a sentence
ANY_HOST = "0.0.0.0"  # noqa: S104 - the default for listening: senders are other machines


class _Feed:
    """One sender's bytes: its unfinished line and its own decoder."""

    def __init__(self, source: str, stats: Stats) -> None:
        self.decoder, self.rest = AisDecoder(source, stats, reports=True), b""

    def push(self, chunk: bytes) -> Iterator[Item]:
        *lines, self.rest = (self.rest + chunk).split(b"\n")
        if len(self.rest) > MAX_LINE:
            lines, self.rest = [*lines, self.rest], b""
        now = datetime.now(UTC)
        for line in lines:
            yield from self.decoder.feed(line, now)

    def close(self) -> Iterator[Item]:
        """The sender is gone: its last line even without an end, then its unfinished messages."""
        if self.rest:
            yield from self.decoder.feed(self.rest, datetime.now(UTC))
        yield from self.decoder.flush()


def _watch(sock: socket.socket, data: Any) -> selectors.BaseSelector:
    sock.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ, data)
    return selector


def _pump(selector: selectors.BaseSelector, stop: threading.Event, source: str, stats: Stats) -> Iterator[Item]:
    """Read the watched sockets until ``stop`` or until none is left. Each key's data says what it is: None a
    listening TCP socket (accepts senders), a dict a UDP socket (one ``_Feed`` per sender), a ``_Feed`` a TCP
    connection. Unfinished messages expire while the line is quiet."""
    try:
        while not stop.is_set() and selector.get_map():
            ready = selector.select(timeout=0.2)
            for key, _ in ready:
                sock, data = cast(socket.socket, key.fileobj), key.data
                try:
                    if data is None:
                        conn, peer = sock.accept()
                        selector.register(conn, selectors.EVENT_READ, _Feed(source, stats))
                        conn.setblocking(False)
                        log.info("%s: AIS sender %s connected", source, peer)
                    elif isinstance(data, dict):
                        datagram, sender = sock.recvfrom(65535)
                        if sender not in data and len(data) >= 256:  # many senders: forget the half messages
                            data.clear()
                        yield from data.setdefault(sender, _Feed(source, stats)).push(datagram + b"\n")
                    elif chunk := sock.recv(65536):
                        yield from data.push(chunk)
                    else:
                        raise ConnectionResetError
                except BlockingIOError:
                    continue
                except OSError:
                    if isinstance(data, _Feed):  # the connection ended
                        selector.unregister(sock)
                        sock.close()
                        yield from data.close()
            if not ready:  # a quiet moment: give up the half messages that waited too long
                yield from _expire(selector)
    finally:
        for key in list(selector.get_map().values()):
            cast(socket.socket, key.fileobj).close()
        selector.close()


def _expire(selector: selectors.BaseSelector) -> Iterator[Item]:
    now = datetime.now(UTC)
    for key in list(selector.get_map().values()):
        feeds = key.data.values() if isinstance(key.data, dict) else [key.data] if key.data else []
        for feed in feeds:
            yield from feed.decoder.expire(now)


class _AisConnector(Connector):
    def __post_init__(self) -> None:
        super().__post_init__()
        self.stats = Stats()


def _schema(required: list[str], **more: Any) -> dict[str, Any]:
    listen = {} if "host" in required else {"default": ANY_HOST}
    return {"type": "object", "additionalProperties": False, "required": required,
            "properties": {"host": {"type": "string", "minLength": 1} | listen,
                           "port": {"type": "integer", "minimum": 1, "maximum": 65535}} | more}


class AisFile(_AisConnector):
    """A file of NMEA lines that another program appends to; each poll reads what was added."""

    kind: ClassVar[str] = "ais_file"
    config_schema: ClassVar[dict[str, Any]] = {
        "type": "object", "additionalProperties": False, "required": ["path"],
        "properties": {"path": {"type": "string", "minLength": 1},
                       "max_bytes": {"type": "integer", "minimum": 1024, "default": 16 << 20,
                                     "description": "read at most this much per poll"}},
    }

    def poll(self, state: dict[str, Any]) -> Iterator[Item]:
        path, limit = Path(self.config["path"]), self.config.get("max_bytes", 16 << 20)
        offset, line = state.get("offset", 0), state.get("line", 0)
        try:
            with path.open("rb") as f:
                if f.seek(0, 2) < offset:  # truncated or replaced: read it again from the start
                    offset = line = 0
                f.seek(offset)
                data = f.read(limit)
        except OSError as exc:
            raise NotReady(f"cannot read the AIS file {path}: {exc}") from exc
        end = data.rfind(b"\n") + 1 or (len(data) if len(data) >= limit else 0)  # a line being written waits
        lines = data[:end].split(b"\n")
        lines = lines[:-1] if data[:end].endswith(b"\n") else lines[:1] if end else []
        decoder = AisDecoder(self.source, self.stats, index=line, reports=True)
        now = datetime.now(UTC)
        for text in lines:
            yield from decoder.feed(text, now)
        tail = decoder.take_tail()  # a message whose last fragments are not written yet is read again next time
        yield from decoder.flush()
        if tail is not None:
            end = sum(len(text) + 1 for text in lines[: tail - line])
        state["offset"], state["line"] = offset + end, line + len(lines) if tail is None else tail


class AisTcp(_AisConnector):
    """Connect to an AIS feed (a receiver, AIS-catcher, a dispatcher) and read its lines."""

    kind: ClassVar[str] = "ais_tcp"
    config_schema: ClassVar[dict[str, Any]] = _schema(
        ["host", "port"], connect_timeout_s={"type": "number", "minimum": 0.1, "maximum": 120, "default": 10},
        reconnect_max_s={"type": "number", "minimum": 0.1, "maximum": 3600, "default": 120})

    def stream(self, stop: threading.Event) -> Iterator[Item]:
        address, timeout = (self.config["host"], self.config["port"]), self.config.get("connect_timeout_s", 10)
        try:
            sock = socket.create_connection(address, timeout=timeout)
        except OSError as exc:
            raise NotReady(f"AIS feed {address[0]}:{address[1]}: {exc}") from exc
        while True:
            yield from _pump(_watch(sock, _Feed(self.source, self.stats)), stop, self.source, self.stats)
            if stop.is_set():
                return
            log.warning("%s: lost the AIS feed %s:%s; reconnecting", self.source, *address)
            delay = 1.0
            while not stop.wait(delay):
                try:
                    sock = socket.create_connection(address, timeout=timeout)
                    break
                except OSError:
                    delay = min(delay * 2, self.config.get("reconnect_max_s", 120))
            else:
                return
            log.info("%s: connected to the AIS feed %s:%s again", self.source, *address)


class AisTcpServer(_AisConnector):
    """Listen on a TCP port for senders (receivers pushing their lines); several may be connected at once."""

    kind: ClassVar[str] = "ais_tcp_server"
    config_schema: ClassVar[dict[str, Any]] = _schema(["port"])

    def stream(self, stop: threading.Event) -> Iterator[Item]:
        address = (self.config.get("host", ANY_HOST), self.config["port"])
        try:
            server = socket.create_server(address)
        except OSError as exc:
            raise NotReady(f"cannot listen on {address[0]}:{address[1]}: {exc}") from exc
        yield from _pump(_watch(server, None), stop, self.source, self.stats)


class AisUdp(_AisConnector):
    """Datagrams of NMEA lines on a UDP port (one decoder per sender address)."""

    kind: ClassVar[str] = "ais_udp"
    config_schema: ClassVar[dict[str, Any]] = _schema(["port"])

    def stream(self, stop: threading.Event) -> Iterator[Item]:
        host = self.config.get("host", ANY_HOST)
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((host, self.config["port"]))
        except OSError as exc:
            sock.close()
            raise NotReady(f"cannot listen on UDP {host}:{self.config['port']}: {exc}") from exc
        yield from _pump(_watch(sock, {}), stop, self.source, self.stats)
