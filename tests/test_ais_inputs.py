"""AIS lines as real receivers and logs give them: receivers' trailers, junk payloads, padded static data, logs
without times — read alike one by one, in batches and by pyais alone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pyais.encode import encode_dict

from connectors.ais import ARRIVAL_STEP, AisDecoder, Stats, decode_lines, replay
from connectors.ais_fast import checksum
from connectors.base import BadRecord
from engine.tracks import PositionReport

pytestmark = pytest.mark.no_database  # pure: no database, no Redis (runs once, in the SQLite pass)

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "ais" / "pyais"
RECEIVED = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
MMSI = 574001234
POSITION = encode_dict({"type": 1, "mmsi": MMSI, "lat": 19.75, "lon": 105.9, "speed": 8.5, "course": 123.4,
                        "heading": 120, "status": 7}, sentence_type="VDM")[0]


def sealed(body: str) -> str:
    """``!body*hh`` with the right checksum."""
    return f"!{body}*{checksum(body.encode()):02X}"


def with_payload(line: str, payload: str) -> str:
    fields = line[1:line.index("*")].split(",")
    fields[5] = payload
    return sealed(",".join(fields))


def every_way(lines: list[str], reports: bool = False) -> list[Any]:
    """The items of the lines read in a batch, one by one, and by pyais alone: asserted equal, returned once."""
    batched = list(decode_lines(lines, source="ais-test", received=RECEIVED, reports=reports))
    for fast in (True, False):
        decoder = AisDecoder("ais-test", fast=fast, reports=reports)
        assert [i for line in lines for i in decoder.feed(line, RECEIVED)] + decoder.flush() == batched
    return batched


@pytest.mark.parametrize(("trailer", "time", "station"), [
    (",s22832,d-098,T36.05911820,x4013,r003669945,1764032400", datetime.fromtimestamp(1764032400, UTC),
     "003669945"),
    (",rB003669947,1764032401", datetime.fromtimestamp(1764032401, UTC), "B003669947"),
    (",s1234,d-100,T12.345,x1", RECEIVED, None),  # no Unix time: the arrival
    (",r003669945,4102444800", RECEIVED, "003669945"),  # a time years ahead of arrival is not trusted
])
def test_a_uscg_receiver_trailer_after_the_checksum_is_read(trailer: str, time: datetime, station: str | None) -> None:
    for reports in (False, True):
        (item,) = every_way([POSITION + trailer], reports)
        fix_time = item.fix.time if isinstance(item, PositionReport) else item.time
        assert (fix_time, item.values.get("station"), item.values["lat"]) == (time, station, 19.75)


def test_a_bad_checksum_with_a_trailer_is_still_a_bad_checksum() -> None:
    stats = Stats()
    (bad,) = decode_lines([POSITION[:-2] + "00,r003669945,1764032400"], source="x", received=RECEIVED, stats=stats)
    assert isinstance(bad, BadRecord) and bad.reason == "bad checksum" and stats.bad_checksum == 1


PAYLOAD = POSITION.split(",")[5]


@pytest.mark.parametrize("line", [
    with_payload(POSITION, PAYLOAD[:5] + "\x00" + PAYLOAD[6:]),  # NUL, checksum right
    with_payload(POSITION, PAYLOAD[:5] + "x" + PAYLOAD[6:]),  # 'x' is past the alphabet's 'w'
    with_payload(POSITION, PAYLOAD[:5] + "X" + PAYLOAD[6:]),  # 'X'..'_' are between its two ranges
    with_payload(POSITION, PAYLOAD[:5] + "~" + PAYLOAD[6:]),
    with_payload(POSITION, PAYLOAD[:5] + "é" + PAYLOAD[6:]),
    "\\s:TH\x0001,c:1764032400*" + f"{checksum(b's:TH' + bytes([0]) + b'01,c:1764032400'):02X}\\" + POSITION,
    "\x00" + POSITION,
])
def test_a_payload_outside_the_six_bit_alphabet_or_with_nul_is_a_bad_record(line: str) -> None:
    for reports in (False, True):
        stats = Stats()
        items = list(decode_lines([line, POSITION], source="ais-test", received=RECEIVED, stats=stats,
                                   reports=reports))
        assert isinstance(items[0], BadRecord) and items[0].index == 0, items
        assert [i.entity for i in items[1:]] == [f"MMSI:{MMSI}"]  # no phantom vessel, the next line read
        assert (stats.malformed, stats.positions) == (1, 1)
        assert every_way([line, POSITION], reports) == items


def type5(ship_type: int, **texts: str) -> list[str]:
    """A Type 5 message with a ship type pyais's encoder would map to its neighbour, set in the bits by hand."""
    frags = encode_dict({"type": 5, "mmsi": MMSI, "ship_type": 30, **texts}, sentence_type="VDM", seq_id=3)
    bodies = [f[1:f.index("*")].split(",") for f in frags]
    bits = "".join(format(c - 48 if c < 88 else c - 56, "06b") for b in bodies for c in b[5].encode())
    bits = bits[:232] + format(ship_type, "08b") + bits[240:]
    armour = "".join(chr(v + 48 if v < 40 else v + 56) for v in (int(bits[i:i + 6], 2)
                                                                 for i in range(0, len(bits), 6)))
    out, at = [], 0
    for body in bodies:
        body[5], at = armour[at:at + len(body[5])], at + len(body[5])
        out.append(sealed(",".join(body)))
    return out


