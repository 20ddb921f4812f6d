"""The fisheries monitor: every vessel on a map of the sea zones (drawn on a canvas: smooth with thousands), the
vessels that lost their signal or left the waters they may fish, port arrivals and departures; a vessel's page
replays its last 10 days."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from flask import Blueprint, render_template
from sqlalchemy import select

from engine import entities, fisheries
from engine.db import utcnow
from engine.models import Alert, VesselFix
from web.auth import page_auth
from web.db import db

bp = Blueprint("fisheries_pages", __name__)
OPEN = ("firing", "acknowledged", "in_handling")


def _zones_geojson() -> Any:
    try:
        return json.loads(fisheries.zones_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"type": "FeatureCollection", "features": []}


@bp.route("/fisheries")
@page_auth()
def monitor() -> Any:
    now = utcnow()
    flagged = list(db().scalars(select(Alert).where(Alert.sector == "fisheries", Alert.status.in_(OPEN))
                                .order_by(Alert.severity.desc(), Alert.last_seen.desc())))
    lost = [a for a in flagged if a.rule_id.startswith("vms:LOST_SIGNAL")]
    out_of_zone = [a for a in flagged if a.rule_id in ("vms:ZONE_CLASS_VIOLATION", "vms:BOUNDARY_CROSSED")]
    vessels = fisheries.fleet(entities.listing(db(), "vessel"), {a.entity for a in flagged if a.entity})
    points = [{"code": v["code"], "lat": v["location"].get("lat"), "lon": v["location"].get("lon"), "flag": v["flag"],
               "registered": v["registered"]} for v in vessels if v["location"]]
    return render_template("fisheries.html", lost=lost, out_of_zone=out_of_zone,
                           calls=fisheries.recent_port_calls(db(), now - timedelta(days=2)),
                           count=len(vessels), at_sea=sum(1 for v in vessels if v["at_sea"]),
                           unregistered=sum(1 for v in vessels if not v["registered"]),
                           points=points, zones=_zones_geojson())


@bp.route("/fisheries/<path:code>")
@page_auth()
def vessel(code: str) -> Any:
    row = entities.get(db(), "vessel", code)
    codes = [row.code] + ([f"MMSI:{row.attributes['mmsi']}"] if (row.attributes or {}).get("mmsi") else [])
    since = utcnow() - timedelta(days=10)
    track = [{"t": t.isoformat(), "lat": lat, "lon": lon} for t, lat, lon in db().execute(
        select(VesselFix.time, VesselFix.lat, VesselFix.lon).where(VesselFix.vessel.in_(codes), VesselFix.time >= since)
        .order_by(VesselFix.time, VesselFix.id))]
    alerts = list(db().scalars(select(Alert).where(Alert.entity == row.code).order_by(Alert.id.desc()).limit(20)))
    return render_template("fisheries_vessel.html", vessel=row, track=track, n=len(track),
                           alerts=alerts, zones=_zones_geojson())
