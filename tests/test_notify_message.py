"""Notification texts (Vietnamese with diacritics, English), delivery ids, and the retry schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.notify.backoff import MAX_ATTEMPTS, next_attempt
from engine.notify.message import build_message, dedupe_id, push_payload

pytestmark = pytest.mark.no_database  # pure: no database, no Redis (runs once, in the SQLite pass)

ALERT = {
    "id": 42, "title": "AQI vượt ngưỡng tại trạm Đông Hà", "severity": "khan_cap", "status": "firing",
    "sector": "environment", "entity": "Trạm Đông Hà", "value": 312.5,
    "first_seen": datetime(2026, 3, 1, 23, 5, tzinfo=UTC),  # 06:05 next day in Hồ Chí Minh City (UTC+7)
    "last_seen": "2026-03-02T01:40:00Z", "count": 1234, "url": "https://ioc.example.vn/alerts/42",
}

BODY_VI = """Cảnh báo mới: AQI vượt ngưỡng tại trạm Đông Hà

Mức độ: khẩn cấp
Trạng thái: mới phát sinh
Lĩnh vực: Môi trường
Đối tượng: Trạm Đông Hà
Giá trị: 312,5
Lần đầu: 02/03/2026 06:05
Lần gần nhất: 02/03/2026 08:40
Số lần: 1.234
Xem chi tiết: https://ioc.example.vn/alerts/42
"""

BODY_EN = """New alert: AQI vượt ngưỡng tại trạm Đông Hà

