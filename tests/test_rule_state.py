"""Tables of cases for the per-(rule, entity) alert state machine: every transition, then whole stories."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.rule_state import RuleState, Timing, from_dict, step, tick, to_dict

pytestmark = pytest.mark.no_database  # pure: no database, no Redis (runs once, in the SQLite pass)

T0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
AT_ONCE = Timing()
PEND = Timing(pending_s=60)
KEEP = Timing(keep_firing_s=120)
WATCH = Timing(no_data_s=300)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def state(status: str, since: float = 0, **fields: Any) -> RuleState:
    pending = at(since) if status == "pending" else None
    return RuleState(status=status, since=at(since), pending_since=pending, **fields)


OPEN = {"alert_open": True}


@pytest.mark.parametrize("start, timing, now, breached, error, status, transition, alert_open", [
    (RuleState(), AT_ONCE, 0, True, None, "firing", "fire", True),
    (RuleState(), PEND, 0, True, None, "pending", None, False),
    (RuleState(), AT_ONCE, 0, False, None, "normal", None, False),
    (state("pending"), PEND, 60, True, None, "firing", "fire", True),  # held exactly pending_s
    (state("pending"), PEND, 59, True, None, "pending", None, False),
    (state("pending"), PEND, 30, False, None, "normal", None, False),  # silently back
    (state("firing"), AT_ONCE, 10, True, None, "firing", None, True),
    (state("firing"), AT_ONCE, 10, False, None, "normal", "resolve", False),
    (state("firing"), KEEP, 10, False, None, "recovering", None, True),
    (state("recovering"), KEEP, 60, True, None, "firing", None, True),  # no second "fire"
    (state("recovering"), KEEP, 119, False, None, "recovering", None, True),
    (state("recovering"), KEEP, 120, False, None, "normal", "resolve", False),
    (RuleState(), AT_ONCE, 0, None, "timeout", "error", "error", False),
    (state("pending"), PEND, 10, None, "timeout", "error", "error", False),
    (state("firing"), AT_ONCE, 10, None, "timeout", "error", "error", True),
    (state("recovering"), KEEP, 10, None, "timeout", "error", "error", True),
    (state("no_data"), AT_ONCE, 10, None, "timeout", "error", "error", False),
    (state("error", error="old"), AT_ONCE, 10, None, "timeout", "error", None, False),
    (state("error"), AT_ONCE, 10, False, None, "normal", "recovered_from_error", False),
    (state("error"), PEND, 10, True, None, "pending", "recovered_from_error", False),
    (state("error"), AT_ONCE, 10, True, None, "firing", "fire", True),
    (state("error", **OPEN), AT_ONCE, 10, True, None, "firing", "recovered_from_error", True),
    (state("error", **OPEN), KEEP, 10, False, None, "recovering", "recovered_from_error", True),
    (state("error", **OPEN), AT_ONCE, 10, False, None, "normal", "resolve", False),
    (state("no_data"), AT_ONCE, 10, False, None, "normal", "data_returned", False),
    (state("no_data"), PEND, 10, True, None, "pending", "data_returned", False),
    (state("no_data"), AT_ONCE, 10, True, None, "firing", "fire", True),
    (state("no_data", **OPEN), PEND, 10, True, None, "firing", "data_returned", True),  # no pending again
    (state("no_data", **OPEN), KEEP, 10, False, None, "recovering", "data_returned", True),
    (state("no_data", **OPEN), AT_ONCE, 10, False, None, "normal", "resolve", False),
])
def test_step(start: RuleState, timing: Timing, now: float, breached: bool | None, error: str | None, status: str,
              transition: str | None, alert_open: bool) -> None:
    new, happened = step(start, timing, at(now), breached, 42.0, error)
    assert (new.status, happened, new.alert_open) == (status, transition, alert_open)


@pytest.mark.parametrize("start, timing, now, status, transition, alert_open", [
    (state("pending"), PEND, 600, "pending", None, False),  # pending never fires without a breach
    (state("recovering"), KEEP, 119, "recovering", None, True),
    (state("recovering"), KEEP, 120, "normal", "resolve", False),
    (state("normal", last_seen=at(0)), WATCH, 299, "normal", None, False),
    (state("normal", last_seen=at(0)), WATCH, 300, "no_data", "no_data", False),
    (state("normal", since=-900, last_seen=at(0)), WATCH, 299, "normal", None, False),  # counts from last_seen
    (state("normal"), WATCH, 300, "no_data", "no_data", False),  # never seen: counts from since
    (RuleState(), WATCH, 10**6, "normal", None, False),  # nothing to count from
    (state("normal", last_seen=at(0)), AT_ONCE, 10**6, "normal", None, False),  # no-data detection off
    (state("pending", last_seen=at(0)), WATCH, 300, "no_data", "no_data", False),
    (state("firing", last_seen=at(0)), WATCH, 300, "no_data", "no_data", True),
    (state("no_data", last_seen=at(0)), WATCH, 900, "no_data", None, False),  # reported once
    (state("no_data", last_seen=at(0), **OPEN), WATCH, 10**6, "no_data", None, True),  # the alert stays open
    (state("error", last_seen=at(0)), WATCH, 900, "error", None, False),
    (state("recovering", last_seen=at(0)), Timing(keep_firing_s=100, no_data_s=100), 100, "normal", "resolve", False),
    (state("recovering", last_seen=at(0)), Timing(keep_firing_s=600, no_data_s=300), 300, "no_data", "no_data", True),
])
def test_tick(start: RuleState, timing: Timing, now: float, status: str, transition: str | None,
              alert_open: bool) -> None:
    new, happened = tick(start, timing, at(now))
    assert (new.status, happened, new.alert_open) == (status, transition, alert_open)


def test_step_records_what_was_seen() -> None:
    first, _ = step(RuleState(), PEND, at(0), True, 7.5)
    assert (first.since, first.pending_since, first.last_breach, first.last_seen, first.last_value) == (
        at(0), at(0), at(0), at(0), 7.5)
    failed, _ = step(first, PEND, at(10), None, error="connection refused")
    assert (failed.error, failed.last_seen, failed.pending_since, failed.since) == (
        "connection refused", at(0), None, at(10))
    back, _ = step(failed, PEND, at(20), False, 3.0)
    assert (back.error, back.last_seen, back.last_value, back.last_breach) == (None, at(20), 3.0, at(0))


def test_error_without_a_message_is_still_an_error() -> None:
    new, happened = step(RuleState(), AT_ONCE, at(0), None)
    assert (new.status, happened, new.error) == ("error", "error", "no result")


Event = tuple[str, float, bool | None]  # ("step" | "tick", seconds, breached); breached None: an error


@pytest.mark.parametrize("timing, events, expected", [
    (PEND,  # a breach that lets go restarts the pending clock
     [("step", 0, True), ("step", 30, False), ("step", 40, True), ("step", 90, True), ("step", 100, True)],
     [("pending", None), ("normal", None), ("pending", None), ("pending", None), ("firing", "fire")]),
    (KEEP,  # flapping while recovering notifies once, and resolves keep_firing_s after the last clear start
     [("step", 0, True), ("step", 10, False), ("step", 20, True), ("step", 30, False), ("tick", 149, None),
      ("tick", 150, None), ("tick", 200, None)],
     [("firing", "fire"), ("recovering", None), ("firing", None), ("recovering", None), ("recovering", None),
      ("normal", "resolve"), ("normal", None)]),
    (WATCH,  # silence while firing keeps the alert open; data coming back does not fire it twice
     [("step", 0, True), ("tick", 300, None), ("tick", 400, None), ("step", 500, True), ("step", 510, False)],
     [("firing", "fire"), ("no_data", "no_data"), ("no_data", None), ("firing", "data_returned"),
      ("normal", "resolve")]),
    (AT_ONCE,  # errors while firing: reported once, then the alert carries on
     [("step", 0, True), ("step", 10, None), ("step", 20, None), ("step", 30, True), ("step", 40, False)],
     [("firing", "fire"), ("error", "error"), ("error", None), ("firing", "recovered_from_error"),
      ("normal", "resolve")]),
    (Timing(pending_s=60, no_data_s=300),  # silence drops a pending breach: it must hold again from scratch
     [("step", 0, True), ("tick", 300, None), ("step", 310, True), ("step", 330, True), ("step", 370, True)],
     [("pending", None), ("no_data", "no_data"), ("pending", "data_returned"), ("pending", None),
      ("firing", "fire")]),
])
def test_stories(timing: Timing, events: list[Event], expected: list[tuple[str, str | None]]) -> None:
    current, seen = RuleState(), []
    for kind, seconds, breached in events:
        if kind == "tick":
            current, transition = tick(current, timing, at(seconds))
        else:
            current, transition = step(current, timing, at(seconds), breached, error="boom")
        seen.append((current.status, transition))
    assert seen == expected


@pytest.mark.parametrize("original", [
    RuleState(),
    RuleState(status="firing", since=at(60), last_breach=at(60), last_seen=at(60), last_value=151.0, alert_open=True),
    RuleState(status="pending", since=at(0), pending_since=at(0), last_breach=at(0), last_seen=at(0), last_value=-2.5),
    RuleState(status="error", since=at(5), last_seen=at(0), error="HTTP 503", alert_open=True),
])
def test_storage_round_trip(original: RuleState) -> None:
    stored = json.loads(json.dumps(to_dict(original)))
    assert from_dict(stored) == original


def test_storage_writes_iso_times() -> None:
    stored = to_dict(RuleState(status="no_data", since=at(0)))
    assert (stored["since"], stored["last_seen"]) == ("2026-11-25T03:00:00+00:00", None)


@pytest.mark.parametrize("stored, expected", [
    ({}, RuleState()),
    ({"status": "firing", "since": "2026-11-25T10:00:00+07:00"}, RuleState(status="firing", since=at(0),
                                                                          alert_open=True)),
    ({"status": "normal", "last_value": 3}, RuleState(last_value=3.0)),
])
def test_storage_fills_missing_keys(stored: dict[str, object], expected: RuleState) -> None:
    assert from_dict(stored) == expected


@pytest.mark.parametrize("make", [
    lambda: from_dict({"status": "alerting"}),
    lambda: RuleState(status="ok"),
    lambda: Timing(pending_s=-1),
    lambda: Timing(no_data_s=-5),
])
def test_bad_states_and_timings_are_refused(make: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        make()
