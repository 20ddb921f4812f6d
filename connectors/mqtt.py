"""MQTT: sensors and gateways publishing to a broker (mosquitto, EMQX); the IOC subscribes and streams events.

Two payload formats (``config["format"]``):

- ``json``: each message is one event object (``connectors.plain_events``: type, sector, entity, time,
  values, and optionally unit, location, idempotency_key);
- ``value``: the topic names the event after ``topic_pattern`` (default ``ioc/{sector}/{type}/{entity}``, a
  ``{field}`` part names the value, else it is ``value``) and the payload is one number; the time is when
  the message arrived.

paho's network thread hands each message to the stream through a ``queue.Queue``; it reconnects on its own
after a disconnection, waiting 1 s, 2 s, 4 s … up to ``reconnect_max_s``, and subscribes again. Only the first
connection failing raises ``NotReady``; a broker refusing the credentials raises ``AuthFailed`` at any time.
"""

from __future__ import annotations

import json
import logging
import math
import queue
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from connectors.base import AuthFailed, BadConfig, BadRecord, Connector, Item, NotReady
from connectors.mapping import MappingError
from connectors.plain_events import event_from_object

log = logging.getLogger("ioc.connectors.mqtt")
_PLACES = {"sector", "type", "entity", "field"}
DEFAULT_PATTERN = "ioc/{sector}/{type}/{entity}"
_REFUSED_CREDENTIALS = {134, 135}  # CONNACK "bad user name or password", "not authorized"
_CONNECTED, _REFUSED = object(), object()  # what the network thread tells the stream besides messages


def topic_regex(pattern: str) -> re.Pattern[str]:
    """``ioc/{sector}/{type}/{entity}`` → a regex with one named group per ``{part}`` (one topic level each)."""
    parts = re.split(r"\{(\w+)\}", pattern)
    names = parts[1::2]
    if not set(names) <= _PLACES or not {"sector", "type"} <= set(names) or len(set(names)) != len(names):
        raise ValueError(f"a topic pattern names {{sector}} and {{type}}, may name {{entity}} and {{field}}, "
                         f"each once: {pattern!r}")
    return re.compile("".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)" for i, p in enumerate(parts)) + "$")


