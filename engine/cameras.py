"""Cameras as entities: where they are, what they read (a file, an RTSP URL, or the synthetic video), their
calibration (drawn in the web on a snapshot, checked before it is kept) and their health as their runners
report it. Registering, calibrating and health changes are audited.

A source that carries a password or a token (``rtsp://admin:p/ss@w0rd@host/…``, ``http://host/snap.jpg?pwd=…``) is
kept whole and encrypted in ``Entity.credentials``; the attributes keep only its masked copy, which is all that
anyone sees (API, pages, audit rows), whatever the role. Only the runner gets it back (:func:`source_of`)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit, bus, credentials, entities, secrets
from engine.db import utcnow
from engine.errors import N_, Invalid
from engine.models import Entity
from engine.text import nfc

CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,47}$")
SOURCE = re.compile(r"^(rtsp|rtsps|http|https)://\S+$|^synthetic:(360p|720p|1080p)$|^/\S+$")
HEALTH = ("ok", "unreachable", "stalled", "resolution_changed", "corrupt_frames", "stopped")
HEALTH_NAMES = {"ok": "Hoạt động bình thường", "unreachable": "Không kết nối được", "stalled": "Luồng hình bị treo",
                "resolution_changed": "Độ phân giải thay đổi", "corrupt_frames": "Có khung hình lỗi",
                "stopped": "Đã dừng", "unknown": "Chưa có báo cáo"}


def masked(source: str | None) -> str:
    """The source as shown to people: its password and tokens replaced by ***."""
    return credentials.masked(source)


def source_of(row: Entity) -> str | None:
    """The camera's source in full, passwords included: for the runner that opens it, never to be shown."""
    if row.credentials:
        return secrets.decrypt(row.credentials)
    source = (row.attributes or {}).get("source")
    return str(source) if source else None


def register(session: Session, code: str, *, name: str, source: str, unit_code: str | None = None,
             location: dict[str, Any] | None = None, actor: str) -> Entity:
    """Register a camera or change it. A source sent back as it was shown (``rtsp://admin:***@host/…``) keeps
    the stored password; one pointing to another host must carry its password again."""
    code, name, source = nfc(code.strip()).upper(), nfc(name), source.strip()
    problems = {}
    if not CODE.match(code):
        problems["code"] = "2–48 capital letters, digits, - or _"
    if not name.strip():
        problems["name"] = "required"
    existing = None if problems else session.scalar(
        select(Entity).where(Entity.kind == "camera", Entity.code == code))
    try:
        source = credentials.unmasked(source, source_of(existing) if existing is not None else None)
    except ValueError as exc:
        problems["source"] = str(exc)
    if "source" not in problems and not SOURCE.match(source):
        problems["source"] = "an rtsp://, http(s):// URL, a file path, or synthetic:720p"
    if problems:
        raise Invalid(N_("The camera is not valid"), details={"fields": problems})
    row = entities.get(session, "camera", code, create=True)
    row.name = name.strip()
    row.registered = True
    secret = credentials.has_secret(source)
    row.credentials = secrets.encrypt(source) if secret else None
    row.attributes = {**(row.attributes or {}), "source": masked(source),
                      **({"location": location} if location else {})}
    if unit_code:
        row.unit_code = unit_code
    audit.record(session, actor, "camera.registered", "camera", code, name=row.name, source=masked(source),
                 credentials=secret)
    bus.publish(session, "entities.registered", entity_kind="camera", added=1, updated=0)
    return row


def check_calibration(data: dict[str, Any]) -> list[str]:
    """Every problem of a calibration as sent by the editor (empty when usable); never raises."""
    from connectors.camera.runner import calibration_from_dict

    try:
        calibration_from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        text = str(exc)
        return text.split("; ") if isinstance(exc, ValueError) else [f"missing or malformed: {text}"]
    return []


def save_calibration(session: Session, code: str, data: dict[str, Any], *, actor: str) -> Entity:
    """Keep a calibration once it is valid; the one it replaces stays in the audit trail."""
    row = entities.get(session, "camera", code)
    problems = check_calibration(data)
    if problems:
        raise Invalid(N_("The calibration cannot be used"), details={"problems": problems})
    previous = (row.attributes or {}).get("calibration")
    row.attributes = {**(row.attributes or {}), "calibration": data}
    audit.record(session, actor, "camera.calibrated", "camera", code, previous=previous,
                 lines=len(data.get("counting_lines") or []) + (1 if data.get("stop_line") else 0),
                 lanes=len(data.get("lanes") or []), zones=len(data.get("zones") or []))
    return row


def report_health(session: Session, code: str, status: str, detail: str = "", *, at: datetime | None = None,
                  fps: float | None = None) -> Entity:
    """A runner says how its camera is; a change of status is audited and published for the wall."""
    if status not in HEALTH:
        raise Invalid(N_("Unknown camera health %(status)s"), status=status)
    row = entities.lock(session, "camera", code) or entities.get(session, "camera", code, create=True)
    latest = dict(row.latest or {})
    before = (latest.get("health") or {}).get("status")
    latest["health"] = {"status": status, "detail": detail[:300], "at": (at or utcnow()).isoformat(),
                        **({"fps": round(fps, 1)} if fps is not None else {})}
    row.latest = latest
    if before != status:
        audit.record(session, "cameras", "camera.health", "camera", code, status=status, before=before,
                     detail=detail[:300])
        bus.publish(session, "camera.health", camera=code, status=status)
    return row


def health_of(row: Entity) -> dict[str, Any]:
    health = dict((row.latest or {}).get("health") or {"status": "unknown"})
    health["name"] = HEALTH_NAMES.get(health["status"], health["status"])
    return health


def health_time(health: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(health["at"])) if health.get("at") else None
    except ValueError:
        return None