Severity: critical
Status: firing
Sector: Environment
Entity: Trạm Đông Hà
Value: 312.5
First seen: 02/03/2026 06:05
Last seen: 02/03/2026 08:40
Occurrences: 1,234
Details: https://ioc.example.vn/alerts/42
"""


def test_full_message_in_vietnamese_and_english() -> None:
    vi = build_message(ALERT, "opened")
    assert vi.subject == "[Khẩn cấp] Cảnh báo mới: AQI vượt ngưỡng tại trạm Đông Hà"
    assert vi.body == BODY_VI
    assert vi.short == "Mức độ: khẩn cấp · Môi trường · Trạm Đông Hà"
    en = build_message(ALERT, "opened", lang="en")
    assert en.subject == "[Critical] New alert: AQI vượt ngưỡng tại trạm Đông Hà"
    assert en.body == BODY_EN
    assert push_payload(en) == {"title": en.subject, "body": "Severity: critical · Environment · Trạm Đông Hà",
                                "url": "https://ioc.example.vn/alerts/42", "tag": "ioc-alert-42"}


@pytest.mark.parametrize(("change", "severity", "lang", "subject"), [
    ("opened", "thap", "vi", "[Thấp] Cảnh báo mới: Mưa lớn"),
    ("escalated", "trung_binh", "vi", "[Trung bình] Cảnh báo tăng mức độ: Mưa lớn"),
    ("acknowledged", "cao", "vi", "[Cao] Cảnh báo đã được tiếp nhận: Mưa lớn"),
    ("resolved", "cao", "vi", "[Cao] Cảnh báo đã được xử lý: Mưa lớn"),
    ("closed", "khan_cap", "vi", "[Khẩn cấp] Cảnh báo đã đóng: Mưa lớn"),
    ("opened", "thap", "en", "[Low] New alert: Mưa lớn"),
    ("escalated", "trung_binh", "en", "[Medium] Alert escalated: Mưa lớn"),
    ("acknowledged", "cao", "en", "[High] Alert acknowledged: Mưa lớn"),
    ("resolved", "cao", "en", "[High] Alert resolved: Mưa lớn"),
    ("closed", "khan_cap", "en", "[Critical] Alert closed: Mưa lớn"),
])
def test_subject_per_change_and_severity(change: str, severity: str, lang: str, subject: str) -> None:
    assert build_message({"id": 1, "title": "Mưa lớn", "severity": severity}, change, lang=lang).subject == subject


@pytest.mark.parametrize(("extra", "lang", "line"), [
    ({"value": 7}, "vi", "Giá trị: 7"),
    ({"value": 1234567.891}, "vi", "Giá trị: 1.234.567,89"),
    ({"value": 1234567.891}, "en", "Value: 1,234,567.89"),
    ({"value": 0.5}, "vi", "Giá trị: 0,5"),
    ({"value": 2.0}, "en", "Value: 2"),
    ({"status": "in_handling"}, "vi", "Trạng thái: đang xử lý"),
    ({"sector": "traffic"}, "vi", "Lĩnh vực: Giao thông và trật tự công cộng"),
    ({"sector": "ports"}, "vi", "Lĩnh vực: ports"),  # unknown sectors shown as stored
    ({"first_seen": datetime(2026, 12, 31, 17, 0)}, "vi", "Lần đầu: 01/01/2027 00:00"),  # naive = UTC
    ({"first_seen": "2026-06-15T09:30:00+07:00"}, "en", "First seen: 15/06/2026 09:30"),
])
def test_field_formatting(extra: dict, lang: str, line: str) -> None:
    body = build_message({"id": 1, "title": "t", "severity": "cao"} | extra, "opened", lang=lang).body
    assert line in body.splitlines()


def test_missing_fields_leave_their_lines_out() -> None:
    msg = build_message({"id": 5, "title": "Mất kết nối camera", "severity": "thap"}, "closed")
    assert msg.body == "Cảnh báo đã đóng: Mất kết nối camera\n\nMức độ: thấp\n"
    assert msg.url is None


@pytest.mark.parametrize(("change", "lang"), [("reopened", "vi"), ("opened", "fr")])
def test_unknown_change_or_language_is_refused(change: str, lang: str) -> None:
    with pytest.raises(ValueError):
        build_message(ALERT, change, lang=lang)


def test_dedupe_id_is_stable_across_processes_and_versions() -> None:
    # A fixed value: changing the recipe would re-send every notification still in the outbox.
    assert dedupe_id(42, "opened", 7, "email") == dedupe_id("42", "opened", "7", "email")
    assert dedupe_id(42, "opened", 7, "email") == "8789e0ca8bf981eb79b0d4054677e0f32f85633b08dca9d9595107d85bb77d4d"


@pytest.mark.parametrize(("alert_id", "change", "user_id", "channel", "revision"), [
    (43, "opened", 7, "email", None), (42, "closed", 7, "email", None), (42, "opened", 8, "email", None),
    (42, "opened", 7, "webpush", None), (42, "opened", 7, "email", "cao"), (4, "opened", 27, "email", None),
])
def test_dedupe_id_differs_when_anything_differs(alert_id: int, change: str, user_id: int, channel: str,
                                                 revision: str | None) -> None:
    assert dedupe_id(alert_id, change, user_id, channel, revision=revision) != dedupe_id(42, "opened", 7, "email")


def test_dedupe_id_revision_tells_escalations_apart() -> None:
    assert dedupe_id(1, "escalated", 2, "email", revision="cao") != dedupe_id(1, "escalated", 2, "email",
                                                                               revision="khan_cap")


@pytest.mark.parametrize(("change", "channel"), [("deleted", "email"), ("opened", "sms")])
def test_dedupe_id_refuses_unknown_names(change: str, channel: str) -> None:
    with pytest.raises(ValueError):
        dedupe_id(1, change, 2, channel)


NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(("attempt", "delay"), [
    (1, timedelta(seconds=30)), (2, timedelta(minutes=2)), (3, timedelta(minutes=8)),
    (4, timedelta(minutes=30)), (5, timedelta(hours=2)), (6, None), (7, None), (100, None),
])
def test_backoff_schedule(attempt: int, delay: timedelta | None) -> None:
    assert next_attempt(attempt, NOW) == (None if delay is None else NOW + delay)


def test_backoff_gives_up_after_six_attempts() -> None:
    tries = [a for a in range(1, 20) if next_attempt(a, NOW) is not None]
    assert MAX_ATTEMPTS == 6 and len(tries) + 1 == 6


def test_backoff_attempt_counts_from_one() -> None:
    with pytest.raises(ValueError):
        next_attempt(0, NOW)
