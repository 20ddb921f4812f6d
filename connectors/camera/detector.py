"""A deployment's own object detector, in ONNX, run by OpenCV's DNN module: when one is configured
(``IOC_CAMERA_DETECTOR=/path/model.onnx`` or ``ioc camera run --detector``), vehicles come from it instead of
the motion blobs and people from it instead of the HOG detector. No such model ships with the IOC (none that
installs from a package registry does): the motion path needs none.

The expected output is the common YOLOv8 export: one tensor ``(1, 4 + classes, boxes)`` (or transposed) of centre
x, centre y, width, height in the letterboxed input's pixels, then a score per class; classes are COCO's unless
told otherwise."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from connectors.camera.geometry import Rect

COCO = {0: "person", 1: "bicycle", 2: "car", 3: "motorbike", 5: "bus", 7: "truck"}
VEHICLES = frozenset({"car", "motorbike", "bus", "truck", "bicycle"})


@dataclass(frozen=True)
class Found:
    box: Rect
    label: str
    score: float


class OnnxDetector:
    def __init__(self, path: str | Path, *, input_size: int = 640, min_score: float = 0.4, overlap: float = 0.5,
                 labels: dict[int, str] | None = None, classes: int = 80) -> None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no ONNX detector at {path}")
        try:
            self.net = cv2.dnn.readNetFromONNX(str(path))
        except cv2.error as exc:
            raise ValueError(f"{path} is not an ONNX model OpenCV can run: {str(exc).splitlines()[-1]}") from exc
        self.size, self.min_score, self.overlap = input_size, min_score, overlap
        self.labels = labels or COCO
        self.rows = 4 + classes  # the tensor's side that holds a box and its class scores

    def detect(self, frame: np.ndarray) -> list[Found]:
        height, width = frame.shape[:2]
        scale = min(self.size / width, self.size / height)
        resized = cv2.resize(frame, (round(width * scale), round(height * scale)))
        pad_x, pad_y = (self.size - resized.shape[1]) // 2, (self.size - resized.shape[0]) // 2
        canvas = np.full((self.size, self.size, 3), 114, np.uint8)
        canvas[pad_y:pad_y + resized.shape[0], pad_x:pad_x + resized.shape[1]] = resized
        self.net.setInput(cv2.dnn.blobFromImage(canvas, 1 / 255.0, (self.size, self.size), swapRB=True))
        out = np.squeeze(self.net.forward(), axis=0)
        if out.shape[0] != self.rows and out.shape[1] == self.rows:  # (boxes, 4 + classes)
            out = out.T
        scores = out[4:]
        classes = np.argmax(scores, axis=0)
        best = scores[classes, np.arange(scores.shape[1])]
        boxes, kept_scores, kept_labels = [], [], []
        for i in np.flatnonzero(best >= self.min_score):
            label = self.labels.get(int(classes[i]))
            if label is None:
                continue
            cx, cy, w, h = (float(v) for v in out[:4, i])
            x0, y0 = (cx - w / 2 - pad_x) / scale, (cy - h / 2 - pad_y) / scale
            boxes.append([round(x0), round(y0), round(w / scale), round(h / scale)])
            kept_scores.append(float(best[i]))
            kept_labels.append(label)
        if not boxes:
            return []
        keep = cv2.dnn.NMSBoxes(boxes, kept_scores, self.min_score, self.overlap)
        return [Found((boxes[k][0], boxes[k][1], boxes[k][2], boxes[k][3]), kept_labels[k], kept_scores[k])
                for k in np.ravel(keep)]

    def people(self, frame: np.ndarray) -> list[Rect]:
        return [f.box for f in self.detect(frame) if f.label == "person"]


def configured(path: str | None = None) -> OnnxDetector | None:
    """The deployment's detector, from ``path`` or IOC_CAMERA_DETECTOR; None when there is none."""
    chosen = path or os.environ.get("IOC_CAMERA_DETECTOR")
    return OnnxDetector(chosen) if chosen else None
