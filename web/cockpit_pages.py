"""The cockpit: every process with its instances by status, and the instances themselves, filtered and paged,
each with the step it waits at. Instances stopped by a failed step come first to the eye (the instance page has
the retry, resume and cancel buttons)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from engine import cockpit
from web.auth import page_auth
from web.db import db
from web.input_guard import bounded_int
from web.pages import live_page

bp = Blueprint("cockpit_pages", __name__)
PER_PAGE = 50


@bp.route("/instances")
@live_page
@page_auth(*cockpit.READERS)
def instances() -> Any:
    args = request.args
    status = args.get("status") or "active"
    if status not in cockpit.STATUS_FILTERS:
        status = "active"
    process = args.get("process") or None
    q = (args.get("q") or "").strip()[:200] or None
    page = max(1, args.get("page", default=1, type=bounded_int) or 1)
    session = db()
    stmt = cockpit.instance_query(process=process, status=status, q=q)
    total = cockpit.total(session, stmt)
    rows = cockpit.instance_rows(session, stmt, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    return render_template("instances.html", overview=cockpit.overview(session), rows=rows, total=total,
                           status=status, process=process, q=q or "", page=page, per_page=PER_PAGE,
                           statuses=cockpit.STATUSES)
