"""Which channels a user gets: their choice per severity, quiet hours (wrapping midnight), khẩn cấp override."""

from __future__ import annotations

import copy
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from engine.notify.preferences import DEFAULT_PREFERENCES, channels_for, in_quiet_hours, validate_preferences

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
ALL = ["in_app", "webpush", "email", "webhook"]
NIGHT_OWL = {"channels": {"thap": ["in_app", "email"], "cao": ["email"]}, "quiet_hours": "01:00-05:30"}


@pytest.mark.parametrize(("prefs", "severity", "at", "expected"), [
    # defaults, daytime: each severity gets more channels
    (None, "thap", time(10, 0), ["in_app"]),
    ({}, "trung_binh", time(10, 0), ["in_app", "webpush"]),
    ({}, "cao", time(21, 59), ["in_app", "webpush", "email"]),
    ({}, "khan_cap", time(12, 0), ALL),
    # default quiet hours 22:00-06:00 wrap midnight: start included, end excluded
    ({}, "cao", time(22, 0), ["in_app"]),
    ({}, "cao", time(23, 59), ["in_app"]),
    ({}, "cao", time(0, 0), ["in_app"]),
    ({}, "cao", time(5, 59), ["in_app"]),
    ({}, "cao", time(6, 0), ["in_app", "webpush", "email"]),
    ({}, "trung_binh", time(3, 0), ["in_app"]),
    # khẩn cấp overrides quiet hours
    ({}, "khan_cap", time(3, 0), ALL),
    (NIGHT_OWL | {"channels": {"khan_cap": ["email"]}}, "khan_cap", time(2, 0), ["email"]),
    # the user's own lists and window (not wrapping); missing severities fall back to the defaults
    (NIGHT_OWL, "thap", time(0, 30), ["in_app", "email"]),
    (NIGHT_OWL, "thap", time(1, 0), ["in_app"]),
    (NIGHT_OWL, "cao", time(3, 0), []),
    (NIGHT_OWL, "cao", time(5, 30), ["email"]),
    (NIGHT_OWL, "trung_binh", time(23, 0), ["in_app", "webpush"]),
    # quiet hours off, or unusable: everything chosen is delivered
    ({"quiet_hours": None}, "cao", time(23, 0), ["in_app", "webpush", "email"]),
    ({"quiet_hours": ""}, "cao", time(23, 0), ["in_app", "webpush", "email"]),
    ({"quiet_hours": "late"}, "cao", time(23, 0), ["in_app", "webpush", "email"]),
    # order is canonical, duplicates and unknown channels dropped
    ({"channels": {"cao": ["email", "sms", "in_app", "email"]}}, "cao", time(12, 0), ["in_app", "email"]),
    ({"channels": {"cao": []}}, "cao", time(12, 0), []),
    # seconds don't matter: 21:59:59 is not yet quiet
    ({}, "cao", time(21, 59, 59), ["in_app", "webpush", "email"]),
])
def test_channels_for(prefs: dict | None, severity: str, at: time, expected: list[str]) -> None:
    assert channels_for(prefs, severity, at) == expected


def test_channels_for_takes_an_aware_local_datetime() -> None:
    late = datetime(2026, 3, 1, 23, 15, tzinfo=HCM)
    assert channels_for({}, "cao", late) == ["in_app"]
    assert channels_for({}, "cao", late.replace(hour=9)) == ["in_app", "webpush", "email"]


def test_unknown_severity_is_refused() -> None:
    with pytest.raises(ValueError, match="severity"):
        channels_for({}, "urgent", time(12, 0))


@pytest.mark.parametrize(("window", "at", "quiet"), [
    ("22:00-06:00", time(21, 59), False), ("22:00-06:00", time(22, 0), True), ("22:00-06:00", time(6, 0), False),
    ("13:00-14:00", time(13, 30), True), ("13:00-14:00", time(14, 0), False), ("13:00-14:00", time(12, 59), False),
    ("00:00-23:59", time(23, 58), True), ("23:59-00:00", time(23, 59), True), ("23:59-00:00", time(0, 0), False),
    ("08:00-08:00", time(8, 0), False), (None, time(23, 0), False), ("24:00-06:00", time(1, 0), False),
])
def test_in_quiet_hours(window: str | None, at: time, quiet: bool) -> None:
    assert in_quiet_hours(window, at) is quiet


def test_defaults_are_valid_and_not_changed_by_use() -> None:
    before = copy.deepcopy(DEFAULT_PREFERENCES)
    assert validate_preferences(DEFAULT_PREFERENCES) == []
    channels_for(None, "khan_cap", time(3, 0))
    assert before == DEFAULT_PREFERENCES


@pytest.mark.parametrize(("prefs", "errors"), [
    ({}, []),
    ({"channels": {"thap": [], "cao": ["email"]}, "quiet_hours": "23:30-05:00"}, []),
    ({"quiet_hours": None}, []),
    ({"quiet_hours": ""}, []),
    ([], ["preferences must be an object"]),
    ({"channels": {"urgent": ["email"]}},
     ["unknown severity 'urgent' (expected one of thap, trung_binh, cao, khan_cap)"]),
    ({"channels": {"cao": ["sms", "email", "fax"]}},
     ["unknown channel 'sms' in channels.cao (expected one of in_app, webpush, email, webhook)",
      "unknown channel 'fax' in channels.cao (expected one of in_app, webpush, email, webhook)"]),
    ({"channels": {"cao": "email"}}, ["channels.cao must be a list of channel names"]),
    ({"channels": {"cao": [1]}}, ["channels.cao must be a list of channel names"]),
    ({"channels": ["email"]}, ["channels must be an object of severity → list of channels"]),
    ({"quiet_hours": "22h-6h"}, ["quiet_hours must look like 22:00-06:00, got '22h-6h'"]),
    ({"quiet_hours": "24:00-06:00"}, ["quiet_hours must look like 22:00-06:00, got '24:00-06:00'"]),
    ({"quiet_hours": "22:00-6:00"}, ["quiet_hours must look like 22:00-06:00, got '22:00-6:00'"]),
    ({"quiet_hours": 22}, ["quiet_hours must look like 22:00-06:00, got 22"]),
    ({"quiet_hours": "07:00-07:00"}, ["quiet_hours must start and end at different times"]),
    ({"language": "vi"}, ["unknown key 'language'"]),
])
def test_validate_preferences(prefs: object, errors: list[str]) -> None:
    assert validate_preferences(prefs) == errors
