"""The motion path of a camera: background subtraction → blobs in the road area → tracks → light state → rules."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from connectors.camera.geometry import Calibration, Rect, center, contains
from connectors.camera.light import crop, light_state
from connectors.camera.tracking import Rules, Tracker


@dataclass(frozen=True)
class Detection:
    kind: str  # count, red_light, lane, wrong_way
    frame: int
    track_id: int
    box: Rect
    crop: np.ndarray  # the vehicle's pixels in that frame, for evidence
    detail: str = ""  # the line or lane concerned ("count:+1" for counts)
    light: str = "unknown"
    image: np.ndarray | None = None  # the whole frame (not copied: frames are not changed after decoding)


@dataclass(frozen=True)
class Settings:
    min_area: int = 150  # pixels; smaller blobs are noise
    history: int = 300
    var_threshold: float = 32.0
    kernel: int = 5
    lane_frames: int = 15
    max_missing: int = 5


def moving_boxes(mask: np.ndarray, calibration: Calibration, min_area: int) -> list[Rect]:
    """Bounding boxes of the foreground blobs whose centre lies on the road."""
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    boxes: list[Rect] = []
    for c in contours:
        x, y, w, h = cv2.boundingRect(c)
        if w * h < min_area:
            continue
        box = (int(x), int(y), int(w), int(h))
        if calibration.road is None or contains(calibration.road, center(box)):
            boxes.append(box)
    return boxes


def run(frames: Iterable[np.ndarray], calibration: Calibration, settings: Settings | None = None,
        rules: Rules | None = None) -> Iterator[Detection]:
    """Detections frame by frame. Pass ``rules`` to read its ``counts`` afterwards."""
    s = settings or Settings()
    subtractor = cv2.createBackgroundSubtractorMOG2(history=s.history, varThreshold=s.var_threshold,
                                                    detectShadows=False)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (s.kernel, s.kernel))
    tracker = Tracker(max_missing=s.max_missing)
    judge = rules if rules is not None else Rules(calibration, lane_frames=s.lane_frames)
    for index, frame in enumerate(frames):
        mask = subtractor.apply(frame)
        _, mask = cv2.threshold(mask, 127, 255, cv2.THRESH_BINARY)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel, iterations=2)
        tracks = tracker.update(moving_boxes(mask, calibration, s.min_area))
        light = light_state(crop(frame, calibration.light)) if calibration.light else "unknown"
        for v in judge.step(index, tracks, light):
            yield Detection(v.kind, v.frame, v.track_id, v.box, crop(frame, v.box).copy(), v.detail, light, frame)
