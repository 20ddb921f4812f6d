"""Rules applied to events and to the clock: each rule's state per entity, kept in ``rule_states``, moved
by the pure state machine (``engine.rule_state``), and the alert actions its transitions call for.

- an event: every rule of its type and scope judges it (``engine.evaluation.check``); ``fire`` opens an
  alert and starts its scenario, a breach while firing counts a repeat on the open alert, ``resolve``
  resolves the alert (and tells its process that the alert cleared);
- the clock (``tick``, from the worker every few seconds): an ``absence`` rule fires for an entity that
  has been silent too long; a recovering rule resolves once its keep-firing time is over.

One bad rule never stops the others: a rule whose evaluation raises (its scope, its condition, its alert's title)
goes to the ``error`` status for that entity, with the reason (shown on ``/rules``, counted on the wall, audited
and published once as ``rule.error``), while the other rules judge the same event; its next good evaluation
brings it back (``recovered_from_error``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import alerts, audit, bus
from engine.db import insert as db_insert
from engine.db import utcnow
from engine.evaluation import Observation, Rule, applies, check, firing, subject
from engine.models import Alert
from engine.models import RuleState as RuleStateRow
from engine.rule_state import RuleState, from_dict, step, to_dict
from engine.rule_state import tick as tick_state

log = logging.getLogger(__name__)


def _row(session: Session, rule: Rule, key: str, obs: Observation | None = None) -> RuleStateRow:
    """The state row of (rule, subject), locked; made when first needed."""
    stmt = select(RuleStateRow).where(RuleStateRow.rule_id == rule.id, RuleStateRow.subject == key)
    row = session.scalar(stmt.with_for_update())
    if row is None:
        row = RuleStateRow(rule_id=rule.id, subject=key, status="normal", state={}, memory={},
                           unit_code=obs.unit_code if obs else None, sector=rule.sector or (obs.sector if obs else ""))
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:  # made a moment ago by another worker
            row = session.scalar(stmt.with_for_update())
            assert row is not None
    return row


def _store(row: RuleStateRow, state: RuleState, memory: dict[str, Any] | None = None) -> None:
    row.state, row.status, row.updated_at = to_dict(state), state.status, utcnow()
    if memory is not None:
        row.memory = memory


# Kinds whose verdict on an event needs nothing remembered: while such a rule is normal and the event does
# not break it, no state row is read or written for it (most events break no rule).
MEMORYLESS = ("threshold", "composite")


class _Broken(Exception):
    """A rule's evaluation raised: the reason, for its error state."""


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:500]


def _applies(rule: Rule, obs: Observation, local_time: datetime) -> bool | _Broken:
    try:
        return applies(rule, obs, local_time)
    except Exception as exc:  # noqa: BLE001 - a bad rule goes to its error state, the others go on
        return _Broken(_reason(exc))


def _check(rule: Rule, obs: Observation, memory: dict[str, Any] | None, broken: _Broken | bool) -> Any:
    """The rule's verdict on ``obs``, or ``_Broken`` when its scope or its condition raised."""
    if isinstance(broken, _Broken):
        return broken
    try:
        return check(rule, obs, memory)
    except Exception as exc:  # noqa: BLE001 - a bad rule goes to its error state, the others go on
        return _Broken(_reason(exc))


def _error(session: Session, rule: Rule, row: RuleStateRow, key: str, at: datetime, broken: _Broken) -> None:
    before = from_dict(row.state)
    state, transition = step(before, rule.timing, at, None, error=str(broken))
    _store(row, state)
    if transition == "error":
        log.warning("rule %s (%s:%s), entity %s: %s", rule.id, rule.file, rule.line, key, broken)
        audit.record(session, "rules", "rule.error", "rule", rule.id, entity=key, error=str(broken))
        bus.publish(session, "rule.error", rule=rule.id, entity=key)


