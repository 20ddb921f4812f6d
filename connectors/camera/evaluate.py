"""Scoring a pipeline's detections on the synthetic video against its ground truth: precision and recall per
violation kind, and the exact-read rate of plates. Used by the tests and by ``bench/camera.py``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from connectors.camera import synthetic
from connectors.camera.geometry import iou
from connectors.camera.pipeline import Detection


@dataclass(frozen=True)
class Score:
    kind: str
    expected: int
    found: int
    true_positives: int

    @property
    def precision(self) -> float:
        return self.true_positives / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.expected if self.expected else 1.0


def matches(detections: Sequence[Detection], kind: str, scale: int = 1,
            scene: tuple[synthetic.Vehicle, ...] = synthetic.VEHICLES, count: int = synthetic.FRAMES
            ) -> tuple[Score, dict[int, int]]:
    """A detection is right when a vehicle due for that violation at that frame is where it says (IoU > 0.5).
    Returns the score and, for each right detection's index, the vehicle it found."""
    expected = [e for e in synthetic.truth(scene, count).violations if e.kind == kind]
    found = [(i, d) for i, d in enumerate(detections) if d.kind == kind]
    hit: set[int] = set()
    vehicles: dict[int, int] = {}
    for i, d in found:
        for n, e in enumerate(expected):
            x, y, w, h = scene[e.vehicle].box(d.frame)
            if n not in hit and e.first <= d.frame <= e.last and iou(d.box, (x * scale, y * scale, w * scale,
                                                                               h * scale)) > 0.5:
                hit.add(n)
                vehicles[i] = e.vehicle
                break
    return Score(kind, len(expected), len(found), len(hit)), vehicles


def plate_reads(images: Sequence[tuple[np.ndarray, str]], read: Callable[[np.ndarray], str | None]) -> float:
    """The share of vehicle images whose plate is read exactly (in the normalised format)."""
    if not images:
        return 0.0
    return sum(read(image) == plate for image, plate in images) / len(images)


def vehicle_images(scale: int = 2, every: int = 10) -> list[tuple[np.ndarray, str]]:
    """Every ``every``-th frame's fully visible vehicles, cropped by their true boxes, with their plates."""
    out = []
    for f, frame in enumerate(synthetic.frames(scale=scale)):
        if f % every:
            continue
        for v in synthetic.VEHICLES:
            x, y, w, h = (n * scale for n in v.box(f))
            if x >= 0 and x + w <= frame.shape[1]:
                out.append((frame[y:y + h, x:x + w].copy(), v.plate))
    return out
