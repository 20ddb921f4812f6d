"""AIS (ITU-R M.1371) in NMEA 0183 sentences → vessel events: the pure decoder (pyais reads each sentence).

The connectors that bring the lines (``ais_file``, ``ais_tcp``, ``ais_tcp_server``, ``ais_udp``) are in
``connectors.ais_feeds``; ``replay`` reads a whole log here.

- Types 1, 2, 3, 18 (and the position of 19) → ``vessel_position``; 5, 19, 24 A/B → ``vessel_static``;
  sector ``fisheries``, entity ``MMSI:<mmsi>``. "Not available" values (lat 91, lon 181, speed 102.3,
  course 360, heading 511, status 15, empty text, zero IMO / ship type / dimensions) are left out. Texts lose
  their ``@`` padding and trailing spaces; the ship type is the code as sent (0-255, pyais maps codes it has no
  name for to a neighbour).
- Time: the NMEA 4.10 tag block's ``c:`` (seconds, or milliseconds when > 1e11), else the Unix time ending a
  receiver's trailer after the checksum (USCG NAIS: ``…*hh,s…,d…,T…,x…,r<receiver>,<unix time>``), else a
  Gatehouse ``$PGHP`` line just before, else when the line arrived — lines that arrived at once (a replayed log
  without times, a chunk of a feed) one microsecond apart in their order (``ARRIVAL_STEP``), so that a vessel's
  positions are all kept (a fix is keyed by vessel and time). A tag block with a bad checksum, or a time more
  than a day after arrival, is not trusted. ``s:`` (or the trailer's ``r``) becomes ``values["station"]``.
- Fragments wait by (sequence id, channel); a message still unfinished after ``max_pending_lines`` lines or
  ``max_pending_s`` seconds is a ``BadRecord`` "incomplete multi-part message".
- Bad checksums, junk, lines with bytes that NMEA does not use (NUL, controls, non-ASCII), payloads with
  characters outside the 6-bit alphabet (no phantom vessel is decoded from them) and empty payloads are
  ``BadRecord``s; other NMEA sentences ($GPGGA …) and AIS types
  not used here (4, 8, 21 …) are only counted (``Stats.unsupported_type``). Blank and ``#`` lines are skipped.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from pyais.exceptions import MissingPayloadException, UnknownMessageException
from pyais.messages import AISSentence, GatehouseSentence, NMEASentenceFactory

from connectors import ais_batch, ais_fast
from connectors.base import BadRecord, Item
from engine.bulk import paused_gc
from engine.events import IncomingEvent
from engine.tracks import NewFix, PositionReport

log = logging.getLogger("ioc.connectors.ais")
SECTOR = "fisheries"
BATCH = 5000  # lines read at once by decode_lines
_TEXT = {"shipname": "name", "callsign": "callsign", "destination": "destination", "vendorid": "vendor"}
_NUMBERS = ("imo", "ship_type", "draught", "mothership_mmsi")
_DIMENSIONS = ("to_bow", "to_stern", "to_port", "to_starboard")
ARRIVAL_STEP = timedelta(microseconds=1)  # between lines without a time of their own that arrived at once
SIXBIT_ALPHABET = bytes([*range(48, 88), *range(96, 120)])  # '0'..'W', '`'..'w': the payload's armour
_NOT_NMEA = re.compile(rb"[^\x20-\x7e]")  # NMEA 0183 is printable ASCII: NUL, controls and other bytes are junk
_TRAILER = re.compile(rb"(.*\*[0-9A-Fa-f]{2})((?:,[^,*\\]*)+)")


@dataclass
class Stats:
    """What a decoder saw; a connector keeps one (``connector.stats``) for the operator to see."""

    lines: int = 0
    decoded: int = 0
    positions: int = 0
    statics: int = 0
    bad_checksum: int = 0
    incomplete: int = 0
    malformed: int = 0
    unsupported_type: int = 0
    no_position: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class _Pending:
    first: int
    since: datetime
    parts: list[AISSentence]
    raws: list[bytes]
    time: datetime | None
    station: str | None


@dataclass
class AisDecoder:
    """Line by line decoding; holds the fragments of multi-part messages until their siblings come."""

    source: str
    stats: Stats = field(default_factory=Stats)
    max_pending_lines: int = 50
    max_pending_s: float = 60.0
    index: int = 0  # number of the next line, for BadRecord.index
    fast: bool = True  # read single-fragment position reports without pyais (connectors.ais_fast)
    reports: bool = False  # positions as ``PositionReport``s (stored as track fixes) instead of events
    _pending: dict[tuple[int | None, str], _Pending] = field(default_factory=dict)
    _wrapper_time: datetime | None = None
    _times: dict[str | None, datetime | None] = field(default_factory=dict)
    _times_for: datetime | None = None
    _codes: dict[int, str] = field(default_factory=dict)  # MMSI -> entity code, for the reports of a busy feed
    _last_arrival: datetime | None = None

    def feed(self, line: bytes | str, received: datetime) -> list[Item]:
        index, self.index = self.index, self.index + 1
        self.stats.lines += 1
        out = self.expire(received, index) if self._pending else []
        raw = (line.encode(errors="replace") if isinstance(line, str) else line).strip()
        if not raw or raw.startswith(b"#"):
            return out
        if _NOT_NMEA.search(raw):
            return [*out, self._bad(index, "characters that NMEA 0183 does not use (NUL, control, non-ASCII)", raw,
                                    "malformed")]
        whole, (raw, trailer) = raw, _trailer(raw)
        if self.fast and (found := ais_fast.position(raw)) is not None:
            return out + self._fast_position(found, raw, index, received, trailer)
        try:
            sentence = NMEASentenceFactory.produce(raw)
        except UnknownMessageException:
            if raw[:1] in (b"$", b"!", b"\\"):
                self.stats.unsupported_type += 1
                return out
            return [*out, self._bad(index, "not an NMEA sentence", whole, "malformed")]
        except Exception as exc:  # noqa: BLE001 - pyais fails in many ways on junk; one bad line never stops a feed
            return [*out, self._bad(index, f"malformed sentence: {exc}", whole, "malformed")]
        if isinstance(sentence, GatehouseSentence):
            stamp = sentence.timestamp.replace(tzinfo=UTC)
            self._wrapper_time = _plausible(stamp, received) if sentence.is_valid else None
            return out
        if not isinstance(sentence, AISSentence):
            self.stats.unsupported_type += 1
            return out
        wrapper_time, self._wrapper_time = self._wrapper_time, None
        key = (sentence.seq_id, sentence.channel)
        if not sentence.is_valid:
            if sentence.frag_cnt > 1 and key in self._pending:
                out.append(self._incomplete(self._pending.pop(key)))
            return [*out, self._bad(index, "bad checksum", whole, "bad_checksum")]
        if sentence.payload.translate(None, SIXBIT_ALPHABET):  # what is left is not 6-bit armour
            return [*out, self._bad(index, "payload characters outside the AIS 6-bit alphabet", whole, "malformed")]
        time, station = _tag(sentence, received)
        time = time or self._tag_time(trailer[0], received) or wrapper_time
        station = station or trailer[1]
        if sentence.frag_cnt == 1:
            return out + self._message(sentence, [sentence.raw], index, time or self._arrival(received), station)
        time = time or self._arrival(received)  # a message without a time of its own arrives with its first part
        return out + self._fragment(sentence, key, _Pending(index, received, [sentence], [sentence.raw], time, station))

    def _arrival(self, received: datetime) -> datetime:
        """The time of a line that gives none (no tag block, trailer or wrapper): when it arrived, one microsecond
        after the line before it when they arrived at once (a replayed log, a chunk of a feed), so that every
        position of a vessel is kept in the order of the lines."""
        last = self._last_arrival
        moment = received if last is None or received > last else last + ARRIVAL_STEP
        self._last_arrival = moment
        return moment

    def feed_many(self, lines: Iterable[bytes | str], received: datetime) -> list[Item]:
        """``feed`` of each line, the plain position reports among them read at once (``connectors.ais_batch``);
        as reports (``self.reports``) those are made here, in one loop, exactly as ``_fast_position`` makes them."""
        with paused_gc():
            return self._feed_many(lines, received)

    def _feed_many(self, lines: Iterable[bytes | str], received: datetime) -> list[Item]:
        raws = [(line.encode(errors="replace") if isinstance(line, str) else line).strip() for line in lines]
        found = ais_batch.positions(raws) if self.fast else [None] * len(raws)
        out: list[Item] = []
        quick = 0
        codes, source = self._codes, self.source
        for raw, p in zip(raws, found, strict=True):
            if p is None:
                out += self.feed(raw, received)
                continue
            index, self.index = self.index, self.index + 1
            if self._pending:
                out += self.expire(received, index)
            mmsi, lat, lon, stamp, tagged = p.mmsi, p.lat, p.lon, p.tag_time, p.tagged
            if not self.reports or not mmsi or abs(lat) > 90 or abs(lon) > 180:
                self.stats.lines += 1
                out += self._fast_position(p, raw, index, received)
                continue
            wrapper_time, self._wrapper_time = self._wrapper_time, None
            time = (self._tag_time(stamp, received) if tagged else None) or wrapper_time or self._arrival(received)
            code = codes.get(mmsi)
            if code is None:
                if len(codes) > 100_000:
                    codes.clear()
                code = codes[mmsi] = f"MMSI:{mmsi}"
            out.append(_report(code, time, p, source))
            quick += 1
        self.stats.lines += quick
        self.stats.decoded += quick
        self.stats.positions += quick
        return out

    def _fast_position(self, p: ais_fast.FastPosition, raw: bytes, index: int, received: datetime,
                       trailer: tuple[str | None, str | None] = (None, None)) -> list[Item]:
        """What ``_message`` makes of the same sentence read by pyais (the tag block is not part of ``raw``)."""
        wrapper_time, self._wrapper_time = self._wrapper_time, None
        time = ((self._tag_time(p.tag_time, received) if p.tagged else None) or self._tag_time(trailer[0], received)
                or wrapper_time or self._arrival(received))
        if trailer[1] and not p.station:
            p = p._replace(station=trailer[1])
        sentence = raw[raw.find(b"\\", 1) + 1:] if p.tagged else raw
        self.stats.decoded += 1
        if not p.mmsi:
            return [self._bad(index, "no MMSI", sentence, "malformed")]
        if self.reports:  # straight to the fix (``position_values``'s rules, without the dict)
            if abs(p.lat) > 90 or abs(p.lon) > 180:
                return [self._bad(index, "no position", sentence, "no_position")]
            self.stats.positions += 1
            return [_report(f"MMSI:{p.mmsi}", time, p, self.source)]
        values = position_values(p.msg_type, p.lat, p.lon, p.speed, p.course, p.heading, p.status)
        if values is None:
            return [self._bad(index, "no position", sentence, "no_position")]
        self.stats.positions += 1
        extra = {"station": p.station} if p.station else {}
        return [self._position_item(p.mmsi, values | extra, time, sentence)]

    def _tag_time(self, stamp: str | None, received: datetime) -> datetime | None:
        """``_tag_time``, remembered for the lines that share a stamp (a second's worth of a busy feed)."""
        if self._times_for != received:
            self._times, self._times_for = {}, received
        if stamp not in self._times:
            if len(self._times) > 10_000:
                self._times.clear()
            self._times[stamp] = _tag_time(stamp, received)
        return self._times[stamp]

    def _fragment(self, sentence: AISSentence, key: tuple[int | None, str], new: _Pending) -> list[Item]:
        """A part of a multi-part message: kept, or the whole message when it is the last part."""
        out: list[Item] = []
        pending = self._pending.get(key)
        if sentence.frag_num == 1 or pending is None or len(pending.parts) + 1 != sentence.frag_num \
                or pending.parts[0].frag_cnt != sentence.frag_cnt:
            if pending is not None:
                out.append(self._incomplete(self._pending.pop(key)))
            if sentence.frag_num != 1:  # a part whose first part never came
                return [*out, self._incomplete(new)]
            self._pending[key] = new
            return out
        pending.parts.append(sentence)
        pending.raws.append(sentence.raw)
        pending.time, pending.station = pending.time or new.time, pending.station or new.station
        if sentence.frag_num < sentence.frag_cnt:
            return out
        del self._pending[key]
        whole = AISSentence.assemble_from_iterable(pending.parts)
        return out + self._message(whole, pending.raws, pending.first, pending.time or pending.since, pending.station)

    def expire(self, now: datetime, index: int | None = None) -> list[Item]:
        """The unfinished messages that waited too long (in lines when ``index`` is given, or in time)."""
        old = [k for k, p in self._pending.items() if (now - p.since).total_seconds() > self.max_pending_s
               or (index is not None and index - p.first > self.max_pending_lines)]
        return [self._incomplete(self._pending.pop(k)) for k in old]

    def flush(self) -> list[Item]:
        """End of input: every unfinished message is incomplete."""
        out: list[Item] = [self._incomplete(p) for p in self._pending.values()]
        self._pending.clear()
        return out

    def take_tail(self) -> int | None:
        """The first line of an unfinished message made of the last lines read (to be read again), if any."""
        for key, p in self._pending.items():
            if p.first + len(p.parts) == self.index:
                del self._pending[key]
                return p.first
        return None

    def _bad(self, index: int, reason: str, raw: bytes, counter: str) -> BadRecord:
        setattr(self.stats, counter, getattr(self.stats, counter) + 1)
        return BadRecord(index=index, reason=reason, raw=raw[:300].decode("ascii", errors="replace"))

    def _incomplete(self, p: _Pending) -> BadRecord:
        return self._bad(p.first, "incomplete multi-part message", b"\n".join(p.raws), "incomplete")

    def _message(self, sentence: AISSentence, raws: list[bytes], index: int, time: datetime,
                 station: str | None) -> list[Item]:
        raw = b"\n".join(raws)
        try:
            msg = sentence.decode()
        except MissingPayloadException:
            return [self._bad(index, "empty payload", raw, "malformed")]
        except Exception as exc:  # noqa: BLE001 - a payload pyais cannot read is one bad record, not a crash
            return [self._bad(index, f"cannot decode the payload: {exc}", raw, "malformed")]
        self.stats.decoded += 1
        kind, mmsi = msg.msg_type, getattr(msg, "mmsi", None)
        if kind not in (1, 2, 3, 5, 18, 19, 24):
            self.stats.unsupported_type += 1
            return []
        if not mmsi:
            return [self._bad(index, "no MMSI", raw, "malformed")]
        out: list[Item] = []
        extra = {"station": station} if station else {}
        if kind in (1, 2, 3, 18, 19):
            values = _position(msg)
            if values is None:
                out.append(self._bad(index, "no position", raw, "no_position"))
            else:
                self.stats.positions += 1
                out.append(self._position_item(mmsi, values | extra, time, raw))
        if kind in (5, 19, 24):
            self.stats.statics += 1
            out.append(self._event("vessel_static", mmsi, _static(msg, sentence, time) | extra, time, raw, None))
        return out

    def _position_item(self, mmsi: int, values: dict[str, Any], time: datetime, raw: bytes) -> Item:
        if self.reports:
            fix = NewFix(f"MMSI:{mmsi}", time, values["lat"], values["lon"], values.get("sog_kn"), values.get("cog"),
                         values.get("heading"), values.get("nav_status"), self.source)
            return PositionReport(fix, values["msg_type"], values.get("station"))
        return self._event("vessel_position", mmsi, values, time, raw, {"lat": values["lat"], "lon": values["lon"]})

    def _event(self, kind: str, mmsi: int, values: dict[str, Any], time: datetime, raw: bytes,
               location: dict[str, float] | None) -> IncomingEvent:
        digest = hashlib.sha256(b"|".join([raw, kind.encode(), time.isoformat().encode()])).hexdigest()
        return IncomingEvent(source=self.source, type=kind, sector=SECTOR, time=time, values=values,
                             entity=f"MMSI:{mmsi}", location=location, idempotency_key=f"ais:{digest[:40]}")


def decode_lines(lines: Iterable[bytes | str], *, source: str, received: datetime, stats: Stats | None = None,
                 max_pending_lines: int = 50, reports: bool = False) -> Iterator[Item]:
    """The events (positions as ``PositionReport``s with ``reports``) and bad records of NMEA lines that arrived
    at ``received`` (time zone aware; naive = UTC)."""
    received = received if received.tzinfo else received.replace(tzinfo=UTC)
    decoder = AisDecoder(source, stats if stats is not None else Stats(), max_pending_lines=max_pending_lines,
                         reports=reports)
    batch: list[bytes | str] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= BATCH:
            yield from decoder.feed_many(batch, received)
            batch = []
    yield from decoder.feed_many(batch, received)
    yield from decoder.flush()


def replay(path: str | Path, source: str, stats: Stats | None = None, reports: bool = False) -> Iterator[Item]:
    """Every item of an AIS log, start to end (times from the tag blocks, else now)."""
    with Path(path).open("rb") as f:
        yield from decode_lines(f, source=source, received=datetime.now(UTC), stats=stats, reports=reports)


_make = tuple.__new__  # a NamedTuple from a full tuple of its fields, without its Python-level __new__


def _report(code: str, time: datetime, p: ais_fast.FastPosition, source: str) -> PositionReport:
    """A position report read without pyais, as a track fix (``position_values``'s rules for "not available")."""
    msg_type, _mmsi, lat, lon, speed, course, heading, status, _stamp, station, _tagged = p
    fix = _make(NewFix, (code, time, lat, lon, speed if speed < 102.25 else None, course if course < 360 else None,
                         heading if heading < 360 else None, None if status is None or status == 15 else status,
                         source))
    return _make(PositionReport, (fix, msg_type, station or None))


def _plausible(moment: datetime, received: datetime) -> datetime | None:
    return moment if moment <= received + timedelta(days=1) else None


def _trailer(raw: bytes) -> tuple[bytes, tuple[str | None, str | None]]:
    """The sentence without a receiver's trailer after its checksum, and the trailer's (time, station). The USCG
    NAIS trailer (``…,0*hh,s22832,d-098,T36.05911820,x4013,r003669945,1165850130``) ends with the Unix time the
    line was received; ``r`` names the receiver. A line without a trailer is itself, with (None, None)."""
    m = _TRAILER.fullmatch(raw)
    if m is None:
        return raw, (None, None)
    fields = m[2][1:].split(b",")
    stamp = fields[-1].decode() if fields[-1].isdigit() else None
    station = next((f[1:].decode() for f in fields if f[:1] == b"r" and len(f) > 1), None)
    return m[1], (stamp, station)


def _tag(sentence: AISSentence, received: datetime) -> tuple[datetime | None, str | None]:
    """(time, station) of the sentence's tag block, when it has a valid one."""
    block = sentence.tag_block
    if block is None:
        return None, None
    block.init()
    if not block.is_valid:
        return None, None
    return _tag_time(block.receiver_timestamp, received), block.source_station or None


def _tag_time(stamp: str | None, received: datetime) -> datetime | None:
    """A tag block's ``c:`` (seconds, or milliseconds when > 1e11) as a time, when it is plausible."""
    if not stamp or not stamp.isdigit():
        return None
    seconds = int(stamp) / 1000 if int(stamp) > 10**11 else int(stamp)
    try:
        return _plausible(datetime.fromtimestamp(seconds, UTC), received)
    except (OverflowError, OSError, ValueError):
        return None


def _position(msg: Any) -> dict[str, Any] | None:
    status = getattr(msg, "status", None)
    return position_values(msg.msg_type, msg.lat, msg.lon, msg.speed, msg.course, msg.heading,
                           None if status is None else int(status))


def position_values(msg_type: int, lat: float | None, lon: float | None, speed: float | None, course: float | None,
                    heading: float | None, status: int | None) -> dict[str, Any] | None:
    """A position report's values, the "not available" ones left out; None without a position."""
    if lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180:
        return None
    values: dict[str, Any] = {"msg_type": msg_type, "lat": lat, "lon": lon}
    for name, value, limit in (("sog_kn", speed, 102.25), ("cog", course, 360), ("heading", heading, 360)):
        if value is not None and value < limit:
            values[name] = value
    if status is not None and status != 15:
        values["nav_status"] = status
    return values


def _static(msg: Any, sentence: AISSentence, time: datetime) -> dict[str, Any]:
    d = msg.asdict(enum_as_int=True)
    values: dict[str, Any] = {"msg_type": d["msg_type"]}
    if d["msg_type"] == 24:
        values["part"] = "A" if d.get("partno") == 0 else "B"
    texts = {name: d.get(key) for key, name in _TEXT.items()}
    values |= {name: clean for name, text in texts.items() if isinstance(text, str) and (clean := _text(text))}
    values |= {key: d[key] for key in _NUMBERS if d.get(key)}
    if "ship_type" in d:  # pyais maps codes it has no name for to a neighbour or to 0: the code as sent
        values.pop("ship_type", None)
        values |= {"ship_type": code} if (code := _ship_type(type(msg), sentence)) else {}
    bow, stern, port, starboard = (d.get(key) or 0 for key in _DIMENSIONS)
    if bow or stern or port or starboard:
        values |= {"to_bow": bow, "to_stern": stern, "to_port": port, "to_starboard": starboard}
        values |= {"length": bow + stern} if bow and stern else {}
        values |= {"width": port + starboard} if port and starboard else {}
    if d.get("month") and d.get("day") and (d.get("hour") or 0) < 24 and (d.get("minute") or 0) < 60:
        try:  # the ETA has no year: this year's date, or next year's when that is over a month ago
            eta = datetime(time.year, d["month"], d["day"], d["hour"] or 0, d["minute"] or 0, tzinfo=UTC)
            values["eta"] = (eta if eta > time - timedelta(days=31) else eta.replace(year=time.year + 1)).isoformat()
        except ValueError:
            pass
    return values


def _text(text: str) -> str:
    """An AIS text field without its padding: ``@`` (the 6-bit "no character") and spaces at the end."""
    return text.rstrip("@ ").strip()


@cache
def _ship_type_at(kind: Any) -> int:
    """Where the 8-bit ship type starts in a message of this pyais class."""
    offset = 0
    for f in kind.fields():
        if f.name == "ship_type":
            return offset
        offset += f.metadata["width"]
    raise LookupError(f"{kind.__name__} has no ship type")


def _ship_type(kind: Any, sentence: AISSentence) -> int:
    """The ship type code (0-255) as the message carries it (ITU-R M.1371 table 53; 0 = not available)."""
    return int(sentence.bv.get_num(_ship_type_at(kind), 8))
