"""A camera's snapshot answers at once from the copy kept in the web process: a camera that does not answer, or
cannot be opened, gets a placeholder picture (503, the page says why in Vietnamese) without the request waiting for
it; a camera that can be read gets its picture, then the kept copy; a live view keeps its frames there too, faces
blurred."""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from connectors.camera import runner, snapshots, synthetic
from connectors.camera.runner import calibration_to_dict
from tests import factories
from tests.test_api import login

FACES = Path("/usr/share/doc/opencv-doc/examples/data/messi5.jpg")  # Debian's opencv-doc: one face


def _operator(client) -> dict[str, str]:
    factories.user("operator", name="trucban-snap")
    return {"X-CSRFToken": login(client, "trucban-snap")}


def _register(client, headers: dict[str, str], code: str, source: str) -> None:
    made = client.post("/api/v1/cameras", json={"code": code, "name": "Ngã ba Voi", "source": source},
                       headers=headers)
    assert made.status_code == 201, made.get_data(as_text=True)


def _timed_get(client, url: str) -> tuple[object, float]:
    started = time.monotonic()
    answer = client.get(url)
    return answer, time.monotonic() - started


def _image(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a JPEG"
    return image


def _picture(client, url: str, seconds: float = 20.0) -> object:
    """The first answer that is a picture of the camera (placeholders, 503, come while it is read)."""
    deadline = time.monotonic() + seconds
    while (answer := client.get(url)).status_code == 503 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert answer.status_code == 200, answer.headers
    return answer


@pytest.fixture
def silent_camera() -> Iterator[str]:
    """An HTTP camera that takes the connection and never answers (as a camera behind a dead link does)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/snap.mjpg"


def test_a_camera_that_does_not_answer_gets_a_placeholder_at_once(client, silent_camera: str, tmp_path) -> None:
    headers = _operator(client)
    _register(client, headers, "CAM-SILENT", silent_camera)
    _register(client, headers, "CAM-GONE", str(tmp_path / "camera-removed.avi"))
    # (first: OpenCV opens one source at a time, so the camera that does not answer would hold this one back)

    gone, took = _timed_get(client, "/cameras/CAM-GONE/snapshot.jpg")  # a source that cannot be opened at all
    assert took < 1.0 and gone.status_code == 503 and gone.mimetype == "image/jpeg"
    assert gone.headers["X-Snapshot-State"] == "unreachable"
    assert int(gone.headers["Retry-After"]) >= 10
    synthetic.write(tmp_path / "camera-removed.avi")  # back: read again after Retry-After, not at each request
    again, took = _timed_get(client, "/cameras/CAM-GONE/snapshot.jpg")
    assert took < 1.0 and again.status_code == 503 and again.headers["X-Snapshot-State"] == "unreachable"

    for _ in range(3):  # the first asks for a read in the background, the others find it under way
        answer, took = _timed_get(client, "/cameras/CAM-SILENT/snapshot.jpg")
        assert took < 1.0, f"the snapshot waited {took:.1f} s for a camera that does not answer"
        assert answer.status_code == 503 and answer.mimetype == "image/jpeg"
        assert answer.headers["X-Snapshot-State"] == "pending" and answer.headers["Retry-After"] == "1"
        assert _image(answer.data).shape[:2] == snapshots.PLACEHOLDER_SIZE[::-1]
        assert "X-Snapshot-Taken" not in answer.headers  # a placeholder, not a picture of the camera

    assert gone.data != answer.data  # waiting, where the other is struck through

    page = client.get("/cameras/CAM-GONE").get_data(as_text=True)
    assert 'id="cal-snapshot-note"' in page  # where the page tells what the placeholder means
    assert "Hiện không đọc được hình từ camera" in page and "Đang lấy hình từ camera…" in page


def test_a_camera_that_can_be_read_answers_its_picture_then_the_kept_copy(client, tmp_path) -> None:
    headers = _operator(client)
    video = synthetic.write(tmp_path / "nga-ba.avi")  # 640x360
    _register(client, headers, "CAM-FILE", str(video))

    first = _picture(client, "/cameras/CAM-FILE/snapshot.jpg")
    assert first.mimetype == "image/jpeg" and first.headers["X-Snapshot-State"] == "fresh"
    assert _image(first.data).shape[:2] == (360, 640) and first.headers["X-Snapshot-Taken"]
    assert first.data != snapshots.placeholder(640, 360) and first.data != snapshots.placeholder(640, 360, struck=True)

    video.unlink()  # the camera is gone: what comes now is the copy kept by the web process
    second, took = _timed_get(client, "/cameras/CAM-FILE/snapshot.jpg")
    assert took < 1.0 and second.status_code == 200 and second.data == first.data
    assert second.headers["X-Snapshot-Taken"] == first.headers["X-Snapshot-Taken"]


@pytest.mark.skipif(not FACES.exists(), reason=f"{FACES} is not on this machine (Debian package opencv-doc)")
def test_a_live_view_keeps_its_frames_for_the_snapshot_with_faces_blurred(client, tmp_path) -> None:
    headers = _operator(client)
    face = cv2.resize(cv2.imread(str(FACES)), (synthetic.WIDTH, synthetic.HEIGHT))
    cascade = runner._face_cascade()
    assert runner.find_faces(face, cascade), "the picture must hold a face the cascade finds"
    video = tmp_path / "via-he.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25, (synthetic.WIDTH, synthetic.HEIGHT))
    for _ in range(25):
        writer.write(face)
    writer.release()
    _register(client, headers, "CAM-FACES", str(video))
    client.put("/api/v1/cameras/CAM-FACES/calibration", json=calibration_to_dict(synthetic.calibration(scale=1)),
               headers=headers)

    watched = client.get("/cameras/CAM-FACES/live.mjpg?seconds=1")
    assert watched.status_code == 200 and b"image/jpeg" in watched.data
    shutil.move(video, tmp_path / "elsewhere.avi")  # no read of the camera can give the snapshot now
    answer, took = _timed_get(client, "/cameras/CAM-FACES/snapshot.jpg")
    assert took < 1.0 and answer.status_code == 200 and answer.headers["X-Snapshot-State"] == "fresh"
    served = _image(answer.data)
    assert served.shape[:2] == (synthetic.HEIGHT, synthetic.WIDTH)
    assert runner.find_faces(served, cascade) == []  # the face is blurred in what is served
