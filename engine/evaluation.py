"""Rule evaluation: pure functions from (rule, observation, what the rule remembers) to a verdict.

The verdict says whether the observation breaks the rule; ``engine.rule_state`` then decides, over
time, whether that means an alert fires, keeps firing or resolves. Kinds:

- ``threshold``: one value against a limit (``>``, ``>=``, ``<``, ``<=``, ``between``, ``outside``);
- ``rate``: the change of a value over ``window_minutes`` (absolute, or in percent) against a limit;
- ``absence``: no event of the type from an entity for ``minutes`` (judged by the clock: see ``tick``);
- ``geofence``: a position (``lat``/``lon`` values) entering, leaving, inside or outside GeoJSON areas;
- ``count``: at least ``value`` events at one entity within ``window_minutes``;
- ``composite``: ``all`` or ``any`` of several conditions on the same event.

A rule remembers, per entity, what its kind needs (recent samples, the last position's side of a fence):
``memory`` is a small JSON-able dict that the caller stores and passes back.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as default
from datetime import datetime, timedelta
from typing import Any

from engine import conditions
from engine.alerts import Firing
from engine.conditions import compare
from engine.rule_state import Timing


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    sector: str
    kind: str
    event_type: str
    field: str
    op: str
    value: float | tuple[float, float]
    severity: str
    dedupe_key: str
    title: str
    scenario: dict[str, Any]
    enabled: bool = True
    file: str = ""
    line: int = 0
    name_en: str = ""
    pending_s: float = 0
    keep_firing_s: float = 0
    no_data_s: float | None = None
    params: dict[str, Any] = default(default_factory=dict)  # what the kind needs beyond field/op/value
    scope: dict[str, Any] = default(default_factory=dict)
    entity_groups: dict[str, set[str]] = default(default_factory=dict)

    @property
    def timing(self) -> Timing:
        return Timing(pending_s=self.pending_s, keep_firing_s=self.keep_firing_s, no_data_s=self.no_data_s)


@dataclass(frozen=True)
class Observation:
    """What a rule looks at: the parts of an event that matter for evaluation."""

    type: str
    sector: str
    entity: str | None
    unit_code: str | None
    time: datetime
    values: dict[str, Any]


@dataclass(frozen=True)
class Verdict:
    breached: bool
    value: float | None
    memory: dict[str, Any]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _limit(value: Any) -> float | tuple[float, float]:
    return (float(value[0]), float(value[1])) if isinstance(value, list | tuple) else float(value)


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def subject(obs: Observation) -> str:
    """What a rule's state is kept for: the entity, else the commune/ward, else the whole province."""
    return obs.entity or obs.unit_code or "*"


def applies(rule: Rule, obs: Observation, local_time: datetime | None = None) -> bool:
    if not rule.enabled or obs.type != rule.event_type:
        return False
    return not rule.scope or conditions.in_scope(rule.scope, obs.unit_code, obs.entity, rule.entity_groups,
                                                 local_time or obs.time)


def _recent(memory: dict[str, Any], key: str, now: datetime, window_s: float) -> list[list[Any]]:
    start = now - timedelta(seconds=window_s)
    return [s for s in memory.get(key, []) if datetime.fromisoformat(s[0]) >= start]


def check(rule: Rule, obs: Observation, memory: dict[str, Any] | None = None) -> Verdict | None:
    """Whether ``obs`` breaks ``rule``; None when the observation says nothing about it (no such value)."""
    memory = dict(memory or {})
    values, p = obs.values, rule.params
    if rule.kind == "threshold":
        x = _number(values.get(rule.field))
        return None if x is None else Verdict(compare(rule.op, x, rule.value), x, memory)
    if rule.kind == "rate":
        x = _number(values.get(rule.field))
        if x is None:
            return None
        window = float(p["window_minutes"]) * 60
        samples = [*_recent(memory, "samples", obs.time, window), [obs.time.isoformat(), x]]
        change, breached = conditions.rate_of_change(
            [conditions.Sample(datetime.fromisoformat(t), v) for t, v in samples], window, rule.op, rule.value,
            percent=bool(p.get("percent")))
        return Verdict(breached, change, {**memory, "samples": samples})
    if rule.kind == "count":
        window = float(p["window_minutes"]) * 60
        times = [*_recent(memory, "times", obs.time, window), [obs.time.isoformat()]]
        n, breached = conditions.count_in_window([datetime.fromisoformat(t[0]) for t in times], obs.time,
                                                 window / 60, int(float(rule.value)))  # type: ignore[arg-type]
        return Verdict(breached, float(n), {**memory, "times": times})
    if rule.kind == "geofence":
        lat, lon = _number(values.get(p.get("lat_field", "lat"))), _number(values.get(p.get("lon_field", "lon")))
        if lat is None or lon is None:
            return None
        now_inside = any(conditions.inside((lon, lat), g) for g in p["geometries"])
        breached = conditions.geofence(memory.get("inside"), now_inside, p["mode"])
        return Verdict(breached, None, {**memory, "inside": now_inside})
    if rule.kind == "composite":
        xs = [_number(values.get(c["field"])) for c in p["conditions"]]
        if any(x is None for x in xs):
            return None
        children = [compare(c["op"], x, _limit(c["value"])) for c, x in zip(p["conditions"], xs, strict=True)
                    if x is not None]
        return Verdict(conditions.composite(p["mode"], children), xs[0], memory)
    if rule.kind == "absence":  # an event is data arriving: the silence (judged by the clock) is over
        return Verdict(False, None, memory)
    return None


def firing(rule: Rule, obs: Observation, value: float | None) -> Firing:
    """The alert that ``rule`` opens (or repeats) for ``obs``."""
    shown: Any = "" if value is None else (int(value) if value.is_integer() else round(value, 2))
    names = _Blank(rule=rule.id, entity=obs.entity or "", unit=obs.unit_code or "", sector=obs.sector,
                   value=shown, name=rule.name)
    return Firing(rule_id=rule.id, dedupe_key=rule.dedupe_key.format_map(names),
                  title=(rule.title or rule.name).format_map(names), severity=rule.severity,
                  sector=rule.sector or obs.sector, entity=obs.entity, unit_code=obs.unit_code, value=value,
                  time=obs.time, scenario=rule.scenario,
                  details={"kind": rule.kind, "field": rule.field, "op": rule.op, "limit": rule.value,
                           "rule_name": rule.name})


def evaluate(rule: Rule, obs: Observation) -> Firing | None:
    """A firing when ``obs`` on its own breaks ``rule`` (no memory, no pending period); else None."""
    if not applies(rule, obs):
        return None
    verdict = check(rule, obs)
    return firing(rule, obs, verdict.value) if verdict is not None and verdict.breached else None


def evaluate_all(rules: list[Rule], obs: Observation) -> list[Firing]:
    return [f for f in (evaluate(r, obs) for r in rules) if f is not None]
