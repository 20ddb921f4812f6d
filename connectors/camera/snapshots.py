"""The latest picture of each camera, kept in this process, so that the camera page's snapshot answers at once.

Reading a camera takes seconds (opening an RTSP stream, rendering the synthetic video's 100th frame) and a camera
that cannot be reached can keep OpenCV waiting for its whole timeout: no request waits for that. A request gets the
kept JPEG (faces already blurred) when it is younger than ``FRESH_S``; otherwise it starts one background read of
the camera (never two at once for the same source, and not again within ``RETRY_S`` of a failed one), waits
``WAIT_S`` for it at most, and gets what is there: the older picture, or a placeholder (a grey picture of a camera,
struck through when the camera cannot be read: no text, the page says what it means). A live view running in this
process keeps its frames here too (:func:`offer`), every ``OFFER_EVERY_S``.

Entries are keyed by the camera's source (passwords included: it stays in this process's memory, as the source does
for the reader); at most ``MAX_ENTRIES`` are kept, the least recently asked for going first."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

import cv2
import numpy as np

log = logging.getLogger(__name__)
FRESH_S = 30.0
RETRY_S = 15.0
WAIT_S = 0.1
OFFER_EVERY_S = 5.0
MAX_ENTRIES = 256
QUALITY = 85
PLACEHOLDER_SIZE = (640, 360)
Grab = Callable[[str], "np.ndarray | None"]


@dataclass(frozen=True)
class Snapshot:
    """What a request gets. ``state``: ``fresh`` (a picture younger than ``FRESH_S``), ``stale`` (an older one,
    being read again), ``pending`` (no picture yet, the camera is being read) or ``unreachable`` (the last read
    failed: the picture, if any, is older). ``taken`` is when the picture was read; None for a placeholder."""

    state: str
    jpeg: bytes
    taken: datetime | None

    @property
    def placeholder(self) -> bool:
        return self.taken is None


@dataclass
class _Entry:
    jpeg: bytes = b""
    taken_at: float = 0.0  # monotonic
    taken: datetime | None = None
    failed_at: float | None = None  # monotonic, the last failed read (None once a read succeeds)
    reading: threading.Event | None = None  # set when the read under way ends
    offered_at: float = field(default=-OFFER_EVERY_S)


_lock = threading.Lock()
_entries: OrderedDict[str, _Entry] = OrderedDict()


def _entry(source: str) -> _Entry:
    """The source's entry (made if new), marked as the most recently used; under ``_lock``."""
    entry = _entries.get(source)
    if entry is None:
        entry = _entries[source] = _Entry()
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    _entries.move_to_end(source)
    return entry


def encode(frame: np.ndarray) -> bytes:
    """The frame as JPEG with every face blurred (personal data, Decree 13/2023): all that is ever kept here."""
    from connectors.camera import runner

    image, _faces = runner.blur_faces(frame, runner._face_cascade())
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
    if not ok:
        raise ValueError("the frame could not be encoded as JPEG")
    return jpeg.tobytes()


def _keep(source: str, jpeg: bytes) -> None:
    with _lock:
        entry = _entry(source)
        entry.jpeg, entry.taken_at, entry.taken, entry.failed_at = jpeg, time.monotonic(), datetime.now(UTC), None


def _read(source: str, grab: Grab, done: threading.Event) -> None:
    """One read of the camera, in its own thread; whatever happens, the entry is told how it ended."""
    jpeg = b""
    try:
        frame = grab(source)
        jpeg = encode(frame) if frame is not None else b""
    except Exception:  # noqa: BLE001 - a broken camera or codec must not leave the entry reading for ever
        log.warning("reading a camera's snapshot failed", exc_info=True)
    with _lock:
        entry = _entry(source)
        if jpeg:
            entry.jpeg, entry.taken_at, entry.taken, entry.failed_at = jpeg, time.monotonic(), datetime.now(UTC), None
        else:
            entry.failed_at = time.monotonic()
        entry.reading = None
    done.set()


