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
from collections.abc import Callable, Iterable, Iterator
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


def find_faces(image: np.ndarray, cascade: Any) -> list[tuple[int, int, int, int]]:
    if cascade is None or image.size == 0:
        return []
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    found = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(12, 12))
    return [(int(x), int(y), int(w), int(h)) for x, y, w, h in found]


def blur_boxes(image: np.ndarray, boxes: list[tuple[int, int, int, int]], grow: float = 0.0) -> np.ndarray:
    out = image.copy()
    height, width = image.shape[:2]
    for x, y, w, h in boxes:
        dx, dy = round(w * grow), round(h * grow)
        x0, y0, x1, y1 = max(0, x - dx), max(0, y - dy), min(width, x + w + dx), min(height, y + h + dy)
        if x1 > x0 and y1 > y0:
            out[y0:y1, x0:x1] = cv2.GaussianBlur(out[y0:y1, x0:x1], (0, 0), sigmaX=max(w, h) / 3)
    return out


def blur_faces(image: np.ndarray, cascade: Any) -> tuple[np.ndarray, int]:
    """The image with every face the cascade finds blurred (personal data, Decree 13/2023); and how many."""
    if cascade is None or image.size == 0:
        return image, 0
    faces = find_faces(image, cascade)
    return blur_boxes(image, faces), len(faces)


SYNTHETIC_SCALES = {"synthetic:360p": 1, "synthetic:720p": 2, "synthetic:1080p": 3}
Health = Callable[[str, str], None]


def _quiet(status: str, detail: str) -> None:
    log.info("camera health %s: %s", status, detail)


def frames_of(source: str, stop_after_failures: int = 5, *, on_health: Health = _quiet,
              size: tuple[int, int] | None = None, loop: bool = False) -> Iterator[np.ndarray]:
    """Frames of a file, a stream or the synthetic video (``synthetic:720p``). A stream that drops is reopened
    with backoff (a file simply ends, or starts again with ``loop``); an empty or corrupt frame is skipped; a
    frame whose size is not ``size`` (the calibration's) is scaled to it. Each problem is told to ``on_health``
    once, and ``ok`` when frames flow again."""
    if source in SYNTHETIC_SCALES:
        yield from _synthetic(SYNTHETIC_SCALES[source], loop)
        return
    if source.startswith("rtsp"):
        # over TCP, and a socket that stays silent 5 s counts as a stall (then reconnect), not an endless wait
        os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp|timeout;5000000")
    stream = source.startswith(("rtsp://", "rtsps://", "http://", "https://"))
    failures, wait, state = 0, 1.0, ""

    def tell(status: str, detail: str) -> None:
        nonlocal state
        if status != state:
            state = status
            on_health(status, detail)

    while failures < stop_after_failures:
        capture = cv2.VideoCapture(source)
        if not capture.isOpened():
            failures += 1
            tell("unreachable", f"cannot open the source (attempt {failures}); retrying in {wait:.0f} s")
            time.sleep(wait)
            wait = min(wait * 2, RECONNECT_MAX_S)
            continue
        failures, wait = 0, 1.0
        bad = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if frame is None or frame.ndim != 3 or frame.size == 0:
                bad += 1
                tell("corrupt_frames", f"{bad} unreadable frames skipped")
                if bad > 50:
                    break
                continue
            if size is not None and (frame.shape[1], frame.shape[0]) != size:
                tell("resolution_changed", f"the source sends {frame.shape[1]}x{frame.shape[0]}, the calibration "
                     f"is for {size[0]}x{size[1]}: frames are scaled")
                frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
            elif state != "ok":
                tell("ok", "frames are read")
            yield frame
        capture.release()
        if stream:
            tell("stalled", "the stream stopped sending frames; reconnecting")
            continue
        if not loop:
            return
    raise ConnectionError(f"the camera source could not be read {stop_after_failures} times in a row")


def _synthetic(scale: int, loop: bool) -> Iterator[np.ndarray]:
    from connectors.camera import synthetic

    while True:
        yield from synthetic.frames(scale=scale)
        if not loop:
            return


