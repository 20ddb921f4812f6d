"""A person's own account: who they are, their password, their sessions ("sign out everywhere else")."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine import sessions
from engine.errors import EngineError
from engine.org import change_password
from web.auth import current_user
from web.db import db

bp = Blueprint("account", __name__)


def _me() -> Any:
    return current_user()


@bp.route("/account")
def account() -> Any:
    me = _me()
    if me is None:
        return redirect(url_for("pages.login", next=request.full_path))
    if me.must_change_password:
        return redirect(url_for("account.password"))
    return render_template("account.html", me=me, live=sessions.live_sessions(db(), me.id),
                           current=g.session_id, error=None)


@bp.route("/account/password", methods=["GET", "POST"])
def password() -> Any:
    """Reachable while an administrator's reset requires a new password (every other page is not)."""
    me = _me()
    if me is None:
        return redirect(url_for("pages.login", next=request.full_path))
    error = None
    if request.method == "POST":
        form = request.form
        if form.get("new_password", "") != form.get("confirm_password", ""):
            error = _("The two new passwords differ")
        else:
            try:
                change_password(db(), me, form.get("current_password", "")[:1024], form.get("new_password", ""),
                                keep_session=g.session_id)
                db().commit()
                flash(_("Your password is changed; your other sessions have ended"), "ok")
                return redirect(url_for("account.account"))
            except EngineError as exc:
                db().rollback()
                error = _(exc.message, **exc.params)
    return render_template("account_password.html", me=me, error=error), (422 if error else 200)


@bp.route("/account/sessions/end", methods=["POST"])
def end_other_sessions() -> Any:
    me = _me()
    if me is None:
        return redirect(url_for("pages.login"))
    count = sessions.end_all(db(), me.id, reason="signed_out_everywhere", actor=me.username, keep=g.session_id)
    db().commit()
    flash(_("%(n)s other session(s) ended", n=count), "ok")
    return redirect(url_for("account.account"))
