"""`ioc camera run`: the synthetic traffic video's red-light runners become review tasks for the police with their
evidence (faces blurred), counts are reported, and a calibration with a line outside the image is refused."""

from __future__ import annotations

import os
import re

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from connectors.camera import synthetic
from connectors.camera.runner import blur_faces, calibration_from_dict
from engine.models import Alert, Event, HumanTask, ProcessInstance
from engine.traffic import evidence_dir
from tests import factories
from tests.conftest import ioc
from tests.test_api import login


@pytest.mark.once  # the violation path on PostgreSQL: the test below
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


def test_a_red_light_runner_ends_as_a_confirmed_violation_with_its_plate_evidence_and_place(session, client):
    """The issue's end to end: the synthetic video at 720p → plate read → review task with the evidence beside
    the form → the police confirm → counted on the traffic monitor; the watch-listed runner raises an alert."""
    result = ioc("camera", "run", "CAM-SYNTHETIC", "--synthetic", env=dict(os.environ), check=False)
    assert result.returncode == 0, result.stderr
    session.rollback()
    runners = [v for v in session.scalars(select(Event.values).where(Event.type == "traffic_violation"))
               if v["kind"] == "red_light"]
    truth = {e.plate for e in synthetic.truth().violations if e.kind == "red_light"}
    assert {v["plate"] for v in runners} == truth == {"36A-111.22", "36-C2 555.66", "36A-999.01"}
    clip = cv2.VideoCapture(str(evidence_dir() / runners[0]["clip"]))
    assert int(clip.get(cv2.CAP_PROP_FRAME_COUNT)) >= 50  # two seconds before the moment, one after
    clip.release()
    watch = session.scalar(select(Alert).where(Alert.rule_id == "watchlist"))
    assert watch is not None and watch.details["plate"] == "36A-999.01"

    alert = next(a for a in session.scalars(select(Alert).where(Alert.rule_id == "camera:red_light"))
                 if a.details["plate"] == "36A-999.01")
    task = session.scalar(select(HumanTask).join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
                          .where(ProcessInstance.alert_id == alert.id))
    factories.user("officer", "CA-TINH", name="csgt-xacminh")
    csrf = login(client, "csgt-xacminh")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert 'id="evidence"' in page and '<strong id="plate-read">36A-999.01</strong>' in page
    image = re.search(r'<img src="(/evidence/[^"]+\.jpg)"', page).group(1)
    assert client.get(image).mimetype == "image/jpeg"
    client.post(f"/tasks/{task.id}", data={"csrf_token": csrf, "action": "claim"})
    done = client.post(f"/tasks/{task.id}", data={"csrf_token": csrf, "action": "complete", "decision": "confirm",
                                                  "plate_checked": "36A-999.01", "review_note": ""})
    assert done.status_code == 302, done.get_data(as_text=True)
    monitor = client.get("/traffic").get_data(as_text=True)
    row = re.search(r'<table class="list" id="confirmed">.*?</table>', monitor, re.S).group(0)
    assert "<td>CAM-SYNTHETIC</td><td>Vượt đèn đỏ</td><td>1</td>" in row


def test_a_calibration_with_a_line_outside_the_image_is_refused_with_its_name() -> None:
    with pytest.raises(ValueError, match="stop"):
        calibration_from_dict({"width": 640, "height": 360,
                               "stop_line": {"name": "stop", "segment": [[0, 200], [900, 200]]}})


def test_faces_in_evidence_are_blurred_when_the_cascade_finds_them() -> None:
    blank = np.full((120, 120, 3), 128, dtype=np.uint8)
    image, faces = blur_faces(blank, None)
    assert faces == 0 and image is blank  # no cascade: left as it is, and said so


def test_vehicle_sizes_follow_the_image_size_unless_given() -> None:
    base = {"width": 1280, "height": 720}
    assert calibration_from_dict(base).motorbike_max_area == 3600  # 900 px at 640x360, four times the pixels
    assert calibration_from_dict({**base, "motorbike_max_area": 2000}).motorbike_max_area == 2000
