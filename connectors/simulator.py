"""The demo's data source: simulated air-quality and water-level stations of Thanh Hóa, posted over HTTP.

It speaks to the IOC exactly as a department's system would: ``POST /api/v1/events`` with a
bearer token, a batch per tick, an idempotency key per reading.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

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
    Station("TH-AQ-HACTHANH", "Hạc Thành", "14797", 19.807, 105.776, "air_quality", 38),  # level: PM2.5, µg/m³
    Station("TH-AQ-NGHISON", "Nghi Sơn (KKT)", "16654", 19.322, 105.800, "air_quality", 95),
    Station("TH-AQ-BIMSON", "Bỉm Sơn", "14812", 20.079, 105.860, "air_quality", 52),
    Station("TH-AQ-SAMSON", "Sầm Sơn", "16531", 19.740, 105.905, "air_quality", 18),
    Station("TH-AQ-NGOCLAC", "Ngọc Lặc", "15061", 20.090, 105.380, "air_quality", 22),
    Station("TH-AQ-MUONGLAT", "Mường Lát", "14845", 20.530, 104.610, "air_quality", 12),
    Station("TH-AQ-THOXUAN", "Thọ Xuân", "15499", 19.930, 105.470, "air_quality", 30),
    Station("TH-AQ-NGASON", "Nga Sơn", "16093", 20.010, 105.970, "air_quality", 35),
    Station("TH-TV-GIANG", "Giàng (sông Mã)", "14758", 19.845, 105.770, "water_level", 4.6),
]


def concentrations(station: Station, rng: random.Random, boost: float = 0.0) -> dict[str, float]:
    """One reading of an air station, in µg/m³ as Circular 10/2021 stations send them: PM2.5 drifts around the
    station's level; the other pollutants follow loosely. The IOC computes VN_AQI from these."""
    station.level = min(260.0, max(8.0, station.level + rng.uniform(-4, 4)))
    pm25 = round(station.level + boost, 1)
    return {"pm25": pm25, "pm10": round(pm25 * rng.uniform(1.4, 1.8), 1), "no2": round(rng.uniform(15, 70), 1),
            "so2": round(rng.uniform(5, 40), 1), "co": round(rng.uniform(400, 2500)),
            "o3": round(rng.uniform(20, 90), 1)}


def reading(station: Station, tick: int, rng: random.Random, at: datetime | None = None,
            key: str | None = None) -> dict[str, object]:
    """The next reading of a station: a random walk, with episodes that cross the rules' thresholds (the Nghi Sơn
    economic zone's dust, the Mã river's flood at Giàng)."""
    if station.kind == "air_quality":
        episode = 45 if station.code == "TH-AQ-NGHISON" and tick % 40 in range(2, 12) else 0
        values: dict[str, object] = dict(concentrations(station, rng, episode))
    else:
        # Below alarm level III (6.0 m) except in the flood: 3 minutes of every 5 from the 6th reading, long enough
        # for an operator to take up the alert before the water goes down (which clears it).
        station.level = min(5.5, max(3.5, station.level + rng.uniform(-0.05, 0.05)))
        flood = tick % 60 in range(5, 41)
        values = {"level_m": round(max(station.level + 1.8, 6.2 + rng.uniform(0, 0.3)) if flood else station.level, 2)}
    return {"source": "demo-simulator", "type": station.kind, "sector": "environment", "entity": station.code,
            "unit": station.unit, "location": {"lat": station.lat, "lon": station.lon},
            "time": (at or datetime.now(UTC)).isoformat(), "values": values,
            "idempotency_key": key or f"{station.code}:{tick}:{int(time.time())}"}


def backlog(rng: random.Random, hours: int = 12) -> list[dict[str, object]]:
    """The last hours' hourly readings of the air stations, as a logger sends its buffer when it connects (so
    that the hourly AQI, which needs the latest hours, is there from the start)."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    out = []
    for h in range(hours, 0, -1):
        at = now - timedelta(hours=h - 1)
        for station in STATIONS:
            if station.kind == "air_quality":
                out.append(reading(station, hours - h, rng, at=at, key=f"{station.code}:hour:{at.isoformat()}"))
    return out


@dataclass
class Boat:
    registration: str
    length_m: float
    lat: float
    lon: float
    heading: float  # degrees, 0 = north


def fleet(rng: random.Random, n: int = 40) -> list[Boat]:
    """Demo fishing vessels out of Thanh Hóa's ports, mostly offshore (≥ 15 m, allowed there); one of them drifts
    into vùng lộng now and then, which its length does not allow."""
    boats = [Boat(f"TH-{91000 + i}-TS", rng.choice([15.5, 16.5, 18.0, 22.0]), rng.uniform(19.4, 19.95),
                  rng.uniform(106.5, 107.5), rng.uniform(0, 360)) for i in range(n)]
    boats[0].lon = 106.45
    return boats


def vessel_registry(boats: list[Boat]) -> list[dict[str, object]]:
    return [{"code": b.registration, "name": f"Thanh Hóa {b.registration[3:8]}", "length_m": b.length_m,
             "home_port": "Lạch Hới", "licensed_zone": "khoi"} for b in boats]


def vessel_positions(boats: list[Boat], tick: int, rng: random.Random) -> list[dict[str, object]]:
    """Each boat moves about a kilometre per tick (sped up for the demo) and reports like a VMS device."""
    import math

    out = []
    for i, b in enumerate(boats):
        b.heading = (b.heading + rng.uniform(-25, 25)) % 360
        if i == 0:  # the one that strays west into vùng lộng, then back
            b.heading = 270 if tick % 40 < 20 else 90
        b.lat = min(20.0, max(19.35, b.lat + 0.01 * math.cos(math.radians(b.heading))))
        b.lon = min(107.8, max(106.05 if i == 0 else 106.45, b.lon + 0.01 * math.sin(math.radians(b.heading))))
        out.append({"registration": b.registration, "time": datetime.now(UTC).isoformat(), "lat": round(b.lat, 4),
                    "lon": round(b.lon, 4), "speed_kn": round(rng.uniform(3, 9), 1)})
    return out


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
    boats = fleet(rng)
    try:
        session.post(f"{base_url}/api/v1/events", json={"events": backlog(rng)}, timeout=30)
        session.post(f"{base_url}/api/v1/entities/registry", json={"kind": "vessel",
                                                                   "records": vessel_registry(boats)}, timeout=30)
    except requests.RequestException as exc:
        log.warning("simulator: the backlog was not posted (%s)", exc.__class__.__name__)
    while True:
        batch = [reading(s, tick, rng) for s in STATIONS]
        try:
            r = session.post(f"{base_url}/api/v1/events", json={"events": batch}, timeout=10)
            r.raise_for_status()
            session.post(f"{base_url}/api/v1/entities/vessels/positions",
                         json={"positions": vessel_positions(boats, tick, rng)}, timeout=10).raise_for_status()
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
