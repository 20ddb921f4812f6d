"""Administrators change rules from the web: preview, save (the YAML file keeps its comments and order),
history and revert — each change audited with who, when and the diff.

The rule files stay the source of truth (reviewable, diffable). The worker re-reads a file when its
modification time changes, so a saved rule judges the next event: no restart.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit, bpmn, bus
from engine.db import utcnow
from engine.errors import N_, Conflict, Forbidden, Invalid, NotFound
from engine.evaluation import Observation, Rule, applies, check, subject
from engine.models import AuditEntry, Event
from engine.org import Principal
from engine.rule_files import unified_diff, upsert_rule, write_atomically
from engine.rule_state import RuleState, step
from engine.rules import check_scenarios, check_text, rule_files

EDITORS = ("admin",)
PREVIEW_DAYS = 7
PREVIEW_EVENTS = 200_000


@dataclass(frozen=True)
class RuleFile:
    path: Path
    text: str
    raw: dict[str, Any]  # the rule's mapping as written


def find(directory: Path, rule_id: str) -> RuleFile:
    for path in rule_files(directory):
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text) or {}
        for raw in data.get("rules") or []:
            if isinstance(raw, dict) and raw.get("id") == rule_id:
                return RuleFile(path, text, raw)
    raise NotFound(N_("No rule %(id)s"), id=rule_id)


def _check_editor(principal: Principal) -> None:
    if principal.role not in EDITORS:
        raise Forbidden(N_("Only administrators can change rules"))


def candidate(directory: Path, rule_id: str | None, raw: dict[str, Any], file_name: str | None = None
              ) -> tuple[Path, str, str, Rule]:
    """The file, its old and new text, and the checked rule, for saving ``raw`` (refused with file:line)."""
    if rule_id is not None:
        found = find(directory, rule_id)
        path, old = found.path, found.text
        if raw.get("id") != rule_id:
            raise Invalid(N_("A rule's id cannot be changed"), code="invalid_rule", details={"id": rule_id})
    else:
        path = directory / (file_name or "")
        if not file_name or path.suffix not in (".yaml", ".yml") or path.parent != directory or not path.exists():
            raise Invalid(N_("Choose an existing rule file"), code="invalid_rule", details={"file": file_name})
        old = path.read_text(encoding="utf-8")
        if any(r.id == raw.get("id") for r in check_text(old, str(path))[0]):
            raise Conflict(N_("A rule with this id already exists"), code="rule_exists", details={"id": raw.get("id")})
    new = upsert_rule(old, raw)
    rules, problems = check_text(new, str(path))
    problems += check_scenarios(rules, bpmn.executable_process_ids(_processes_dir()))
    if problems:
        raise Invalid(N_("The rule is not valid"), code="invalid_rule",
                      details={"problems": [{"file": path.name, "line": p.line, "message": p.message}
                                            for p in problems]})
    rule = next(r for r in rules if r.id == raw["id"])
    return path, old, new, rule


def _processes_dir() -> Path:
    from engine.config import settings

    return settings().processes_dir


def save(session: Session, principal: Principal, directory: Path, rule_id: str | None, raw: dict[str, Any],
         file_name: str | None = None) -> Rule:
    """Write the rule into its file (a new rule: into ``file_name``), audited with the diff."""
    _check_editor(principal)
    path, old, new, rule = candidate(directory, rule_id, raw, file_name)
    if new == old:
        return rule
    write_atomically(path, new)
    audit.record(session, principal.name, "rules.changed", "rule", rule.id, file=path.name,
                 diff=unified_diff(old, new, path.name), before=old)
    bus.publish(session, "rules.changed", rule=rule.id, file=path.name)
    return rule


def history(session: Session, rule_id: str, limit: int = 50) -> list[AuditEntry]:
    stmt = select(AuditEntry).where(AuditEntry.object_type == "rule", AuditEntry.object_id == rule_id,
                                    AuditEntry.action.in_(("rules.changed", "rules.reverted")))
    return list(session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit)))


def revert(session: Session, principal: Principal, directory: Path, entry_id: int) -> AuditEntry:
    """Put a rule file back as it was before a recorded change (itself a change, audited)."""
    _check_editor(principal)
    entry = session.get(AuditEntry, entry_id)
    if entry is None or entry.action not in ("rules.changed", "rules.reverted") or "before" not in entry.details:
        raise NotFound(N_("No rule change %(id)s"), id=entry_id)
    path = directory / entry.details["file"]
    if path.parent != directory or not path.exists():
        raise NotFound(N_("No rule file %(name)s"), name=entry.details["file"])
    current, before = path.read_text(encoding="utf-8"), entry.details["before"]
    _rules, problems = check_text(before, str(path))
    if problems:
        raise Invalid(N_("The earlier version is not valid any more"), code="invalid_rule",
                      details={"problems": [str(p) for p in problems]})
    write_atomically(path, before)
    record = audit.record(session, principal.name, "rules.reverted", "rule", entry.object_id, file=path.name,
                          diff=unified_diff(current, before, path.name), before=current, reverted=entry.id)
    bus.publish(session, "rules.changed", rule=entry.object_id, file=path.name)
    return record


def preview(session: Session, rule: Rule, days: int = PREVIEW_DAYS) -> dict[str, Any]:
    """How often ``rule`` would have fired over the stored events of the last ``days`` days, judged with
    its pending period on the events' own times (the clock-driven parts — absence, keep-firing by the
    clock — are not replayed)."""
    since = utcnow() - timedelta(days=days)
    stmt = (select(Event).where(Event.type == rule.event_type, Event.time >= since)
            .order_by(Event.time, Event.id).limit(PREVIEW_EVENTS))
    states: dict[str, RuleState] = {}
    memory: dict[str, dict[str, Any]] = {}
    fired: Counter[str] = Counter()
    seen = 0
    for ev in session.scalars(stmt):
        obs = Observation(type=ev.type, sector=ev.sector, entity=ev.entity, unit_code=ev.unit_code, time=ev.time,
                          values=ev.values or {})
        if not applies(rule, obs):
            continue
        key = subject(obs)
        verdict = check(rule, obs, memory.get(key))
        if verdict is None:
            continue
        seen += 1
        memory[key] = verdict.memory
        states[key], transition = step(states.get(key, RuleState()), rule.timing, ev.time, verdict.breached,
                                       verdict.value)
        if transition == "fire":
            fired[key] += 1
    return {"days": days, "events": seen, "fired": sum(fired.values()), "entities": len(fired),
            "top": fired.most_common(5)}
