"""A camera runner on another machine reports through the IOC's API with a token, so that a province can spread
hundreds of cameras over several machines: it fetches the camera's calibration, uploads each evidence snapshot and
clip, posts its events (violations, counts) and its health. Nothing here touches the database."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import requests

from engine.events import IncomingEvent

log = logging.getLogger(__name__)


class ApiError(RuntimeError):
    pass


class ApiReporter:
    def __init__(self, base_url: str, token: str, camera: str, *, timeout: float = 20.0, tries: int = 5) -> None:
        self.base = base_url.rstrip("/")
        self.camera = camera
        self.timeout, self.tries = timeout, tries
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One API call, retried with backoff when the server cannot be reached or answers 5xx; a 4xx is final."""
        wait = 1.0
        for attempt in range(1, self.tries + 1):
            try:
                resp = self.http.request(method, f"{self.base}/api/v1{path}", timeout=self.timeout, **kwargs)
            except requests.RequestException as exc:
                problem = str(exc)
            else:
                if resp.status_code < 500:
                    if resp.status_code >= 400:
                        raise ApiError(f"{method} {path}: {resp.status_code} {resp.text[:300]}")
                    return resp
                problem = f"{resp.status_code}"
            if attempt < self.tries:
                log.warning("IOC API %s %s failed (%s); retrying in %.0f s", method, path, problem, wait)
                time.sleep(wait)
                wait = min(wait * 2, 30.0)
        raise ApiError(f"{method} {path}: the IOC API could not be reached ({problem})")

    def calibration(self) -> dict[str, Any]:
        return dict(self._call("GET", f"/cameras/{self.camera}/calibration").json())

    def health(self, status: str, detail: str) -> None:
        try:
            self._call("POST", f"/cameras/{self.camera}/health", json={"status": status, "detail": detail[:300]})
        except ApiError as exc:  # health is advisory: never stop the camera for it
            log.warning("camera health not reported: %s", exc)

    def upload(self, path: Path) -> None:
        """An evidence file, stored by the IOC under the camera's folder with the same name."""
        kind = "image/jpeg" if path.suffix == ".jpg" else "video/x-msvideo"
        with path.open("rb") as handle:
            self._call("POST", f"/cameras/{self.camera}/evidence", files={"file": (path.name, handle, kind)})

    def send(self, events: list[IncomingEvent]) -> int:
        body = {"events": [{**{k: v for k, v in asdict(e).items() if v is not None}, "time": e.time.isoformat()}
                           for e in events]}
        return int(self._call("POST", "/events", json=body).json().get("accepted", 0))
