"""The fast reader of single-fragment position reports gives exactly what the pyais path gives."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pyais.encode import encode_dict
from pyais.messages import TagBlock

from connectors import ais_batch, ais_fast
from connectors.ais import AisDecoder, Stats

pytestmark = pytest.mark.no_database  # pure: no database, no Redis (runs once, in the SQLite pass)

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "ais" / "pyais"
RECEIVED = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


def both(lines: list[bytes], reports: bool = False) -> tuple[list[Any], Stats, list[Any], Stats]:
    """The items and counts of the same lines read with the fast path and with pyais alone."""
    out = []
    for fast in (True, False):
        decoder = AisDecoder("ais-test", fast=fast, reports=reports)
        items = [item for line in lines for item in decoder.feed(line, RECEIVED)] + decoder.flush()
        out += [items, decoder.stats]
    return out[0], out[1], out[2], out[3]


def tagged(line: str, block: str, good_checksum: bool = True) -> bytes:
    check = ais_fast.checksum(block.encode()) ^ (0 if good_checksum else 1)
    return f"\\{block}*{check:02X}\\{line}".encode()


def generated(rnd: random.Random, n: int) -> list[bytes]:
    lines: list[bytes] = []
    for i in range(n):
        kind = rnd.choice([1, 2, 3, 18])
        data: dict[str, Any] = {
            "type": kind, "mmsi": rnd.choice([0, 574000000 + i, rnd.randrange(1, 2**30)]),
            "lat": rnd.choice([91, round(rnd.uniform(-90, 90), 5), -0.0001, 0]),
            "lon": rnd.choice([181, round(rnd.uniform(-180, 180), 5), 0.0001]),
            "speed": rnd.choice([102.3, 102.2, 0, round(rnd.uniform(0, 30), 1)]),
            "course": rnd.choice([360, 359.9, round(rnd.uniform(0, 359), 1)]),
            "heading": rnd.choice([511, 359, rnd.randrange(0, 360)]),
        }
        if kind != 18:
            data["status"] = rnd.choice([0, 7, 15])
        line = encode_dict(data, sentence_type=rnd.choice(["VDM", "VDO"]))[0]
        if kind in (2, 3):  # pyais encodes types 2 and 3 as type 1: set the type and the checksum by hand
            body = line[1:line.index("*")].split(",")
            body[5] = str(kind) + body[5][1:]
            line = "!" + ",".join(body) + f"*{ais_fast.checksum(','.join(body).encode()):02X}"
        shape = rnd.randrange(6)
        if shape == 1:
            lines.append(tagged(line, f"s:station{i},c:{rnd.choice([1764032400, 1764032400123, 4102444800])}"))
        elif shape == 2:
            lines.append(tagged(line, "c:1764032400,s:X", good_checksum=False))
        elif shape == 3:
            lines += [b"$PGHP,1,2026,11,25,0,30,15,0,,,,,*" + b"00", line.encode()]
        elif shape == 4:
            lines.append(line[:-2].encode() + b"00")  # a bad checksum
        else:
            lines.append(line.encode())
    return lines


@pytest.mark.parametrize("reports", [False, True])
def test_generated_reports_read_fast_equal_the_pyais_reading(reports: bool) -> None:
    lines = generated(random.Random(3), 3000)
    fast_items, fast_stats, slow_items, slow_stats = both(lines, reports)
    assert fast_items == slow_items
    assert fast_stats == slow_stats
    assert fast_stats.positions > 500 and fast_stats.no_position > 300 and fast_stats.bad_checksum > 200


def test_the_fast_reader_takes_the_plain_and_the_tagged_report_and_leaves_the_rest() -> None:
    line = encode_dict({"type": 1, "mmsi": 574001234, "lat": 19.75, "lon": 105.9, "speed": 8.5, "course": 123.4,
                        "heading": 120, "status": 7}, sentence_type="VDM")[0]
    p = ais_fast.position(line.encode())
    assert p is not None and (p.msg_type, p.mmsi, p.lat, p.lon, p.speed, p.course, p.heading, p.status) == (
        1, 574001234, 19.75, 105.9, 8.5, 123.4, 120, 7)
    block = TagBlock.create(source_station="TH01", receiver_timestamp="1764032400").decode()
    p = ais_fast.position(f"\\{block}\\{line}".encode())
    assert p is not None and (p.station, p.tag_time) == ("TH01", "1764032400")
    static = encode_dict({"type": 5, "mmsi": 574001234, "shipname": "THANH HOA 01"}, sentence_type="VDM")
    assert [ais_fast.position(s.encode()) for s in static] == [None, None]  # two fragments: the full decoder
    assert ais_fast.position(line[:-2].encode() + b"00") is None  # bad checksum: the full decoder says so
    assert ais_fast.position(b"\x00\xff!AIVDM") is None


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared AIS corpus (../shared/data/ais) is not here")
@pytest.mark.parametrize("name", ["nmea_data_sample.txt", "messages.ais", "mixed.txt", "gatehouse.nmea",
                                  "sample.ais", "timestamped.ais", "ais_test_messages"])
def test_the_shared_corpus_reads_the_same_with_the_fast_path(name: str) -> None:
    lines = (CORPUS / name).read_bytes().splitlines()
    fast_items, fast_stats, slow_items, slow_stats = both(lines)
    assert fast_items == slow_items
    assert fast_stats == slow_stats


def one_by_one_and_batched(lines: list[bytes], reports: bool) -> tuple[list[Any], Stats, list[Any], Stats]:
    single, batched = AisDecoder("ais-test", reports=reports), AisDecoder("ais-test", reports=reports)
    one = [item for line in lines for item in single.feed(line, RECEIVED)] + single.flush()
    many = batched.feed_many(lines[:700], RECEIVED) + batched.feed_many(lines[700:], RECEIVED) + batched.flush()
    return one, single.stats, many, batched.stats


@pytest.mark.parametrize("reports", [False, True])
def test_lines_read_in_batches_give_what_they_give_one_by_one(reports: bool) -> None:
    rnd = random.Random(11)
    lines = generated(rnd, 2000)
    static = encode_dict({"type": 5, "mmsi": 574001234, "shipname": "THANH HOA 01"}, sentence_type="VDM", seq_id=3)
    for at in range(0, len(lines), 97):  # multi-part messages, one of them cut, among the reports
        lines.insert(at, static[0].encode())
        if at % 2:
            lines.insert(at + 2, static[1].encode())
    lines += [line.replace(b",0*", b",2*") for line in lines[:50]]  # fill bits: not the plain shape
    lines += [b"\\s:A,c:1764032400*7G\\" + line for line in lines[:20]]  # a tag block with a bad check
    lines += [b"", b"# comment", b"junk", "!AIVDM,1,1,,A,\u0110,0*00".encode()]
    one, one_stats, many, many_stats = one_by_one_and_batched(lines, reports)
    assert many == one
    assert many_stats == one_stats
    assert ais_batch.positions(lines).count(None) < len(lines) / 2  # most lines were read at once


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared AIS corpus (../shared/data/ais) is not here")
@pytest.mark.parametrize("name", ["nmea_data_sample.txt", "messages.ais", "mixed.txt", "gatehouse.nmea",
                                  "sample.ais", "timestamped.ais", "ais_test_messages"])
def test_the_shared_corpus_reads_the_same_in_batches(name: str) -> None:
    lines = [line.strip() for line in (CORPUS / name).read_bytes().splitlines()]
    for reports in (False, True):
        one, one_stats, many, many_stats = one_by_one_and_batched(lines, reports)
        assert many == one
        assert many_stats == one_stats


def test_class_a_and_b_reports_read_at_once_equal_the_single_reader() -> None:
    rnd = random.Random(5)
    lines = [line for line in generated(rnd, 3000) if not line.startswith(b"$")]
    assert ais_batch.positions(lines) == [ais_fast.position(line) if ais_batch.positions([line])[0] else None
                                          for line in lines]
    read = [p for p in ais_batch.positions(lines) if p is not None]
    assert {p.msg_type for p in read} == {1, 2, 3, 18} and len(read) > 1000


@pytest.mark.parametrize("data", [b"", b"abc", b"\x00" * 9, bytes(range(256))])
def test_checksum_is_the_xor_of_the_bytes(data: bytes) -> None:
    expected = 0
    for byte in data:
        expected ^= byte
    assert ais_fast.checksum(data) == expected
