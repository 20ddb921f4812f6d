"""ISO 8601 durations and date-times, as BPMN models write them (``PT4H``, ``P1DT2H``, ``2026-01-31T08:00:00Z``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_DURATION = re.compile(
    r"^P(?!$)(?:(?P<weeks>\d+(?:[.,]\d+)?)W)?(?:(?P<days>\d+(?:[.,]\d+)?)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+(?:[.,]\d+)?)H)?(?:(?P<minutes>\d+(?:[.,]\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:[.,]\d+)?)S)?)?$"
)


def parse_duration(text: str) -> timedelta | None:
    """``PT4H`` → 4 hours; None when ``text`` is not a duration (years and months are refused)."""
    m = _DURATION.match(text.strip())
    if not m:
        return None
    parts = {k: float(v.replace(",", ".")) for k, v in m.groupdict().items() if v}
    return timedelta(**parts)


def parse_datetime(text: str) -> datetime | None:
    """An ISO date-time; a time without a zone is taken as UTC. None when not a date-time."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def due_from(text: str, start: datetime) -> datetime | None:
    """A due time from a duration (counted from ``start``) or an absolute date-time."""
    delta = parse_duration(text)
    if delta is not None:
        return start + delta
    return parse_datetime(text)
