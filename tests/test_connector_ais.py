"""The AIS decoder and connectors: sentences made by pyais's own encoder, the shared pyais corpus, real sockets."""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pyais.encode import encode_dict
from pyais.messages import TagBlock

from connectors.ais import ARRIVAL_STEP, Stats, decode_lines, replay
from connectors.ais_feeds import AisFile, AisTcp, AisTcpServer, AisUdp
from connectors.base import BadConfig, BadRecord, Connector, NotReady
from engine.events import IncomingEvent
from tests.conftest import free_port

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "ais"
RECEIVED = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
MMSI = 574001234  # a Vietnamese MMSI (MID 574)
TYPE_1 = {"type": 1, "mmsi": MMSI, "lat": 19.75, "lon": 105.9, "speed": 8.5, "course": 123.4, "heading": 120,
          "status": 7}
TYPE_5 = {"type": 5, "mmsi": MMSI, "imo": 9123456, "callsign": "3WAB", "shipname": "THANH HOA 01", "ship_type": 30,
          "to_bow": 20, "to_stern": 10, "to_port": 4, "to_starboard": 5, "month": 12, "day": 2, "hour": 8,
          "minute": 30, "draught": 3.5, "destination": "NGHI SON"}


def sentences(data: dict[str, Any], **nmea: Any) -> list[str]:
    return encode_dict(data, sentence_type="VDM", **nmea)


def decode(lines: list[Any], stats: Stats | None = None, **kw: Any) -> list[Any]:
    return list(decode_lines(lines, source="ais-test", received=RECEIVED, stats=stats, **kw))


def only(items: list[Any]) -> Any:
    assert len(items) == 1, items
    return items[0]


def test_a_class_a_position_becomes_a_vessel_position_event() -> None:
    event = only(decode(sentences(TYPE_1)))
    assert isinstance(event, IncomingEvent)
    assert (event.source, event.type, event.sector, event.entity) == ("ais-test", "vessel_position", "fisheries",
                                                                      f"MMSI:{MMSI}")
    assert event.values == {"msg_type": 1, "lat": 19.75, "lon": 105.9, "sog_kn": 8.5, "cog": 123.4, "heading": 120,
                            "nav_status": 7}
    assert event.location == {"lat": 19.75, "lon": 105.9}
    assert event.time == RECEIVED
    assert event.idempotency_key and event.idempotency_key.startswith("ais:")


@pytest.mark.parametrize(("fields", "left_out"), [
    ({"speed": 102.3}, "sog_kn"),
    ({"course": 360}, "cog"),
    ({"heading": 511}, "heading"),
    ({"status": 15}, "nav_status"),
])
def test_not_available_values_are_left_out(fields: dict[str, Any], left_out: str) -> None:
    event = only(decode(sentences(TYPE_1 | fields)))
    assert left_out not in event.values
    assert {"lat", "lon"} <= set(event.values)


@pytest.mark.parametrize("fields", [{"lat": 91}, {"lon": 181}, {"lat": 91, "lon": 181}])
def test_a_position_report_without_a_position_is_a_bad_record(fields: dict[str, Any]) -> None:
    stats = Stats()
    bad = only(decode(sentences(TYPE_1 | fields), stats))
    assert isinstance(bad, BadRecord) and bad.reason == "no position"
    assert stats.no_position == 1 and stats.positions == 0


def test_static_and_voyage_data_in_two_fragments() -> None:
    frags = sentences(TYPE_5, seq_id=3)
    assert len(frags) == 2
    event = only(decode(frags))
    assert (event.type, event.entity, event.location) == ("vessel_static", f"MMSI:{MMSI}", None)
    assert event.values == {"msg_type": 5, "name": "THANH HOA 01", "callsign": "3WAB", "imo": 9123456,
                            "ship_type": 30, "to_bow": 20, "to_stern": 10, "to_port": 4, "to_starboard": 5,
                            "length": 30, "width": 9, "draught": 3.5, "destination": "NGHI SON",
                            "eta": "2026-12-02T08:30:00+00:00"}


