"""``ioc camera run CAMERA``: one camera's pipeline as its own process, reporting through the engine.

Frames come from the camera's source (a file, or an RTSP URL read by OpenCV's FFmpeg backend over TCP, with
reconnection and backoff); violations become ``traffic_violation`` events with an evidence snapshot (faces
blurred where OpenCV's face cascade finds them) saved under ``$IOC_DATA_DIR/evidence/<camera>/``; vehicle counts
are reported every ``count_every`` frames as ``traffic_count`` events. A camera that cannot be read is reported
on its entity (``latest.health``) and retried; it never stops the other cameras (each runs in its own process).
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from connectors.camera import ocr, pipeline
from connectors.camera.geometry import Calibration, Rect
from engine.events import IncomingEvent

log = logging.getLogger(__name__)
RECONNECT_MAX_S = 60.0


def _face_cascade() -> Any:
    path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"  # type: ignore[attr-defined]
    return cv2.CascadeClassifier(str(path)) if path.exists() else None


def blur_faces(image: np.ndarray, cascade: Any) -> tuple[np.ndarray, int]:
    """The image with every face the cascade finds blurred (personal data, Decree 13/2023); and how many."""
    if cascade is None or image.size == 0:
        return image, 0
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    faces = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(12, 12))
    out = image.copy()
    for x, y, w, h in faces:
        out[y:y + h, x:x + w] = cv2.GaussianBlur(out[y:y + h, x:x + w], (0, 0), sigmaX=max(w, h) / 3)
    return out, len(faces)


def frames_of(source: str, stop_after_failures: int = 5) -> Iterator[np.ndarray]:
    """Frames of a file or stream; a stream that drops is reopened with backoff (a file simply ends)."""
    if source.startswith("rtsp://"):
        os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
    failures, wait = 0, 1.0
    while failures < stop_after_failures:
        capture = cv2.VideoCapture(source)
        if not capture.isOpened():
            failures += 1
            log.warning("camera source %s cannot be opened; retrying in %.0f s", source, wait)
            time.sleep(wait)
            wait = min(wait * 2, RECONNECT_MAX_S)
            continue
        failures, wait = 0, 1.0
        while True:
            ok, frame = capture.read()
            if not ok or frame is None:
                break
            yield frame
        capture.release()
        if not source.startswith(("rtsp://", "http://", "https://")):
            return
    raise ConnectionError(f"the camera source could not be read {stop_after_failures} times in a row")


class Recorder:
    """Passes frames through while keeping the last few, so that a violation's clip starts before the moment, and
    feeds the clips still being written the frames after it."""

    def __init__(self, frames: Iterable[np.ndarray], before: int, after: int, cascade: Any) -> None:
        self.frames, self.after, self.cascade = frames, after, cascade
        self.recent: deque[np.ndarray] = deque(maxlen=max(1, before))
        self.open: list[list[Any]] = []  # [writer, frames still to write]

    def __iter__(self) -> Iterator[np.ndarray]:
        try:
            for frame in self.frames:
                self.recent.append(frame)
                for clip in self.open:
                    self._write(clip[0], frame)
                    clip[1] -= 1
                for clip in [c for c in self.open if c[1] <= 0]:
                    clip[0].release()
                    self.open.remove(clip)
                yield frame
        finally:
            for writer, _ in self.open:
                writer.release()
            self.open.clear()

    def _write(self, writer: Any, frame: np.ndarray) -> None:
        small = _small(frame)
        writer.write(blur_faces(small, self.cascade)[0])

    def start_clip(self, path: Path, fps: float) -> None:
        """A clip of the frames kept so far (the moment included) and of the next ``after`` frames (MJPG)."""
        height, width = _small(self.recent[-1]).shape[:2]
        fourcc = cv2.VideoWriter_fourcc(*"MJPG")  # type: ignore[attr-defined]
        writer = cv2.VideoWriter(str(path), fourcc, fps, (width, height))
        for frame in self.recent:
            self._write(writer, frame)
        self.open.append([writer, self.after])


def _small(frame: np.ndarray, width: int = 640) -> np.ndarray:
    if frame.shape[1] <= width:
        return frame
    return cv2.resize(frame, (width, round(frame.shape[0] * width / frame.shape[1])), interpolation=cv2.INTER_AREA)


def annotate(frame: np.ndarray, box: Rect, label: str, plate_box: Rect | None) -> np.ndarray:
    """The whole frame with the vehicle's box, its plate's box and a caption: the evidence an officer reviews."""
    out = frame.copy()
    x, y, w, h = box
    cv2.rectangle(out, (x, y), (x + w, y + h), (0, 0, 255), 2)
    if plate_box is not None:
        px, py, pw, ph = plate_box
        cv2.rectangle(out, (x + px, y + py), (x + px + pw, y + py + ph), (0, 200, 0), 2)
    scale = max(0.5, frame.shape[0] / 720)
    (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    top = max(0, y - th - 8)
    cv2.rectangle(out, (x, top), (x + tw + 8, top + th + 8), (0, 0, 255), -1)
    cv2.putText(out, label, (x + 4, top + th + 3), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def detect(frames: Iterable[np.ndarray], calibration: Calibration, camera: str, *, evidence_dir: Path,
           started: datetime, fps: float = 25.0, count_every: int = 250, clip_seconds: tuple[float, float] = (2, 1),
           read_plates: bool = True) -> Iterator[IncomingEvent]:
    """Events from a camera's frames: one per violation (its plate read, an annotated snapshot and a short clip
    kept as evidence), counts every ``count_every`` frames."""
    cascade = _face_cascade()
    evidence_dir.mkdir(parents=True, exist_ok=True)
    recorder = Recorder(frames, round(clip_seconds[0] * fps), round(clip_seconds[1] * fps), cascade)
    counts: Counter[str] = Counter()
    last_frame = 0
    for d in pipeline.run(recorder, calibration):
        at = started + timedelta(seconds=d.frame / fps)
        last_frame = d.frame
        if d.kind == "count":
            counts[d.detail] += 1
        else:
            reading = ocr.read_plate(d.crop) if read_plates else None
            plate = reading.plate if reading else None
            frame = d.image if d.image is not None else d.crop
            label = f"{d.kind} #{d.track_id}" + (f" {plate.text}" if plate else "")
            image, faces = blur_faces(annotate(frame, d.box if d.image is not None else (0, 0, 0, 0), label,
                                               reading.box if reading else None), cascade)
            stem = f"{at:%Y%m%dT%H%M%S}-{d.track_id}-{d.kind}"
            cv2.imwrite(str(evidence_dir / f"{stem}.jpg"), image)
            recorder.start_clip(evidence_dir / f"{stem}.avi", fps)
            yield IncomingEvent(source=f"camera:{camera}", type="traffic_violation", sector="traffic", time=at,
                                entity=camera, idempotency_key=f"{camera}@{at.isoformat()}@{d.track_id}@{d.kind}",
                                values={"kind": d.kind, "track": d.track_id, "light": d.light,
                                        "plate": plate.text if plate else None,
                                        "plate_confidence": plate.confidence if plate else None,
                                        "evidence": f"{camera}/{stem}.jpg", "clip": f"{camera}/{stem}.avi",
                                        "faces_blurred": faces, "box": list(d.box), "detail": d.detail})
        if counts and d.frame // count_every != (d.frame - 1) // count_every:
            yield _counts(camera, at, counts)
            counts = Counter()
    if counts:
        yield _counts(camera, started + timedelta(seconds=last_frame / fps), counts)


def _counts(camera: str, at: datetime, counts: Counter[str]) -> IncomingEvent:
    by_line = {k.replace(":", "_"): v for k, v in counts.items()}
    return IncomingEvent(source=f"camera:{camera}", type="traffic_count", sector="traffic", time=at, entity=camera,
                         values={"vehicles": sum(counts.values()), **by_line},
                         idempotency_key=f"{camera}@count@{at.isoformat()}")



def calibration_from_dict(d: dict[str, Any]) -> Calibration:
    """A calibration as stored on the camera (JSON drawn in the web or written by hand); checked with
    ``geometry.validate`` (a line outside the image is refused with its name, never a crash)."""
    from connectors.camera.geometry import Lane, Line, Zone, validate

    def line(x: dict[str, Any]) -> Line:
        return Line(name=str(x["name"]), segment=tuple(tuple(p) for p in x["segment"]),  # type: ignore[arg-type]
                    forward=int(x.get("forward", 1)), one_way=bool(x.get("one_way", False)))

    def poly(points: list[list[float]]) -> Any:
        return tuple(tuple(p) for p in points)

    cal = Calibration(
        width=int(d["width"]), height=int(d["height"]),
        stop_line=line(d["stop_line"]) if d.get("stop_line") else None,
        light=tuple(d["light"]) if d.get("light") else None,
        road=poly(d["road"]) if d.get("road") else None,
        lanes=tuple(Lane(name=str(x["name"]), polygon=poly(x["polygon"]),
                         **({"directions": frozenset(x["directions"])} if x.get("directions") else {}),
                         **({"kinds": frozenset(x["kinds"])} if x.get("kinds") else {})) for x in d.get("lanes", [])),
        counting_lines=tuple(line(x) for x in d.get("counting_lines", [])),
        zones=tuple(Zone(name=str(x["name"]), polygon=poly(x["polygon"]), rule=str(x.get("rule", "no_stopping")))
                    for x in d.get("zones", [])),
        **{k: int(d[k]) for k in ("motorbike_max_area", "truck_min_area") if d.get(k)})
    problems = validate(cal)
    if problems:
        raise ValueError("; ".join(problems))
    return cal