class Recorder:
    """Passes frames through while keeping the last few, so that a violation's clip starts before the moment, and
    feeds the clips still being written the frames after it."""

    def __init__(self, frames: Iterable[np.ndarray], before: int, after: int, cascade: Any,
                 on_clip: Callable[[Path], None] | None = None) -> None:
        self.frames, self.after, self.cascade, self.on_clip = frames, after, cascade, on_clip
        self.recent: deque[np.ndarray] = deque(maxlen=max(1, before))
        self.open: list[list[Any]] = []  # [writer, frames still to write, path]
        self._faces: list[tuple[int, int, int, int]] = []
        self._written = 0

    def __iter__(self) -> Iterator[np.ndarray]:
        try:
            for frame in self.frames:
                self.recent.append(frame)
                for clip in self.open:
                    self._write(clip[0], frame)
                    clip[1] -= 1
                for clip in [c for c in self.open if c[1] <= 0]:
                    self._close(clip)
                yield frame
        finally:
            for clip in list(self.open):
                self._close(clip)

    def _close(self, clip: list[Any]) -> None:
        clip[0].release()
        self.open.remove(clip)
        if self.on_clip is not None:
            self.on_clip(clip[2])

    def _write(self, writer: Any, frame: np.ndarray) -> None:
        """Faces are looked for in every 5th clip frame (the cascade is the costly part) and the boxes, grown a
        little, blurred in the frames between: a face does not move far in a fifth of a second."""
        small = _small(frame)
        if self._written % 5 == 0:
            self._faces = find_faces(small, self.cascade)
        self._written += 1
        writer.write(blur_boxes(small, self._faces, grow=0.25))

    def start_clip(self, path: Path, fps: float) -> None:
        """A clip of the frames kept so far (the moment included) and of the next ``after`` frames (MJPG)."""
        height, width = _small(self.recent[-1]).shape[:2]
        fourcc = cv2.VideoWriter_fourcc(*"MJPG")  # type: ignore[attr-defined]
        writer = cv2.VideoWriter(str(path), fourcc, fps, (width, height))
        for frame in self.recent:
            self._write(writer, frame)
        self.open.append([writer, self.after, path])


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
           read_plates: bool = True, on_clip: Callable[[Path], None] | None = None,
           settings: pipeline.Settings | None = None) -> Iterator[IncomingEvent]:
    """Events from a camera's frames: one per violation (its plate read, an annotated snapshot and a short clip
    kept as evidence), counts every ``count_every`` frames."""
    cascade = _face_cascade()
    evidence_dir.mkdir(parents=True, exist_ok=True)
    recorder = Recorder(frames, round(clip_seconds[0] * fps), round(clip_seconds[1] * fps), cascade, on_clip)
    counts: Counter[str] = Counter()
    last_frame = 0
    for d in pipeline.run(recorder, calibration, settings):
        at = started + timedelta(seconds=d.frame / fps)
        last_frame = d.frame
        if d.kind == "count":
            counts[d.detail] += 1
        else:
            reading = ocr.read_plate(d.crop) if read_plates and d.kind != "crowd" else None
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
        zones=tuple(Zone(name=str(x["name"]), polygon=poly(x["polygon"]), rule=str(x.get("rule", "no_stopping")),
                         min_people=int(x.get("min_people", 5))) for x in d.get("zones", [])),
        **_vehicle_sizes(d))
    problems = validate(cal)
    if problems:
        raise ValueError("; ".join(problems))
    return cal


def _vehicle_sizes(d: dict[str, Any]) -> dict[str, int]:
    """The box areas that tell a motorbike from a car and a car from a truck: as given, else scaled from the
    defaults for a 640x360 view (900 and 6,000 px) to the calibration's image size."""
    factor = int(d["width"]) * int(d["height"]) / (640 * 360)
    return {"motorbike_max_area": int(d.get("motorbike_max_area") or round(900 * factor)),
            "truck_min_area": int(d.get("truck_min_area") or round(6000 * factor))}


def calibration_to_dict(cal: Calibration) -> dict[str, Any]:
    """The JSON form kept on the camera and drawn by the web editor (the inverse of :func:`calibration_from_dict`)."""
    def line(x: Any) -> dict[str, Any]:
        return {"name": x.name, "segment": [list(p) for p in x.segment], "forward": x.forward, "one_way": x.one_way}

    return {
        "width": cal.width, "height": cal.height,
        "stop_line": line(cal.stop_line) if cal.stop_line else None,
        "light": list(cal.light) if cal.light else None,
        "road": [list(p) for p in cal.road] if cal.road else None,
        "lanes": [{"name": x.name, "polygon": [list(p) for p in x.polygon], "directions": sorted(x.directions),
                   "kinds": sorted(x.kinds)} for x in cal.lanes],
        "counting_lines": [line(x) for x in cal.counting_lines],
        "zones": [{"name": z.name, "polygon": [list(p) for p in z.polygon], "rule": z.rule,
                   "min_people": z.min_people} for z in cal.zones],
        "motorbike_max_area": cal.motorbike_max_area, "truck_min_area": cal.truck_min_area,
    }
