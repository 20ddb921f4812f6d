"""A camera's live view: its frames with the calibration and the moving vehicles drawn over them, as JPEG images
for an MJPEG stream (``multipart/x-mixed-replace``, which every browser shows in an ``<img>``), and a snapshot
for drawing the calibration on (kept, with the live view's frames, by :mod:`connectors.camera.snapshots`)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import cv2
import numpy as np

from connectors.camera import runner, snapshots
from connectors.camera.geometry import Calibration
from connectors.camera.pipeline import MotionPath

LIGHT_COLOURS = {"red": (0, 0, 255), "yellow": (0, 220, 255), "green": (0, 200, 0), "unknown": (200, 200, 200)}


def draw_calibration(image: np.ndarray, cal: Calibration, light: str = "unknown") -> np.ndarray:
    out = image.copy()

    def poly(points: tuple[tuple[float, float], ...], colour: tuple[int, int, int], width: int = 2) -> None:
        pts = np.array([[round(x), round(y)] for x, y in points], np.int32)
        cv2.polylines(out, [pts], True, colour, width, cv2.LINE_AA)

    if cal.road:
        poly(cal.road, (255, 200, 0))
    for lane in cal.lanes:
        poly(lane.polygon, (255, 120, 0), 1)
        x, y = lane.polygon[0]
        cv2.putText(out, lane.name, (round(x) + 6, round(y) + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
    for zone in cal.zones:
        poly(zone.polygon, (0, 0, 200))
    for line in cal.counting_lines:
        (ax, ay), (bx, by) = line.segment
        cv2.line(out, (round(ax), round(ay)), (round(bx), round(by)), (255, 0, 255), 2, cv2.LINE_AA)
    if cal.stop_line:
        (ax, ay), (bx, by) = cal.stop_line.segment
        cv2.line(out, (round(ax), round(ay)), (round(bx), round(by)), LIGHT_COLOURS[light], 3, cv2.LINE_AA)
    if cal.light:
        x, y, w, h = cal.light
        cv2.rectangle(out, (x, y), (x + w, y + h), LIGHT_COLOURS[light], 2)
    return out


def overlay_jpegs(source: str, cal: Calibration, *, fps: float = 8.0, seconds: float = 600.0,
                  quality: int = 70) -> Iterator[bytes]:
    """JPEG frames of the live view, at most ``fps`` a second, for at most ``seconds`` (a viewer reloads)."""
    path = MotionPath(cal)
    cascade = runner._face_cascade()
    started, last = time.monotonic(), 0.0
    frames = runner.frames_of(source, size=(cal.width, cal.height), loop=True, stop_after_failures=3)
    for index, frame in enumerate(frames):
        tracks, light, _ = path.step(index, frame)
        snapshots.offer(source, frame)  # the camera page's snapshot, without reading the camera again
        now = time.monotonic()
        if now - started > seconds:
            return
        if now - last < 1.0 / fps:
            continue
        last = now
        image = draw_calibration(frame, cal, light)
        for t in tracks:
            x, y, w, h = t.box
            cv2.rectangle(image, (x, y), (x + w, y + h), (0, 255, 255), 2)
            cv2.putText(image, f"#{t.id}", (x, max(12, y - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 255, 255), 1)
        image, _ = runner.blur_faces(runner._small(image, 960), cascade)
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            yield jpeg.tobytes()
        if source in runner.SYNTHETIC_SCALES:
            time.sleep(1.0 / 25)  # the synthetic video plays at its own pace, not as fast as it renders


def snapshot(source: str, timeout_s: float = 8.0) -> np.ndarray | None:
    """One frame of the source (the synthetic video's 100th, with vehicles on the road), or None; a source that
    does not answer is given up after ``timeout_s`` (OpenCV's own wait is 30 s)."""
    if source in runner.SYNTHETIC_SCALES:
        from connectors.camera import synthetic

        for index, frame in enumerate(synthetic.frames(101, scale=runner.SYNTHETIC_SCALES[source])):
            if index == 100:
                return frame
        return None
    wait_ms = round(timeout_s * 1000)
    capture = cv2.VideoCapture(source, cv2.CAP_ANY,
                               [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, wait_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, wait_ms])
    try:
        deadline = time.monotonic() + timeout_s
        while capture.isOpened() and time.monotonic() < deadline:
            ok, frame = capture.read()
            if ok and frame is not None and frame.size:
                return frame
            if not ok:
                break
        return None
    finally:
        capture.release()
