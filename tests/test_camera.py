"""Traffic camera analytics: geometry, tracking, rules, light state, plates, and the pipeline end to end on a
synthetic video with known violations, and on a real traffic clip."""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np
import pytest

from connectors.camera import synthetic
from connectors.camera.evaluate import matches, plate_reads, vehicle_images
from connectors.camera.geometry import Calibration, Lane, Line, contains, crossed, iou, validate
from connectors.camera.light import light_state
from connectors.camera.ocr import read_plate
from connectors.camera.pipeline import Detection, run
from connectors.camera.plates import distance, normalise
from connectors.camera.tracking import Rules, Track, Tracker

pytestmark = pytest.mark.no_database  # pure: no database, no Redis (runs once, in the SQLite pass)

REAL_VIDEO = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "car-detection.mp4"
HORIZONTAL = ((0.0, 10.0), (100.0, 10.0))  # drawn left to right: moving down the image is +1


@pytest.mark.parametrize(("prev", "point", "segment", "expected"), [
    ((50, 0), (50, 20), HORIZONTAL, 1),
    ((50, 20), (50, 0), HORIZONTAL, -1),
    ((50, 0), (50, 9), HORIZONTAL, 0),  # approaches, does not reach
    ((50, 0), (50, 10), HORIZONTAL, 0),  # touching the line is not crossing it yet
    ((50, 10), (50, 20), HORIZONTAL, 1),  # ...leaving it is
    ((150, 0), (150, 20), HORIZONTAL, 0),  # passes beside the segment
    ((-5, 0), (5, 20), HORIZONTAL, 1),  # diagonal through the end
    ((50, 0), (50, 20), ((100.0, 10.0), (0.0, 10.0)), -1),  # the segment's direction sets the sign
    ((20, 20), (20, 20), HORIZONTAL, 0),  # standing still
])
def test_crossed(prev, point, segment, expected):
    assert crossed(prev, point, segment) == expected


SQUARE = ((0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0))
TRIANGLE = ((0.0, 0.0), (10.0, 0.0), (0.0, 10.0))


@pytest.mark.parametrize(("polygon", "point", "inside"), [
    (SQUARE, (5, 5), True), (SQUARE, (11, 5), False), (SQUARE, (-1, 5), False), (SQUARE, (5, 10.5), False),
    (TRIANGLE, (2, 2), True), (TRIANGLE, (8, 8), False),
])
def test_contains(polygon, point, inside):
    assert contains(polygon, point) is inside


@pytest.mark.parametrize(("a", "b", "expected"), [
    ((0, 0, 10, 10), (0, 0, 10, 10), 1.0), ((0, 0, 10, 10), (20, 0, 10, 10), 0.0),
    ((0, 0, 10, 10), (5, 0, 10, 10), 50 / 150),
])
def test_iou(a, b, expected):
    assert iou(a, b) == pytest.approx(expected)


def test_the_synthetic_calibration_is_valid():
    assert validate(synthetic.calibration()) == []


@pytest.mark.parametrize(("calibration", "problem"), [
    (Calibration(640, 360, stop_line=Line("stop", ((0, 0), (700, 10)))), "outside the 640x360 image"),
    (Calibration(640, 360, counting_lines=(Line("c", ((5, 5), (5, 5))),)), "zero length"),
    (Calibration(640, 360, stop_line=Line("s", ((0, 0), (9, 9)), forward=0)), "forward must be"),
    (Calibration(640, 360, light=(630, 10, 20, 60)), "outside the image"),
    (Calibration(640, 360, light=(10, 10, 1, 1)), "too small"),
    (Calibration(640, 360, lanes=(Lane("x", ((0, 0), (1, 1))),)), "at least 3 points"),
    (Calibration(640, 360, lanes=(Lane("x", SQUARE, frozenset({"backwards"})),)), "unknown directions"),
    (Calibration(640, 360, lanes=(Lane("x", SQUARE, kinds=frozenset({"tank"})),)), "unknown vehicle kinds"),
    (Calibration(640, 360, road=((0, 0), (900, 0), (0, 900))), "road has points outside"),
    (Calibration(0, 360), "not positive"),
])
def test_validate_reports_problems_instead_of_raising(calibration, problem):
    problems = validate(calibration)
    assert any(problem in p for p in problems), problems


