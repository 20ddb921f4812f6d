"""Attachments on tasks: the type is read from the content, never the name, and the name is made to agree.

A file is kept under the SHA-256 of its bytes (``IOC_DATA_DIR/attachments/ab/abcd…``), never under a name
the sender chose; the sender's name is only display metadata, cleaned by ``display_name``. ``sniff`` reads
the kind from the first bytes (a table of signatures, then a look inside zip and OLE containers). What a
browser could run — HTML, SVG, XML, or text named as a script — is refused with ``active_content``; what is
not recognised is refused with ``unsupported_file``. The name's extension is replaced by the kind's (a PNG
sent as ``report.pdf`` is kept as ``report.png``). How the web layer serves each kind is in ``KINDS``.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit, bus
from engine.config import settings
from engine.errors import N_, Invalid, NotFound
from engine.models import Attachment, HumanTask
from engine.org import Principal
from engine.tasks import check_for, get_task

log = logging.getLogger(__name__)

MAX_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class Kind:
    media_type: str
    extensions: tuple[str, ...]  # the first is the one given to a name that has none of them
    inline: bool = False  # an image may be shown in the browser; everything else is only downloaded


_OOXML = "application/vnd.openxmlformats-officedocument."
KINDS = {
    "pdf": Kind("application/pdf", ("pdf",)),
    "png": Kind("image/png", ("png",), inline=True),
    "jpeg": Kind("image/jpeg", ("jpg", "jpeg"), inline=True),
    "gif": Kind("image/gif", ("gif",), inline=True),
    "webp": Kind("image/webp", ("webp",), inline=True),
    "docx": Kind(_OOXML + "wordprocessingml.document", ("docx",)),
    "xlsx": Kind(_OOXML + "spreadsheetml.sheet", ("xlsx",)),
    "pptx": Kind(_OOXML + "presentationml.presentation", ("pptx",)),
    "doc": Kind("application/msword", ("doc",)),
    "xls": Kind("application/vnd.ms-excel", ("xls",)),
    "ppt": Kind("application/vnd.ms-powerpoint", ("ppt",)),
    "mp4": Kind("video/mp4", ("mp4", "m4v")),
    "zip": Kind("application/zip", ("zip",)),
    "text": Kind("text/plain", ("txt",)),
    "csv": Kind("text/csv", ("csv",)),
}
# What a browser could run or render as a page: refused whatever the name says.
ACTIVE = {"html": "HTML", "svg": "SVG", "xml": "XML", "script": "JavaScript"}
# Text is only text: one of these names would have it run (by a browser, or by Windows on a double click).
SCRIPT_EXTENSIONS = frozenset({"js", "mjs", "cjs", "jsx", "html", "htm", "xhtml", "xht", "shtml", "mht", "mhtml",
                               "svg", "svgz", "xml", "xsl", "xslt", "hta", "vbs", "vbe", "wsf", "ps1", "bat", "cmd"})

TEXT_NAMES = {"txt": "text", "csv": "csv"}

# (kind, ((offset, bytes), …)): every pair must match. "zip", "ole" and "ftyp" are looked into further.
SIGNATURES: tuple[tuple[str, tuple[tuple[int, bytes], ...]], ...] = (
    ("pdf", ((0, b"%PDF-"),)),
    ("png", ((0, b"\x89PNG\r\n\x1a\n"),)),
    ("jpeg", ((0, b"\xff\xd8\xff"),)),
    ("gif", ((0, b"GIF87a"),)),
    ("gif", ((0, b"GIF89a"),)),
    ("webp", ((0, b"RIFF"), (8, b"WEBP"))),
    ("zip", ((0, b"PK\x03\x04"),)),
    ("ole", ((0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"),)),
    ("ftyp", ((4, b"ftyp"),)),
)
OOXML_PARTS = (("word/document.xml", "docx"), ("xl/workbook.xml", "xlsx"), ("ppt/presentation.xml", "pptx"))
OLE_STREAMS = (("WordDocument", "doc"), ("PowerPoint Document", "ppt"), ("Workbook", "xls"), ("Book", "xls"))
MP4_BRANDS = frozenset({b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V ", b"dash",
                        b"mmp4", b"MSNV"})
MARKUP = (b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<iframe", b"<object", b"<embed",
          b"<meta", b"<link", b"<style", b"<form", b"<img", b"<a ", b"<div", b"<svg", b"<math", b"javascript:")
_TEXT_CONTROLS = frozenset(b"\t\n\r\x0c\x1a")


def sniff(content: bytes) -> str | None:
    """What the bytes are: a key of ``KINDS`` or ``ACTIVE`` (html, svg, xml), or None when not recognised."""
    for kind, marks in SIGNATURES:
        if all(content[at:at + len(mark)] == mark for at, mark in marks):
            look_inside = CONTAINERS.get(kind)
            return look_inside(content) if look_inside else kind
    return _text_kind(content)


def _zip_kind(content: bytes) -> str | None:
    try:
        names = set(zipfile.ZipFile(io.BytesIO(content)).namelist())
    except (zipfile.BadZipFile, ValueError, EOFError):
        return None
    if "[Content_Types].xml" in names:
        return next((kind for part, kind in OOXML_PARTS if part in names), "zip")
    return "zip"


def _ole_kind(content: bytes) -> str | None:
    """A legacy Office file names its main stream in the directory (UTF-16); an installer or e-mail does not."""
    return next((kind for stream, kind in OLE_STREAMS if stream.encode("utf-16-le") + b"\x00\x00" in content), None)


def _ftyp_kind(content: bytes) -> str | None:
    return "mp4" if content[8:12] in MP4_BRANDS else None


def _text_kind(content: bytes) -> str | None:
    body = content.removeprefix(b"\xef\xbb\xbf")
    if not body or any(b < 0x20 and b not in _TEXT_CONTROLS for b in body[:65536]) or b"\x00" in body:
        return None
    lowered = body.lower()
    if b"<svg" in lowered:
        return "svg"
    if lowered.lstrip().startswith(b"<?xml"):
        return "xml"
    if lowered.lstrip().startswith(b"<") or any(mark in lowered for mark in MARKUP):
        return "html"
    return "text"


CONTAINERS = {"zip": _zip_kind, "ole": _ole_kind, "ftyp": _ftyp_kind}


def _extension(name: str) -> str:
    return name.rsplit(".", 1)[1].lower() if "." in name.strip(".") else ""


_KNOWN_EXTENSIONS = frozenset(e for k in KINDS.values() for e in k.extensions) | SCRIPT_EXTENSIONS
_RESERVED = re.compile(r'[<>:"/\\|?*]')


def _clean(filename: str) -> str:
    """No folder, no control, invisible or direction characters (``cod.exe`` shown as ``exe.doc``), none that
    Windows refuses in a name, no leading or trailing dots and spaces."""
    name = unicodedata.normalize("NFC", filename.replace("\\", "/").rsplit("/", 1)[-1])
    name = _RESERVED.sub("_", "".join(c for c in name if c.isprintable()))
    return " ".join(name.split()).strip(" .")


def display_name(filename: str, kind: str) -> str:
    """The sender's name, cleaned, with an extension of ``kind``: ``report.pdf`` holding a PNG is ``report.png``."""
    name = _clean(filename)
    ext = _extension(name)
    stem = name[: -len(ext) - 1] if ext in _KNOWN_EXTENSIONS else name
    if ext not in KINDS[kind].extensions:
        ext = KINDS[kind].extensions[0]
    return f"{stem.strip(' .')[: 250 - len(ext)] or 'tệp'}.{ext}"