def judge_event(session: Session, rules: list[Rule], obs: Observation, local_time: datetime) -> list[Alert]:
    """Apply every rule to one event; returns the alerts opened or repeated."""
    verdicts = {r.id: a for r in rules if (a := _applies(r, obs, local_time))}
    applicable = [r for r in rules if r.id in verdicts]
    if not applicable:
        return []
    key = subject(obs)
    preloaded = session.info.get("rule_states")
    if preloaded is not None and key in preloaded:
        rows = {r.id: preloaded[key][r.id] for r in applicable if r.id in preloaded[key]}
    else:
        rows = {row.rule_id: row for row in session.scalars(
            select(RuleStateRow).where(RuleStateRow.subject == key,
                                       RuleStateRow.rule_id.in_([r.id for r in applicable])).with_for_update())}
    touched: list[Alert] = []
    now = utcnow()
    for rule in applicable:
        row = rows.get(rule.id)
        verdict = _check(rule, obs, row.memory if row is not None else None, verdicts[rule.id])
        memoryless = rule.kind in MEMORYLESS and rule.no_data_s is None
        if verdict is None or (row is None and not isinstance(verdict, _Broken) and not verdict.breached
                               and memoryless):
            continue
        if row is None:
            row = _row(session, rule, key, obs)
            if preloaded is not None and key in preloaded:
                preloaded[key][rule.id] = row
        if isinstance(verdict, _Broken):
            _error(session, rule, row, key, obs.time, verdict)
            continue
        before = from_dict(row.state)
        if not verdict.breached and memoryless and before.status == "normal":
            continue  # normal stays normal: nothing to write
        # Pending and keep-firing periods are judged on the data's own clock ("above 150 for 2 hours" means two
        # hours of readings, also when a day of files is replayed), never going backwards for a late event.
        at = max(obs.time, before.last_seen) if before.last_seen else obs.time
        state, transition = step(before, rule.timing, at, verdict.breached, verdict.value)
        memory = verdict.memory
        if rule.kind == "absence":  # silence is judged on the wall clock: when did data last arrive
            memory = {**memory, "last_event": now.isoformat()}
        if transition == "fire" or (verdict.breached and state.status == "firing" and before.alert_open):
            try:
                fired = firing(rule, obs, verdict.value)
            except Exception as exc:  # noqa: BLE001 - its title or dedupe key cannot be written: an error state
                _error(session, rule, row, key, obs.time, _Broken(_reason(exc)))
                continue
            _store(row, state, memory)
            alert = _open(session, rule, fired)
            row.alert_id = alert.id
            touched.append(alert)
            continue
        _store(row, state, memory)
        if transition == "resolve":
            _resolve(session, row, rule)
    return touched


def preload(session: Session, observations: list[Observation], rules: list[Rule] | None = None,
            local_times: list[datetime] | None = None) -> None:
    """Read and lock, with one query, the rule-state rows of every subject a chunk of events speaks about, for the
    ``judge_event`` calls that follow in this session: the chunk's state changes are then written together at the
    commit instead of being flushed before each event's own query. Given the rules, the rows the chunk will need
    and that do not exist yet (a subject seen for the first time, a first breach of a memoryless rule) are made
    first, with one statement, instead of one savepoint each in the middle of the chunk."""
    keys = {subject(obs) for obs in observations}
    if not keys:
        return
    found: dict[str, dict[str, RuleStateRow]] = {key: {} for key in keys}

    def lock(where: Any) -> None:
        for row in session.scalars(select(RuleStateRow).where(where).order_by(RuleStateRow.id).with_for_update()):
            found[row.subject][row.rule_id] = row

    lock(RuleStateRow.subject.in_(keys))
    session.info["rule_states"] = found
    if rules is None:
        return
    missing = _missing_rows(found, rules, observations, local_times or [obs.time for obs in observations])
    if missing:
        stmt = db_insert(session, RuleStateRow.__table__).on_conflict_do_nothing(index_elements=["rule_id",
                                                                                                 "subject"])
        session.execute(stmt, [missing[k] for k in sorted(missing)])
        lock(RuleStateRow.subject.in_({key for _, key in missing}) & RuleStateRow.rule_id.in_({r for r, _ in missing}))