def test_tracker_keeps_ids_through_motion_and_a_missed_frame():
    tracker = Tracker(max_missing=2)
    a, b = [(0, 0, 20, 20)], [(100, 100, 20, 20)]
    tracker.update(a + b)
    ids = {t.box: t.id for t in tracker.update([(4, 0, 20, 20), (100, 104, 20, 20)])}
    assert len(set(ids.values())) == 2
    assert tracker.update([(8, 0, 20, 20)])[0].id == ids[(4, 0, 20, 20)]  # b missing for one frame
    seen = {t.id for t in tracker.update([(12, 0, 20, 20), (100, 112, 20, 20)])}
    assert seen == set(ids.values())


def test_tracker_drops_tracks_after_max_missing_and_needs_two_hits():
    tracker = Tracker(max_missing=1)
    assert tracker.update([(0, 0, 10, 10)]) == []  # unconfirmed
    first = tracker.update([(1, 0, 10, 10)])[0].id
    tracker.update([])
    tracker.update([])
    tracker.update([(2, 0, 10, 10)])
    assert tracker.update([(3, 0, 10, 10)])[0].id != first


def _track(box, prev, area=2000):
    return Track(1, box, prev_center=prev, hits=3, max_area=area)


STOP = Line("stop", ((50.0, 100.0), (50.0, 0.0)))  # drawn upward: moving right is +1
CAL = Calibration(200, 100, stop_line=STOP, counting_lines=(Line("c", ((100.0, 100.0), (100.0, 0.0)), one_way=True),),
                  lanes=(Lane("moto", ((0.0, 50.0), (200.0, 50.0), (200.0, 100.0), (0.0, 100.0)),
                              kinds=frozenset({"motorbike"})),))


@pytest.mark.parametrize(("light", "box", "prev", "kinds"), [
    ("red", (45, 10, 20, 10), (45.0, 15.0), ["red_light"]),  # centre 55 > 50, moving right
    ("green", (45, 10, 20, 10), (45.0, 15.0), []),
    ("yellow", (45, 10, 20, 10), (45.0, 15.0), []),
    ("red", (25, 10, 20, 10), (65.0, 15.0), []),  # crossing backwards is not running the light
    ("red", (95, 10, 20, 10), (95.0, 15.0), ["count"]),
    ("green", (80, 10, 20, 10), (115.0, 15.0), ["count", "wrong_way"]),
])
def test_rules_per_crossing(light, box, prev, kinds):
    assert [v.kind for v in Rules(CAL).step(7, [_track(box, prev)], light)] == kinds


def test_lane_encroachment_needs_more_than_n_frames_and_is_reported_once():
    rules = Rules(CAL, lane_frames=3)
    car = _track((150, 60, 20, 10), (150.0, 60.0))
    reports = [rules.step(f, [car], "green") for f in range(6)]
    assert [len(r) for r in reports] == [0, 0, 0, 1, 0, 0]
    assert reports[3][0].kind == "lane" and reports[3][0].frame == 3
    moto = _track((150, 60, 20, 10), (150.0, 60.0), area=300)
    assert all(not Rules(CAL, lane_frames=3).step(f, [moto], "green") for f in range(6))


def _light(lit: int | None, colour=(0, 0, 255)) -> np.ndarray:
    img = np.full((66, 24, 3), 20, np.uint8)
    for i in range(3):
        cv2.circle(img, (12, 11 + 22 * i), 9, colour if i == lit else (45, 45, 45), -1)
    return img


@pytest.mark.parametrize(("region", "state"), [
    (_light(0), "red"), (_light(1, (0, 220, 255)), "yellow"), (_light(2, (0, 255, 0)), "green"),
    (_light(None), "unknown"), (np.zeros((2, 2, 3), np.uint8), "unknown"),
    (np.full((30, 10, 3), 255, np.uint8), "unknown"),  # all lamps equally bright: no answer
])
def test_light_state(region, state):
    assert light_state(region) == state


