"""The evaluation state of one rule for one entity, as a pure state machine (after Grafana alerting).

``step`` takes an observation (breached or not, or an error); ``tick`` takes the passage of time alone.
Both return the new state and a transition name, or None when there is nothing to notify (the status
may still have changed, e.g. normal → pending).

Statuses: ``normal``, ``pending``, ``firing``, ``recovering``, ``no_data``, ``error``.
``alert_open`` is True from a ``fire`` until its ``resolve`` (always, while firing or recovering). It survives
``no_data`` and ``error``, so an alert that was firing when data stopped is neither resolved nor fired twice
when data returns.

========================  =====================================================  ==========  =======================
from                      input                                                  to          transition
========================  =====================================================  ==========  =======================
normal                    step breach, pending_s == 0                            firing      fire
normal                    step breach, pending_s > 0                             pending     None
pending                   step breach, now - pending_since >= pending_s          firing      fire
pending                   step breach, held for less than pending_s              pending     None
pending                   step clear                                             normal      None (silent)
firing                    step breach                                            firing      None
firing                    step clear, keep_firing_s == 0                         normal      resolve
firing                    step clear, keep_firing_s > 0                          recovering  None
recovering                step breach                                            firing      None (no second fire)
recovering                step clear or tick, now - since >= keep_firing_s       normal      resolve
any but error             step with breached None (error, or "no result")        error       error
error                     step with breached None                                error       None (message updated)
error / no_data           step, no alert open: handled as from normal            as normal   recovered_from_error /
                                                                                             data_returned, or fire
error / no_data           step breach, alert open                                firing      recovered_from_error /
                                                                                             data_returned
error / no_data           step clear, alert open: handled as from firing         recovering  recovered_from_error /
                                                                                 or normal   data_returned, or resolve
normal/pending/firing/    tick, now - (last_seen or since) >= no_data_s          no_data     no_data (once)
recovering
========================  =====================================================  ==========  =======================

``fire`` and ``resolve`` take precedence over ``recovered_from_error`` and ``data_returned``, because they
drive notifications; the caller sees the status it left in the state it passed in.

Choices: pending fires only on a breaching observation, never on a tick (no evidence the condition still
holds). ``keep_firing_s`` counts from the first clear observation (when recovering began). ``no_data``
and ``error`` drop a pending breach; ``tick`` never leaves ``error`` and never resolves an alert left open
by ``no_data``/``error``: it stays open until data returns. Errors do not count as data (``last_seen`` is
kept). A state that has never seen data and has no ``since`` is not watched for no data. ``now`` must
not go backwards.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

STATUSES = ("normal", "pending", "firing", "recovering", "no_data", "error")
_TIMES = ("since", "pending_since", "last_breach", "last_seen")
_RETURNED = {"error": "recovered_from_error", "no_data": "data_returned"}


@dataclass(frozen=True)
class RuleState:
    """Where a (rule, entity) pair stands. ``since``: when ``status`` began."""

    status: str = "normal"
    since: datetime | None = None
    pending_since: datetime | None = None
    last_breach: datetime | None = None
    last_seen: datetime | None = None
    last_value: float | None = None
    error: str | None = None
    alert_open: bool = False

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown rule status {self.status!r}")
        if self.status in ("firing", "recovering"):  # these hold an alert by definition
            object.__setattr__(self, "alert_open", True)


Step = tuple[RuleState, str | None]


@dataclass(frozen=True)
class Timing:
    """How long a breach must hold, how long a fired alert outlives it, and when silence means no data."""

    pending_s: float = 0
    keep_firing_s: float = 0
    no_data_s: float | None = None  # None: never report no data

    def __post_init__(self) -> None:
        if min(self.pending_s, self.keep_firing_s, self.no_data_s or 0) < 0:
            raise ValueError("rule timings cannot be negative")


def _held(start: datetime | None, now: datetime, seconds: float) -> bool:
    return start is None or (now - start).total_seconds() >= seconds


def _enter(state: RuleState, status: str, now: datetime, **changes: Any) -> RuleState:
    return replace(state, status=status, since=now, pending_since=None, **changes)


def _on_breach(state: RuleState, timing: Timing, now: datetime) -> Step:
    if state.alert_open:
        return (state if state.status == "firing" else _enter(state, "firing", now)), None
    start = state.pending_since if state.status == "pending" else now
    if _held(start, now, timing.pending_s):
        return _enter(state, "firing", now, alert_open=True), "fire"
    if state.status == "pending":
        return state, None
    return replace(_enter(state, "pending", now), pending_since=now), None


def _on_clear(state: RuleState, timing: Timing, now: datetime) -> Step:
    if not state.alert_open:
        return (state if state.status == "normal" else _enter(state, "normal", now)), None
    recovering = state if state.status == "recovering" else _enter(state, "recovering", now)
    if _held(recovering.since, now, timing.keep_firing_s):
        return _enter(state, "normal", now, alert_open=False), "resolve"
    return recovering, None


def step(
    state: RuleState,
    timing: Timing,
    now: datetime,
    breached: bool | None,
    value: float | None = None,
    error: str | None = None,
) -> Step:
    """Apply one observation: ``breached`` True/False, or None with ``error`` when evaluation failed."""
    if breached is None:
        message = error or "no result"
        if state.status == "error":
            return replace(state, error=message), None
        return _enter(state, "error", now, error=message), "error"
    seen = replace(
        state, last_seen=now, last_value=value, error=None, last_breach=now if breached else state.last_breach
    )
    new, transition = (_on_breach if breached else _on_clear)(seen, timing, now)
    if transition is None and state.status in _RETURNED:
        transition = _RETURNED[state.status]
    return new, transition


def tick(state: RuleState, timing: Timing, now: datetime) -> Step:
    """Apply the passage of time: end a recovery whose keep-firing time is over, or notice silence."""
    if state.status == "recovering" and _held(state.since, now, timing.keep_firing_s):
        return _enter(state, "normal", now, alert_open=False), "resolve"
    watched = timing.no_data_s is not None and state.status not in ("no_data", "error")
    reference = state.last_seen or state.since
    if watched and reference is not None and _held(reference, now, timing.no_data_s or 0):
        return _enter(state, "no_data", now), "no_data"
    return state, None


def to_dict(state: RuleState) -> dict[str, Any]:
    """A JSON-ready copy of ``state``, times as ISO 8601 strings."""
    out: dict[str, Any] = {
        "status": state.status,
        "last_value": state.last_value,
        "error": state.error,
        "alert_open": state.alert_open,
    }
    for name in _TIMES:
        moment: datetime | None = getattr(state, name)
        out[name] = moment.isoformat() if moment is not None else None
    return out


def from_dict(d: dict[str, Any]) -> RuleState:
    """The state ``to_dict`` wrote; missing keys take their defaults. An unknown status raises ``ValueError``."""
    status = d.get("status") or "normal"
    times = {name: datetime.fromisoformat(d[name]) if d.get(name) else None for name in _TIMES}
    value = d.get("last_value")
    return RuleState(
        status=status,
        last_value=None if value is None else float(value),
        error=d.get("error"),
        alert_open=bool(d.get("alert_open")),
        **times,
    )
