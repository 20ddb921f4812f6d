"""Which channels a user gets for a notification: their choice per severity, narrowed during quiet hours.

A preferences dict (stored per user, JSON)::

    {"channels": {"thap": ["in_app"], ..., "khan_cap": ["in_app", "webpush", "email", "webhook"]},
     "quiet_hours": "22:00-06:00"}

Missing keys fall back to :data:`DEFAULT_PREFERENCES` (a missing severity too); ``"quiet_hours": null`` or
``""`` turns quiet hours off. During quiet hours (start included, end excluded, may wrap midnight) only
``in_app`` is delivered, except for khẩn cấp (``khan_cap``), which always gets every chosen channel.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, time
from typing import Any

SEVERITIES = ("thap", "trung_binh", "cao", "khan_cap")
CHANNELS = ("in_app", "webpush", "email", "webhook")
QUIET_CHANNELS = ("in_app",)
OVERRIDES_QUIET_HOURS = ("khan_cap",)

# Read-only by convention: copy.deepcopy it before storing or changing it.
DEFAULT_PREFERENCES: dict[str, Any] = {
    "channels": {
        "thap": ["in_app"],
        "trung_binh": ["in_app", "webpush"],
        "cao": ["in_app", "webpush", "email"],
        "khan_cap": ["in_app", "webpush", "email", "webhook"],
    },
    "quiet_hours": "22:00-06:00",
}

_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


def parse_quiet_hours(text: str) -> tuple[time, time] | None:
    """``"22:00-06:00"`` → (22:00, 06:00); None when not of the form ``HH:MM-HH:MM`` (24-hour clock)."""
    m = _HOURS.match(text.strip())
    if not m:
        return None
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    return time(h1, m1), time(h2, m2)


def in_quiet_hours(quiet_hours: str | None, local: time) -> bool:
    """Whether ``local`` falls in the window; an empty, malformed or zero-length window is never quiet."""
    window = parse_quiet_hours(quiet_hours) if quiet_hours else None
    if window is None:
        return False
    start, end = window
    now = local.replace(second=0, microsecond=0, tzinfo=None)
    if start < end:
        return start <= now < end
    if start > end:  # wraps midnight
        return now >= start or now < end
    return False


def channels_for(preferences: Mapping[str, Any] | None, severity: str, local_time: datetime | time) -> list[str]:
    """The channels to deliver on, in :data:`CHANNELS` order. ``local_time`` is the user's wall-clock time
    (Asia/Ho_Chi_Minh). Unknown channels in stored preferences are ignored."""
    if severity not in SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}")
    prefs = preferences or {}
    chosen_by_severity = prefs.get("channels")
    if not isinstance(chosen_by_severity, Mapping):
        chosen_by_severity = DEFAULT_PREFERENCES["channels"]
    chosen = chosen_by_severity.get(severity)
    if not isinstance(chosen, list | tuple):
        chosen = DEFAULT_PREFERENCES["channels"][severity]
    quiet_hours = prefs.get("quiet_hours", DEFAULT_PREFERENCES["quiet_hours"])
    local = local_time.time() if isinstance(local_time, datetime) else local_time
    quiet = severity not in OVERRIDES_QUIET_HOURS and in_quiet_hours(quiet_hours, local)
    allowed = QUIET_CHANNELS if quiet else CHANNELS
    return [c for c in CHANNELS if c in chosen and c in allowed]


def validate_preferences(d: Any) -> list[str]:
    """Errors in a preferences dict a user submitted; empty when it can be stored."""
    if not isinstance(d, Mapping):
        return ["preferences must be an object"]
    errors = [f"unknown key {key!r}" for key in d if key not in ("channels", "quiet_hours")]
    channels = d.get("channels", {})
    if not isinstance(channels, Mapping):
        errors.append("channels must be an object of severity → list of channels")
        channels = {}
    for severity, chosen in channels.items():
        if severity not in SEVERITIES:
            errors.append(f"unknown severity {severity!r} (expected one of {', '.join(SEVERITIES)})")
        elif not isinstance(chosen, list) or not all(isinstance(c, str) for c in chosen):
            errors.append(f"channels.{severity} must be a list of channel names")
        else:
            errors += [f"unknown channel {c!r} in channels.{severity} (expected one of {', '.join(CHANNELS)})"
                       for c in chosen if c not in CHANNELS]
    hours = d.get("quiet_hours")
    if hours not in (None, ""):
        window = parse_quiet_hours(hours) if isinstance(hours, str) else None
        if window is None:
            errors.append(f"quiet_hours must look like 22:00-06:00, got {hours!r}")
        elif window[0] == window[1]:
            errors.append("quiet_hours must start and end at different times")
    return errors