@pytest.mark.parametrize(("raw", "text", "kind", "min_conf"), [
    ("36A-123.45", "36A-123.45", "car", 1.0),
    ("36a 12345", "36A-123.45", "car", 1.0),
    ("36A-l23.4S", "36A-123.45", "car", 0.6),  # two look-alikes fixed
    ("3GA-123.45", "36A-123.45", "car", 0.8),
    ("51LD-123.45", "51LD-123.45", "car", 1.0),
    ("36A-1234", "36A-1234", "car", 1.0),
    ("36-B1\n123.45", "36-B1 123.45", "motorbike", 1.0),  # two-line motorbike plate
    ("36-B1 123.45", "36-B1 123.45", "motorbike", 1.0),
    ("36B1 12345", "36-B1 123.45", "motorbike", 0.9),
    ("36-B1\n1234", "36-B1 1234", "motorbike", 1.0),
])
def test_plate_normalisation(raw, text, kind, min_conf):
    plate = normalise(raw)
    assert plate is not None and (plate.text, plate.kind) == (text, kind)
    assert min_conf <= plate.confidence <= 1.0


@pytest.mark.parametrize("raw", ["", "XYZ", "05A-123.45", "36A-123.45.67", "????"])
def test_plate_normalisation_rejects(raw):
    assert normalise(raw) is None


def test_plate_confidence_scales_with_ocr_and_distance_ignores_punctuation():
    assert normalise("36A12345", 0.5).confidence == pytest.approx(0.5)  # type: ignore[union-attr]
    assert distance("36A-123.45", "36a12345") == 0
    assert distance("36A-123.45", "36A-128.45") == 1


@functools.cache
def run_at(scale: int) -> tuple[list[Detection], dict[tuple[str, int], int], int]:
    cal = synthetic.calibration(scale)
    rules = Rules(cal, lane_frames=synthetic.LANE_FRAMES)
    return list(run(synthetic.frames(scale=scale), cal, rules=rules)), rules.counts, scale


@pytest.fixture(params=[1, 2], ids=["360p", "720p"])
def synthetic_run(request) -> tuple[list[Detection], dict[tuple[str, int], int], int]:
    return run_at(request.param)


@pytest.mark.parametrize("kind", ["red_light", "lane", "wrong_way"])
def test_synthetic_video_violations(synthetic_run, kind):
    detections, _, scale = synthetic_run
    score, _ = matches(detections, kind, scale)
    assert score.expected > 0  # the script does contain some
    assert score.precision >= 0.95 and score.recall >= 0.95, score


@pytest.mark.parametrize("scale", [1, 2])
def test_a_car_standing_in_the_no_stopping_zone_is_reported_once(scale):
    cal = synthetic.calibration(scale)
    rules = Rules(cal, stop_frames=synthetic.STOP_FRAMES)
    scene = synthetic.frames(synthetic.STOPPING_FRAMES, scale=scale, vehicles=synthetic.STOPPING)
    detections = [d for d in run(scene, cal, rules=rules) if d.kind != "count"]
    score, _ = matches(detections, "stopping", scale, synthetic.STOPPING, synthetic.STOPPING_FRAMES)
    assert score.expected == 1 and score.precision == 1.0 and score.recall == 1.0, detections


def test_synthetic_video_counts_and_evidence(synthetic_run):
    detections, counts, _ = synthetic_run
    assert counts == synthetic.truth().counts == {("count", 1): 9, ("count", -1): 1}
    assert not [d for d in detections if d.kind == "stopping"]  # two cars drive through the zone without stopping
    for d in detections:
        assert d.crop.shape[:2] == (d.box[3], d.box[2])
    assert {d.light for d in detections if d.kind == "red_light"} == {"red"}


def test_plates_of_the_violations_are_read_at_720p():
    detections, _, scale = run_at(2)  # at 640x360 the plates are a few pixels high, as on a real camera
    reads = []
    for kind in ("red_light", "lane", "wrong_way"):
        _, vehicles = matches(detections, kind, scale)
        reads += [(detections[i].crop, synthetic.VEHICLES[v].plate) for i, v in vehicles.items()]
    assert len(reads) == 6
    assert plate_reads(reads, _plate_text) >= 0.9


def _plate_text(image: np.ndarray) -> str | None:
    reading = read_plate(image)
    return reading.plate.text if reading else None


