"""The traffic monitor: confirmed violations by camera and kind, the latest violations with their evidence, the
cameras and their freshness, and tracing a plate across cameras on a timeline."""

from __future__ import annotations

import os
import threading
from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, send_from_directory, url_for
from flask_babel import gettext as _

from engine import cameras, entities, traffic
from engine.db import utcnow
from engine.errors import Invalid
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
                           kinds=traffic.KIND_NAMES, route=route_map(cameras, found))


MAP_W, MAP_H = 520, 320


def _position(row: Any) -> tuple[float, float] | None:
    """A camera's (lon, lat) from its registry location (GeoJSON point or lat/lon), or None."""
    where = (row.attributes or {}).get("location") or {}
    if isinstance(where.get("coordinates"), list) and len(where["coordinates"]) == 2:
        return float(where["coordinates"][0]), float(where["coordinates"][1])
    if "lat" in where and "lon" in where:
        return float(where["lon"]), float(where["lat"])
    return None


def route_map(cameras: list[Any], found: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The cameras on a small map fitted to them, and a traced plate's route through them in time order."""
    placed = {c.code: p for c in cameras if (p := _position(c)) is not None}
    if not placed:
        return None
    lons, lats = [p[0] for p in placed.values()], [p[1] for p in placed.values()]
    span = max(max(lons) - min(lons), max(lats) - min(lats), 0.004)
    lon0, lat0 = (max(lons) + min(lons)) / 2 - span * 0.6, (max(lats) + min(lats)) / 2 + span * 0.6 * MAP_H / MAP_W

    def xy(p: tuple[float, float]) -> tuple[float, float]:
        scale = MAP_W / (span * 1.2)
        return round((p[0] - lon0) * scale, 1), round((lat0 - p[1]) * scale, 1)

    seen = [s["camera"] for s in reversed(found) if s["camera"] in placed]  # oldest first
    steps: list[dict[str, Any]] = []
    for code in seen:
        if not steps or steps[-1]["camera"] != code:
            steps.append({"camera": code, "xy": xy(placed[code]), "n": len(steps) + 1})
    return {"w": MAP_W, "h": MAP_H, "cameras": [{"code": c, "xy": xy(p), "seen": c in seen} for c, p in placed.items()],
            "steps": steps, "path": " ".join(f"{s['xy'][0]},{s['xy'][1]}" for s in steps)}


@bp.route("/evidence/<path:name>")
@page_auth("leader", "operator", "admin", "officer")
def evidence(name: str) -> Any:
    """An evidence snapshot or clip (faces blurred when stored), for the people who review violations."""
    if ".." in name or name.startswith("/") or not name.endswith((".jpg", ".avi")):
        abort(404)
    kind = "image/jpeg" if name.endswith(".jpg") else "video/x-msvideo"
    return send_from_directory(traffic.evidence_dir(), name, mimetype=kind, max_age=0,
                               as_attachment=name.endswith(".avi"))


@bp.route("/cameras", methods=["GET", "POST"])
@page_auth(post_roles=("admin", "operator"))
def cameras_list() -> Any:
    """The cameras with their health; operators and administrators register new ones here."""
    if request.method == "POST":
        if g.principal.role not in ("admin", "operator"):
            abort(403)
        form = request.form
        try:
            lat, lon = (float(form["lat"]), float(form["lon"])) if form.get("lat") and form.get("lon") else (None, None)
        except ValueError:
            lat = lon = None
        try:
            cameras.register(db(), form.get("code", ""), name=form.get("name", ""), source=form.get("source", ""),
                             unit_code=form.get("unit_code") or None, actor=g.principal.name,
                             location={"type": "Point", "coordinates": [lon, lat]} if lat is not None else None)
        except Invalid as exc:
            db().rollback()
            flash(_("The camera is not valid") + ": " + "; ".join(f"{k}: {v}" for k, v in
                                                                  exc.details.get("fields", {}).items()), "error")
        else:
            db().commit()
            flash(_("Camera saved"), "ok")
            return redirect(url_for("traffic_pages.camera", code=form.get("code", "").strip().upper()))
    rows = entities.listing(db(), "camera")
    return render_template("cameras.html", cameras=[(r, cameras.health_of(r), cameras.masked(
        (r.attributes or {}).get("source"))) for r in rows], can_edit=g.principal.role in ("admin", "operator"))


@bp.route("/cameras/<code>")
@page_auth()
def camera(code: str) -> Any:
    """A camera: its health, its live view with overlays, and its calibration drawn on a snapshot."""
    row = entities.get(db(), "camera", code)
    attributes = row.attributes or {}
    health = cameras.health_of(row)
    return render_template("camera.html", camera=row, health=health, health_at=cameras.health_time(health),
                           source=cameras.masked(attributes.get("source")),
                           calibration=attributes.get("calibration") or {},
                           can_edit=g.principal.role in ("admin", "operator"))


def _source_and_calibration(code: str) -> tuple[str, Any]:
    from connectors.camera.runner import calibration_from_dict

    row = entities.get(db(), "camera", code)
    attributes, source = row.attributes or {}, cameras.source_of(row)
    if not source:
        abort(404)
    try:
        calibration = calibration_from_dict(attributes["calibration"]) if attributes.get("calibration") else None
    except (KeyError, TypeError, ValueError):
        calibration = None
    return str(source), calibration


@bp.route("/cameras/<code>/snapshot.jpg")
@page_auth()
def snapshot(code: str) -> Any:
    """The camera's latest picture, to draw the calibration on (faces blurred), at once: kept in this process and
    read again in the background when older than 30 s (:mod:`connectors.camera.snapshots`). No picture yet, or
    none to be read: a placeholder, 503 with ``Retry-After``. ``X-Snapshot-State`` says which (fresh, stale,
    pending, unreachable) and ``X-Snapshot-Taken`` when the picture was read, for the page to tell the person."""
    from connectors.camera import snapshots

    source, cal = _source_and_calibration(code)
    shot = snapshots.latest(source, size=(cal.width, cal.height) if cal is not None else None)
    headers = {"Cache-Control": "no-store", "X-Snapshot-State": shot.state}
    if shot.taken is not None:
        headers["X-Snapshot-Taken"] = shot.taken.isoformat(timespec="seconds")
    else:
        headers["Retry-After"] = "1" if shot.state == "pending" else str(round(snapshots.RETRY_S))
    return Response(shot.jpeg, status=503 if shot.placeholder else 200, mimetype="image/jpeg", headers=headers)


_LIVE_VIEWERS = threading.BoundedSemaphore(int(os.environ.get("IOC_LIVE_VIEWERS", "4")))


class _ViewerSlot:
    """A live view's frames, holding one of the viewer slots until the server closes the response, whether the
    viewer watched to the end, left early, or left before the first frame (a plain generator's ``finally`` would
    not run in that last case, and the slot would be lost)."""

    def __init__(self, frames: Any) -> None:
        self.frames, self.held = frames, True

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> bytes:
        return bytes(next(self.frames))

    def close(self) -> None:
        self.frames.close()
        if self.held:
            self.held = False
            _LIVE_VIEWERS.release()


@bp.route("/cameras/<code>/live.mjpg")
@page_auth()
def live_view(code: str) -> Any:
    """The live view with its overlays as MJPEG; a few viewers at once (IOC_LIVE_VIEWERS, default 4), each for
    ten minutes at most, so that the web server keeps threads for everyone else."""
    from connectors.camera import live

    source, cal = _source_and_calibration(code)
    if cal is None:
        abort(409)
    if not _LIVE_VIEWERS.acquire(blocking=False):
        return render_template("error.html", code="too_many_viewers", status=429, details={},
                               message=_("Too many people are watching live views; try again in a minute")), 429
    try:
        seconds = min(600.0, max(1.0, float(request.args.get("seconds", "600"))))
    except ValueError:
        seconds = 600.0
    frames = live.overlay_jpegs(source, cal, seconds=seconds)

    def parts() -> Any:
        try:
            for jpeg in frames:
                yield b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: " + str(len(jpeg)).encode() + \
                    b"\r\n\r\n" + jpeg + b"\r\n"
        except ConnectionError:
            return

    stream = _ViewerSlot(parts())
    return Response(stream, mimetype="multipart/x-mixed-replace; boundary=frame",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
