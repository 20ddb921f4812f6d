"""The common AIS sentence read without pyais: one single-fragment position report (types 1, 2, 3, 18).

A live AIS feed is almost all such lines. ``position`` reads one straight from the bytes (checksum, 6-bit armour,
bit fields) and returns None for anything else — a multi-part message, another type, a bad checksum, a payload of
an unusual length, odd characters — which the caller then gives to the full decoder (``connectors.ais``, on top
of pyais). The values are those pyais gives (same scaling and rounding); a test compares the two on the shared
corpus and on generated reports.
"""

from __future__ import annotations

from typing import NamedTuple

# 6-bit armour: '0'..'W' -> 0..39, '`'..'w' -> 40..63, each written as its six bits
_BITS = {c: format(c - 48 if c < 88 else c - 56, "06b") for c in [*range(48, 88), *range(96, 120)]}
_POSITION_TYPES = frozenset(b"123B")  # the first payload character of types 1, 2, 3 and 18


class FastPosition(NamedTuple):
    msg_type: int
    mmsi: int
    lat: float
    lon: float
    speed: float  # knots; 102.3 = not available
    course: float  # degrees; 360 = not available
    heading: int  # degrees; 511 = not available
    status: int | None  # navigation status (types 1-3); None for type 18
    tag_time: str | None  # the tag block's ``c:`` when the block is valid
    station: str | None  # the tag block's ``s:`` when the block is valid
    tagged: bool  # the line had a tag block (valid or not)


def checksum(data: bytes) -> int:
    """XOR of the bytes (NMEA's checksum), folded in halves on one integer."""
    n, width = int.from_bytes(data, "big"), len(data)
    while width > 1:
        half = width // 2
        low = width - half
        n = (n >> (8 * low)) ^ (n & ((1 << (8 * low)) - 1))
        width = low
    return n


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >> (bits - 1) else value


def _lat_lon(raw: int) -> float:
    return ((10 * raw + 3) // 6) / 1e6  # round(raw / 600000, 6), exactly, in integers


def tag_block(block: bytes) -> tuple[str | None, str | None] | None:
    """(time, station) of a valid tag block, (None, None) of an invalid one, None when it is not simple."""
    if not block.isascii() or block.count(b"*") != 1:
        return None
    content, check = block.split(b"*")
    try:
        expected = int(check, 16)
    except ValueError:
        return None
    if checksum(content) != expected:
        return None, None
    stamp = station = None
    for part in content.split(b","):
        key, sep, value = part.partition(b":")
        if not sep:
            return None
        if key == b"c":
            stamp = value.decode()
        elif key == b"s":
            station = value.decode()
        elif key == b"g":
            return None  # a grouped (multi-sentence) tag block: the full decoder
    return stamp, station


def position(raw: bytes) -> FastPosition | None:
    """The position report in one stripped NMEA line, or None when the full decoder must read it."""
    tagged = raw[:1] == b"\\"
    stamp = station = None
    if tagged:
        end = raw.find(b"\\", 1)
        if end < 0:
            return None
        tag = tag_block(raw[1:end])
        if tag is None:
            return None
        stamp, station = tag
        raw = raw[end + 1:]
    if raw[:1] != b"!" or raw[3:7] not in (b"VDM,", b"VDO,") or len(raw) < 4 or raw[-3:-2] != b"*":
        return None
    body = raw[1:-3]
    try:
        if checksum(body) != int(raw[-2:], 16):
            return None
    except ValueError:
        return None
    fields = body.split(b",")
    if len(fields) != 7 or fields[1] != b"1" or fields[2] != b"1" or fields[6] != b"0":
        return None
    payload = fields[5]
    if len(payload) != 28 or payload[0] not in _POSITION_TYPES:
        return None
    try:
        n = int("".join([_BITS[c] for c in payload]), 2)
    except KeyError:
        return None
    msg_type = n >> 162
    mmsi = (n >> 130) & 0x3FFFFFFF
    if msg_type == 18:
        speed, lon, lat = (n >> 112) & 0x3FF, (n >> 83) & 0xFFFFFFF, (n >> 56) & 0x7FFFFFF
        course, heading, status = (n >> 44) & 0xFFF, (n >> 35) & 0x1FF, None
    else:
        status = (n >> 126) & 0xF
        speed, lon, lat = (n >> 108) & 0x3FF, (n >> 79) & 0xFFFFFFF, (n >> 52) & 0x7FFFFFF
        course, heading = (n >> 40) & 0xFFF, (n >> 31) & 0x1FF
    return FastPosition(msg_type, mmsi, _lat_lon(_signed(lat, 27)), _lat_lon(_signed(lon, 28)), speed / 10.0,
                        course / 10.0, heading, status, stamp, station, tagged)