def test_class_b_position_and_static_reports() -> None:
    b18 = sentences({"type": 18, "mmsi": 574009999, "lat": 19.7, "lon": 105.8, "speed": 3.2, "course": 45,
                     "heading": 511})
    part_a = sentences({"type": 24, "mmsi": 574009999, "partno": 0, "shipname": "TH 90123 TS"})
    part_b = sentences({"type": 24, "mmsi": 574009999, "partno": 1, "ship_type": 30, "callsign": "XV12",
                        "to_bow": 8, "to_stern": 4, "to_port": 2, "to_starboard": 2})
    stats = Stats()
    position, static_a, static_b = decode(b18 + part_a + part_b, stats)
    assert position.type == "vessel_position"
    assert position.values == {"msg_type": 18, "lat": 19.7, "lon": 105.8, "sog_kn": 3.2, "cog": 45.0}
    assert static_a.values == {"msg_type": 24, "part": "A", "name": "TH 90123 TS"}
    assert static_b.values == {"msg_type": 24, "part": "B", "callsign": "XV12", "ship_type": 30, "to_bow": 8,
                               "to_stern": 4, "to_port": 2, "to_starboard": 2, "length": 12, "width": 4}
    assert {e.entity for e in (position, static_a, static_b)} == {"MMSI:574009999"}
    assert (stats.decoded, stats.positions, stats.statics) == (3, 1, 2)


def test_an_extended_class_b_report_gives_a_position_and_static_data() -> None:
    position, static = decode(sentences({"type": 19, "mmsi": 574009999, "lat": 19.7, "lon": 105.8,
                                         "shipname": "B19", "ship_type": 30, "to_bow": 8, "to_stern": 4}))
    assert (position.type, static.type) == ("vessel_position", "vessel_static")
    assert static.values["name"] == "B19" and static.values["length"] == 12
    assert position.idempotency_key != static.idempotency_key


def tagged(line: str, **fields: Any) -> str:
    return f"\\{TagBlock.create_str(**fields)}\\{line}"


def test_tag_block_time_and_station() -> None:
    line = sentences(TYPE_1)[0]
    seconds, millis = decode([tagged(line, receiver_timestamp=1764032400, source_station="TH-SAMSON"),
                              tagged(line, receiver_timestamp=1764032400123)])
    assert seconds.time == datetime.fromtimestamp(1764032400, UTC)
    assert seconds.values["station"] == "TH-SAMSON"
    assert millis.time == datetime.fromtimestamp(1764032400.123, UTC) and "station" not in millis.values


def test_a_tag_block_with_a_bad_checksum_or_a_future_time_is_not_trusted() -> None:
    line = sentences(TYPE_1)[0]
    good = tagged(line, receiver_timestamp=1764032400, source_station="X")
    broken = good.replace("s:X", "s:Y")  # same checksum, other content
    future = tagged(line, receiver_timestamp=int(RECEIVED.timestamp()) + 3 * 86400)
    events = decode([broken, future])
    assert [e.time for e in events] == [RECEIVED, RECEIVED + ARRIVAL_STEP]  # as lines without a time: their order
    assert all("station" not in e.values for e in events)


def test_tag_block_time_of_a_multi_part_message_comes_from_its_first_part() -> None:
    first, second = sentences(TYPE_5, seq_id=1)
    event = only(decode([tagged(first, receiver_timestamp=1764032400), second]))
    assert event.time == datetime.fromtimestamp(1764032400, UTC)


def test_a_gatehouse_wrapper_gives_the_time_of_the_next_sentence() -> None:
    line = sentences(TYPE_1)[0]
    wrapped, plain = decode(["$PGHP,1,2008,5,9,0,0,0,10,338,2,,1,09*17", line, line])
    assert wrapped.time == datetime(2008, 5, 9, 0, 0, 0, 10000, tzinfo=UTC)
    assert plain.time == RECEIVED