class Mqtt(Connector):
    """Subscribe to topics on an MQTT broker (MQTT 3.1.1) and stream what is published there."""

    kind: ClassVar[str] = "mqtt"
    config_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["host", "topics"],
        "properties": {
            "host": {"type": "string", "minLength": 1},
            "port": {"type": "integer", "minimum": 1, "maximum": 65535,
                     "description": "1883, or 8883 with tls"},
            "topics": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1},
                       "description": "topic filters, # and + allowed"},
            "qos": {"type": "integer", "enum": [0, 1, 2], "default": 1},
            "username": {"type": "string"},
            "password": {"type": "string", "x-secret": True},
            "client_id": {"type": "string", "description": "empty: paho makes one up"},
            "tls": {"type": "boolean", "default": False},
            "ca_file": {"type": "string", "description": "CA certificates of a private broker (PEM); with tls"},
            "format": {"enum": ["json", "value"], "default": "json"},
            "topic_pattern": {"type": "string", "default": DEFAULT_PATTERN},
            "keepalive_s": {"type": "integer", "minimum": 5, "maximum": 3600, "default": 60},
            "reconnect_max_s": {"type": "integer", "minimum": 1, "maximum": 3600, "default": 120},
        },
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.config.get("format", "json") == "value":
            try:
                self._topic = topic_regex(self.config.get("topic_pattern", DEFAULT_PATTERN))
            except ValueError as exc:
                raise BadConfig("the mqtt configuration is not valid", [f"topic_pattern: {exc}"]) from None

    def stream(self, stop: threading.Event) -> Iterator[Item]:
        inbox: queue.Queue[Any] = queue.Queue()
        client = self._client(inbox)
        c = self.config
        port = c.get("port", 8883 if c.get("tls") else 1883)
        try:
            client.connect(c["host"], port, keepalive=c.get("keepalive_s", 60))
        except OSError as exc:
            raise NotReady(f"MQTT broker {c['host']}:{port}: {exc}") from exc
        client.loop_start()
        try:
            first = _first(inbox, stop, timeout_s=client.connect_timeout + 5)
            if first is _REFUSED:
                raise self._refused()
            if first not in (_CONNECTED, None):
                raise NotReady(f"MQTT broker {c['host']}:{port}: {first}")
            index = 0
            while not stop.is_set():
                try:
                    got = inbox.get(timeout=0.2)
                except queue.Empty:
                    continue
                if got is _REFUSED:
                    raise self._refused()
                if isinstance(got, mqtt.MQTTMessage):
                    yield self._item(index, got.topic, bytes(got.payload))
                    index += 1
        finally:
            client.disconnect()
            client.loop_stop()

    def _refused(self) -> AuthFailed:
        return AuthFailed(f"MQTT broker {self.config['host']} refused the credentials of "
                          f"{self.config.get('username', '')!r}")

    def _client(self, inbox: queue.Queue[Any]) -> mqtt.Client:
        c = self.config
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=c.get("client_id", ""),
                             protocol=mqtt.MQTTv311)
        if c.get("username"):
            client.username_pw_set(c["username"], c.get("password"))
        if c.get("tls"):
            client.tls_set(ca_certs=c.get("ca_file"))
        client.reconnect_delay_set(1, c.get("reconnect_max_s", 120))
        down = threading.Event()

        def on_connect(client: mqtt.Client, _data: Any, _flags: Any, reason: Any, _props: Any) -> None:
            if reason.is_failure:
                log.warning("%s: the MQTT broker refused the connection: %s", self.source, reason)
                inbox.put(_REFUSED if reason.value in _REFUSED_CREDENTIALS else str(reason))
                return
            client.subscribe([(topic, c.get("qos", 1)) for topic in c["topics"]])
            if down.is_set():
                log.info("%s: connected to the MQTT broker again", self.source)
                down.clear()
            inbox.put(_CONNECTED)

        def on_disconnect(_client: mqtt.Client, _data: Any, _flags: Any, reason: Any, _props: Any) -> None:
            if not down.is_set():  # once per outage; paho retries with backoff
                log.warning("%s: lost the MQTT broker (%s); reconnecting", self.source, reason)
                down.set()

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_message = lambda _client, _data, message: inbox.put(message)
        return client

    def _item(self, index: int, topic: str, payload: bytes) -> Item:
        """The event a message carries, or a ``BadRecord`` numbered by the message's position in the stream."""
        try:
            if self.config.get("format", "json") == "json":
                return event_from_object(_json(payload), self.source)
            return self._value_event(topic, payload)
        except MappingError as bad:
            shown = payload[:500].decode(errors="replace")
            return BadRecord(index=index, reason=bad.reason, field=bad.field, raw={"topic": topic, "payload": shown})

    def _value_event(self, topic: str, payload: bytes) -> Item:
        parts = self._topic.match(topic)
        if parts is None:
            pattern = self.config.get("topic_pattern", DEFAULT_PATTERN)
            raise MappingError("topic", f"the topic {topic} does not match {pattern}")
        try:
            number = float(payload.decode().strip())
        except (UnicodeDecodeError, ValueError):
            raise MappingError("payload", f"the payload is not a number: {payload[:40]!r}") from None
        if not math.isfinite(number):
            raise MappingError("payload", f"the payload is not a finite number: {payload[:40]!r}")
        place = parts.groupdict()
        obj = {"type": place["type"], "sector": place["sector"], "entity": place.get("entity") or topic,
               "time": datetime.now(UTC).isoformat(), "values": {place.get("field") or "value": number}}
        return event_from_object(obj, self.source)


def _json(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError as exc:
        raise MappingError("payload", f"the payload is not JSON: {exc}") from None


def _first(inbox: queue.Queue[Any], stop: threading.Event, timeout_s: float) -> Any:
    """What the broker answered to the first connection (messages cannot come before it); None when stopped."""
    waited = 0.0
    while waited < timeout_s and not stop.is_set():
        try:
            return inbox.get(timeout=0.2)
        except queue.Empty:
            waited += 0.2
    return "no answer to CONNECT" if not stop.is_set() else None