def checked_kind(filename: str, content: bytes) -> str:
    """The kind of an upload, or the 422 that says why it is refused."""
    name = _clean(filename)
    kind = sniff(content)
    if kind == "text":  # text has no signature: its name must say text (a "report.pdf" of text is no report)
        ext = _extension(name)
        kind = "script" if ext in SCRIPT_EXTENSIONS else TEXT_NAMES.get(ext)
    if kind in ACTIVE:
        raise Invalid(N_("This file holds %(kind)s, which a browser could run: it cannot be attached. Send it as "
                         "PDF, an image or an Office document"), code="active_content", kind=ACTIVE[kind],
                      details={"kind": kind, "filename": name[:255]})
    if kind is None:
        raise Invalid(N_("Only PDF, Office (DOCX, XLSX, PPTX, DOC, XLS, PPT), image (PNG, JPEG, GIF, WebP), text or "
                         "CSV (named .txt or .csv), MP4 and ZIP files can be attached (read from the content)"),
                      code="unsupported_file", details={"filename": name[:255], "accepted": sorted(KINDS)})
    return kind


def storage_dir() -> Path:
    return settings().data_dir / "attachments"


def attach(session: Session, task_id: int, principal: Principal, filename: str, content: bytes) -> Attachment:
    """A file added to a task's record: by those whose task it is (a leader or administrator takes it over
    first, as for completing it)."""
    task = get_task(session, task_id, principal)
    check_for(principal, task, session)
    return attach_to(session, task, principal, filename, content)


def attach_to(session: Session, task: HumanTask, principal: Principal, filename: str, content: bytes) -> Attachment:
    """The file stored and recorded on ``task``; for the engine's own actions (a directive's document goes onto the
    tasks its issuing makes), which have checked who acts."""
    if len(content) > MAX_BYTES:
        raise Invalid(N_("The file is larger than %(n)s MB"), n=MAX_BYTES // (1024 * 1024))
    kind = checked_kind(filename, content)
    digest = hashlib.sha256(content).hexdigest()
    path = storage_dir() / digest[:2] / digest
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(content)
        tmp.replace(path)
    row = Attachment(task_id=task.id, filename=display_name(filename, kind), kind=kind, size=len(content),
                     sha256=digest, uploaded_by=principal.name)
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
    path = storage_dir() / row.sha256[:2] / row.sha256
    if not path.is_file():  # e.g. a database restored without its data directory (docs/guide-deployer.md)
        log.warning("attachment %s (task %s): its file %s is missing", row.id, row.task_id, path)
        raise NotFound(N_("The file of attachment %(id)s is missing from this instance's storage: an administrator "
                          "restores the attachments folder from the backup"), code="file_missing", id=attachment_id)
    return row, path