def test_the_same_sentence_at_the_same_time_has_the_same_key() -> None:
    line = tagged(sentences(TYPE_1)[0], receiver_timestamp=1764032400)
    once, again = decode([line, line])  # one report heard twice (two receivers, a resent log): one key
    later = only(decode([tagged(sentences(TYPE_1)[0], receiver_timestamp=1764032460)]))
    assert once.idempotency_key == again.idempotency_key != later.idempotency_key
    untimed = decode([sentences(TYPE_1)[0]] * 2)  # no time of their own: two lines, two arrivals
    assert untimed[0].idempotency_key != untimed[1].idempotency_key


def test_a_bad_checksum_is_counted_and_the_rest_goes_on() -> None:
    good = sentences(TYPE_1)[0]
    body, checksum = good.rsplit("*", 1)
    bad = f"{body}*{int(checksum, 16) ^ 0x01:02X}"
    stats = Stats()
    first, wrong, last = decode([good, bad, sentences(TYPE_1 | {"mmsi": 574000002})[0]], stats)
    assert isinstance(first, IncomingEvent) and isinstance(last, IncomingEvent)
    assert isinstance(wrong, BadRecord) and wrong.reason == "bad checksum" and wrong.index == 1 and wrong.raw == bad
    assert (stats.bad_checksum, stats.positions) == (1, 2)


def test_half_of_a_multi_part_message_is_an_incomplete_bad_record() -> None:
    first, second = sentences(TYPE_5, seq_id=4)
    stats = Stats()
    items = decode([first, sentences(TYPE_1)[0]], stats)  # the end comes before the second part
    assert [type(i) for i in items] == [IncomingEvent, BadRecord]
    assert items[1].reason == "incomplete multi-part message" and items[1].index == 0
    orphan = only(decode([second], stats))
    assert orphan.reason == "incomplete multi-part message"
    assert stats.incomplete == 2 and stats.statics == 0


def test_a_half_message_is_dropped_after_too_many_lines() -> None:
    first, second = sentences(TYPE_5, seq_id=5)
    filler = sentences(TYPE_1)[0]
    items = decode([first, *[filler] * 5, second], max_pending_lines=3)
    bad = [i for i in items if isinstance(i, BadRecord)]
    assert [b.index for b in bad] == [0, 6]  # the first part given up, then the second part alone
    assert all(b.reason == "incomplete multi-part message" for b in bad)


def test_interleaved_multi_part_messages_on_other_sequence_ids_both_complete() -> None:
    a1, a2 = sentences(TYPE_5, seq_id=1)
    b1, b2 = sentences(TYPE_5 | {"mmsi": 574000002, "shipname": "OTHER"}, seq_id=2)
    names = [e.values["name"] for e in decode([a1, b1, a2, b2])]
    assert names == ["THANH HOA 01", "OTHER"]


@pytest.mark.parametrize("junk", [
    b"\x00\xff\xfe\x80binary\x9c",
    bytes(range(256)),
    b"IamNotAnAisMessage1111",
    b"!AIVDM,1,1,,B,,0*25",  # empty payload
    b"!AIVDM,9,9,9,9",
    "!AIVDM,1,1,,A,ÿÿ,0*00",
])
def test_junk_is_a_bad_record_never_an_exception(junk: bytes | str) -> None:
    stats = Stats()
    bad, good = decode([junk, sentences(TYPE_1)[0]], stats)
    assert isinstance(bad, BadRecord) and bad.index == 0
    assert isinstance(good, IncomingEvent)
    assert stats.malformed + stats.bad_checksum == 1


def test_other_nmea_sentences_and_unused_ais_types_are_only_counted() -> None:
    stats = Stats()
    base_station = sentences({"type": 4, "mmsi": 574000001, "lat": 19.7, "lon": 105.8})
    items = decode(["$GPGGA,184353.07,1929.045,S,02410.506,E,1,04,2.6,100.00,M,-33.9,M,,0000*6D", "",
                    "# a comment", *base_station], stats)
    assert items == []
    assert stats.unsupported_type == 2 and stats.lines == 4


