"""Rule evaluation: pure functions from (rule, event) to a firing or nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.alerts import Firing


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


@dataclass(frozen=True)
class Observation:
    """What a rule looks at: the parts of an event that matter for evaluation."""

    type: str
    sector: str
    entity: str | None
    unit_code: str | None
    time: datetime
    values: dict[str, Any]


def compare(op: str, x: float, limit: float | tuple[float, float]) -> bool:
    if op in ("between", "outside"):
        assert isinstance(limit, tuple)
        low, high = limit
        inside = low <= x <= high
        return inside if op == "between" else not inside
    assert not isinstance(limit, tuple)
    return {">": x > limit, ">=": x >= limit, "<": x < limit, "<=": x <= limit}[op]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def evaluate(rule: Rule, obs: Observation) -> Firing | None:
    """A firing when ``obs`` breaks ``rule``'s threshold; None when it does not apply or does not break."""
    if not rule.enabled or rule.kind != "threshold" or obs.type != rule.event_type:
        return None
    x = _number(obs.values.get(rule.field))
    if x is None or not compare(rule.op, x, rule.value):
        return None
    shown = int(x) if x.is_integer() else round(x, 2)
    names = _Blank(rule=rule.id, entity=obs.entity or "", unit=obs.unit_code or "", sector=obs.sector,
                   value=shown, name=rule.name)
    return Firing(rule_id=rule.id, dedupe_key=rule.dedupe_key.format_map(names),
                  title=(rule.title or rule.name).format_map(names), severity=rule.severity,
                  sector=rule.sector or obs.sector, entity=obs.entity, unit_code=obs.unit_code, value=x,
                  time=obs.time, scenario=rule.scenario,
                  details={"field": rule.field, "op": rule.op, "limit": rule.value, "rule_name": rule.name})


def evaluate_all(rules: list[Rule], obs: Observation) -> list[Firing]:
    return [f for f in (evaluate(r, obs) for r in rules) if f is not None]
