"""When to try a failed delivery again: 30 s, 2 min, 8 min, 30 min, 2 h, then give up (6 attempts in all)."""

from __future__ import annotations

from datetime import datetime, timedelta

RETRY_DELAYS = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=8),
    timedelta(minutes=30),
    timedelta(hours=2),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1


def next_attempt(attempt: int, now: datetime) -> datetime | None:
    """The time of the next try after ``attempt`` tries (1 = the first one) have failed; None: give up."""
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, got {attempt}")
    if attempt >= MAX_ATTEMPTS:
        return None
    return now + RETRY_DELAYS[attempt - 1]
