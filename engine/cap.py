"""Alerts as OASIS CAP 1.2 messages and as an Atom feed, for warning systems outside the IOC. Pure: no I/O.

An alert is read as a mapping with the fields of ``engine.models.Alert`` (``id``, ``title``, ``severity``,
``status``, ``sector``, ``entity``, ``unit_code``, ``value``, ``count``, ``first_seen``, ``last_seen``,
``closed_at``) and optionally ``title_en``. Times may be datetimes (naive ones are UTC, as the database
stores them) or ISO 8601 strings; they are written in Asia/Ho_Chi_Minh time.

One alert gives up to three CAP messages, each with its own identifier: the first ``Alert`` (sent at
``first_seen``), ``Update`` once it repeated or is being handled (sent at ``last_seen``), and ``Cancel``
once it is closed. Update and Cancel name the first message in ``references``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # noqa: S405 - we only write XML here, never parse it
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
CAP_MIME = "application/cap+xml"
LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
IDENTIFIER_PREFIX = "ioc-thanhhoa-alert-"

SENDER_NAME = {"vi-VN": "UBND tỉnh Thanh Hóa – Trung tâm IOC",
               "en-US": "Thanh Hoa Provincial People's Committee – IOC"}
# IOC sector -> CAP <category>
CATEGORIES = {"environment": "Env", "traffic": "Transport", "fisheries": "Safety", "health": "Health",
              "public_order": "Security", "security": "Security"}
DEFAULT_CATEGORY = "Other"
# IOC severity -> CAP (urgency, severity, certainty)
SEVERITY_TERMS = {"khan_cap": ("Immediate", "Extreme", "Observed"),
                  "cao": ("Expected", "Severe", "Observed"),
                  "trung_binh": ("Expected", "Moderate", "Likely"),
                  "thap": ("Future", "Minor", "Likely")}
UNKNOWN_TERMS = ("Unknown", "Unknown", "Unknown")
SEVERITY_LABELS = {"khan_cap": "Khẩn cấp", "cao": "Cao", "trung_binh": "Trung bình", "thap": "Thấp"}
CLOSED_STATUSES = frozenset({"closed", "resolved"})
HANDLED_STATUSES = frozenset({"in_handling", "acknowledged"})

# Per-language wording: CAP <event> by sector, and the labels of the description lines.
EVENTS = {"vi-VN": {"environment": "Cảnh báo môi trường", "traffic": "Cảnh báo giao thông",
                    "fisheries": "Cảnh báo thủy sản, tàu cá", "health": "Cảnh báo y tế",
                    "public_order": "Cảnh báo an ninh trật tự", "": "Cảnh báo IOC"},
          "en-US": {"environment": "Environmental alert", "traffic": "Traffic alert",
                    "fisheries": "Fisheries alert", "health": "Health alert",
                    "public_order": "Public order alert", "": "IOC alert"}}
LABELS = {"vi-VN": {"value": "Giá trị", "entity": "Đối tượng", "unit": "Đơn vị hành chính",
                    "count": "Số lần ghi nhận", "first": "Ghi nhận lần đầu", "last": "Ghi nhận gần nhất"},
          "en-US": {"value": "Value", "entity": "Subject", "unit": "Administrative unit",
                    "count": "Times observed", "first": "First seen", "last": "Last seen"}}

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_CAP_ID_FORBIDDEN = re.compile(r"[\s,<&]")


def cap_identifier(alert_id: Any) -> str:
    """The identifier of an alert's first CAP message; Update and Cancel messages add a suffix to it."""
    return f"{IDENTIFIER_PREFIX}{alert_id}"


def msg_type(alert: Mapping[str, Any]) -> str:
    """``Cancel`` once closed, ``Update`` once repeated or being handled, else ``Alert``."""
    status = alert.get("status") or "firing"
    if status in CLOSED_STATUSES:
        return "Cancel"
    if status in HANDLED_STATUSES or int(alert.get("count") or 1) > 1:
        return "Update"
    return "Alert"


def cap_time(value: datetime | str) -> str:
    """A time as CAP wants it: local (+07:00) and without fractional seconds, e.g. 2025-07-01T14:30:00+07:00."""
    return _local(value).isoformat(timespec="seconds")


