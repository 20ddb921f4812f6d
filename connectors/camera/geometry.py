"""Camera calibration and plane geometry in image pixels (x right, y down). Pure: no I/O, no OpenCV."""

from __future__ import annotations

from dataclasses import dataclass, field

Point = tuple[float, float]
Segment = tuple[Point, Point]
Rect = tuple[int, int, int, int]  # x, y, width, height
Polygon = tuple[Point, ...]

DIRECTIONS = frozenset({"straight", "left", "right"})
VEHICLE_KINDS = frozenset({"motorbike", "car", "truck", "bus"})
ZONE_RULES = ("no_stopping", "crowd")


@dataclass(frozen=True)
class Line:
    """A directed line. ``forward`` (+1 or -1) is the sign of :func:`crossed` for traffic going the right way."""

    name: str
    segment: Segment
    forward: int = 1
    one_way: bool = False  # crossing against ``forward`` is wrong-way driving


@dataclass(frozen=True)
class Lane:
    name: str
    polygon: Polygon
    directions: frozenset[str] = DIRECTIONS
    kinds: frozenset[str] = VEHICLE_KINDS


@dataclass(frozen=True)
class Zone:
    name: str
    polygon: Polygon
    rule: str = "no_stopping"  # or "crowd": a restricted area where ``min_people`` or more is a public-order event
    min_people: int = 5


@dataclass(frozen=True)
class Calibration:
    width: int
    height: int
    stop_line: Line | None = None
    light: Rect | None = None  # red on top, yellow in the middle, green at the bottom
    road: Polygon | None = None  # moving objects outside are ignored; None means the whole image
    lanes: tuple[Lane, ...] = ()
    counting_lines: tuple[Line, ...] = ()
    zones: tuple[Zone, ...] = field(default_factory=tuple)
    motorbike_max_area: int = 900  # box area in pixels below which a vehicle is a motorbike (depends on the view)
    truck_min_area: int = 6000  # ...and from which it is a truck or a bus


def _inside_image(p: Point, width: int, height: int) -> bool:
    return 0 <= p[0] <= width and 0 <= p[1] <= height


def validate(cal: Calibration) -> list[str]:
    """Every problem of a calibration as a sentence; an empty list means usable. Never raises."""
    if cal.width <= 0 or cal.height <= 0:
        return [f"image size {cal.width}x{cal.height} is not positive"]
    problems: list[str] = []
    lines = ([cal.stop_line] if cal.stop_line else []) + list(cal.counting_lines)
    for line in lines:
        a, b = line.segment
        if a == b:
            problems.append(f"line {line.name!r} has zero length")
        for p in (a, b):
            if not _inside_image(p, cal.width, cal.height):
                problems.append(f"line {line.name!r}: point {p} is outside the {cal.width}x{cal.height} image")
        if line.forward not in (1, -1):
            problems.append(f"line {line.name!r}: forward must be +1 or -1, not {line.forward}")
    if cal.light is not None:
        x, y, w, h = cal.light
        if w < 3 or h < 3:
            problems.append(f"traffic-light region {cal.light} is too small")
        elif x < 0 or y < 0 or x + w > cal.width or y + h > cal.height:
            problems.append(f"traffic-light region {cal.light} is outside the image")
    areas: list[tuple[str, Polygon]] = [(f"lane {lane.name!r}", lane.polygon) for lane in cal.lanes]
    areas += [(f"zone {zone.name!r}", zone.polygon) for zone in cal.zones]
    if cal.road is not None:
        areas.append(("road", cal.road))
    for label, poly in areas:
        if len(poly) < 3:
            problems.append(f"{label} needs at least 3 points")
        elif any(not _inside_image(p, cal.width, cal.height) for p in poly):
            problems.append(f"{label} has points outside the image")
    for zone in cal.zones:
        if zone.rule not in ZONE_RULES:
            problems.append(f"zone {zone.name!r}: unknown rule {zone.rule!r} (one of {', '.join(ZONE_RULES)})")
        if zone.min_people < 2:
            problems.append(f"zone {zone.name!r}: a crowd needs at least 2 people, not {zone.min_people}")
    for lane in cal.lanes:
        if bad := lane.directions - DIRECTIONS:
            problems.append(f"lane {lane.name!r}: unknown directions {sorted(bad)}")
        if bad := lane.kinds - VEHICLE_KINDS:
            problems.append(f"lane {lane.name!r}: unknown vehicle kinds {sorted(bad)}")
    return problems


def side(segment: Segment, p: Point) -> float:
    """Cross product (b - a) x (p - a): positive on one side of the line, negative on the other, 0 on it."""
    (ax, ay), (bx, by) = segment
    return (bx - ax) * (p[1] - ay) - (by - ay) * (p[0] - ax)


def crossed(prev: Point, point: Point, segment: Segment) -> int:
    """+1 when the move prev→point crosses the segment from its non-positive side to its positive side, -1 the
    other way, 0 when it does not cross it. For a segment drawn left to right on screen, +1 is moving down."""
    s0, s1 = side(segment, prev), side(segment, point)
    if (s0 > 0) == (s1 > 0):
        return 0
    a, b = segment
    t0, t1 = side((prev, point), a), side((prev, point), b)
    if t0 * t1 > 0:  # both ends of the segment on the same side of the motion: it passed beside the segment
        return 0
    return 1 if s1 > 0 else -1


def contains(polygon: Polygon, p: Point) -> bool:
    """Point in polygon by ray casting; points on the left/top edges count as inside."""
    x, y = p
    inside = False
    n = len(polygon)
    for i in range(n):
        (x1, y1), (x2, y2) = polygon[i], polygon[(i + 1) % n]
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def center(box: Rect) -> Point:
    x, y, w, h = box
    return (x + w / 2, y + h / 2)


def iou(a: Rect, b: Rect) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = min(ax + aw, bx + bw) - max(ax, bx)
    ih = min(ay + ah, by + bh) - max(ay, by)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / (aw * ah + bw * bh - inter)
