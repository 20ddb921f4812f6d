"""Multi-object tracking by box overlap and centroid distance, and the traffic rules judged over tracks. Pure."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from connectors.camera.geometry import Calibration, Lane, Point, Rect, Zone, center, contains, crossed, iou


@dataclass
class Track:
    id: int
    box: Rect
    prev_center: Point | None = None
    hits: int = 1
    missing: int = 0
    max_area: int = 0

    @property
    def center(self) -> Point:
        return center(self.box)


def kind_of(track: Track, motorbike_below: int = 900, truck_from: int = 6000) -> str:
    """Vehicle kind from the largest box the track has shown (a vehicle half in the frame looks smaller)."""
    if track.max_area < motorbike_below:
        return "motorbike"
    return "truck" if track.max_area >= truck_from else "car"


class Tracker:
    """Greedy IoU matching, then nearest centroid within ``max_distance``; a track lives ``max_missing`` frames
    without a match. :meth:`update` returns the confirmed tracks (``min_hits``) seen in this frame."""

    def __init__(self, max_missing: int = 5, min_iou: float = 0.1, max_distance: float = 60.0, min_hits: int = 2):
        self.max_missing, self.min_iou, self.max_distance, self.min_hits = max_missing, min_iou, max_distance, min_hits
        self.tracks: list[Track] = []
        self._next_id = 1

    def update(self, boxes: Sequence[Rect]) -> list[Track]:
        pairs = sorted(((iou(t.box, b), ti, bi) for ti, t in enumerate(self.tracks) for bi, b in enumerate(boxes)),
                       reverse=True)
        used_t: set[int] = set()
        used_b: set[int] = set()
        for score, ti, bi in pairs:
            if score < self.min_iou:
                break
            if ti not in used_t and bi not in used_b:
                self._assign(self.tracks[ti], boxes[bi])
                used_t.add(ti)
                used_b.add(bi)
        dists = sorted((math.dist(t.center, center(b)), ti, bi) for ti, t in enumerate(self.tracks)
                       for bi, b in enumerate(boxes) if ti not in used_t and bi not in used_b)
        for d, ti, bi in dists:
            if d > self.max_distance:
                break
            if ti not in used_t and bi not in used_b:
                self._assign(self.tracks[ti], boxes[bi])
                used_t.add(ti)
                used_b.add(bi)
        for ti, t in enumerate(self.tracks):
            if ti not in used_t:
                t.missing += 1
        self.tracks = [t for t in self.tracks if t.missing <= self.max_missing]
        for bi, b in enumerate(boxes):
            if bi not in used_b:
                self.tracks.append(Track(self._next_id, tuple(b), max_area=b[2] * b[3]))  # type: ignore[arg-type]
                self._next_id += 1
        return [t for t in self.tracks if t.missing == 0 and t.hits >= self.min_hits]

    @staticmethod
    def _assign(track: Track, box: Rect) -> None:
        track.prev_center = track.center
        track.box = tuple(box)  # type: ignore[assignment]  # cv2 gives sequences; keep a hashable tuple
        track.hits += 1
        track.missing = 0
        track.max_area = max(track.max_area, box[2] * box[3])


@dataclass(frozen=True)
class Violation:
    """A rule event. ``kind`` is red_light, lane, wrong_way, or count (``detail`` names line and direction)."""

    kind: str
    track_id: int
    frame: int
    box: Rect
    detail: str = ""


@dataclass
class Rules:
    """Judges confirmed tracks frame by frame; keeps vehicle counts per (line, direction)."""

    calibration: Calibration
    lane_frames: int = 15  # frames a vehicle must stay in a forbidden lane to be an encroachment
    stop_frames: int = 50  # frames a vehicle must stand still in a no-stopping zone (2 s at 25 fps)
    counts: dict[tuple[str, int], int] = field(default_factory=dict)
    _in_lane: dict[tuple[int, str], int] = field(default_factory=dict)
    _still: dict[tuple[int, str], tuple[int, tuple[float, float]]] = field(default_factory=dict)
    crowd_checks: int = 2  # consecutive people counts at or above a zone's minimum that make a crowd
    crowd_cooldown: int = 25 * 300  # frames before the same zone's crowd is reported again (5 min at 25 fps)
    _crowd: dict[str, tuple[int, int]] = field(default_factory=dict)  # zone -> (streak, last reported frame)
    _reported: set[tuple[str, int, str]] = field(default_factory=set)

    def step(self, frame: int, tracks: Sequence[Track], light: str) -> list[Violation]:
        out: list[Violation] = []
        cal = self.calibration
        for t in tracks:
            if t.prev_center is None:
                continue
            if cal.stop_line is not None and light == "red":
                if crossed(t.prev_center, t.center, cal.stop_line.segment) == cal.stop_line.forward:
                    out += self._once("red_light", t, frame, cal.stop_line.name)
            for line in cal.counting_lines:
                sign = crossed(t.prev_center, t.center, line.segment)
                if sign:
                    self.counts[(line.name, sign)] = self.counts.get((line.name, sign), 0) + 1
                    out.append(Violation("count", t.id, frame, t.box, f"{line.name}:{sign:+d}"))
                    if line.one_way and sign != line.forward:
                        out += self._once("wrong_way", t, frame, line.name)
            for lane in cal.lanes:
                out += self._lane(frame, t, lane)
            for zone in cal.zones:
                if zone.rule == "no_stopping":
                    out += self._stopping(frame, t, zone)
        return out

    def people(self, frame: int, boxes: Sequence[Rect]) -> list[Violation]:
        """People seen in this frame (their feet in a crowd zone count): a crowd when a zone holds at least its
        ``min_people`` in ``crowd_checks`` checks in a row; reported again only after ``crowd_cooldown``."""
        out: list[Violation] = []
        for zone in self.calibration.zones:
            if zone.rule != "crowd":
                continue
            inside = [b for b in boxes if contains(zone.polygon, (b[0] + b[2] / 2, b[1] + b[3]))]
            streak, last = self._crowd.get(zone.name, (0, -10**9))
            streak = streak + 1 if len(inside) >= zone.min_people else 0
            if streak >= self.crowd_checks and frame - last >= self.crowd_cooldown:
                x0, y0 = min(b[0] for b in inside), min(b[1] for b in inside)
                x1, y1 = max(b[0] + b[2] for b in inside), max(b[1] + b[3] for b in inside)
                out.append(Violation("crowd", 0, frame, (x0, y0, x1 - x0, y1 - y0), f"{zone.name}:{len(inside)}"))
                last = frame
            self._crowd[zone.name] = (streak, last)
        return out

    def _stopping(self, frame: int, t: Track, zone: Zone) -> list[Violation]:
        """A vehicle whose centre stays within a quarter of its size of where it stopped, inside the zone, for
        ``stop_frames`` frames: stopping where it is forbidden. Moving on resets the clock."""
        key = (t.id, zone.name)
        if not contains(zone.polygon, t.center):
            self._still.pop(key, None)
            return []
        x, y = t.center
        since = self._still.get(key)
        tolerance = 0.25 * max(t.box[2], t.box[3])
        if since is None or abs(x - since[1][0]) > tolerance or abs(y - since[1][1]) > tolerance:
            self._still[key] = (frame, (x, y))
            return []
        if frame - since[0] >= self.stop_frames:
            return self._once("stopping", t, frame, zone.name)
        return []

    def _lane(self, frame: int, t: Track, lane: Lane) -> list[Violation]:
        key = (t.id, lane.name)
        cal = self.calibration
        if not contains(lane.polygon, t.center) or kind_of(t, cal.motorbike_max_area, cal.truck_min_area) in lane.kinds:
            self._in_lane.pop(key, None)
            return []
        self._in_lane[key] = self._in_lane.get(key, 0) + 1
        if self._in_lane[key] > self.lane_frames:
            return self._once("lane", t, frame, lane.name)
        return []

    def _once(self, kind: str, t: Track, frame: int, detail: str) -> list[Violation]:
        key = (kind, t.id, detail)
        if key in self._reported:
            return []
        self._reported.add(key)
        return [Violation(kind, t.id, frame, t.box, detail)]
