"""The rule editor for administrators: every rule with its file, a form per rule (validated with the
schema, saved into the YAML file keeping its comments), a preview on stored data, history and revert."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from engine import bpmn, rule_admin
from engine.config import settings
from engine.errors import N_, Invalid
from engine.models import RuleState
from engine.rules import check_directory
from web.auth import page_auth
from web.db import db

bp = Blueprint("rule_pages", __name__)
OPS = (">", ">=", "<", "<=", "between", "outside")
KINDS = ("threshold", "rate", "absence", "geofence", "count", "composite")
SEVERITIES = ("thap", "trung_binh", "cao", "khan_cap")
# Form fields edited as numbers; empty means "not set" (the key is left out of the rule).
STATE_LABELS = {"pending": N_("pending"), "firing": N_("firing"), "recovering": N_("recovering"),
                "no_data": N_("no data"), "error": N_("error")}
NUMBERS = ("pending_minutes", "keep_firing_minutes", "window_minutes", "minutes")


@bp.route("/rules")
@page_auth("admin")
def rules() -> Any:
    rows, problems = check_directory(settings().rules_dir)
    counts: dict[str, dict[str, int]] = {}
    for rule_id, status, n in db().execute(select(RuleState.rule_id, RuleState.status, func.count())
                                           .where(RuleState.status != "normal")
                                           .group_by(RuleState.rule_id, RuleState.status)):
        counts.setdefault(rule_id, {})[status] = n
    errors: dict[str, str] = {}  # the latest reason of each rule in error (its evaluation raised)
    for state in db().scalars(select(RuleState).where(RuleState.status == "error")
                              .order_by(RuleState.updated_at.desc()).limit(200)):
        errors.setdefault(state.rule_id, f"{state.subject}: {(state.state or {}).get('error') or ''}")
    return render_template("rules.html", rules=rows, problems=problems, counts=counts, errors=errors,
                           state_labels={k: _(v) for k, v in STATE_LABELS.items()})


def _number(text: str, name: str) -> float | int:
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        raise Invalid(_("%(field)s must be a number", field=name), code="invalid_rule") from None
    return int(value) if value.is_integer() else value


def raw_from_form(old: dict[str, Any], form: Any) -> dict[str, Any]:
    """The rule as the form leaves it: the form's fields over the rule as written (other keys kept)."""
    raw = dict(old)
    for key in ("name", "name_en", "title", "event_type", "field", "severity", "kind", "dedupe_key"):
        if key in form:
            value = form.get(key, "").strip()
            if value:
                raw[key] = value
            else:
                raw.pop(key, None)
    if "op" in form and form.get("op"):
        raw["op"] = form["op"]
    if form.get("value", "").strip():
        parts = [p for p in form["value"].replace(";", " ").replace(" ,", ",").split(",") if p.strip()]
        values = [_number(p.strip(), _("Threshold")) for p in parts]
        if raw.get("op") in ("between", "outside") and len(values) != 2:
            raise Invalid(_("Give two numbers, low and high, separated by a comma"), code="invalid_rule")
        raw["value"] = values if raw.get("op") in ("between", "outside") else values[0]
    for key in NUMBERS:
        if key in form:
            text = form.get(key, "").strip()
            if text:
                raw[key] = _number(text, key)
            else:
                raw.pop(key, None)
    enabled = form.get("enabled") == "on"
    if not enabled or "enabled" in old:  # a rule is on by default: no key written for that
        raw["enabled"] = enabled
    process = form.get("process", "").strip()
    if process:
        raw["scenario"] = {**(old.get("scenario") or {}), "process": process}
    elif "process" in form:
        raw.pop("scenario", None)
    return raw


@bp.route("/rules/<rule_id>", methods=["GET", "POST"])
@page_auth("admin")
def edit(rule_id: str) -> Any:
    directory = settings().rules_dir
    found = rule_admin.find(directory, rule_id)
    raw, problems, preview = dict(found.raw), [], None
    status = 200
    if request.method == "POST":
        try:
            raw = raw_from_form(found.raw, request.form)
            if request.form.get("action") == "preview":
                _path, _old, _new, rule = rule_admin.candidate(directory, rule_id, raw)
                preview = rule_admin.preview(db(), rule)
            else:
                change = rule_admin.save(db(), g.principal, directory, rule_id, raw)
                db().commit()
                flash(_("Change proposed: it takes effect when another administrator approves it") if change
                      else _("Nothing to change"), "ok")
                return redirect(url_for("rule_pages.edit", rule_id=rule_id))
        except Invalid as exc:
            problems = exc.details.get("problems") or [{"message": str(exc)}]
            status = 422
    return render_template("rule_edit.html", rule_id=rule_id, raw=raw, file=found.path.name, problems=problems,
                           preview=preview, ops=OPS, kinds=KINDS, severities=SEVERITIES,
                           processes=sorted(bpmn.executable_process_ids(settings().processes_dir)),
                           history=rule_admin.history(db(), rule_id),
                           pending=rule_admin.pending(db(), rule_id)), status


@bp.route("/rules/<rule_id>/revert/<int:entry_id>", methods=["POST"])
@page_auth("admin")
def revert(rule_id: str, entry_id: int) -> Any:
    rule_admin.revert(db(), g.principal, settings().rules_dir, entry_id)
    db().commit()
    flash(_("Revert proposed: the file goes back when another administrator approves it"), "ok")
    return redirect(url_for("rule_pages.edit", rule_id=rule_id))


@bp.route("/rules/<rule_id>/changes/<int:change_id>", methods=["POST"])
@page_auth("admin")
def decide(rule_id: str, change_id: int) -> Any:
    """Approve or reject (withdraw, for its author) a pending change."""
    if request.form.get("action") == "approve":
        rule_admin.approve(db(), g.principal, settings().rules_dir, change_id)
        message = _("Change approved: it judges the next event")
    else:
        rule_admin.reject(db(), g.principal, change_id, request.form.get("reason", ""))
        message = _("Change rejected: the rule file is unchanged")
    db().commit()
    flash(message, "ok")
    return redirect(url_for("rule_pages.edit", rule_id=rule_id))
