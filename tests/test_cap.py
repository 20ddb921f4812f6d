"""CAP 1.2 messages and the Atom feed: checked against the OASIS schema, plus tables of cases for the mappings."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.cap import alert_to_cap, atom_feed, cap_circle, cap_polygons, cap_time, msg_type

pytestmark = pytest.mark.no_database  # pure: no database, no Redis (runs once, in the SQLite pass)

etree = pytest.importorskip("lxml.etree", reason="lxml is needed to parse and validate the XML")

CAP_XSD = Path("/work/shared/data/cap/cap12.xsd")
NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2", "atom": "http://www.w3.org/2005/Atom"}
SENDER = "ioc@thanhhoa.gov.vn"
BASE = "https://ioc.thanhhoa.gov.vn"
T0 = datetime(2026, 11, 25, 3, 0, 0, 123456, tzinfo=UTC)  # 10:00:00 in Thanh Hóa
SQUARE = {"type": "Polygon", "coordinates": [[[105.70, 19.80], [105.90, 19.80], [105.90, 19.70], [105.70, 19.70],
                                              [105.70, 19.80]]]}
TWO_PARTS = {"type": "MultiPolygon", "coordinates": [
    SQUARE["coordinates"],
    [[[106.00, 19.90], [106.10, 19.90], [106.10, 19.85]]],  # open ring: must be closed
]}
POINT = {"type": "Point", "coordinates": [105.776, 19.807]}
SAM_SON = "Thành phố Sầm Sơn, tỉnh Thanh Hóa"


def make_alert(**overrides: Any) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "id": 42, "rule_id": "water-level-alarm-3", "title": "Mực nước 6.3 m tại trạm Lý Nhân vượt báo động III",
        "severity": "cao", "status": "firing", "sector": "environment", "entity": "Lý Nhân", "unit_code": "16180",
        "value": 6.3, "count": 1, "first_seen": T0, "last_seen": T0, "closed_at": None,
    }
    alert.update(overrides)
    return alert


def parse(xml: bytes) -> Any:
    return etree.fromstring(xml)


def texts(root: Any, path: str) -> list[str]:
    return [e.text for e in root.iterfind(path, NS)]


@pytest.fixture(scope="module")
def cap_schema() -> Any:
    if not CAP_XSD.is_file():
        pytest.skip(f"the OASIS CAP 1.2 schema is not at {CAP_XSD}")
    return etree.XMLSchema(etree.parse(str(CAP_XSD)))


LATER = T0 + timedelta(hours=2)
CASES = {
    "khan_cap": (make_alert(severity="khan_cap"), None),
    "cao": (make_alert(severity="cao"), None),
    "trung_binh": (make_alert(severity="trung_binh"), None),
    "thap": (make_alert(severity="thap"), None),
    "unknown severity and sector": (make_alert(severity="???", sector="media"), None),
    "repeated": (make_alert(count=5, last_seen=LATER), None),
    "in handling": (make_alert(status="in_handling"), None),
    "closed": (make_alert(status="closed", count=2, last_seen=LATER, closed_at=LATER), None),
    "polygon": (make_alert(), {"desc": SAM_SON, "geometry": SQUARE}),
    "multipolygon": (make_alert(), {"desc": SAM_SON, "geometry": TWO_PARTS}),
    "circle": (make_alert(sector="fisheries"), {"desc": "Vùng biển Sầm Sơn", "geometry": POINT, "radius_km": 12.5}),
    "feature": (make_alert(), {"desc": SAM_SON, "geometry": {"type": "Feature", "geometry": SQUARE}}),
    "diacritics": (make_alert(title="Cảnh báo khẩn cấp: ngập lụt tại Thanh Hóa", severity="khan_cap"), None),
    "english too": (make_alert(title_en="Water level above alarm III"),
                    {"desc": SAM_SON, "desc_en": "Sam Son city", "geometry": SQUARE}),
    "string times": (make_alert(first_seen="2026-11-25T03:00:00.5Z", last_seen="2026-11-25T05:00:00+00:00",
                                count=2), None),
}


@pytest.mark.parametrize("name", list(CASES))
def test_cap_message_is_valid_cap_1_2(name: str, cap_schema: Any) -> None:
    alert, area = CASES[name]
    xml = alert_to_cap(alert, sender=SENDER, base_url=BASE, area=area)
    assert xml.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    doc = parse(xml)
    assert cap_schema.validate(doc), cap_schema.error_log.last_error
    assert doc.tag == "{urn:oasis:names:tc:emergency:cap:1.2}alert"


@pytest.mark.parametrize("severity, expected", [
    ("khan_cap", ["Immediate", "Extreme", "Observed"]),
    ("cao", ["Expected", "Severe", "Observed"]),
    ("trung_binh", ["Expected", "Moderate", "Likely"]),
    ("thap", ["Future", "Minor", "Likely"]),
    ("bogus", ["Unknown", "Unknown", "Unknown"]),
])
def test_severity_maps_to_urgency_severity_certainty(severity: str, expected: list[str]) -> None:
    info = parse(alert_to_cap(make_alert(severity=severity), sender=SENDER, base_url=BASE)).find("cap:info", NS)
    assert [info.findtext(f"cap:{n}", namespaces=NS) for n in ("urgency", "severity", "certainty")] == expected


@pytest.mark.parametrize("sector, category", [
    ("environment", "Env"), ("traffic", "Transport"), ("fisheries", "Safety"), ("health", "Health"),
    ("public_order", "Security"), ("education", "Other"), ("", "Other"),
])
def test_sector_maps_to_category(sector: str, category: str) -> None:
    doc = parse(alert_to_cap(make_alert(sector=sector), sender=SENDER, base_url=BASE))
    assert texts(doc, "cap:info/cap:category") == [category]


@pytest.mark.parametrize("overrides, kind, identifier, sent", [
    ({}, "Alert", "ioc-thanhhoa-alert-42", "2026-11-25T10:00:00+07:00"),
    ({"count": 3, "last_seen": LATER}, "Update", "ioc-thanhhoa-alert-42-update-20261125T120000",
     "2026-11-25T12:00:00+07:00"),
    ({"status": "in_handling"}, "Update", "ioc-thanhhoa-alert-42-update-20261125T100000",
     "2026-11-25T10:00:00+07:00"),
    ({"status": "closed", "closed_at": LATER + timedelta(minutes=5)}, "Cancel", "ioc-thanhhoa-alert-42-cancel",
     "2026-11-25T12:05:00+07:00"),
])
def test_message_type_identifier_and_references(overrides: dict[str, Any], kind: str, identifier: str,
                                                sent: str) -> None:
    alert = make_alert(**overrides)
    doc = parse(alert_to_cap(alert, sender=SENDER, base_url=BASE))
    assert msg_type(alert) == kind
    assert doc.findtext("cap:msgType", namespaces=NS) == kind
    assert doc.findtext("cap:identifier", namespaces=NS) == identifier
    assert doc.findtext("cap:sent", namespaces=NS) == sent
    original = parse(alert_to_cap(make_alert(), sender=SENDER, base_url=BASE))
    references = doc.findtext("cap:references", namespaces=NS)
    if kind == "Alert":
        assert references is None
    else:  # CAP: "sender,identifier,sent" of the message referred to
        assert references == "ioc@thanhhoa.gov.vn,ioc-thanhhoa-alert-42,2026-11-25T10:00:00+07:00"
        assert references == ",".join(original.findtext(f"cap:{n}", namespaces=NS)
                                      for n in ("sender", "identifier", "sent"))


def test_polygon_pairs_are_lat_lon_and_closed() -> None:
    assert cap_polygons(SQUARE) == ["19.8,105.7 19.8,105.9 19.7,105.9 19.7,105.7 19.8,105.7"]
    parts = cap_polygons(TWO_PARTS)
    assert parts[1] == "19.9,106 19.9,106.1 19.85,106.1 19.9,106"
    doc = parse(alert_to_cap(make_alert(), sender=SENDER, base_url=BASE,
                             area={"desc": SAM_SON, "geometry": TWO_PARTS}))
    polygons = texts(doc, "cap:info/cap:area/cap:polygon")
    assert polygons == parts
    for polygon in polygons:
        pairs = [tuple(float(x) for x in p.split(",")) for p in polygon.split(" ")]
        assert pairs[0] == pairs[-1] and len(pairs) >= 4
        assert all(19 < lat < 21 and 105 < lon < 107 for lat, lon in pairs)  # Thanh Hóa: lat ~19-20, lon ~105-106


def test_circle_is_lat_lon_radius_km() -> None:
    assert cap_circle(POINT, 12.5) == "19.807,105.776 12.5"
    doc = parse(alert_to_cap(make_alert(), sender=SENDER, base_url=BASE,
                             area={"desc": "Vùng biển", "geometry": POINT, "radius_km": 12.5}))
    assert texts(doc, "cap:info/cap:area/cap:circle") == ["19.807,105.776 12.5"]
    assert texts(doc, "cap:info/cap:area/cap:polygon") == []


def test_no_area_gives_no_area_element() -> None:
    doc = parse(alert_to_cap(make_alert(), sender=SENDER, base_url=BASE))
    assert doc.find("cap:info/cap:area", NS) is None


@pytest.mark.parametrize("area, message", [
    ({"desc": "x", "geometry": {"type": "Polygon", "coordinates": [[[105.7, 19.8], [105.8, 19.8], [105.7, 19.8]]]}},
     "three distinct"),
    ({"desc": "x", "geometry": {"type": "Point", "coordinates": [19.8, 105.7]}, "radius_km": 1}, "lon,lat"),
    ({"desc": "x", "geometry": POINT}, "radius_km"),
    ({"desc": "x", "geometry": {"type": "LineString", "coordinates": [[105.7, 19.8], [105.8, 19.8]]}}, "Polygon"),
    ({"geometry": SQUARE}, "description"),
])
def test_bad_areas_are_refused(area: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        alert_to_cap(make_alert(), sender=SENDER, base_url=BASE, area=area)


@pytest.mark.parametrize("sender", ["", "ioc thanhhoa", "ioc,thanhhoa", "a&b"])
def test_sender_with_forbidden_characters_is_refused(sender: str) -> None:
    with pytest.raises(ValueError, match="sender"):
        alert_to_cap(make_alert(), sender=sender, base_url=BASE)


@pytest.mark.parametrize("title", [
    "Cảnh báo khẩn cấp: ngập lụt tại Thanh Hóa",
    unicodedata.normalize("NFD", "Cảnh báo khẩn cấp: ngập lụt tại Thanh Hóa"),  # decomposed stays decomposed
    "Sạt lở đất ở Mường Lát — mức khẩn cấp <cao> & nguy hiểm",
])
def test_vietnamese_text_round_trips_byte_exactly(title: str) -> None:
    xml = alert_to_cap(make_alert(title=title), sender=SENDER, base_url=BASE, area={"desc": SAM_SON})
    assert SAM_SON.encode() in xml
    if "<" not in title:
        assert title.encode("utf-8") in xml
    doc = parse(xml)
    assert doc.findtext("cap:info/cap:headline", namespaces=NS) == title
    assert doc.findtext("cap:info/cap:area/cap:areaDesc", namespaces=NS) == SAM_SON
    assert doc.findtext("cap:info/cap:senderName", namespaces=NS) == "UBND tỉnh Thanh Hóa – Trung tâm IOC"
    assert doc.findtext("cap:info/cap:language", namespaces=NS) == "vi-VN"


def test_control_characters_are_dropped_so_the_xml_stays_well_formed() -> None:
    doc = parse(alert_to_cap(make_alert(title="Trạm\x00 Hàm\x1b Rồng"), sender=SENDER, base_url=BASE))
    assert doc.findtext("cap:info/cap:headline", namespaces=NS) == "Trạm Hàm Rồng"


def test_description_and_web_link() -> None:
    alert = make_alert(count=3, last_seen=LATER)
    info = parse(alert_to_cap(alert, sender=SENDER, base_url=BASE + "/")).find("cap:info", NS)
    assert info.findtext("cap:description", namespaces=NS).splitlines() == [
        "Giá trị: 6.3", "Đối tượng: Lý Nhân", "Đơn vị hành chính: 16180", "Số lần ghi nhận: 3",
        "Ghi nhận lần đầu: 10:00:00 25/11/2026 (UTC+07:00)", "Ghi nhận gần nhất: 12:00:00 25/11/2026 (UTC+07:00)"]
    assert info.findtext("cap:web", namespaces=NS) == "https://ioc.thanhhoa.gov.vn/alerts/42"
    assert info.findtext("cap:effective", namespaces=NS) == "2026-11-25T10:00:00+07:00"
    assert info.findtext("cap:event", namespaces=NS) == "Cảnh báo môi trường"


def test_english_info_is_added_when_title_en_is_given() -> None:
    area = {"desc": SAM_SON, "desc_en": "Sam Son city", "geometry": SQUARE}
    doc = parse(alert_to_cap(make_alert(title_en="Water level above alarm III"), sender=SENDER, base_url=BASE,
                             area=area))
    assert texts(doc, "cap:info/cap:language") == ["vi-VN", "en-US"]
    assert texts(doc, "cap:info/cap:headline")[1] == "Water level above alarm III"
    assert texts(doc, "cap:info/cap:area/cap:areaDesc") == [SAM_SON, "Sam Son city"]
    assert texts(doc, "cap:info/cap:area/cap:polygon")[0] == texts(doc, "cap:info/cap:area/cap:polygon")[1]
    assert doc.findall("cap:info", NS)[1].findtext("cap:description", namespaces=NS).startswith("Value: 6.3")


@pytest.mark.parametrize("value, expected", [
    (datetime(2026, 11, 25, 3, 0, 0, 999999, tzinfo=UTC), "2026-11-25T10:00:00+07:00"),
    (datetime(2026, 11, 25, 20, 30), "2026-11-26T03:30:00+07:00"),  # naive: UTC, as stored
    ("2026-11-25T08:15:00+07:00", "2026-11-25T08:15:00+07:00"),
    ("2026-11-25T01:15:00Z", "2026-11-25T08:15:00+07:00"),
])
def test_cap_time_is_local_without_fraction(value: datetime | str, expected: str) -> None:
    assert cap_time(value) == expected
    assert re.fullmatch(r"\d\d\d\d-\d\d-\d\dT\d\d:\d\d:\d\d[-,+]\d\d:\d\d", expected)


def test_atom_feed_lists_open_alerts_with_links_to_page_and_cap() -> None:
    alerts = [make_alert(id=1, title="VN_AQI 182 tại trạm Thanh Hóa", severity="cao"),
              make_alert(id=2, title="Tàu cá mất tín hiệu — khẩn cấp", severity="khan_cap", status="in_handling",
                         last_seen=LATER),
              make_alert(id=3, title="Đã xử lý xong", status="closed", closed_at=LATER)]
    xml = atom_feed(alerts, base_url=BASE, updated=LATER)
    assert "VN_AQI 182 tại trạm Thanh Hóa".encode() in xml
    feed = parse(xml)
    assert feed.tag == "{http://www.w3.org/2005/Atom}feed"
    for name in ("id", "title", "updated", "author/atom:name"):
        assert feed.findtext(f"atom:{name}", namespaces=NS)
    assert feed.findtext("atom:updated", namespaces=NS) == "2026-11-25T12:00:00+07:00"
    entries = feed.findall("atom:entry", NS)
    assert [e.findtext("atom:title", namespaces=NS) for e in entries] == [
        "VN_AQI 182 tại trạm Thanh Hóa", "Tàu cá mất tín hiệu — khẩn cấp"]
    second = entries[1]
    assert second.findtext("atom:id", namespaces=NS) == f"{BASE}/alerts/2"
    assert second.findtext("atom:updated", namespaces=NS) == "2026-11-25T12:00:00+07:00"
    links = {link.get("type"): link.get("href") for link in second.findall("atom:link", NS)}
    assert links == {"text/html": f"{BASE}/alerts/2", "application/cap+xml": f"{BASE}/api/v1/alerts/2/cap"}
    category = second.find("atom:category", NS)
    assert (category.get("term"), category.get("label")) == ("khan_cap", "Khẩn cấp")
    assert "Số lần ghi nhận: 1" in second.findtext("atom:summary", namespaces=NS)


def test_empty_atom_feed_is_still_a_feed() -> None:
    feed = parse(atom_feed([], base_url=BASE, updated=T0))
    assert feed.findall("atom:entry", NS) == []
    assert feed.findtext("atom:id", namespaces=NS) == f"{BASE}/alerts"
