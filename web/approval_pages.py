"""What waits for a second person: process versions deployed by a person (approve or reject them, with the diff
against the version in use) and, for administrators, the rule changes proposed in the rule editor."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine import approvals, rule_admin
from web.auth import page_auth
from web.db import db

bp = Blueprint("approval_pages", __name__)
READERS = ("admin", "leader", "designer")


@bp.route("/approvals")
@page_auth(*READERS)
def approvals_page() -> Any:
    who = g.principal
    versions = [(p, approvals.may_approve(who, p.definition) and p.definition.deployed_by != who.name)
                for p in approvals.pending(db())]
    rules = rule_admin.pending(db()) if who.role in rule_admin.EDITORS else []
    return render_template("approvals.html", versions=versions, rule_changes=rules)


@bp.route("/approvals/processes/<int:definition_id>", methods=["POST"])
@page_auth(*READERS)
def decide(definition_id: int) -> Any:
    if request.form.get("action") == "approve":
        definition = approvals.approve(db(), definition_id, g.principal)
        message = _("Version %(version)s of %(process)s approved: new instances start from it",
                    version=definition.version, process=definition.process_key)
    else:
        definition = approvals.reject(db(), definition_id, g.principal, request.form.get("reason", ""))
        message = _("Version %(version)s of %(process)s rejected", version=definition.version,
                    process=definition.process_key)
    db().commit()
    flash(message, "ok")
    return redirect(url_for("approval_pages.approvals_page"))
