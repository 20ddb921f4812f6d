"""The traffic monitor: confirmed violations by camera and kind, the latest violations with their evidence, the
cameras and their freshness, and tracing a plate across cameras on a timeline."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, render_template, request, send_from_directory

from engine import entities, traffic
from engine.db import utcnow
from web.auth import page_auth
from web.db import db

bp = Blueprint("traffic_pages", __name__)


@bp.route("/traffic")
@page_auth()
def monitor() -> Any:
    now = utcnow()
    since = now - timedelta(days=7)
    plate = (request.args.get("plate") or "").strip()
    approximate = request.args.get("approximate") == "on"
    found = traffic.sightings(db(), plate, approximate=approximate) if len(plate) >= 4 else []
    cameras = entities.listing(db(), "camera")
    return render_template("traffic.html", counts=sorted(traffic.confirmed_counts(db(), since).items()),
                           violations=traffic.recent_violations(db(), now - timedelta(days=1))[:50],
                           cameras=cameras, now=now, plate=plate, approximate=approximate, found=found,
                           kinds=traffic.KIND_NAMES)


@bp.route("/evidence/<path:name>")
@page_auth("leader", "operator", "admin", "officer")
def evidence(name: str) -> Any:
    """An evidence snapshot or clip (faces blurred when stored), for the people who review violations."""
    if ".." in name or name.startswith("/") or not name.endswith((".jpg", ".avi")):
        abort(404)
    kind = "image/jpeg" if name.endswith(".jpg") else "video/x-msvideo"
    return send_from_directory(traffic.evidence_dir(), name, mimetype=kind, max_age=0,
                               as_attachment=name.endswith(".avi"))
