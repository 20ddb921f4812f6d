"""Machines' tokens in the browser (administrators): the list with scopes, sources, expiry and last use; make one
(shown once, on the answer to the form, never again); revoke. The engine (engine.tokens) writes and audits."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from engine import scopes, tokens
from engine.db import utcnow
from engine.errors import N_, EngineError, NotFound
from engine.models import ApiToken, Department
from engine.org import ROLE_NAMES
from web.auth import page_auth
from web.db import db

bp = Blueprint("admin_tokens", __name__)


def _page(error: str | None = None, status: int = 200, values: dict[str, Any] | None = None) -> Any:
    rows = list(db().scalars(select(ApiToken).options(selectinload(ApiToken.department))
                             .order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc()).limit(500)))
    departments = list(db().scalars(select(Department).order_by(Department.kind, Department.name)))
    return render_template("admin_tokens.html", rows=rows, scopes=scopes.SCOPES, roles=ROLE_NAMES, now=utcnow(),
                           departments=departments, error=error, live=tokens.is_live,
                           values=values or {"role": "operator", "scopes": list(scopes.DEFAULT_SCOPES),
                                             "days": tokens.DEFAULT_DAYS}), status


@bp.route("/admin/tokens", methods=["GET", "POST"])
@page_auth("admin")
def tokens_page() -> Any:
    if request.method == "GET":
        return _page()
    form = request.form
    values = {"name": form.get("name", "")[:80], "role": form.get("role", ""), "scopes": form.getlist("scope"),
              "sources": [s.strip() for s in form.get("sources", "").split(",") if s.strip()][:100],
              "department": form.get("department") or None, "days": form.get("days", "")}
    try:
        days = None if values["days"] == "never" else int(values["days"] or tokens.DEFAULT_DAYS)
        made = tokens.create_token(db(), values["name"], values["role"], department_code=values["department"],
                                   actor=g.principal.name, scope_list=values["scopes"] or [],
                                   sources=values["sources"] or None, days=days)
        db().commit()
    except ValueError:
        db().rollback()
        return _page(_("Give the number of days, or choose never"), 422, values)
    except EngineError as exc:
        db().rollback()
        return _page(_(exc.message, **exc.params), exc.status, values)
    response = make_response(render_template("admin_token_made.html", name=values["name"], token=made))
    response.headers["Cache-Control"] = "no-store"  # the token is shown in this one answer only
    return response


@bp.route("/admin/tokens/<int(max=2147483647):token_id>/revoke", methods=["POST"])
@page_auth("admin")
def revoke(token_id: int) -> Any:
    row = db().get(ApiToken, token_id)
    if row is None:
        raise NotFound(N_("No token with id %(id)s"), id=token_id)
    tokens.revoke(db(), row, actor=g.principal.name)
    db().commit()
    flash(_("Token %(name)s revoked: it is refused from now on", name=row.name), "ok")
    return redirect(url_for("admin_tokens.tokens_page"))
