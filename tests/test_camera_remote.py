"""A camera runner on another machine: it speaks only to the API (no database reachable), fetches its
calibration, uploads its evidence, posts its events and health; the IOC turns them into review tasks as for a
local runner. Bad uploads are refused with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from connectors.camera import synthetic
from connectors.camera.runner import calibration_to_dict
from tests.conftest import Server, ioc
from tests.test_browser import wait_for


@pytest.mark.once  # events through the API on PostgreSQL: test_api
def test_a_runner_elsewhere_reports_through_the_api(server: Server, tmp_path: Path) -> None:
    token = ioc("token", "create", "camera-node-2", "--role", "operator", "--scope",
                "cameras:read,cameras:write,events:write,traffic:read,alerts:read", env=server.env).stdout.strip()
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"
    made = api.post(f"{server.base}/api/v1/cameras",
                    json={"code": "CAM-REMOTE", "name": "Nút giao xa", "source": "rtsp://10.1.2.3/s1"})
    assert made.status_code == 201, made.text
    assert api.put(f"{server.base}/api/v1/cameras/CAM-REMOTE/calibration",
                   json=calibration_to_dict(synthetic.calibration(scale=2))).status_code == 200

    elsewhere = {k: v for k, v in server.env.items() if not k.startswith("IOC_")}
    elsewhere.update(IOC_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none", IOC_DATA_DIR=str(tmp_path / "node"))
    run = ioc("camera", "run", "CAM-REMOTE", "--api", server.base, "--token", token, "--source", "synthetic:720p",
              env=elsewhere, check=False)
    assert run.returncode == 0, run.stderr
    assert "12 evidence files uploaded" in run.stdout  # a snapshot and a clip for each of the six violations

    def violations() -> list[dict]:
        got = api.get(f"{server.base}/api/v1/traffic/violations", params={"hours": 2}).json()["violations"]
        return [v for v in got if v["camera"] == "CAM-REMOTE"]

    found = wait_for(lambda: len(violations()) == 6 and violations())
    assert sorted(v["plate"] for v in found if v["kind"] == "red_light") == ["36-C2 555.66", "36A-111.22",
                                                                            "36A-999.01"]
    stored = Path(server.env["IOC_DATA_DIR"]) / "evidence"
    for v in found:
        assert (stored / v["evidence"]).stat().st_size > 0 and (stored / v["clip"]).stat().st_size > 0
    assert not list((tmp_path / "node").rglob("*.jpg"))  # nothing left behind on the node
    camera = [c for c in api.get(f"{server.base}/api/v1/cameras").json() if c["code"] == "CAM-REMOTE"][0]
    assert camera["health"]["status"] == "stopped"
    wait_for(lambda: [a for a in api.get(f"{server.base}/api/v1/alerts").json() if a["entity"] == "CAM-REMOTE"])

    bad_name = api.post(f"{server.base}/api/v1/cameras/CAM-REMOTE/evidence",
                        files={"file": ("../../etc/passwd.jpg", b"\xff\xd8\xff\xe0", "image/jpeg")})
    not_jpeg = api.post(f"{server.base}/api/v1/cameras/CAM-REMOTE/evidence",
                        files={"file": ("20261125T081500-1-red_light.jpg", b"<html>", "image/jpeg")})
    assert bad_name.status_code == 422 and not_jpeg.status_code == 422
    assert not_jpeg.json()["details"]["filename"] == "20261125T081500-1-red_light.jpg"
