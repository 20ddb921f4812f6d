"""Cameras over HTTP: registering one, keeping its calibration (checked first: a line outside the image is refused
with its name), and runners on other machines reporting its health."""

from __future__ import annotations

import re
from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine import audit, cameras, entities
from engine.errors import N_, Invalid
from web.api.schemas import Strict
from web.auth import api_auth, principal
from web.db import db

PREFIX = "/cameras"
blp = Blueprint("cameras", __name__, description="AI traffic cameras: registry, calibration, health")
KEEPERS = ("admin", "operator")


class CameraIn(Strict):
    code = fields.String(required=True, validate=validate.Length(min=2, max=48))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    source = fields.String(required=True, validate=validate.Length(min=3, max=500))
    unit_code = fields.String(load_default=None, validate=validate.Length(max=16))  # the column's length
    lat = fields.Float(load_default=None, validate=validate.Range(min=-90, max=90))
    lon = fields.Float(load_default=None, validate=validate.Range(min=-180, max=180))


class HealthIn(Strict):
    status = fields.String(required=True, validate=validate.OneOf(cameras.HEALTH))
    detail = fields.String(load_default="", validate=validate.Length(max=300))
    fps = fields.Float(load_default=None, validate=validate.Range(min=0))


class CameraOut(Schema):
    code = fields.String()
    name = fields.String()
    unit_code = fields.String(allow_none=True)
    source = fields.String()
    calibrated = fields.Boolean()
    health = fields.Dict()
    last_seen = fields.DateTime(allow_none=True)


class HealthOut(Schema):
    status = fields.String(metadata={"description": "ok, unreachable, stalled, resolution_changed, corrupt_frames, "
                                                    "stopped or unknown"})
    name = fields.String(metadata={"description": "the status in words (Vietnamese)"})
    detail = fields.String()
    at = fields.String(metadata={"description": "when the runner said it, ISO 8601 UTC"})
    fps = fields.Float()


class EvidenceOut(Schema):
    evidence = fields.String(metadata={"description": "the stored file, <camera>/<name>"})
    size = fields.Integer()


# A calibration is the editor's drawing, kept as it was sent once checked (engine.cameras.check_calibration).
CALIBRATION = {"type": "object", "description": "road, stop line, light region, lanes, counting lines, zones"}


def camera_out(row: Any) -> dict[str, Any]:
    attributes = row.attributes or {}
    return {"code": row.code, "name": row.name, "unit_code": row.unit_code,
            "source": cameras.masked(attributes.get("source")), "calibrated": bool(attributes.get("calibration")),
            "health": cameras.health_of(row), "last_seen": row.last_seen}


@blp.route("")
class Cameras(MethodView):
    @api_auth()
    @blp.response(200, CameraOut(many=True))
    def get(self) -> list[dict[str, Any]]:
        """The cameras, each with its health as its runner last reported it (passwords in sources masked)."""
        return [camera_out(r) for r in entities.listing(db(), "camera")]

    @api_auth(*KEEPERS)
    @blp.arguments(CameraIn)
    @blp.response(201, CameraOut)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Register a camera (or change its name and source): `source` is an rtsp:// or http(s):// URL, a file
        path on the runner's machine, or `synthetic:720p`. A password or token in it is kept encrypted and shown
        masked (`rtsp://admin:***@10.0.0.5/s1`); a source sent back masked keeps the stored one."""
        session = db()
        location = ({"type": "Point", "coordinates": [body["lon"], body["lat"]]}
                    if body["lat"] is not None and body["lon"] is not None else None)
        row = cameras.register(session, body["code"], name=body["name"], source=body["source"],
                               unit_code=body["unit_code"], location=location, actor=principal().name)
        session.commit()
        return camera_out(row)


@blp.route("/<code>/calibration")
class Calibration(MethodView):
    @api_auth()
    @blp.alt_response(200, schema=CALIBRATION, description="the calibration, or {}", success=True)
    def get(self, code: str) -> dict[str, Any]:
        """The camera's calibration (road, stop line, light region, lanes, counting lines, zones), or `{}`."""
        return dict((entities.get(db(), "camera", code).attributes or {}).get("calibration") or {})

    @api_auth(*KEEPERS)
    @blp.arguments(Schema.from_dict({}, name="CalibrationIn")(unknown="include"))  # type: ignore[call-arg]
    @blp.alt_response(200, schema=CALIBRATION, description="the calibration kept", success=True)
    def put(self, body: dict[str, Any], code: str) -> dict[str, Any]:
        """Keep a calibration drawn on a snapshot: every problem (a line outside the image, a lane with fewer
        than three points) is answered with 422 and `details.problems`; nothing is kept until it is usable."""
        session = db()
        row = cameras.save_calibration(session, code, body, actor=principal().name)
        session.commit()
        return dict((row.attributes or {}).get("calibration") or {})


@blp.route("/<code>/health")
class Health(MethodView):
    @api_auth(*KEEPERS)
    @blp.arguments(HealthIn)
    @blp.response(200, HealthOut)
    def post(self, body: dict[str, Any], code: str) -> dict[str, Any]:
        """A runner (on any machine, with a token) reports its camera's health: ok, unreachable, stalled,
        resolution_changed, corrupt_frames, stopped."""
        session = db()
        row = cameras.report_health(session, code, body["status"], body["detail"], fps=body["fps"])
        session.commit()
        return cameras.health_of(row)


EVIDENCE_NAME = re.compile(r"^\d{8}T\d{6}-\d+-[a-z_]+\.(jpg|avi)$")
EVIDENCE_MAX = 50 * 1024 * 1024


@blp.route("/<code>/evidence")
class Evidence(MethodView):
    @api_auth(*KEEPERS)
    @blp.response(201, EvidenceOut)
    def post(self, code: str) -> tuple[dict[str, Any], int]:
        """A runner on another machine uploads a violation's snapshot (JPEG) or clip (MJPEG AVI) as multipart
        `file`, named as its event's `evidence` or `clip` says (`20261125T081500-12-red_light.jpg`); kept for
        IOC_EVIDENCE_DAYS like local evidence."""
        from engine import traffic

        entities.get(db(), "camera", code)
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise Invalid(N_("Send the evidence as a multipart file named file"))
        name = upload.filename
        if not EVIDENCE_NAME.match(name):
            raise Invalid(N_("An evidence file is named like 20261125T081500-12-red_light.jpg"),
                          details={"filename": name})
        data = upload.read(EVIDENCE_MAX + 1)
        if len(data) > EVIDENCE_MAX:
            raise Invalid(N_("An evidence file is 50 MB at most"), details={"filename": name})
        looks_right = (data[:3] == b"\xff\xd8\xff" if name.endswith(".jpg")
                       else data[:4] == b"RIFF" and data[8:12] == b"AVI ")
        if not looks_right:
            raise Invalid(N_("The file is not what its name says (JPEG or AVI)"), details={"filename": name})
        folder = traffic.evidence_dir() / code
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
        session = db()
        audit.record(session, principal().name, "camera.evidence", "camera", code, file=name, size=len(data))
        session.commit()
        return {"evidence": f"{code}/{name}", "size": len(data)}, 201