def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "LICENSE") if CORPUS.is_dir() else []


@pytest.mark.skipif(not corpus_files(), reason=f"the shared AIS corpus is not at {CORPUS} (a clone without ../shared)")
@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name)
def test_the_shared_corpus_decodes_without_a_crash(path: Path) -> None:
    stats = Stats()
    items = decode(path.read_bytes().splitlines(), stats)
    events = [i for i in items if isinstance(i, IncomingEvent)]
    bad = [i for i in items if isinstance(i, BadRecord)]
    assert events, "every file of the corpus holds some good sentences"
    assert len(events) == stats.positions + stats.statics
    assert len(bad) == stats.bad_checksum + stats.incomplete + stats.malformed + stats.no_position
    assert all(-90 <= e.location["lat"] <= 90 and -180 <= e.location["lon"] <= 180 for e in events if e.location)
    if path.name == "nmea_data_sample.txt":  # 897 lines: 100 empty payloads, 20 type-5 first parts alone
        assert (stats.malformed, stats.incomplete, stats.bad_checksum) == (100, 20, 0)
        assert stats.positions > 700


def test_replay_reads_a_whole_log(tmp_path: Path) -> None:
    log = tmp_path / "ais.log"
    log.write_text("\n".join([*sentences(TYPE_1), *sentences(TYPE_5)]) + "\n")
    assert [e.type for e in replay(log, "replay")] == ["vessel_position", "vessel_static"]


def test_file_poll_reads_what_was_appended(tmp_path: Path) -> None:
    log = tmp_path / "ais.log"
    connector = AisFile({"path": str(log)}, source="ais-file")
    with pytest.raises(NotReady):
        list(connector.poll({}))
    first, second = sentences(TYPE_5, seq_id=7)
    log.write_text(sentences(TYPE_1)[0] + "\n" + first + "\n" + second[:10])  # a part not yet, a line half written
    state: dict[str, Any] = {}
    assert [e.type for e in connector.poll(state)] == ["vessel_position"]
    with log.open("a") as f:
        f.write(second[10:] + "\n" + "junk\n")
    items = list(connector.poll(state))
    assert [getattr(i, "type", None) for i in items] == ["vessel_static", None]
    assert items[1].index == 3  # the line number in the file
    assert list(connector.poll(state)) == []
    log.write_text(sentences(TYPE_1)[0] + "\n")  # replaced by a shorter file: read from the start
    assert len(list(connector.poll(state))) == 1
    assert connector.stats.positions == 2 and connector.stats.statics == 1


@pytest.mark.parametrize(("kind", "config"), [
    (AisFile, {"path": "x", "poll": 1}), (AisTcp, {"host": "h", "port": 1, "tls": True}),
    (AisTcp, {"host": "h"}), (AisTcpServer, {"port": 0}), (AisUdp, {"port": 1, "group": "x"}),
])
def test_configurations_with_unknown_or_bad_keys_are_refused(kind: type[Connector], config: dict[str, Any]) -> None:
    with pytest.raises(BadConfig):
        kind(config, source="x")


class Running:
    """A connector's stream consumed in a thread, its items in a queue."""

    def __init__(self, connector: Connector) -> None:
        self.items: queue.Queue[Any] = queue.Queue()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(connector,), daemon=True)
        self.thread.start()

    def _run(self, connector: Connector) -> None:
        try:
            for item in connector.stream(self.stop):
                self.items.put(item)
        except Exception as exc:  # noqa: BLE001 - handed to the test to assert on
            self.items.put(exc)

    def next(self, timeout: float = 5) -> Any:
        item = self.items.get(timeout=timeout)
        if isinstance(item, Exception):
            raise item
        return item

    def close(self) -> float:
        started = time.monotonic()
        self.stop.set()
        self.thread.join(5)
        assert not self.thread.is_alive(), "the stream did not end after stop was set"
        return time.monotonic() - started


