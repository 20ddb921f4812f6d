"""Cameras over HTTP and in the web: registering (bad input named), calibration checked before it is kept, health
reported by runners (and by the frame reader on a dead source, a changed resolution), snapshot and live view."""

from __future__ import annotations

import time

import cv2
import numpy as np
from sqlalchemy import select

from connectors.camera import synthetic
from connectors.camera.runner import calibration_to_dict, frames_of
from engine.models import AuditEntry
from tests import factories
from tests.test_api import login


def _operator(client) -> dict[str, str]:
    factories.user("operator", name="trucban-cam")
    return {"X-CSRFToken": login(client, "trucban-cam")}


def test_a_camera_is_registered_calibrated_and_its_password_never_shown(client, session) -> None:
    headers = _operator(client)
    bad = client.post("/api/v1/cameras", json={"code": "x", "name": "", "source": "ftp://nope"}, headers=headers)
    assert bad.status_code == 422 and bad.get_json()["code"]
    made = client.post("/api/v1/cameras", headers=headers, json={
        "code": "CAM-BA-TRIEU", "name": "Ngã tư Bà Triệu", "source": "rtsp://admin:bimat123@10.0.0.5:554/s1",
        "lat": 19.807, "lon": 105.776})
    assert made.status_code == 201, made.get_data(as_text=True)
    listed = client.get("/api/v1/cameras").get_json()
    assert listed[0]["source"] == "rtsp://admin:***@10.0.0.5:554/s1" and listed[0]["calibrated"] is False
    page = client.get("/cameras").get_data(as_text=True)
    assert "bimat123" not in page and "CAM-BA-TRIEU" in page
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "camera.registered")).all()
    assert audit and "bimat123" not in str(audit[0].details)

    calibration = calibration_to_dict(synthetic.calibration(scale=2))
    outside = {**calibration, "stop_line": {"name": "stop", "segment": [[840, 600], [2000, 240]]}}
    refused = client.put("/api/v1/cameras/CAM-BA-TRIEU/calibration", json=outside, headers=headers)
    body = refused.get_json()
    assert refused.status_code == 422 and any("'stop'" in p and "outside" in p for p in body["details"]["problems"])
    assert client.get("/api/v1/cameras/CAM-BA-TRIEU/calibration").get_json() == {}  # nothing kept
    kept = client.put("/api/v1/cameras/CAM-BA-TRIEU/calibration", json=calibration, headers=headers)
    assert kept.status_code == 200
    assert client.get("/api/v1/cameras").get_json()[0]["calibrated"] is True


def test_officers_may_look_but_not_calibrate(client) -> None:
    headers = _operator(client)
    client.post("/api/v1/cameras", json={"code": "CAM-1", "name": "A", "source": "synthetic:720p"}, headers=headers)
    client.get("/logout")
    factories.user("officer", "CA-TINH", name="csgt")
    csrf = login(client, "csgt")
    denied = client.put("/api/v1/cameras/CAM-1/calibration", json={"width": 10, "height": 10},
                        headers={"X-CSRFToken": csrf})
    assert denied.status_code == 403
    assert "cal-save" not in client.get("/cameras/CAM-1").get_data(as_text=True)


def test_health_reported_by_a_runner_shows_on_the_camera(client) -> None:
    headers = _operator(client)
    client.post("/api/v1/cameras", json={"code": "CAM-2", "name": "B", "source": "synthetic:720p"}, headers=headers)
    said = client.post("/api/v1/cameras/CAM-2/health", json={"status": "stalled", "detail": "no frames for 30 s"},
                       headers=headers)
    assert said.status_code == 200
    assert client.post("/api/v1/cameras/CAM-2/health", json={"status": "sleepy"}, headers=headers).status_code == 422
    page = client.get("/cameras/CAM-2").get_data(as_text=True)
    assert "Luồng hình bị treo" in page and "no frames for 30 s" in page


def test_snapshot_and_live_view_of_the_synthetic_camera(client) -> None:
    headers = _operator(client)
    client.post("/api/v1/cameras", json={"code": "CAM-3", "name": "C", "source": "synthetic:720p"}, headers=headers)
    deadline = time.monotonic() + 30  # a placeholder (503) while the synthetic video's frame is rendered
    while (snap := client.get("/cameras/CAM-3/snapshot.jpg")).status_code == 503 and time.monotonic() < deadline:
        time.sleep(0.5)
    image = cv2.imdecode(np.frombuffer(snap.data, np.uint8), cv2.IMREAD_COLOR)
    assert snap.mimetype == "image/jpeg" and image.shape[:2] == (720, 1280)
    assert client.get("/cameras/CAM-3/live.mjpg").status_code == 409  # nothing to draw before a calibration
    client.put("/api/v1/cameras/CAM-3/calibration", json=calibration_to_dict(synthetic.calibration(scale=2)),
               headers=headers)
    live = client.get("/cameras/CAM-3/live.mjpg?seconds=2")
    assert live.mimetype == "multipart/x-mixed-replace"
    parts = live.data.split(b"--frame\r\n")[1:]
    assert len(parts) >= 2 and all(b"Content-Type: image/jpeg" in p for p in parts)


def test_a_dead_source_and_a_changed_resolution_are_told_not_crashed(tmp_path) -> None:
    told: list[tuple[str, str]] = []
    try:
        list(frames_of(str(tmp_path / "missing.mp4"), stop_after_failures=1,
                       on_health=lambda s, d: told.append((s, d))))
    except ConnectionError:
        pass
    else:
        raise AssertionError("an unreadable source must end with ConnectionError after its retries")
    assert told[0][0] == "unreachable"
    video = synthetic.write(tmp_path / "small.avi")  # 640x360, read for a 720p calibration
    told.clear()
    frames = list(frames_of(str(video), size=(1280, 720), on_health=lambda s, d: told.append((s, d))))
    assert len(frames) == synthetic.FRAMES and frames[0].shape[:2] == (720, 1280)
    assert told[0][0] == "resolution_changed" and "640x360" in told[0][1]


def test_a_viewer_who_leaves_before_the_first_frame_gives_the_slot_back(client) -> None:
    from web import traffic_pages

    headers = _operator(client)
    client.post("/api/v1/cameras", json={"code": "CAM-4", "name": "D", "source": "synthetic:360p"}, headers=headers)
    client.put("/api/v1/cameras/CAM-4/calibration", json=calibration_to_dict(synthetic.calibration(scale=1)),
               headers=headers)
    free = traffic_pages._LIVE_VIEWERS._value
    for _ in range(free + 2):  # more viewers than slots, one after the other, each leaving at once
        resp = client.get("/cameras/CAM-4/live.mjpg?seconds=5", buffered=False)
        assert resp.status_code == 200
        resp.close()
    assert traffic_pages._LIVE_VIEWERS._value == free
