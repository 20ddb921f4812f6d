"""People in a frame, for public order (a crowd in a restricted zone): OpenCV's HOG people detector, which ships
inside the OpenCV wheel. It is slow (about 0.1–0.2 s a frame on one core), so the pipeline runs it once every
``people_every`` frames and only on cameras that have a crowd zone."""

from __future__ import annotations

import cv2
import numpy as np

from connectors.camera.geometry import Rect

MAX_WIDTH = 800  # larger frames are scaled down first: people stay big enough for the 64x128 window


class PeopleDetector:
    def __init__(self, min_weight: float = 0.5) -> None:
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())  # type: ignore[attr-defined]
        self.min_weight = min_weight

    def detect(self, frame: np.ndarray) -> list[Rect]:
        """People's boxes in frame pixels."""
        factor = min(1.0, MAX_WIDTH / frame.shape[1])
        image = cv2.resize(frame, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA) if factor < 1 else frame
        boxes, weights = self.hog.detectMultiScale(image, winStride=(8, 8), padding=(8, 8), scale=1.05)
        out: list[Rect] = []
        for (x, y, w, h), weight in zip(boxes, np.ravel(weights), strict=False):
            if float(weight) >= self.min_weight:
                out.append((round(x / factor), round(y / factor), round(w / factor), round(h / factor)))
        return out

    def people(self, frame: np.ndarray) -> list[Rect]:
        return self.detect(frame)