def cap_polygons(geometry: Mapping[str, Any]) -> list[str]:
    """CAP ``polygon`` values ("lat,lon lat,lon ...", closed) for a GeoJSON Polygon or MultiPolygon.

    GeoJSON positions are lon,lat; CAP pairs are lat,lon. Only outer rings are kept: CAP has no holes."""
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    if kind == "Polygon":
        rings = [coords[0]] if coords else []
    elif kind == "MultiPolygon":
        rings = [polygon[0] for polygon in coords or [] if polygon]
    else:
        raise ValueError(f"not a Polygon or MultiPolygon: {kind!r}")
    if not rings:
        raise ValueError("polygon without coordinates")
    return [_ring(ring) for ring in rings]


def cap_circle(geometry: Mapping[str, Any], radius_km: float) -> str:
    """The CAP ``circle`` value "lat,lon radius_km" for a GeoJSON Point and a radius in kilometres."""
    if geometry.get("type") != "Point":
        raise ValueError(f"a circle needs a Point, not {geometry.get('type')!r}")
    if radius_km < 0:
        raise ValueError("the radius must not be negative")
    return f"{_pair(geometry['coordinates'])} {_num(radius_km)}"


def alert_to_cap(alert: Mapping[str, Any], *, sender: str, base_url: str, lang: str = "vi-VN",
                 area: Mapping[str, Any] | None = None) -> bytes:
    """One alert as a CAP 1.2 message (UTF-8, with XML declaration).

    ``lang`` is the language of the main ``info`` (its text is the alert's own); a second, en-US ``info``
    is added when the alert has ``title_en``. ``area``: ``desc`` (and ``desc_en``), and optionally a
    GeoJSON ``geometry`` (Polygon, MultiPolygon, or Point with ``radius_km``)."""
    if not sender or _CAP_ID_FORBIDDEN.search(sender):
        raise ValueError("a CAP sender must not be empty or contain spaces, commas, '<' or '&'")
    kind, base = msg_type(alert), cap_identifier(alert["id"])
    sent = {"Alert": alert["first_seen"], "Update": alert["last_seen"],
            "Cancel": alert.get("closed_at") or alert["last_seen"]}[kind]
    identifier = {"Alert": base, "Update": f"{base}-update-{_stamp(sent)}", "Cancel": f"{base}-cancel"}[kind]
    root = ET.Element(_cap("alert"))
    for name, text in (("identifier", identifier), ("sender", sender), ("sent", cap_time(sent)),
                       ("status", "Actual"), ("msgType", kind), ("scope", "Public")):
        _sub(root, _cap(name), text)
    if kind != "Alert":
        _sub(root, _cap("references"), f"{sender},{base},{cap_time(alert['first_seen'])}")
    page = alert_page_url(base_url, alert["id"])
    _info(root, alert, lang, str(alert["title"]), page, area)
    if alert.get("title_en"):
        _info(root, alert, "en-US", str(alert["title_en"]), page, area)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True, default_namespace=CAP_NS)


def atom_feed(alerts: Sequence[Mapping[str, Any]], *, base_url: str, updated: datetime) -> bytes:
    """An Atom 1.0 feed of the alerts that are not closed, each linking its page and its CAP message."""
    base_url = base_url.rstrip("/")
    # Atom elements are written unqualified under an explicit default xmlns: ElementTree's default_namespace
    # option refuses the unqualified attributes (rel, href, term) that Atom uses.
    feed = ET.Element("feed", {"xmlns": ATOM_NS, XML_LANG: "vi-VN"})
    _sub(feed, "id", f"{base_url}/alerts")
    _sub(feed, "title", "Cảnh báo – Trung tâm IOC tỉnh Thanh Hóa")
    _sub(feed, "updated", cap_time(updated))
    _sub(ET.SubElement(feed, "author"), "name", SENDER_NAME["vi-VN"])
    ET.SubElement(feed, "link", rel="alternate", type="text/html", href=f"{base_url}/alerts")
    for alert in alerts:
        if (alert.get("status") or "firing") in CLOSED_STATUSES:
            continue
        entry = ET.SubElement(feed, "entry")
        page = alert_page_url(base_url, alert["id"])
        _sub(entry, "id", page)
        _sub(entry, "title", str(alert["title"]))
        _sub(entry, "updated", cap_time(alert["last_seen"]))
        _sub(entry, "published", cap_time(alert["first_seen"]))
        ET.SubElement(entry, "link", rel="alternate", type="text/html", href=page)
        ET.SubElement(entry, "link", rel="alternate", type=CAP_MIME,
                      href=f"{base_url}/api/v1/alerts/{alert['id']}/cap")
        _sub(entry, "summary", _description(alert, "vi-VN"))
        severity = str(alert.get("severity") or "")
        ET.SubElement(entry, "category", term=severity, label=SEVERITY_LABELS.get(severity, severity))
    return ET.tostring(feed, encoding="UTF-8", xml_declaration=True)


