"""Traffic-light state from its image region: three stacked lamps (red, yellow, green); the lit one is brightest."""

from __future__ import annotations

import cv2
import numpy as np

STATES = ("red", "yellow", "green")


def light_state(region: np.ndarray, min_brightness: float = 120.0, min_margin: float = 40.0) -> str:
    """``red``, ``yellow``, ``green`` or ``unknown`` for a BGR crop of the light housing (taller than wide)."""
    if region.ndim != 3 or region.shape[0] < 3 or region.shape[1] < 1:
        return "unknown"
    hsv = cv2.cvtColor(region, cv2.COLOR_BGR2HSV)
    third = hsv.shape[0] // 3
    scores = []
    for i in range(3):
        part = hsv[i * third:(i + 1) * third]
        value = part[..., 2].astype(np.float32)
        bright = np.sort(value.ravel())[-max(1, value.size // 4):]  # the lamp, not the housing around it
        scores.append(float(bright.mean()))
    order = sorted(range(3), key=lambda i: scores[i], reverse=True)
    best, second = scores[order[0]], scores[order[1]]
    if best < min_brightness or best - second < min_margin:
        return "unknown"
    return STATES[order[0]]


def crop(frame: np.ndarray, rect: tuple[int, int, int, int]) -> np.ndarray:
    x, y, w, h = rect
    return frame[max(0, y):max(0, y + h), max(0, x):max(0, x + w)]
