"""Administrators change rules from the web: preview, propose, a second administrator's approval (then the YAML
file is written, keeping its comments and order), history and revert — each step audited with who, when and the
diff.

A change saved in the editor (or a revert) is *pending* (``RuleChange``): kept with its diff, not yet in the file,
until another administrator approves it; nobody approves their own (docs/adr/0012-separation-of-duties.md).
The rule files stay the source of truth (reviewable, diffable). The worker re-reads a file when its
modification time changes, so an approved rule judges the next event: no restart.
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
from engine.models import AuditEntry, Event, RuleChange
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


def _propose(session: Session, principal: Principal, rule_id: str, path: Path, old: str, new: str,
             reverts: int | None = None) -> RuleChange:
    change = RuleChange(rule_id=rule_id, file=path.name, kind="change" if reverts is None else "revert",
                        reverts=reverts, base_text=old, new_text=new, diff=unified_diff(old, new, path.name),
                        status="pending", proposed_by=principal.name)
    session.add(change)
    session.flush()
    audit.record(session, principal.name, "rules.change_proposed", "rule", rule_id, file=path.name,
                 change_id=change.id, kind=change.kind, diff=change.diff, reverts=reverts)
    bus.publish(session, "rules.change_proposed", rule=rule_id, file=path.name, change_id=change.id)
    return change


def save(session: Session, principal: Principal, directory: Path, rule_id: str | None, raw: dict[str, Any],
         file_name: str | None = None) -> RuleChange | None:
    """Propose the rule (a new rule: into ``file_name``): a pending change with its diff, written into the file
    when another administrator approves it (``approve``). None when it changes nothing."""
    _check_editor(principal)
    path, old, new, rule = candidate(directory, rule_id, raw, file_name)
    if new == old:
        return None
    return _propose(session, principal, rule.id, path, old, new)


def history(session: Session, rule_id: str, limit: int = 50) -> list[AuditEntry]:
    stmt = select(AuditEntry).where(AuditEntry.object_type == "rule", AuditEntry.object_id == rule_id,
                                    AuditEntry.action.in_(("rules.changed", "rules.reverted")))
    return list(session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit)))


def pending(session: Session, rule_id: str | None = None) -> list[RuleChange]:
    """The changes waiting for a second administrator (of one rule, or all), oldest first."""
    stmt = select(RuleChange).where(RuleChange.status == "pending")
    if rule_id is not None:
        stmt = stmt.where(RuleChange.rule_id == rule_id)
    return list(session.scalars(stmt.order_by(RuleChange.id)))


def revert(session: Session, principal: Principal, directory: Path, entry_id: int) -> RuleChange:
    """Propose to put a rule file back as it was before a recorded change (a change like any other: pending
    until another administrator approves it)."""
    _check_editor(principal)
    entry = session.get(AuditEntry, entry_id)
    if entry is None or entry.action not in ("rules.changed", "rules.reverted") or "before" not in entry.details:
        raise NotFound(N_("No rule change %(id)s"), id=entry_id)
    path = _rule_file(directory, entry.details["file"])
    current, before = path.read_text(encoding="utf-8"), entry.details["before"]
    _check_valid(before, path, N_("The earlier version is not valid any more"))
    return _propose(session, principal, entry.object_id, path, current, before, reverts=entry.id)


def _rule_file(directory: Path, name: str) -> Path:
    path = directory / name
    if path.parent != directory or not path.exists():
        raise NotFound(N_("No rule file %(name)s"), name=name)
    return path


def _check_valid(text: str, path: Path, message: str) -> None:
    rules, problems = check_text(text, str(path))
    problems += check_scenarios(rules, bpmn.executable_process_ids(_processes_dir()))
    if problems:
        raise Invalid(message, code="invalid_rule", details={"problems": [str(p) for p in problems]})


def _pending_change(session: Session, principal: Principal, change_id: int) -> RuleChange:
    _check_editor(principal)
    if principal.user_id is None:
        raise Forbidden(N_("Only a person may do this, not a token"), code="token_not_allowed")
    change = session.scalar(select(RuleChange).where(RuleChange.id == change_id).with_for_update())
    if change is None:
        raise NotFound(N_("No rule change %(id)s"), id=change_id)
    if change.status != "pending":
        raise Conflict(N_("This change is not waiting for approval"), code="not_pending")
    return change


def approve(session: Session, principal: Principal, directory: Path, change_id: int) -> RuleChange:
    """A second administrator approves a pending change: the file is written (the next event is judged by it),
    audited with both names. Refused to its author, and when the file has changed since it was proposed."""
    change = _pending_change(session, principal, change_id)
    if change.proposed_by == principal.name:
        raise Forbidden(N_("You proposed this change: another administrator must approve it"), code="own_change")
    path = _rule_file(directory, change.file)
    current = path.read_text(encoding="utf-8")
    if current != change.base_text:
        raise Conflict(N_("The rule file has changed since this change was proposed: reject it and propose it "
                          "again"), code="stale_change")
    _check_valid(change.new_text, path, N_("The rule is not valid"))
    write_atomically(path, change.new_text)
    change.status, change.reviewed_by, change.reviewed_at = "approved", principal.name, utcnow()
    audit.record(session, principal.name, "rules.changed" if change.kind == "change" else "rules.reverted", "rule",
                 change.rule_id, file=path.name, diff=change.diff, before=current, change_id=change.id,
                 proposed_by=change.proposed_by, reverted=change.reverts)
    bus.publish(session, "rules.changed", rule=change.rule_id, file=path.name)
    return change


def reject(session: Session, principal: Principal, change_id: int, reason: str) -> RuleChange:
    """Turn a pending change down, with a reason (its author may so withdraw it); the file is not touched."""
    change = _pending_change(session, principal, change_id)
    if not reason.strip():
        raise Invalid(N_("Give a reason for rejecting the change"), details={"fields": {"reason": N_("is required")}})
    change.status, change.reviewed_by, change.reviewed_at = "rejected", principal.name, utcnow()
    change.review_note = reason.strip()[:1000]
    audit.record(session, principal.name, "rules.change_rejected", "rule", change.rule_id, file=change.file,
                 change_id=change.id, proposed_by=change.proposed_by, reason=change.review_note)
    return change


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