def _missing_rows(found: dict[str, dict[str, RuleStateRow]], rules: list[Rule], observations: list[Observation],
                  local_times: list[datetime]) -> dict[tuple[str, str], dict[str, Any]]:
    """The (rule, subject) state rows that ``judge_event`` would make for these observations: those of rules that
    remember something, and of memoryless rules that an observation breaks."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    stamp = utcnow()
    for obs, local_time in zip(observations, local_times, strict=True):
        key = subject(obs)
        for rule in rules:
            if rule.id in found[key] or (rule.id, key) in out or not (broken := _applies(rule, obs, local_time)):
                continue
            verdict = _check(rule, obs, None, broken)
            memoryless = rule.kind in MEMORYLESS and rule.no_data_s is None
            if verdict is None or (memoryless and not isinstance(verdict, _Broken) and not verdict.breached):
                continue
            out[(rule.id, key)] = {"rule_id": rule.id, "subject": key, "status": "normal", "state": {}, "memory": {},
                                   "alert_id": None, "unit_code": obs.unit_code,
                                   "sector": rule.sector or obs.sector, "updated_at": stamp}
    return out


def _open(session: Session, rule: Rule, f: Any) -> Alert:
    from engine import jobs  # jobs starts scenarios; it imports this module

    alert, new = alerts.open_alert(session, f)
    if new and f.scenario.get("process"):
        jobs.start_scenario(session, alert, f.scenario)
    return alert


def _resolve(session: Session, row: RuleStateRow, rule: Rule) -> None:
    alert = session.get(Alert, row.alert_id) if row.alert_id else None
    if alert is not None:
        alerts.resolve_alert(session, alert, "rules", reason=f"rule {rule.id}: the condition cleared")
    row.alert_id = None


def tick(session: Session, rules: list[Rule], now: datetime | None = None) -> int:
    """Apply the passage of time to every rule that needs it; returns the number of transitions."""
    now = now or utcnow()
    changed = 0
    by_id = {r.id: r for r in rules if r.enabled}
    for rule in by_id.values():
        if rule.kind == "absence":
            changed += _tick_absence(session, rule, now)
    watched = [r.id for r in by_id.values() if r.no_data_s is not None]
    stmt = select(RuleStateRow).where((RuleStateRow.status == "recovering") | (
        RuleStateRow.rule_id.in_(watched) & RuleStateRow.status.in_(("normal", "pending", "firing"))))
    for row in session.scalars(stmt.with_for_update()):
        owner = by_id.get(row.rule_id)
        if owner is None:
            continue
        state, transition = tick_state(from_dict(row.state), owner.timing, now)
        _store(row, state)
        if transition == "resolve":
            _resolve(session, row, owner)
            changed += 1
        elif transition == "no_data":
            audit.record(session, "rules", "rule.no_data", "rule", owner.id, entity=row.subject)
            bus.publish(session, "rule.no_data", rule=owner.id, entity=row.subject)
            changed += 1
    return changed


def _tick_absence(session: Session, rule: Rule, now: datetime) -> int:
    """Fire for each watched entity silent for longer than the rule's minutes; expected entities that never
    reported are watched from the first tick on."""
    silence = timedelta(minutes=float(rule.params["minutes"]))
    rows = {r.subject: r for r in session.scalars(select(RuleStateRow).where(RuleStateRow.rule_id == rule.id))}
    for expected in rule.params.get("entities") or []:
        if expected not in rows:
            row = _row(session, rule, expected)
            row.memory = {"watch_since": now.isoformat()}
            rows[expected] = row
    changed = 0
    for key, row in rows.items():
        last = row.memory.get("last_event") or row.memory.get("watch_since")
        if last is None or now - datetime.fromisoformat(last) <= silence:
            continue
        before = from_dict(row.state)
        if before.alert_open:
            continue
        silent_min = (now - datetime.fromisoformat(last)).total_seconds() / 60
        state, transition = step(before, rule.timing, now, True, round(silent_min))
        _store(row, RuleState(**{**state.__dict__, "last_seen": before.last_seen}))
        if transition == "fire":
            obs = Observation(type=rule.event_type, sector=rule.sector, entity=None if key == "*" else key,
                              unit_code=row.unit_code, time=now, values={})
            alert = _open(session, rule, firing(rule, obs, float(round(silent_min))))
            row.alert_id = alert.id
            audit.record(session, "rules", "rule.absence", "rule", rule.id, entity=key, silent_minutes=silent_min)
            bus.publish(session, "rule.absence", rule=rule.id, entity=key)
            changed += 1
    return changed
