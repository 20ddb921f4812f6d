"""Attachments on tasks: PDF, DOCX, XLSX, PNG and JPEG, recognised from their content, never their name."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit, bus
from engine.config import settings
from engine.errors import N_, Invalid, NotFound
from engine.models import Attachment
from engine.org import Principal
from engine.tasks import get_task

MAX_BYTES = 20 * 1024 * 1024
MEDIA_TYPES = {"pdf": "application/pdf", "png": "image/png", "jpeg": "image/jpeg",
               "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def kind_of(content: bytes) -> str | None:
    """What the bytes are, from their signature (and, for Office files, the parts inside the zip)."""
    if content.startswith(b"%PDF-"):
        return "pdf"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if content.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if content.startswith(b"PK\x03\x04"):
        try:
            names = set(zipfile.ZipFile(io.BytesIO(content)).namelist())
        except zipfile.BadZipFile:
            return None
        if "word/document.xml" in names:
            return "docx"
        if "xl/workbook.xml" in names:
            return "xlsx"
    return None


def storage_dir() -> Path:
    return settings().data_dir / "attachments"


def _safe_name(filename: str) -> str:
    name = Path(filename.replace("\\", "/")).name.strip() or "file"
    return "".join(c for c in name if c.isprintable())[:255]


def attach(session: Session, task_id: int, principal: Principal, filename: str, content: bytes) -> Attachment:
    task = get_task(session, task_id, principal)
    if len(content) > MAX_BYTES:
        raise Invalid(N_("The file is larger than %(n)s MB"), n=MAX_BYTES // (1024 * 1024))
    kind = kind_of(content)
    if kind is None:
        raise Invalid(N_("Only PDF, DOCX, XLSX, PNG and JPEG files can be attached (read from the content)"),
                      code="unsupported_file")
    digest = hashlib.sha256(content).hexdigest()
    path = storage_dir() / digest[:2] / digest
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(content)
        tmp.replace(path)
    row = Attachment(task_id=task.id, filename=_safe_name(filename), kind=kind, size=len(content), sha256=digest,
                     uploaded_by=principal.name)
    session.add(row)
    session.flush()
    audit.record(session, principal.name, "task.attached", "human_task", task.id, instance_id=task.instance_id,
                 attachment_id=row.id, filename=row.filename, kind=kind, size=len(content))
    bus.publish(session, "task.attached", task_id=task.id, instance_id=task.instance_id,
                department_id=task.candidate_department_id, role=task.candidate_role)
    return row


def for_task(session: Session, task_id: int, principal: Principal) -> list[Attachment]:
    task = get_task(session, task_id, principal)
    return list(session.scalars(select(Attachment).where(Attachment.task_id == task.id).order_by(Attachment.id)))


def open_attachment(session: Session, attachment_id: int, principal: Principal) -> tuple[Attachment, Path]:
    row = session.get(Attachment, attachment_id)
    if row is None:
        raise NotFound(N_("No attachment %(id)s"), id=attachment_id)
    get_task(session, row.task_id, principal)  # the same people who see the task see its files
    return row, storage_dir() / row.sha256[:2] / row.sha256
