"""The text of an alert notification (Vietnamese first, English on request) and its delivery id.

``alert`` is a plain dict: id, title, severity, status, sector, entity, value, first_seen, last_seen, count,
url. Times may be datetimes or ISO strings (a time without a zone is UTC); they are shown in the local zone as
``dd/mm/yyyy HH:MM``. Missing entity, value, times or url leave their line out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from engine.isotime import parse_datetime
from engine.notify.preferences import CHANNELS

CHANGES = ("opened", "escalated", "acknowledged", "resolved", "closed")
LANGS = ("vi", "en")

SEVERITY_LABELS = {
    "vi": {"thap": "thấp", "trung_binh": "trung bình", "cao": "cao", "khan_cap": "khẩn cấp"},
    "en": {"thap": "low", "trung_binh": "medium", "cao": "high", "khan_cap": "critical"},
}
CHANGE_LABELS = {
    "vi": {"opened": "Cảnh báo mới", "escalated": "Cảnh báo tăng mức độ", "acknowledged": "Cảnh báo đã được tiếp nhận",
           "resolved": "Cảnh báo đã được xử lý", "closed": "Cảnh báo đã đóng"},
    "en": {"opened": "New alert", "escalated": "Alert escalated", "acknowledged": "Alert acknowledged",
           "resolved": "Alert resolved", "closed": "Alert closed"},
}
STATUS_LABELS = {
    "vi": {"firing": "mới phát sinh", "in_handling": "đang xử lý", "acknowledged": "đã tiếp nhận",
           "resolved": "đã xử lý xong", "closed": "đã đóng"},
    "en": {"firing": "firing", "in_handling": "in handling", "acknowledged": "acknowledged", "resolved": "resolved",
           "closed": "closed"},
}
# The same names as the web catalog (web/pages.py SECTORS and its Vietnamese translation).
SECTOR_LABELS = {
    "vi": {"environment": "Môi trường", "traffic": "Giao thông và trật tự công cộng", "fisheries": "Thủy sản",
           "socio_economic": "Chỉ tiêu kinh tế - xã hội", "government": "Chỉ số điều hành",
           "media": "Báo chí và mạng xã hội", "health": "Y tế", "education": "Giáo dục"},
    "en": {"environment": "Environment", "traffic": "Traffic and public order", "fisheries": "Fisheries",
           "socio_economic": "Socio-economic indicators", "government": "Government performance",
           "media": "Press and social media", "health": "Health", "education": "Education"},
}
FIELD_LABELS = {
    "vi": {"severity": "Mức độ", "status": "Trạng thái", "sector": "Lĩnh vực", "entity": "Đối tượng",
           "value": "Giá trị", "first_seen": "Lần đầu", "last_seen": "Lần gần nhất", "count": "Số lần",
           "url": "Xem chi tiết"},
    "en": {"severity": "Severity", "status": "Status", "sector": "Sector", "entity": "Entity", "value": "Value",
           "first_seen": "First seen", "last_seen": "Last seen", "count": "Occurrences", "url": "Details"},
}


@dataclass(frozen=True)
class Message:
    subject: str  # e-mail subject, push title
    body: str  # plain text, one field a line
    short: str  # one line for a push notification
    url: str | None
    tag: str  # groups a browser's notifications of one alert


def _local_time(value: Any, tz: ZoneInfo) -> str | None:
    when = parse_datetime(value) if isinstance(value, str) else value
    if not isinstance(when, datetime):
        return None
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when
    return when.astimezone(tz).strftime("%d/%m/%Y %H:%M")


def _number(value: Any, lang: str) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None if value is None else str(value)
    text = f"{value:,.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"
    return text.translate(str.maketrans(",.", ".,")) if lang == "vi" else text


def build_message(alert: Mapping[str, Any], change: str, lang: str = "vi", tz: str = "Asia/Ho_Chi_Minh") -> Message:
    """Subject and body for one alert state change, in ``lang`` ("vi" or "en")."""
    if change not in CHANGES:
        raise ValueError(f"unknown change {change!r}")
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}")
    zone = ZoneInfo(tz)
    severity = SEVERITY_LABELS[lang].get(alert.get("severity", ""), str(alert.get("severity", "")))
    title = str(alert.get("title", ""))
    headline = f"{CHANGE_LABELS[lang][change]}: {title}"
    fields = {
        "severity": severity,
        "status": STATUS_LABELS[lang].get(alert.get("status", ""), alert.get("status")),
        "sector": SECTOR_LABELS[lang].get(alert.get("sector", ""), alert.get("sector")),
        "entity": alert.get("entity"),
        "value": _number(alert.get("value"), lang),
        "first_seen": _local_time(alert.get("first_seen"), zone),
        "last_seen": _local_time(alert.get("last_seen"), zone),
        "count": _number(alert.get("count"), lang),
        "url": alert.get("url"),
    }
    labels = FIELD_LABELS[lang]
    lines = [headline, ""] + [f"{labels[k]}: {v}" for k, v in fields.items() if v not in (None, "")]
    short = " · ".join(str(v) for v in (f"{labels['severity']}: {severity}", fields["sector"], fields["entity"]) if v)
    subject = f"[{severity.capitalize()}] {headline}" if severity else headline
    return Message(subject=subject, body="\n".join(lines) + "\n", short=short, url=alert.get("url") or None,
                   tag=f"ioc-alert-{alert.get('id')}")


def push_payload(message: Message) -> dict[str, Any]:
    """What the service worker shows: title, body, url to open on click, tag."""
    return {"title": message.subject, "body": message.short, "url": message.url, "tag": message.tag}


def dedupe_id(alert_id: int | str, change: str, user_id: int | str, channel: str, *,
              revision: int | str | None = None) -> str:
    """A stable 64-hex id for one delivery: store it with a unique constraint to deliver at most once.
    ``revision`` tells apart repeats of one change on one alert (e.g. the new severity of each escalation)."""
    if change not in CHANGES:
        raise ValueError(f"unknown change {change!r}")
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    parts = ["ioc-notify-v1", str(alert_id), change, str(user_id), channel]
    if revision is not None:
        parts.append(str(revision))
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()
