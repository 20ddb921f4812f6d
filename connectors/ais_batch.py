"""Many AIS lines read at once: the single-fragment position reports (types 1, 2, 3, 18) of a batch, with numpy.

``positions`` gives, for each line, what ``connectors.ais_fast.position`` gives for it, or None where that would
give None or where this reader is unsure (the line then goes to the per-line decoder). A line is taken only in its
plain shape: an optional simple tag block of printable ASCII, ``!xxVDM`` or ``!xxVDO``, one fragment, an empty or
one-digit sequence id, channel A, B, 1 or 2, a 28-character payload, no fill bits. Checksums, the 6-bit armour and the
bit fields are computed for the whole batch at once; a tag block is read once per distinct block (many lines share
one second).
"""

from __future__ import annotations

import re

import numpy as np

from connectors.ais_fast import FastPosition, tag_block

_make = tuple.__new__  # a NamedTuple from a full tuple of its fields, without its Python-level __new__
_LINE = re.compile(rb"(?:\\([\x20-\x29\x2b-\x5b\x5d-\x7e]*)\*([0-9A-Fa-f]{2})\\)?!([A-Z]{2}VD[MO],1,1,[0-9]?,[AB12]?,"
                   rb"([0-9:;<=>?@A-W`a-w]{28}),0)\*([0-9A-Fa-f]{2})")
_SIXBIT = np.zeros(256, dtype=np.uint64)
for _c in [*range(48, 88), *range(96, 120)]:
    _SIXBIT[_c] = _c - 48 if _c < 88 else _c - 56
_HEX = np.full(256, 255, dtype=np.int64)
for _i, _h in enumerate(b"0123456789ABCDEF"):
    _HEX[_h] = _i
for _i, _h in enumerate(b"abcdef"):
    _HEX[_h] = 10 + _i


def _xor_segments(parts: list[bytes]) -> np.ndarray:
    """The XOR of each byte string's bytes (none is empty)."""
    data = np.frombuffer(b"".join(parts), dtype=np.uint8)
    starts = np.zeros(len(parts), dtype=np.int64)
    np.cumsum([len(p) for p in parts[:-1]], out=starts[1:])
    return np.bitwise_xor.reduceat(data, starts).astype(np.int64)


def _hex_pairs(pairs: list[bytes]) -> np.ndarray:
    codes = np.frombuffer(b"".join(pairs), dtype=np.uint8).reshape(-1, 2)
    return _HEX[codes[:, 0]] * 16 + _HEX[codes[:, 1]]


def _bits(words: np.ndarray, shift: int, width: int) -> np.ndarray:
    return (words >> np.uint64(shift)) & np.uint64((1 << width) - 1)


def _signed(values: np.ndarray, width: int) -> np.ndarray:
    v = values.astype(np.int64)
    return np.where(v >= 1 << (width - 1), v - (1 << width), v)


def positions(raws: list[bytes]) -> list[FastPosition | None]:
    """For each stripped line, its position report as ``ais_fast.position`` reads it, or None."""
    out: list[FastPosition | None] = [None] * len(raws)
    taken: list[int] = []
    blocks: list[tuple[bytes, bytes] | None] = []
    bodies: list[bytes] = []
    sums: list[bytes] = []
    payloads: list[bytes] = []
    for i, raw in enumerate(raws):
        m = _LINE.fullmatch(raw)
        if m is not None:
            content, check, body, payload, sentence_sum = m.groups()
            taken.append(i)
            blocks.append(None if content is None else (content, check))
            bodies.append(body)
            sums.append(sentence_sum)
            payloads.append(payload)
    if not taken:
        return out
    good = _xor_segments(bodies) == _hex_pairs(sums)
    six = _SIXBIT[np.frombuffer(b"".join(payloads), dtype=np.uint8).reshape(-1, 28)]
    w0 = np.zeros(len(taken), dtype=np.uint64)  # bits 0-59
    w1 = np.zeros(len(taken), dtype=np.uint64)  # bits 60-119
    w2 = np.zeros(len(taken), dtype=np.uint64)  # bits 120-167
    for k in range(10):
        w0 |= six[:, k] << np.uint64(6 * (9 - k))
        w1 |= six[:, 10 + k] << np.uint64(6 * (9 - k))
    for k in range(8):
        w2 |= six[:, 20 + k] << np.uint64(6 * (7 - k))
    kind = _bits(w0, 54, 6)
    good &= np.isin(kind, (1, 2, 3, 18))  # position reports only: the rest goes to the full decoder
    b = kind == 18  # class B: the same fields four bits earlier, no navigation status
    mmsi = _bits(w0, 22, 30)
    status = _bits(w0, 18, 4)
    speed = np.where(b, _bits(w0, 4, 10), _bits(w0, 0, 10))
    lon = np.where(b, ((w0 & np.uint64(0x7)) << np.uint64(25)) | _bits(w1, 35, 25), _bits(w1, 31, 28))
    lat = np.where(b, _bits(w1, 8, 27), _bits(w1, 4, 27))
    course = np.where(b, ((w1 & np.uint64(0xFF)) << np.uint64(4)) | _bits(w2, 44, 4),
                      ((w1 & np.uint64(0xF)) << np.uint64(8)) | _bits(w2, 40, 8))
    heading = np.where(b, _bits(w2, 35, 9), _bits(w2, 31, 9))
    lat_deg = ((10 * _signed(lat, 27) + 3) // 6) / 1e6  # round(raw / 600000, 6), as pyais
    lon_deg = ((10 * _signed(lon, 28) + 3) // 6) / 1e6
    tags: dict[tuple[bytes, bytes], tuple[str | None, str | None] | None] = {}
    columns = zip(taken, blocks, good.tolist(), kind.tolist(), mmsi.tolist(), lat_deg.tolist(), lon_deg.tolist(),
                  (speed / 10.0).tolist(), (course / 10.0).tolist(), heading.tolist(), status.tolist(), strict=True)
    for i, block, ok, msg_type, vessel, la, lo, sog, cog, head, nav in columns:
        if not ok:
            continue
        stamp = station = None
        if block is not None:
            if block not in tags:
                tags[block] = tag_block(block[0] + b"*" + block[1])
            tag = tags[block]
            if tag is None:
                continue
            stamp, station = tag
        out[i] = _make(FastPosition, (msg_type, vessel, la, lo, sog, cog, head, None if msg_type == 18 else nav,
                                      stamp, station, block is not None))
    return out