def test_plates_are_read_on_cars_and_two_line_motorbike_plates():
    images = vehicle_images(scale=2, every=30)
    bikes = [(i, p) for i, p in images if " " in p]
    assert bikes and len(bikes) < len(images)
    assert plate_reads(images, _plate_text) >= 0.9
    assert plate_reads(bikes, _plate_text) >= 0.9  # "36-B1 123.45" from two lines


def test_a_vehicle_without_a_plate_reads_as_nothing():
    grey = np.full((64, 128, 3), 90, np.uint8)
    assert read_plate(grey) is None


def test_synthetic_video_is_deterministic_and_writes_mjpg(tmp_path):
    first, again = next(synthetic.frames(1)), next(synthetic.frames(1))
    assert np.array_equal(first, again)
    path = synthetic.write(tmp_path / "traffic.avi")
    video = cv2.VideoCapture(str(path))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == synthetic.FRAMES
    video.release()


def _read(path: Path, limit: int):
    video = cv2.VideoCapture(str(path))
    try:
        for _ in range(limit):
            ok, frame = video.read()
            if not ok:
                return
            yield frame
    finally:
        video.release()


@pytest.mark.skipif(not REAL_VIDEO.exists(), reason=f"{REAL_VIDEO} is not on this machine")
def test_real_clip_gives_sane_tracks_and_counts():
    video = cv2.VideoCapture(str(REAL_VIDEO))
    width, height = int(video.get(cv2.CAP_PROP_FRAME_WIDTH)), int(video.get(cv2.CAP_PROP_FRAME_HEIGHT))
    video.release()
    line = Line("middle", ((0.0, height / 2), (float(width), height / 2)))
    cal = Calibration(width, height, counting_lines=(line,))
    rules = Rules(cal)
    detections = list(run(_read(REAL_VIDEO, 400), cal, rules=rules))
    total = sum(rules.counts.values())
    ids = {d.track_id for d in detections}
    assert 3 <= total <= 150, rules.counts
    assert len(ids) <= total  # a track is counted at most once per direction
    assert all(d.kind == "count" for d in detections)


VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")  # Debian's opencv-doc


@pytest.mark.skipif(not VTEST.exists(), reason=f"{VTEST} is not on this machine (Debian package opencv-doc)")
def test_people_walking_in_vtest_make_a_crowd_once_and_sane_counts():
    from connectors.camera.geometry import Zone
    from connectors.camera.pipeline import Settings
    from connectors.camera.runner import frames_of

    width, height = 768, 576
    hall = ((0.0, 0.0), (width, 0.0), (width, height), (0.0, height))
    cal = Calibration(width, height, counting_lines=(Line("giua", ((width / 2, 0), (width / 2, height))),),
                      zones=(Zone("sanh", hall, "crowd", min_people=3),), motorbike_max_area=10**6)
    rules = Rules(cal, crowd_cooldown=10**6)
    found = list(run(frames_of(str(VTEST)), cal, Settings(people_every=10), rules=rules))
    crowds = [d for d in found if d.kind == "crowd"]
    assert len(crowds) == 1 and int(crowds[0].detail.split(":")[1]) >= 3  # reported once, with its head count
    crossings = sum(rules.counts.values())
    assert 3 <= crossings <= 80, rules.counts  # people do cross the middle of the hall, a few dozen times at most
    strict = Calibration(width, height, zones=(Zone("sanh", hall, "crowd", min_people=15),))
    assert not [d for d in run(frames_of(str(VTEST)), strict, Settings(people_every=25)) if d.kind == "crowd"]


def test_no_crowd_is_seen_on_an_empty_road_with_cars():
    from dataclasses import replace

    from connectors.camera.geometry import Zone
    from connectors.camera.pipeline import Settings

    cal = synthetic.calibration(1)
    cal = replace(cal, zones=(Zone("road", cal.road, "crowd", min_people=2),))
    assert not [d for d in run(synthetic.frames(), cal, Settings(people_every=10)) if d.kind == "crowd"]


def test_a_zone_with_an_unknown_rule_or_a_crowd_of_one_is_refused():
    from connectors.camera.geometry import Zone

    problems = validate(Calibration(640, 360, zones=(Zone("a", SQUARE, "parade"), Zone("b", SQUARE, "crowd", 1))))
    assert any("unknown rule 'parade'" in p for p in problems) and any("at least 2 people" in p for p in problems)