def alert_page_url(base_url: str, alert_id: Any) -> str:
    return f"{base_url.rstrip('/')}/alerts/{alert_id}"


def _info(root: ET.Element, alert: Mapping[str, Any], lang: str, title: str, page: str,
          area: Mapping[str, Any] | None) -> None:
    sector = str(alert.get("sector") or "")
    urgency, severity, certainty = SEVERITY_TERMS.get(str(alert.get("severity")), UNKNOWN_TERMS)
    events = EVENTS.get(lang, EVENTS["vi-VN"])
    info = ET.SubElement(root, _cap("info"))
    for name, text in (("language", lang), ("category", CATEGORIES.get(sector, DEFAULT_CATEGORY)),
                       ("event", events.get(sector, events[""])), ("urgency", urgency), ("severity", severity),
                       ("certainty", certainty), ("effective", cap_time(alert["first_seen"])),
                       ("onset", cap_time(alert["first_seen"])),
                       ("senderName", SENDER_NAME.get(lang, SENDER_NAME["vi-VN"])), ("headline", title),
                       ("description", _description(alert, lang)), ("web", page)):
        _sub(info, _cap(name), text)
    if area is not None:
        _area(info, area, lang)


def _area(info: ET.Element, area: Mapping[str, Any], lang: str) -> None:
    desc = (lang != "vi-VN" and area.get("desc_en")) or area.get("desc") or area.get("areaDesc")
    if not desc:
        raise ValueError("a CAP area needs a description (desc)")
    element = ET.SubElement(info, _cap("area"))
    _sub(element, _cap("areaDesc"), str(desc))
    geometry = area.get("geometry")
    if geometry and geometry.get("type") == "Feature":
        geometry = geometry.get("geometry")
    if not geometry:
        return
    if geometry.get("type") == "Point":
        if area.get("radius_km") is None:
            raise ValueError("a Point area needs radius_km")
        _sub(element, _cap("circle"), cap_circle(geometry, float(area["radius_km"])))
    else:
        for polygon in cap_polygons(geometry):
            _sub(element, _cap("polygon"), polygon)


def _description(alert: Mapping[str, Any], lang: str) -> str:
    labels = LABELS.get(lang, LABELS["vi-VN"])
    lines = []
    if alert.get("value") is not None:
        lines.append(f"{labels['value']}: {_num(float(alert['value']))}")
    if alert.get("entity"):
        lines.append(f"{labels['entity']}: {alert['entity']}")
    if alert.get("unit_code"):
        lines.append(f"{labels['unit']}: {alert['unit_code']}")
    lines.append(f"{labels['count']}: {int(alert.get('count') or 1)}")
    lines.append(f"{labels['first']}: {_human_time(alert['first_seen'])}")
    lines.append(f"{labels['last']}: {_human_time(alert['last_seen'])}")
    return "\n".join(lines)


def _ring(ring: Sequence[Sequence[float]]) -> str:
    pairs = [_pair(position) for position in ring]
    if len(set(pairs)) < 3:
        raise ValueError("a polygon needs at least three distinct points")
    if pairs[0] != pairs[-1]:
        pairs.append(pairs[0])
    return " ".join(pairs)


def _pair(position: Sequence[float]) -> str:
    lon, lat = float(position[0]), float(position[1])  # GeoJSON order; a third value (altitude) is ignored
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"coordinates out of range (GeoJSON is lon,lat): {list(position)}")
    return f"{_num(lat)},{_num(lon)}"


def _num(x: float) -> str:
    text = f"{x:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _local(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(LOCAL_TZ).replace(microsecond=0)


def _stamp(value: datetime | str) -> str:
    return _local(value).strftime("%Y%m%dT%H%M%S")


def _human_time(value: datetime | str) -> str:
    return _local(value).strftime("%H:%M:%S %d/%m/%Y (UTC+07:00)")


def _sub(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = _XML_ILLEGAL.sub("", text)
    return element


def _cap(name: str) -> str:
    return f"{{{CAP_NS}}}{name}"
