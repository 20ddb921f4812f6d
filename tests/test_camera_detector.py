"""A deployment's own ONNX detector plugs into the pipeline through configuration: its boxes are mapped back from
the letterboxed input to the frame, weak ones and unknown classes dropped, and the tracker follows them. The model
here is built in the test (a constant YOLOv8-shaped output); no model ships with the IOC."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from connectors.camera import synthetic
from connectors.camera.detector import OnnxDetector, configured
from connectors.camera.pipeline import MotionPath, Settings

pytestmark = pytest.mark.no_database  # pure: no database, no Redis (runs once, in the SQLite pass)

onnx = pytest.importorskip("onnx", reason="the onnx package builds the test model (a dev dependency)")


def fake_model(path: Path) -> Path:
    from onnx import TensorProto, helper, numpy_helper

    out = np.zeros((1, 84, 4), np.float32)
    out[0, :4, 0], out[0, 4 + 2, 0] = [320, 320, 100, 50], 0.9  # a car in the middle
    out[0, :4, 1], out[0, 4 + 0, 1] = [100, 300, 40, 90], 0.8  # a person on the left
    out[0, :4, 2], out[0, 4 + 3, 2] = [500, 300, 40, 40], 0.1  # a motorbike too faint to keep
    out[0, :4, 3], out[0, 4 + 60, 3] = [400, 300, 40, 40], 0.9  # a dining table: not a class the IOC uses
    nodes = [helper.make_node("ReduceMean", ["images"], ["m"], keepdims=0),
             helper.make_node("Mul", ["m", "zero"], ["z"]), helper.make_node("Add", ["dets", "z"], ["output0"])]
    graph = helper.make_graph(nodes, "constant-detector",
                              [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 640, 640])],
                              [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 84, 4])],
                              initializer=[numpy_helper.from_array(out, "dets"),
                                           numpy_helper.from_array(np.array(0, np.float32), "zero")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def test_boxes_come_back_in_frame_pixels_and_weak_or_unknown_ones_are_dropped(tmp_path):
    detector = OnnxDetector(fake_model(tmp_path / "model.onnx"))
    found = detector.detect(np.zeros((720, 1280, 3), np.uint8))  # letterboxed: scale 0.5, 140 px bands
    assert sorted((f.label, f.box) for f in found) == [("car", (540, 310, 200, 100)), ("person", (160, 230, 80, 180))]
    assert detector.people(np.zeros((720, 1280, 3), np.uint8)) == [(160, 230, 80, 180)]


def test_the_pipeline_tracks_what_the_configured_detector_finds(tmp_path, monkeypatch):
    monkeypatch.setenv("IOC_CAMERA_DETECTOR", str(fake_model(tmp_path / "model.onnx")))
    path = MotionPath(synthetic.calibration(2), Settings(detector=configured()))
    frame = np.zeros((720, 1280, 3), np.uint8)  # nothing moves: without the detector there would be no track
    tracks = [path.step(i, frame)[0] for i in range(3)][-1]
    assert [t.box for t in tracks] == [(540, 310, 200, 100)]  # the car; the person is not a vehicle


def test_a_missing_or_broken_model_is_refused_with_its_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="no ONNX detector"):
        OnnxDetector(tmp_path / "absent.onnx")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="broken.onnx"):
        OnnxDetector(broken)
    assert configured(None) is None
