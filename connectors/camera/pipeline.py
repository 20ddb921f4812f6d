"""The motion path of a camera: background subtraction → blobs in the road area → tracks → light state → rules."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from connectors.camera.geometry import Calibration, Rect, center, contains
from connectors.camera.light import crop, light_state
from connectors.camera.tracking import Rules, Track, Tracker


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
    history: int = 1000
    background_ratio: float = 0.5
    var_threshold: float = 32.0
    kernel: int = 5
    lane_frames: int = 15
    detector: Any = None  # an OnnxDetector (connectors.camera.detector): vehicles and people from a model
    people_every: int = 25  # frames between person-detector runs on cameras with a crowd zone (1 s at 25 fps)
    stop_frames: int = 50  # standing still this long in a no-stopping zone is a violation (2 s at 25 fps)
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


class MotionPath:
    """One camera's state between frames: the background model, the tracks, the rules. :meth:`step` takes the
    next frame; :func:`run` drives it over a whole source, the live view frame by frame."""

    def __init__(self, calibration: Calibration, settings: Settings | None = None, rules: Rules | None = None):
        s = settings or Settings()
        self.settings, self.calibration = s, calibration
        self.subtractor = cv2.createBackgroundSubtractorMOG2(history=s.history, varThreshold=s.var_threshold,
                                                             detectShadows=False)
        # A vehicle that stops stays foreground while the road's weight in the model is above this ratio:
        # about history x ln(1 / ratio) frames (0.5 and 1,000: 27 s at 25 fps), long enough to judge stopping.
        self.subtractor.setBackgroundRatio(s.background_ratio)
        self.kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (s.kernel, s.kernel))
        self.tracker = Tracker(max_missing=s.max_missing)
        self.people: Any = None
        if any(z.rule == "crowd" for z in calibration.zones):
            from connectors.camera.people import PeopleDetector

            self.people = s.detector if s.detector is not None else PeopleDetector()
        self.rules = rules if rules is not None else Rules(calibration, lane_frames=s.lane_frames,
                                                           stop_frames=s.stop_frames)

    def _vehicles(self, frame: np.ndarray) -> list[Rect]:
        """Vehicles' boxes on the road: from the deployment's detector when there is one, else moving blobs."""
        if self.settings.detector is not None:
            from connectors.camera.detector import VEHICLES

            road = self.calibration.road
            return [f.box for f in self.settings.detector.detect(frame)
                    if f.label in VEHICLES and (road is None or contains(road, center(f.box)))]
        mask = self.subtractor.apply(frame)
        _, mask = cv2.threshold(mask, 127, 255, cv2.THRESH_BINARY)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self.kernel)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, self.kernel, iterations=2)
        return moving_boxes(mask, self.calibration, self.settings.min_area)

    def step(self, index: int, frame: np.ndarray) -> tuple[list[Track], str, list[Detection]]:
        """The confirmed tracks seen in this frame, the light's state, and what the rules found."""
        tracks = self.tracker.update(self._vehicles(frame))
        cal = self.calibration
        light = light_state(crop(frame, cal.light)) if cal.light else "unknown"
        judged = self.rules.step(index, tracks, light)
        if self.people is not None and index % self.settings.people_every == 0:
            judged += self.rules.people(index, self.people.people(frame))
        found = [Detection(v.kind, v.frame, v.track_id, v.box, crop(frame, v.box).copy(), v.detail, light, frame)
                 for v in judged]
        return tracks, light, found


def run(frames: Iterable[np.ndarray], calibration: Calibration, settings: Settings | None = None,
        rules: Rules | None = None) -> Iterator[Detection]:
    """Detections frame by frame. Pass ``rules`` to read its ``counts`` afterwards."""
    path = MotionPath(calibration, settings, rules)
    for index, frame in enumerate(frames):
        yield from path.step(index, frame)[2]