@pytest.mark.parametrize(("ship_type", "texts", "expected"), [
    (30, {"shipname": "THANH HOA 01"}, {"ship_type": 30, "name": "THANH HOA 01"}),
    (38, {}, {"ship_type": 38}),  # reserved: pyais says 0 (not available)
    (26, {}, {"ship_type": 26}),  # WIG, reserved: pyais says 25
    (100, {}, {"ship_type": 100}), (255, {}, {"ship_type": 255}),  # regional codes
    (0, {"callsign": "3WAB@@@"}, {"callsign": "3WAB"}),  # 0: not available, left out
    (70, {"shipname": "THANH HOA@@@   ", "callsign": "XV12 @@", "destination": "NGHI SON  @@@ @"},
     {"ship_type": 70, "name": "THANH HOA", "callsign": "XV12", "destination": "NGHI SON"}),
])
def test_type_5_keeps_the_full_ship_type_and_strips_the_padding(ship_type: int, texts: dict[str, str],
                                                                 expected: dict[str, Any]) -> None:
    (event,) = every_way(type5(ship_type, **texts))
    assert {k: v for k, v in event.values.items() if k in ("ship_type", "name", "callsign", "destination")} \
        == expected


def test_a_log_without_times_keeps_every_position_in_the_order_of_its_lines(tmp_path: Path) -> None:
    lines = [encode_dict({"type": 1, "mmsi": MMSI, "lat": 19.75 + i / 1000, "lon": 105.9}, sentence_type="VDM")[0]
             for i in range(5)]
    log = tmp_path / "no-tag-blocks.nmea"
    log.write_text("\n".join([*lines, lines[0]]) + "\n")
    fixes = [r.fix for r in replay(log, "replay", reports=True)]
    assert len({(f.vessel, f.time) for f in fixes}) == 6  # each line its own instant: nothing merged
    assert [f.time - fixes[0].time for f in fixes] == [ARRIVAL_STEP * i for i in range(6)]
    assert [f.lat for f in fixes] == [19.75, 19.751, 19.752, 19.753, 19.754, 19.75]


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared AIS corpus (../shared/data/ais) is not here")
def test_the_shared_log_without_tag_blocks_keeps_one_fix_per_position() -> None:
    stats = Stats()
    fixes = [r.fix for r in replay(CORPUS / "nmea_data_sample.txt", "replay", stats, reports=True)
             if isinstance(r, PositionReport)]
    assert stats.positions == len(fixes) > 700
    assert len({(f.vessel, f.time) for f in fixes}) == len(fixes)  # was 163 keys for 758 positions
