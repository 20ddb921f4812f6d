"""The MQTT connector against the real mosquitto on 127.0.0.1:1883 (CI starts it; anonymous access)."""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from connectors.base import BadConfig, BadRecord, NotReady
from connectors.mqtt import Mqtt, topic_regex
from engine.events import IncomingEvent
from tests.conftest import free_port

BROKER = ("127.0.0.1", 1883)


@pytest.fixture(scope="module")
def broker() -> tuple[str, int]:
    try:
        socket.create_connection(BROKER, timeout=3).close()
    except OSError as exc:
        pytest.fail(f"no MQTT broker on {BROKER[0]}:{BROKER[1]} ({exc}): start mosquitto "
                    "(`mosquitto -p 1883 -d`, anonymous access allowed) before running these tests")
    return BROKER


@pytest.fixture
def publisher(broker: tuple[str, int]) -> Iterator[mqtt.Client]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect(*broker)
    client.loop_start()
    yield client
    client.disconnect()
    client.loop_stop()


class Running:
    """A connector's stream consumed in a thread, its items in a queue."""

    def __init__(self, connector: Mqtt) -> None:
        self.items: queue.Queue[Any] = queue.Queue()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(connector,), daemon=True)
        self.thread.start()

    def _run(self, connector: Mqtt) -> None:
        try:
            for item in connector.stream(self.stop):
                self.items.put(item)
        except Exception as exc:  # noqa: BLE001 - handed to the test to assert on
            self.items.put(exc)

    def next(self, timeout: float = 5) -> Any:
        return self.items.get(timeout=timeout)

    def until_live(self, publisher: mqtt.Client, topic: str, payload: str, timeout: float = 15) -> None:
        """Publish a probe until the stream yields it (the subscription is then in place); drain the probes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            publisher.publish(topic, payload, qos=1)
            try:
                self.next(timeout=0.3)
                break
            except queue.Empty:
                continue
        else:
            raise AssertionError(f"nothing came through {topic} in {timeout} s")
        time.sleep(0.3)
        while not self.items.empty():
            self.items.get_nowait()

    def close(self) -> float:
        started = time.monotonic()
        self.stop.set()
        self.thread.join(5)
        assert not self.thread.is_alive(), "the stream did not end after stop was set"
        return time.monotonic() - started


def event_json(entity: str, aqi: float) -> str:
    return json.dumps({"type": "air_quality", "sector": "environment", "entity": entity,
                       "time": "2026-11-25T08:00:00+07:00", "values": {"aqi": aqi, "pm25": 88.1},
                       "location": {"type": "Point", "coordinates": [105.8, 19.322]}})


def test_json_messages_become_events_and_bad_ones_bad_records(broker: tuple[str, int], publisher: mqtt.Client) -> None:
    prefix = f"test/{uuid.uuid4().hex}"
    running = Running(Mqtt({"host": broker[0], "port": broker[1], "topics": [f"{prefix}/#"]}, source="mqtt-test"))
    try:
        running.until_live(publisher, f"{prefix}/probe", event_json("probe", 1))
        publisher.publish(f"{prefix}/aq", event_json("TH-AQ-NGHISON", 162), qos=1).wait_for_publish(5)
        publisher.publish(f"{prefix}/aq", b"{not json", qos=1).wait_for_publish(5)
        publisher.publish(f"{prefix}/aq", json.dumps({"type": "air_quality", "sector": "environment",
                                                      "entity": "X", "time": "2026-11-25T08:00:00",
                                                      "values": {}}), qos=1).wait_for_publish(5)
        event, not_json, no_zone = running.next(), running.next(), running.next()
    finally:
        stopped_in = running.close()
    assert isinstance(event, IncomingEvent)
    assert (event.source, event.type, event.sector, event.entity) == ("mqtt-test", "air_quality", "environment",
                                                                      "TH-AQ-NGHISON")
    assert event.values == {"aqi": 162, "pm25": 88.1}
    assert event.time == datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # 08:00 in Hanoi
    assert event.location == {"type": "Point", "coordinates": [105.8, 19.322]}
    assert isinstance(not_json, BadRecord) and not_json.field == "payload" and "not JSON" in not_json.reason
    assert isinstance(no_zone, BadRecord) and no_zone.field == "time" and "time zone" in no_zone.reason
    assert no_zone.index == not_json.index + 1
    assert stopped_in < 2


def test_value_format_reads_the_topic_and_the_number(broker: tuple[str, int], publisher: mqtt.Client) -> None:
    prefix = f"test{uuid.uuid4().hex}"
    connector = Mqtt({"host": broker[0], "port": broker[1], "topics": [f"{prefix}/#"], "format": "value",
                      "topic_pattern": prefix + "/{sector}/{type}/{entity}/{field}"}, source="sensors")
    running = Running(connector)
    try:
        running.until_live(publisher, f"{prefix}/environment/probe/p/x", "0")
        before = time.time()
        publisher.publish(f"{prefix}/environment/water_level/TH-TV-GIANG/level_m", b"6.25", qos=1)
        publisher.publish(f"{prefix}/environment/water_level/TH-TV-GIANG/level_m", "sáu mét", qos=1)
        publisher.publish(f"{prefix}/too/short", b"1", qos=1)
        event, words, short = running.next(), running.next(), running.next()
    finally:
        running.close()
    assert isinstance(event, IncomingEvent)
    assert (event.type, event.sector, event.entity, event.values) == ("water_level", "environment", "TH-TV-GIANG",
                                                                      {"level_m": 6.25})
    assert before - 1 <= event.time.timestamp() <= time.time() + 1
    assert isinstance(words, BadRecord) and words.field == "payload" and "sáu mét" in words.raw["payload"]
    assert isinstance(short, BadRecord) and short.field == "topic"


@pytest.mark.parametrize(("pattern", "topic", "expected"), [
    ("ioc/{sector}/{type}/{entity}", "ioc/environment/air_quality/TH-AQ-01",
     {"sector": "environment", "type": "air_quality", "entity": "TH-AQ-01"}),
    ("ioc/{sector}/{type}/{entity}", "ioc/environment/air_quality/TH-AQ-01/pm25", None),
    ("ioc/{sector}/{type}/{entity}", "other/environment/air_quality/x", None),
    ("tram.{entity}/{sector}/{type}", "tram.NGHISON/environment/aq",
     {"entity": "NGHISON", "sector": "environment", "type": "aq"}),
])
def test_topic_patterns(pattern: str, topic: str, expected: dict[str, str] | None) -> None:
    match = topic_regex(pattern).match(topic)
    assert (match.groupdict() if match else None) == expected


@pytest.mark.parametrize("config", [
    {"host": "h", "topics": ["a"], "format": "value", "topic_pattern": "ioc/{type}/{entity}"},
    {"host": "h", "topics": ["a"], "format": "value", "topic_pattern": "ioc/{sector}/{type}/{colour}"},
    {"host": "h", "topics": []},
    {"host": "h", "topics": ["a"], "qos": 3},
    {"host": "h", "topics": ["a"], "passwd": "x"},
])
def test_bad_configurations_are_refused(config: dict[str, Any]) -> None:
    with pytest.raises(BadConfig):
        Mqtt(config, source="s")


def test_no_broker_on_the_first_connection_is_not_ready() -> None:
    stream = Mqtt({"host": "127.0.0.1", "port": free_port(), "topics": ["#"]}, source="s").stream(threading.Event())
    with pytest.raises(NotReady, match="127.0.0.1"):
        next(stream)


class CuttableProxy:
    """A TCP relay to the broker whose connections the test can cut, as a flaky network would."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream, self.pairs = upstream, []  # type: ignore[var-annotated]
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            broker = socket.create_connection(self.upstream)
            self.pairs.append((client, broker))
            for a, b in ((client, broker), (broker, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        for pair in self.pairs:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self.pairs.clear()

    def close(self) -> None:
        self.cut()
        self.server.close()


def test_reconnects_and_subscribes_again_after_the_connection_drops(broker: tuple[str, int],
                                                                    publisher: mqtt.Client) -> None:
    proxy = CuttableProxy(broker)
    prefix = f"test/{uuid.uuid4().hex}"
    running = Running(Mqtt({"host": "127.0.0.1", "port": proxy.port, "topics": [f"{prefix}/#"]}, source="s"))
    try:
        running.until_live(publisher, f"{prefix}/probe", event_json("probe", 1))
        proxy.cut()
        time.sleep(0.5)
        running.until_live(publisher, f"{prefix}/probe", event_json("probe", 2), timeout=20)
        publisher.publish(f"{prefix}/aq", event_json("TH-AQ-BIMSON", 140), qos=1)
        event = running.next()
    finally:
        running.close()
        proxy.close()
    assert isinstance(event, IncomingEvent) and event.entity == "TH-AQ-BIMSON"
