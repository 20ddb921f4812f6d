"""Reading a vehicle's plate: bright rectangles in the vehicle's pixels proposed as plates, each read by rapidocr's
recogniser (its models ship inside the wheel: nothing is downloaded), the text normalised to a Vietnamese format.

OCR runs only on violations (and on demand), never on every frame: the motion path stays real time. When
rapidocr is not installed the reader says so once and returns no plate; the violation is still reported.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from connectors.camera.geometry import Rect
from connectors.camera.plates import Plate, normalise

log = logging.getLogger(__name__)
LINE_HEIGHT = 48  # the recogniser's input height
TWO_LINE_ASPECT = 2.6  # a plate region narrower than this (width / height) is a two-line motorbike plate


def plate_regions(image: np.ndarray, limit: int = 3) -> list[Rect]:
    """Candidate plate boxes inside a vehicle image, largest first: bright, plate-shaped, not the whole image."""
    if image.size == 0:
        return []
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    _, bright = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    bright = cv2.morphologyEx(bright, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5)))
    contours, _ = cv2.findContours(bright, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    height, width = gray.shape[:2]
    boxes: list[Rect] = []
    for c in contours:
        x, y, w, h = (int(v) for v in cv2.boundingRect(c))
        if h < 10 or w < 20 or not 0.8 <= w / h <= 7.0:
            continue
        if cv2.contourArea(c) < 0.6 * w * h:  # not a filled rectangle
            continue
        boxes.append((x, y, w, h))
    boxes.sort(key=lambda b: b[2] * b[3], reverse=True)
    if not boxes:  # no bright rectangle: try the whole image (a tight crop of a plate)
        boxes = [(0, 0, width, height)]
    return boxes[:limit]


def line_images(image: np.ndarray, box: Rect) -> list[np.ndarray]:
    """The plate's text lines, padded with the plate's own background and scaled to the recogniser's height."""
    x, y, w, h = box
    plate = image[y:y + h, x:x + w]
    lines = [plate] if w / h >= TWO_LINE_ASPECT else [plate[: h // 2], plate[h // 2:]]
    out = []
    for line in lines:
        pad = max(2, line.shape[0] // 6)
        line = cv2.copyMakeBorder(line, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        factor = LINE_HEIGHT / line.shape[0]
        out.append(cv2.resize(line, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC))
    return out


@dataclass(frozen=True)
class Reading:
    plate: Plate
    box: Rect  # where in the vehicle image
    raw: str


class PlateReader:
    """Lazily loads the recogniser once per process; safe to share between threads (calls are serialised)."""

    def __init__(self) -> None:
        self._engine: Any = None
        self._tried = False
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return self._load() is not None

    def _load(self) -> Any:
        if not self._tried:
            self._tried = True
            try:
                logging.getLogger("RapidOCR").setLevel(logging.WARNING)
                from rapidocr import RapidOCR

                self._engine = RapidOCR(params={"Global.log_level": "warning"})
            except Exception as exc:  # noqa: BLE001 - OCR is optional: report it, keep the violation
                log.warning("plate OCR unavailable (%s): violations are reported without plates", exc)
        return self._engine

    def _recognise(self, line: np.ndarray) -> tuple[str, float]:
        # rapidocr 3.10 keeps a per-call use_det=False for later calls: always pass all three flags
        result = self._engine(line, use_det=False, use_cls=False, use_rec=True)
        texts, scores = tuple(result.txts or ()), tuple(result.scores or ())
        return (texts[0], float(scores[0])) if texts else ("", 0.0)

    def read(self, image: np.ndarray) -> Reading | None:
        """The most confident Vietnamese plate in a vehicle image, or None."""
        if self._load() is None or image.size == 0:
            return None
        best: Reading | None = None
        with self._lock:
            for box in plate_regions(image):
                parts = [self._recognise(line) for line in line_images(image, box)]
                raw = "\n".join(text for text, _ in parts)
                plate = normalise(raw, min(score for _, score in parts))
                if plate is not None and (best is None or plate.confidence > best.plate.confidence):
                    best = Reading(plate, box, raw)
        return best


_shared = PlateReader()


def read_plate(image: np.ndarray) -> Reading | None:
    return _shared.read(image)
