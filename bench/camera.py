"""Benchmark of a traffic camera's pipeline on one core, and its accuracy on the synthetic video.

For 720p and 1080p, the synthetic traffic video (``connectors.camera.synthetic``, 300 frames) is written as
MPEG-4 (mp4v) and then, pinned to one CPU core with OpenCV's own threads set to 1:

- baseline: FFmpeg's plain decode rate of that file (OpenCV's FFmpeg backend, ``VideoCapture.read`` in a loop);
- motion path: decode + background subtraction + blobs + tracking + light state + rules (``pipeline.run``);
- whole runner: the motion path plus, on each violation, the plate read (OCR), the annotated snapshot with faces
  blurred and the 3-second clip (``runner.detect``): what ``ioc camera run`` does, without the database.

Then, at 720p: precision and recall of each violation kind against the ground truth, and the exact-read rate of
plates on the violations and on every vehicle every 10th frame.

Usage: .venv/bin/python bench/camera.py [--frames 300]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import cv2  # noqa: E402
from loop import cpu_model  # noqa: E402

from connectors.camera import evaluate, ocr, pipeline, runner, synthetic  # noqa: E402
from connectors.camera.tracking import Rules  # noqa: E402


def write_mp4(path: Path, scale: int, count: int) -> Path:
    fourcc = cv2.VideoWriter_fourcc(*"mp4v")  # type: ignore[attr-defined]
    out = cv2.VideoWriter(str(path), fourcc, 25.0, (synthetic.WIDTH * scale, synthetic.HEIGHT * scale))
    for frame in synthetic.frames(count, scale=scale):
        out.write(frame)
    out.release()
    return path


def decode_fps(path: Path) -> float:
    start, n = time.perf_counter(), 0
    for _ in runner.frames_of(str(path)):
        n += 1
    return n / (time.perf_counter() - start)


def motion_fps(path: Path, scale: int) -> tuple[float, int]:
    cal = synthetic.calibration(scale)
    start, n, violations = time.perf_counter(), 0, 0

    def counted():  # type: ignore[no-untyped-def]
        nonlocal n
        for frame in runner.frames_of(str(path)):
            n += 1
            yield frame

    for d in pipeline.run(counted(), cal, rules=Rules(cal, lane_frames=synthetic.LANE_FRAMES)):
        violations += d.kind != "count"
    return n / (time.perf_counter() - start), violations


def runner_fps(path: Path, scale: int, workdir: Path) -> tuple[float, int]:
    cal = synthetic.calibration(scale)
    n = 0

    def counted():  # type: ignore[no-untyped-def]
        nonlocal n
        for frame in runner.frames_of(str(path)):
            n += 1
            yield frame

    start = time.perf_counter()
    events = list(runner.detect(counted(), cal, "BENCH", evidence_dir=workdir / f"evidence{scale}",
                                started=datetime.now(UTC)))
    return n / (time.perf_counter() - start), sum(e.type == "traffic_violation" for e in events)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=synthetic.FRAMES)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    cv2.setNumThreads(1)
    print(f"machine: {cpu_model()}, pinned to one core; OpenCV {cv2.__version__}")
    ocr.read_plate(next(synthetic.frames(1, scale=2))[0:10, 0:10])  # load the recogniser outside the timings
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print(f"{'video':<8}{'decode fps':>12}{'motion fps':>12}{'ratio':>8}{'runner fps':>12}{'violations':>12}")
        for name, scale in (("720p", 2), ("1080p", 3)):
            path = write_mp4(work / f"traffic-{name}.mp4", scale, args.frames)
            decode = decode_fps(path)
            motion, found = motion_fps(path, scale)
            whole, events = runner_fps(path, scale, work)
            print(f"{name:<8}{decode:>12.1f}{motion:>12.1f}{motion / decode:>8.2f}{whole:>12.1f}{events:>12d}")
        cal = synthetic.calibration(2)
        detections = list(pipeline.run(synthetic.frames(scale=2), cal,
                                       rules=Rules(cal, lane_frames=synthetic.LANE_FRAMES)))
        reads = []
        for kind in ("red_light", "lane", "wrong_way"):
            score, vehicles = evaluate.matches(detections, kind, 2)
            print(f"720p {kind:<10} expected {score.expected}  found {score.found}  "
                  f"precision {score.precision:.2f}  recall {score.recall:.2f}")
            reads += [(detections[i].crop, synthetic.VEHICLES[v].plate) for i, v in vehicles.items()]

        scene = synthetic.frames(synthetic.STOPPING_FRAMES, scale=2, vehicles=synthetic.STOPPING)
        stops = list(pipeline.run(scene, cal, rules=Rules(cal, stop_frames=synthetic.STOP_FRAMES)))
        score, _ = evaluate.matches(stops, "stopping", 2, synthetic.STOPPING, synthetic.STOPPING_FRAMES)
        print(f"720p stopping   expected {score.expected}  found {score.found}  "
              f"precision {score.precision:.2f}  recall {score.recall:.2f}  (its own scene)")

        def text(image):  # type: ignore[no-untyped-def]
            r = ocr.read_plate(image)
            return r.plate.text if r else None

        start = time.perf_counter()
        on_violations = evaluate.plate_reads(reads, text)
        per_read = (time.perf_counter() - start) / max(1, len(reads)) * 1000
        images = evaluate.vehicle_images(scale=2, every=10)
        on_all = evaluate.plate_reads(images, text)
        print(f"plates exact on violations: {on_violations:.2f} ({len(reads)} reads, {per_read:.0f} ms each); "
              f"on every vehicle every 10th frame: {on_all:.2f} ({len(images)} images)")


if __name__ == "__main__":
    main()
