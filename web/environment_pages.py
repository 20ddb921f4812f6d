"""The environment monitor: the stations on a map coloured by VN_AQI, the day's worst stations and each one's
freshness; a station's page with each parameter against its QCVN 05:2023 limit and its hourly AQI."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_babel import gettext as _

from engine import aqi, environment
from engine.db import utcnow
from engine.errors import N_, NotFound
from web.auth import page_auth
from web.db import db

bp = Blueprint("environment_pages", __name__)
# The province's extent (WGS 84), for the station map.
BOUNDS = {"lat": (19.25, 20.70), "lon": (104.40, 106.55)}  # room east for the labels
MAP_W, MAP_H = 560, 480
NAMES = {"pm25": "PM2.5", "pm10": "PM10", "so2": "SO2", "no2": "NO2", "co": "CO", "o3": "O3"}


def _xy(location: dict[str, float]) -> tuple[float, float]:
    (lat0, lat1), (lon0, lon1) = BOUNDS["lat"], BOUNDS["lon"]
    x = (location["lon"] - lon0) / (lon1 - lon0) * MAP_W
    y = (lat1 - location["lat"]) / (lat1 - lat0) * MAP_H
    return round(min(max(x, 6), MAP_W - 6), 1), round(min(max(y, 6), MAP_H - 6), 1)


@bp.route("/environment")
@page_auth()
def monitor() -> Any:
    now = utcnow()
    rows = environment.stations(db(), now)
    for row in rows:
        row["xy"] = _xy(row["location"]) if row["location"] and "lat" in row["location"] else None
    worst = [r for r in sorted(rows, key=lambda r: -(r["today_max"] or -1)) if r["today_max"] is not None][:5]
    legend = [aqi.category(v) for v in (25, 75, 125, 175, 250, 400)]
    return render_template("environment.html", stations=rows, worst=worst, legend=legend, w=MAP_W, h=MAP_H)


def _chart(times: list[Any], values: list[float | None], limit: float | None, w: int = 520, h: int = 150
           ) -> dict[str, Any]:
    got = [v for v in values if v is not None]
    top = max(got + ([limit] if limit else []) + [1.0]) * 1.15
    n = max(len(values) - 1, 1)
    points = " ".join(f"{40 + i * (w - 50) / n:.1f},{h - 20 - v / top * (h - 30):.1f}"
                      for i, v in enumerate(values) if v is not None)
    line = None if limit is None else round(h - 20 - limit / top * (h - 30), 1)
    return {"w": w, "h": h, "points": points, "limit_y": line, "limit": limit, "top": round(top),
            "latest": got[-1] if got else None, "first": times[0], "last": times[-1]}


@bp.route("/environment/<station>")
@page_auth()
def station(station: str) -> Any:
    data = environment.station_history(db(), station, utcnow())
    if not any(v is not None for vs in data["series"].values() for v in vs):
        raise NotFound(N_("No readings from station %(station)s in the last 48 hours"), station=station)
    charts = []
    for param, values in data["series"].items():
        if any(v is not None for v in values):
            limit = environment.LIMITS_1H.get(param) or environment.LIMITS_24H.get(param)
            kind = _("1-hour limit") if param in environment.LIMITS_1H else _("24-hour limit")
            charts.append({"name": NAMES[param], "chart": _chart(data["times"], values, limit), "kind": kind})
    aqi_chart = _chart(data["times"], data["aqi"], 150.0)
    return render_template("environment_station.html", station=station, charts=charts, aqi_chart=aqi_chart)
