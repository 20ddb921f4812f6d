"""Deterministic synthetic traffic video with its ground truth: an eastbound three-lane road, a stop line, a
traffic light on a cycle, cars and motorbikes with Vietnamese plates on scripted paths (red-light runners,
a wrong-way driver, cars changing into the motorbike lane).

The script is written at 640x360; ``scale=2`` renders the same scene at 1280x720 (720p), where the plates are
large enough to be read by OCR, as a real camera's plates are."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from connectors.camera.geometry import Calibration, Lane, Line, Rect, Zone, contains

WIDTH, HEIGHT, FRAMES = 640, 360, 300
ROAD_TOP, LANE_H = 120, 60
LANE_Y = {"A": 150, "B": 210, "C": 270}  # lane centres
STOP_X, COUNT_X = 420, 200
LIGHT: Rect = (560, 20, 24, 66)
SIZES = {"car": (64, 32), "motorbike": (30, 16)}
LANE_FRAMES = 15
STOP_FRAMES = 50  # standing still this long in the no-stopping zone is a violation
NO_STOPPING = ((460.0, 120.0), (620.0, 120.0), (620.0, 180.0), (460.0, 180.0))  # lane A past the junction


def light_at(frame: int) -> str:
    """The scripted cycle: green, yellow, red, green."""
    if frame < 120:
        return "green"
    if frame < 135:
        return "yellow"
    return "red" if frame < 235 else "green"


@dataclass(frozen=True)
class Vehicle:
    plate: str
    kind: str
    lane: str
    stop_frame: int  # the frame in which its centre reaches the stop line
    speed: float = 6.0  # pixels per frame; negative drives west (wrong way)
    change_to: str | None = None  # lane it moves into...
    change_at: int = 0  # ...over the 15 frames from this one
    colour: tuple[int, int, int] = (40, 60, 200)
    pause: tuple[int, int] | None = None  # (first frame, frames) it stands still

    def centre(self, frame: int) -> tuple[float, float]:
        moving = frame
        if self.pause is not None and frame > self.pause[0]:
            moving = max(self.pause[0], frame - self.pause[1])
        x = STOP_X + self.speed * (moving - self.stop_frame)
        y = float(LANE_Y[self.lane])
        if self.change_to is not None and frame > self.change_at:
            t = min(1.0, (frame - self.change_at) / 15)
            y += t * (LANE_Y[self.change_to] - y)
        return x, y

    def box(self, frame: int) -> Rect:
        w, h = SIZES[self.kind]
        x, y = self.centre(frame)
        return (round(x - w / 2), round(y - h / 2), w, h)

    def visible(self, frame: int) -> bool:
        x, y, w, h = self.box(frame)
        return x + w > 0 and x < WIDTH


VEHICLES = (
    Vehicle("36A-123.45", "car", "B", 95),
    Vehicle("36A-678.90", "car", "A", 110, colour=(160, 90, 30)),
    Vehicle("36-B1 123.45", "motorbike", "C", 100, colour=(30, 160, 60)),
    Vehicle("36C-246.80", "car", "B", 125, change_to="C", change_at=80, colour=(0, 140, 220)),
    Vehicle("36A-111.22", "car", "B", 160, colour=(120, 40, 120)),
    Vehicle("36-C2 555.66", "motorbike", "C", 180, colour=(200, 200, 40)),
    Vehicle("36A-999.01", "car", "B", 200, colour=(30, 30, 150)),
    Vehicle("36K-456.78", "car", "A", 207, speed=-6.0, colour=(90, 90, 200)),
    Vehicle("36F-135.79", "car", "B", 260, change_to="C", change_at=200, colour=(60, 120, 160)),
    Vehicle("36-D1 246.02", "motorbike", "C", 245, colour=(180, 60, 200)),
)


# A second, shorter scene: a car stops for 2.4 s in the no-stopping zone (lane A past the junction), on green.
STOPPING = (Vehicle("36A-555.10", "car", "A", 100, pause=(120, 60), colour=(20, 120, 180)),)
STOPPING_FRAMES = 220


@dataclass(frozen=True)
class Expected:
    kind: str  # red_light, lane, wrong_way
    vehicle: int  # index in VEHICLES
    plate: str
    first: int  # frame range in which a detector should report it
    last: int


@dataclass
class Truth:
    violations: list[Expected] = field(default_factory=list)
    counts: dict[tuple[str, int], int] = field(default_factory=dict)
    vehicles: tuple[Vehicle, ...] = VEHICLES


def calibration(scale: int = 1) -> Calibration:
    k = scale
    lanes = (
        Lane("A", _lane_poly("A", k), frozenset({"straight", "left"})),
        Lane("B", _lane_poly("B", k), frozenset({"straight"})),
        Lane("C", _lane_poly("C", k), frozenset({"straight", "right"}), frozenset({"motorbike"})),
    )
    top, bottom = float(ROAD_TOP * k), float((ROAD_TOP + 3 * LANE_H) * k)
    road = ((0.0, top), (WIDTH * k, top), (WIDTH * k, bottom), (0.0, bottom))
    x, y, w, h = LIGHT
    return Calibration(
        WIDTH * k, HEIGHT * k,
        stop_line=Line("stop", ((STOP_X * k, bottom), (STOP_X * k, top))),  # drawn upward: eastbound is +1
        light=(x * k, y * k, w * k, h * k), road=road, lanes=lanes,
        counting_lines=(Line("count", ((COUNT_X * k, bottom), (COUNT_X * k, top)), one_way=True),),
        zones=(Zone("no-stop-A", tuple((x * k, y * k) for x, y in NO_STOPPING), "no_stopping"),),
        motorbike_max_area=900 * k * k, truck_min_area=6000 * k * k,
    )


def _lane_poly(lane: str, k: int = 1) -> tuple[tuple[float, float], ...]:
    top, bottom = (LANE_Y[lane] - LANE_H / 2) * k, (LANE_Y[lane] + LANE_H / 2) * k
    return ((0.0, top), (WIDTH * k, top), (WIDTH * k, bottom), (0.0, bottom))


def truth(vehicles: tuple[Vehicle, ...] = VEHICLES, count: int = FRAMES) -> Truth:
    """What a perfect detector reports on :func:`frames`, computed from the scripts, not from the pixels."""
    t = Truth(vehicles=vehicles)
    for i, v in enumerate(vehicles):
        for line, x_line in (("count", COUNT_X), ("stop", STOP_X)):
            for f in range(1, count):
                x0, x1 = v.centre(f - 1)[0], v.centre(f)[0]
                sign = 1 if x0 <= x_line < x1 else -1 if x1 <= x_line < x0 else 0
                if not sign or not (v.visible(f - 1) and v.visible(f)):
                    continue
                if line == "count":
                    t.counts[("count", sign)] = t.counts.get(("count", sign), 0) + 1
                    if sign < 0:
                        t.violations.append(Expected("wrong_way", i, v.plate, f - 2, f + 2))
                elif sign > 0 and light_at(f) == "red":
                    t.violations.append(Expected("red_light", i, v.plate, f - 2, f + 2))
        if v.kind == "car":
            inside = [f for f in range(count) if v.visible(f) and abs(v.centre(f)[1] - LANE_Y["C"]) < LANE_H / 2]
            if len(inside) > LANE_FRAMES:
                due = inside[0] + LANE_FRAMES
                t.violations.append(Expected("lane", i, v.plate, due - 3, due + 3))
        if v.pause is not None and contains(NO_STOPPING, v.centre(v.pause[0])) and v.pause[1] > STOP_FRAMES:
            due = v.pause[0] + STOP_FRAMES
            t.violations.append(Expected("stopping", i, v.plate, due - 3, due + 5))
    return t


def _background(k: int = 1) -> np.ndarray:
    img = np.full((HEIGHT * k, WIDTH * k, 3), (70, 130, 90), np.uint8)  # grass
    cv2.rectangle(img, (0, ROAD_TOP * k), (WIDTH * k, (ROAD_TOP + 3 * LANE_H) * k), (80, 80, 80), -1)
    for n in (1, 2):
        y = (ROAD_TOP + n * LANE_H) * k
        for x in range(0, WIDTH * k, 40 * k):
            cv2.line(img, (x, y), (x + 20 * k, y), (220, 220, 220), 2 * k)
    cv2.line(img, (STOP_X * k, ROAD_TOP * k), (STOP_X * k, (ROAD_TOP + 3 * LANE_H) * k), (255, 255, 255), 3 * k)
    x, y, w, h = (v * k for v in LIGHT)
    cv2.rectangle(img, (x - 3 * k, y - 3 * k), (x + w + 3 * k, y + h + 3 * k), (20, 20, 20), -1)
    cv2.line(img, (x + w // 2, y + h + 3 * k), (x + w // 2, (ROAD_TOP - 5) * k), (50, 50, 50), 3 * k)
    return img


def _draw_light(img: np.ndarray, state: str, k: int = 1) -> None:
    x, y, w, h = (v * k for v in LIGHT)
    lit = {"red": (0, 0, 255), "yellow": (0, 220, 255), "green": (0, 255, 0)}
    for i, name in enumerate(("red", "yellow", "green")):
        c = (x + w // 2, y + h // 6 + i * h // 3)
        colour = lit[name] if name == state else (45, 45, 45)
        cv2.circle(img, c, min(w, h // 3) // 2 - k, colour, -1)


def _text(img: np.ndarray, text: str, box: Rect) -> None:
    """Black text fitted into a white box (a margin kept: OCR drops a character that touches the border)."""
    x, y, w, h = box
    font, thick = cv2.FONT_HERSHEY_SIMPLEX, 1 if h < 20 else 2
    (tw, th), _ = cv2.getTextSize(text, font, 1.0, thick)
    size = min((w - 6) / tw, (h - 6) / th)
    (tw, th), _ = cv2.getTextSize(text, font, size, thick)
    cv2.putText(img, text, (x + (w - tw) // 2, y + (h + th) // 2), font, size, (0, 0, 0), thick, cv2.LINE_AA)


def _draw_vehicle(img: np.ndarray, v: Vehicle, frame: int, k: int = 1) -> None:
    x, y, w, h = (n * k for n in v.box(frame))
    cv2.rectangle(img, (x, y), (x + w - 1, y + h - 1), v.colour, -1)
    if k == 1:  # too small to read, as on a real camera at this size
        if v.kind == "car":
            cv2.rectangle(img, (x + 4, y + 9), (x + w - 5, y + h - 10), (255, 255, 255), -1)  # plate
            cv2.putText(img, v.plate, (x + 5, y + h - 12), cv2.FONT_HERSHEY_PLAIN, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        else:
            top, bottom = v.plate.split(" ")
            cv2.rectangle(img, (x + 3, y + 2), (x + w - 4, y + h - 3), (255, 255, 255), -1)
            cv2.putText(img, top, (x + 4, y + 7), cv2.FONT_HERSHEY_PLAIN, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
            cv2.putText(img, bottom, (x + 4, y + 12), cv2.FONT_HERSHEY_PLAIN, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        return
    if v.kind == "car":  # a one-line plate across the middle of the car
        px, py, pw, ph = x + 2 * k, y + h // 2 - 7 * k, w - 4 * k, 14 * k
        cv2.rectangle(img, (px, py), (px + pw - 1, py + ph - 1), (255, 255, 255), -1)
        _text(img, v.plate, (px, py, pw, ph))
    else:  # a two-line motorbike plate filling the bike
        px, py, pw, ph = x + 1 * k, y + 1 * k, w - 2 * k, h - 2 * k
        cv2.rectangle(img, (px, py), (px + pw - 1, py + ph - 1), (255, 255, 255), -1)
        top, bottom = v.plate.split(" ")
        _text(img, top, (px, py, pw, ph // 2))
        _text(img, bottom, (px, py + ph // 2, pw, ph - ph // 2))


def frames(count: int = FRAMES, noise: float = 2.0, seed: int = 8, scale: int = 1,
           vehicles: tuple[Vehicle, ...] = VEHICLES) -> Iterator[np.ndarray]:
    """BGR frames, the same on every call: sensor noise comes from a seeded generator."""
    rng = np.random.default_rng(seed)
    base = _background(scale)
    for f in range(count):
        img = base.copy()
        _draw_light(img, light_at(f), scale)
        for v in vehicles:
            if v.visible(f):
                _draw_vehicle(img, v, f, scale)
        if noise:
            img = np.clip(img + rng.normal(0, noise, img.shape), 0, 255).astype(np.uint8)
        yield img


def write(path: Path, fps: float = 25.0, scale: int = 1) -> Path:
    """Write the video (MJPG in .avi works without extra codecs)."""
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix == ".avi" else "mp4v"))  # type: ignore[attr-defined]
    out = cv2.VideoWriter(str(path), fourcc, fps, (WIDTH * scale, HEIGHT * scale))
    try:
        for img in frames(scale=scale):
            out.write(img)
    finally:
        out.release()
    return path
