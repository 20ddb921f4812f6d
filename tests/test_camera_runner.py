"""`ioc camera run`: the synthetic traffic video's red-light runners become review tasks for the police with their
evidence (faces blurred), counts are reported, and a calibration with a line outside the image is refused."""

from __future__ import annotations

import os

import numpy as np
import pytest
from sqlalchemy import select

from connectors.camera.runner import blur_faces, calibration_from_dict
from engine.models import Alert, Event, HumanTask
from engine.traffic import evidence_dir
from tests.conftest import ioc


def test_the_synthetic_video_gives_review_tasks_with_evidence_and_counts(session) -> None:
    result = ioc("camera", "run", "CAM-SYNTHETIC", "--synthetic", env=dict(os.environ), check=False)
    assert result.returncode == 0, result.stderr
    session.rollback()
    kinds = sorted(v["kind"] for v in session.scalars(select(Event.values).where(Event.type == "traffic_violation")))
    assert kinds.count("red_light") == 3 and kinds.count("lane") == 2 and kinds.count("wrong_way") == 1
    reviews = session.scalars(select(HumanTask).where(HumanTask.bpmn_id == "review_violation")).all()
    assert len(reviews) == 6 and {t.candidate_department.code for t in reviews} == {"CA-TINH"}
    alert = session.scalar(select(Alert).where(Alert.rule_id == "camera:red_light"))
    assert (evidence_dir() / alert.details["evidence"]).stat().st_size > 0  # the snapshot is kept
    counts = session.scalars(select(Event.values).where(Event.type == "traffic_count")).all()
    assert sum(c["vehicles"] for c in counts) == 10  # the ten vehicles of the ground truth


def test_a_calibration_with_a_line_outside_the_image_is_refused_with_its_name() -> None:
    with pytest.raises(ValueError, match="stop"):
        calibration_from_dict({"width": 640, "height": 360,
                               "stop_line": {"name": "stop", "segment": [[0, 200], [900, 200]]}})


def test_faces_in_evidence_are_blurred_when_the_cascade_finds_them() -> None:
    blank = np.full((120, 120, 3), 128, dtype=np.uint8)
    image, faces = blur_faces(blank, None)
    assert faces == 0 and image is blank  # no cascade: left as it is, and said so