def lines(*data: dict[str, Any]) -> bytes:
    return "".join(s + "\r\n" for d in data for s in sentences(d)).encode()


@pytest.fixture
def feed_server() -> Iterator[tuple[int, queue.Queue[bytes]]]:
    """A TCP server that sends each connection the next queued payload, then hangs up (a feed that drops)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    outbox: queue.Queue[bytes] = queue.Queue()
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                try:
                    conn.sendall(outbox.get_nowait())
                except queue.Empty:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], outbox
    done.set()
    thread.join(5)
    server.close()


def test_tcp_client_reads_a_feed_and_reconnects_after_it_drops(feed_server: tuple[int, queue.Queue[bytes]]) -> None:
    port, outbox = feed_server
    first_part = sentences(TYPE_5)[0].encode()
    outbox.put(lines(TYPE_1) + b"junk\n" + first_part + b"\r\n" + first_part[:20])  # hangs up mid-message
    outbox.put(lines(TYPE_5))
    running = Running(AisTcp({"host": "127.0.0.1", "port": port, "reconnect_max_s": 0.5}, source="ais-tcp"))
    try:
        got = [running.next() for _ in range(5)]
    finally:
        stopped_in = running.close()
    said = [i.reason.split(":")[0] if isinstance(i, BadRecord) else i.type for i in got]
    assert said == ["vessel_position", "not an NMEA sentence", "malformed sentence",  # the half line at the end
                    "incomplete multi-part message", "vessel_static"]  # then the next connection's message
    assert stopped_in < 1


def test_tcp_client_is_not_ready_when_nothing_listens() -> None:
    connector = AisTcp({"host": "127.0.0.1", "port": free_port(), "connect_timeout_s": 1}, source="ais-tcp")
    with pytest.raises(NotReady):
        next(connector.stream(threading.Event()))


def test_tcp_server_takes_lines_from_several_senders() -> None:
    port = free_port()
    connector = AisTcpServer({"host": "127.0.0.1", "port": port}, source="ais-server")
    running = Running(connector)
    try:
        one = two = None
        deadline = time.monotonic() + 5
        while one is None and time.monotonic() < deadline:
            try:
                one = socket.create_connection(("127.0.0.1", port), timeout=1)
            except ConnectionRefusedError:
                time.sleep(0.05)
        assert one is not None
        two = socket.create_connection(("127.0.0.1", port), timeout=1)
        first, second = sentences(TYPE_5, seq_id=1)
        one.sendall(first.encode() + b"\n")
        two.sendall(lines(TYPE_1 | {"mmsi": 574000002}))  # its own decoder: does not break one's message
        one.sendall(second.encode()[:15])
        time.sleep(0.1)
        one.sendall(second.encode()[15:] + b"\n")
        got = {running.next().entity, running.next().entity}
        two.close()
        one.close()
    finally:
        stopped_in = running.close()
    assert got == {f"MMSI:{MMSI}", "MMSI:574000002"}
    assert connector.stats.statics == 1 and connector.stats.positions == 1
    assert stopped_in < 1


def test_udp_datagrams() -> None:
    port = free_port()
    connector = AisUdp({"host": "127.0.0.1", "port": port}, source="ais-udp")
    running = Running(connector)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            deadline, event = time.monotonic() + 5, None
            while event is None and time.monotonic() < deadline:  # until the stream is bound
                sender.sendto(lines(TYPE_1), ("127.0.0.1", port))
                try:
                    event = running.next(timeout=0.2)
                except queue.Empty:
                    continue
            first, second = sentences(TYPE_5, seq_id=2)
            sender.sendto(first.encode(), ("127.0.0.1", port))  # one fragment per datagram
            sender.sendto(second.encode(), ("127.0.0.1", port))
            static = running.next()
            while static.type == "vessel_position":  # probes sent before the stream was ready
                static = running.next()
    finally:
        stopped_in = running.close()
    assert event is not None and event.type == "vessel_position"
    assert static.type == "vessel_static" and static.values["name"] == "THANH HOA 01"
    assert stopped_in < 1
