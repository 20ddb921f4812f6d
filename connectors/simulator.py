"""The demo's data source: simulated air-quality and water-level stations of Thanh Hóa, posted over HTTP.

It speaks to the IOC exactly as a department's system would: ``POST /api/v1/events`` with a
bearer token, a batch per tick, an idempotency key per reading.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import requests

log = logging.getLogger("ioc.simulator")


@dataclass
class Station:
    code: str
    name: str
    unit: str  # commune/ward code (2025)
    lat: float
    lon: float
    kind: str  # air_quality | water_level
    level: float


# Positions are approximate; station codes are the demo's own.
STATIONS = [
    Station("TH-AQ-HACTHANH", "Hạc Thành", "14797", 19.807, 105.776, "air_quality", 95),
    Station("TH-AQ-NGHISON", "Nghi Sơn (KKT)", "16654", 19.322, 105.800, "air_quality", 135),
    Station("TH-AQ-BIMSON", "Bỉm Sơn", "14812", 20.079, 105.860, "air_quality", 120),
    Station("TH-AQ-SAMSON", "Sầm Sơn", "16531", 19.740, 105.905, "air_quality", 60),
    Station("TH-TV-GIANG", "Giàng (sông Mã)", "14758", 19.845, 105.770, "water_level", 4.6),
]


def reading(station: Station, tick: int, rng: random.Random) -> dict[str, object]:
    """The next reading of a station: a random walk, with an episode that crosses the rule's threshold."""
    if station.kind == "air_quality":
        spike = 60 if station.code == "TH-AQ-NGHISON" and tick % 40 in range(2, 8) else 0
        station.level = min(300.0, max(20.0, station.level + rng.uniform(-8, 8)))
        value = round(station.level + spike)
        values: dict[str, object] = {"aqi": value, "pm25": round(value * 0.55, 1)}
    else:
        rise = 1.8 if tick % 60 in range(5, 12) else 0.0
        station.level = min(7.5, max(3.0, station.level + rng.uniform(-0.05, 0.05)))
        values = {"level_m": round(station.level + rise, 2)}
    return {"source": "demo-simulator", "type": station.kind, "sector": "environment", "entity": station.code,
            "unit": station.unit, "location": {"lat": station.lat, "lon": station.lon},
            "time": datetime.now(UTC).isoformat(), "values": values,
            "idempotency_key": f"{station.code}:{tick}:{int(time.time())}"}


def _wait_until_up(session: requests.Session, base_url: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if session.get(f"{base_url}/api/v1/openapi.json", timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)


def run(base_url: str, token: str, interval_s: float = 5.0, seed: int | None = None) -> None:
    rng = random.Random(seed)  # noqa: S311 - simulated readings, not secrets
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    tick = 0
    down = False
    _wait_until_up(session, base_url)
    while True:
        batch = [reading(s, tick, rng) for s in STATIONS]
        try:
            r = session.post(f"{base_url}/api/v1/events", json={"events": batch}, timeout=10)
            r.raise_for_status()
            if down:
                log.info("simulator: the IOC answers again")
            down = False
        except requests.RequestException as exc:
            if not down:  # log once when it goes down, once when it comes back
                answer = exc.response.text[:300] if exc.response is not None else exc.__class__.__name__
                log.warning("simulator: posting failed (%s); retrying", answer)
            down = True
        tick += 1
        time.sleep(interval_s)