def _start(source: str, entry: _Entry, grab: Grab, now: float) -> threading.Event | None:
    """Start a read unless one is under way or the last one failed within ``RETRY_S``; the event of the read under
    way, if any. Under ``_lock``."""
    if entry.reading is None and (entry.failed_at is None or now - entry.failed_at >= RETRY_S):
        entry.reading = threading.Event()
        threading.Thread(target=_read, args=(source, grab, entry.reading), name="camera-snapshot",
                         daemon=True).start()
    return entry.reading


def latest(source: str, *, size: tuple[int, int] | None = None, grab: Grab | None = None,
           wait_s: float = WAIT_S) -> Snapshot:
    """The camera's latest picture, or a placeholder of ``size`` (the calibration's; else ``PLACEHOLDER_SIZE``);
    never waits more than ``wait_s`` for the camera."""
    now = time.monotonic()
    with _lock:
        entry = _entry(source)
        if entry.jpeg and now - entry.taken_at < FRESH_S:
            return Snapshot("fresh", entry.jpeg, entry.taken)
        reading = _start(source, entry, grab or _default_grab, now)
    if reading is not None and wait_s > 0:
        reading.wait(wait_s)
    with _lock:
        entry = _entry(source)
        fresh = bool(entry.jpeg) and time.monotonic() - entry.taken_at < FRESH_S
        failed = entry.reading is None and entry.failed_at is not None
        state = "fresh" if fresh else "unreachable" if failed else "stale" if entry.jpeg else "pending"
        if entry.jpeg:
            return Snapshot(state, entry.jpeg, entry.taken)
    return Snapshot(state, placeholder(*(size or PLACEHOLDER_SIZE), struck=state == "unreachable"), None)


def offer(source: str, frame: np.ndarray) -> None:
    """A frame read elsewhere in this process (the live view), kept when the last was kept ``OFFER_EVERY_S`` ago."""
    now = time.monotonic()
    with _lock:
        entry = _entry(source)
        if now - entry.offered_at < OFFER_EVERY_S:
            return
        entry.offered_at = now
    try:
        _keep(source, encode(frame))
    except ValueError:
        log.warning("a live view's frame could not be kept as the camera's snapshot")


def forget(source: str | None = None) -> None:
    """Drop what is kept (of one source, or of all): for tests, and when a camera's source changes."""
    with _lock:
        if source is None:
            _entries.clear()
        else:
            _entries.pop(source, None)


def _default_grab(source: str) -> np.ndarray | None:
    from connectors.camera import live

    return live.snapshot(source)


@lru_cache(maxsize=16)
def placeholder(width: int, height: int, *, struck: bool = False) -> bytes:
    """A grey picture of a camera (struck through: the camera cannot be read; plain: being read), as JPEG."""
    width, height = max(64, min(width, 3840)), max(36, min(height, 2160))
    image = np.full((height, width, 3), 96, np.uint8)
    unit = min(width, height) / 10
    cx, cy, light = width / 2, height / 2, (200, 200, 200)
    thick = max(2, round(unit / 5))

    def pt(dx: float, dy: float) -> tuple[int, int]:
        return round(cx + dx * unit), round(cy + dy * unit)

    cv2.rectangle(image, pt(-2.2, -1.3), pt(2.2, 1.6), light, thick, cv2.LINE_AA)  # the body
    cv2.rectangle(image, pt(-0.9, -1.9), pt(0.9, -1.3), light, thick, cv2.LINE_AA)  # the viewfinder
    cv2.circle(image, pt(0, 0.15), round(unit * 0.95), light, thick, cv2.LINE_AA)  # the lens
    if struck:
        cv2.line(image, pt(-2.8, 2.2), pt(2.8, -2.4), (60, 60, 200), thick + 2, cv2.LINE_AA)
    else:
        for dx in (-0.6, 0.0, 0.6):  # waiting: three dots under the camera
            cv2.circle(image, pt(dx, 2.4), max(2, round(unit / 6)), light, -1, cv2.LINE_AA)
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return jpeg.tobytes() if ok else b""
