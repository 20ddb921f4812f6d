"""Pages for data: sources with their health (upload a spreadsheet, see each run's bad rows, download a
template) and indicators against the plan (a chart by month, a table by commune)."""

from __future__ import annotations

import io
import json
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from connectors import runtime
from connectors.base import BadConfig
from engine import indicators, quarantine, sources
from engine.db import utcnow
from engine.errors import N_, Invalid
from engine.models import Indicator, Source, Unit
from web.auth import page_auth
from web.db import db
from web.input_guard import bounded_int

bp = Blueprint("data_pages", __name__)
STATUS_LABELS = {"new": N_("not run yet"), "ok": N_("working"), "failing": N_("failing"),
                 "auth_failed": N_("credentials refused"), "stale": N_("no fresh data")}


@bp.route("/sources", methods=["GET", "POST"])
@page_auth(post_roles=sources.MANAGERS)
def sources_page() -> Any:
    problems: list[str] = []
    form = request.form
    if request.method == "POST":
        try:
            config = _json_config(form.get("config", "{}"))
            kind = form.get("kind", "")
            if kind not in runtime.KINDS:
                raise Invalid(N_("Choose a connector kind"))
            sources.create(db(), g.principal, name=form.get("name", "").strip(), kind=kind,
                           title=form.get("title", "").strip(), config=source_config(kind, config),
                           interval_s=bounded_int(form.get("interval_s") or "300"),
                           stale_after_s=bounded_int(form.get("stale_after_s") or "3600"),
                           enabled=form.get("enabled") == "on")
            db().commit()
            flash(_("Data source added"), "ok")
            return redirect(url_for("data_pages.source_page", name=form.get("name", "").strip()))
        except (Invalid, ValueError) as exc:
            problems = list(getattr(exc, "details", {}).get("problems") or []) or [str(exc)]
    rows = list(db().scalars(select(Source).order_by(Source.name)))
    return render_template("sources.html", sources=rows, health={s.name: sources.health(s) for s in rows},
                           labels={k: _(v) for k, v in STATUS_LABELS.items()}, kinds=sorted(runtime.KINDS),
                           problems=problems, form=form), (422 if problems else 200)


def _json_config(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError as exc:
        raise Invalid(N_("The configuration is not valid JSON: line %(line)s, column %(col)s"), line=exc.lineno,
                      col=exc.colno) from None
    if not isinstance(value, dict):
        raise Invalid(N_("The configuration must be a JSON object"))
    return value


def source_config(kind: str, config: dict[str, Any], previous: dict[str, Any] | None = None) -> dict[str, Any]:
    from web.api.sources import checked

    return checked(kind, config, previous)


@bp.route("/sources/<name>/settings", methods=["POST"])
@page_auth("admin")
def source_settings(name: str) -> Any:
    source = sources.get(db(), name, lock=True)
    form = request.form
    if form.get("action") == "test":
        result = runtime.try_config(source.kind, sources.unsealed(
            source_config(source.kind, _json_config(form.get("config", "{}")), source.config)), source.name)
        flash(_("Test: %(message)s", message=result["message"] + ("; " + "; ".join(result.get("problems", []))
                                                                  if result.get("problems") else "")),
              "ok" if result["ok"] else "error")
        return redirect(url_for("data_pages.source_page", name=name))
    sources.update(db(), g.principal, source, title=form.get("title", source.title),
                   config=source_config(source.kind, _json_config(form.get("config", "{}")), source.config),
                   interval_s=form.get("interval_s", type=bounded_int) or source.interval_s,
                   stale_after_s=form.get("stale_after_s", type=bounded_int) or source.stale_after_s,
                   enabled=form.get("enabled") == "on")
    db().commit()
    flash(_("Data source saved"), "ok")
    return redirect(url_for("data_pages.source_page", name=name))


@bp.route("/sources/<name>", methods=["GET", "POST"])
@page_auth(post_roles=sources.UPLOADERS)
def source_page(name: str) -> Any:
    source = sources.get(db(), name)
    report: dict[str, Any] | None = None
    status = 200
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise Invalid(N_("Choose a file to upload"))
        try:
            outcome = runtime.accept(db(), source, upload.read(10 * 1024 * 1024 + 1), upload.mimetype or "",
                                     "upload", g.principal.name)
        except BadConfig as exc:
            raise Invalid(N_("The file cannot be read: %(reason)s"), reason=str(exc)) from None
        db().commit()
        report = {"stored": outcome.items, "duplicates": outcome.duplicates, "bad": outcome.bad,
                  "warnings": outcome.warnings}
        if outcome.bad:
            status = 422 if not outcome.items else 200
        else:
            flash(_("%(n)s values stored", n=outcome.items), "ok")
    from web.api.sources import view

    shown = json.dumps(view(source)["config"], ensure_ascii=False, indent=2)
    return render_template("source.html", source=source, health=sources.health(source), report=report,
                           runs=sources.runs(db(), source, 20), config_text=shown,
                           labels={k: _(v) for k, v in STATUS_LABELS.items()}), status


@bp.route("/sources/<name>/template.xlsx")
@page_auth()
def source_template(name: str) -> Any:
    from connectors.spreadsheet import template

    source = sources.get(db(), name)
    if source.kind != "spreadsheet":
        raise Invalid(N_("This source does not take uploads"))
    config = sources.unsealed(source.config)
    units = [(u.code, u.full_name) for u in db().scalars(select(Unit).order_by(Unit.code))]
    period = utcnow().astimezone(indicators.tz()).strftime("%Y-%m") if config.get("period") == "month" else ""
    content = template([i["column"] for i in config["indicators"]], period, units)
    return send_file(io.BytesIO(content), as_attachment=True, download_name=f"{name}-mau.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@bp.route("/indicators")
@page_auth()
def indicators_page() -> Any:
    rows = list(db().scalars(select(Indicator).order_by(Indicator.sector, Indicator.code)))
    year = utcnow().astimezone(indicators.tz()).year
    return render_template("indicators.html", indicators=rows, year=year,
                           progress={i.code: indicators.progress(db(), i, year) for i in rows},
                           latest=indicators.latest(db(), rows))


@bp.route("/indicators/<code>")
@page_auth()
def indicator_page(code: str) -> Any:
    indicator = indicators.get(db(), code)
    year = request.args.get("year", type=bounded_int) or utcnow().astimezone(indicators.tz()).year
    points = [p for p in indicators.series(db(), indicator, granularity="month")
              if p["period"].startswith(f"{year:04d}-")]
    by_unit = indicators.series(db(), indicator, level="unit", granularity="year")
    by_unit = [p for p in by_unit if p["period"] == f"{year:04d}" and p["unit"] != indicators.PROVINCE]
    names = dict(db().execute(select(Unit.code, Unit.full_name)).all())
    return render_template("indicator.html", indicator=indicator, year=year, points=points,
                           chart=chart(indicator, year, points), by_unit=sorted(by_unit, key=lambda p: -p["value"]),
                           names=names, progress=indicators.progress(db(), indicator, year))


def chart(indicator: Indicator, year: int, points: list[dict[str, Any]]) -> dict[str, Any]:
    """An SVG line chart of the year by month: the actual (cumulative for sums) against the plan's pace."""
    target = (indicator.targets or {}).get(str(year))
    cumulative = indicator.aggregation == "sum"
    values: list[float | None] = [None] * 12
    total = 0.0
    for p in points:
        m = int(p["period"][5:7])
        total += p["value"]
        values[m - 1] = total if cumulative else p["value"]
    plan = [target * (m / 12) if cumulative else target for m in range(1, 13)] if target is not None else []
    top = max([v for v in values if v is not None] + plan + [1.0]) * 1.1
    w, h, left, bottom = 720, 260, 50, 30

    def xy(i: int, v: float) -> str:
        return f"{left + i * (w - left - 10) / 11:.1f},{h - bottom - v / top * (h - bottom - 10):.1f}"

    actual = " ".join(xy(i, v) for i, v in enumerate(values) if v is not None)
    pace = " ".join(xy(i, v) for i, v in enumerate(plan))
    ticks = [{"y": h - bottom - f * (h - bottom - 10), "label": f"{top * f:,.0f}"} for f in (0, 0.25, 0.5, 0.75, 1)]
    return {"w": w, "h": h, "actual": actual, "plan": pace, "ticks": ticks, "left": left, "bottom": bottom,
            "months": [{"x": left + i * (w - left - 10) / 11, "label": f"T{i + 1}"} for i in range(12)],
            "cumulative": cumulative}


@bp.route("/events/quarantined", methods=["GET", "POST"])
@page_auth("operator", "admin")
def quarantine_page() -> Any:
    if request.method == "POST":
        chosen = request.form.get("event_id")
        try:
            ids = None if chosen == "all" else [int(chosen or "")]
        except ValueError:
            raise Invalid(N_("Choose an event to send back")) from None
        sent = quarantine.requeue(db(), g.principal, ids)
        db().commit()
        flash(_("%(n)s events sent back for evaluation", n=len(sent)) if sent
              else _("Nothing to send back: the event is no longer quarantined"), "ok" if sent else "error")
        return redirect(url_for("data_pages.quarantine_page"))
    before = request.args.get("before_id", type=bounded_int)
    page = quarantine.quarantined(db(), limit=100, before_id=before)
    return render_template("quarantine.html", page=page,
                           shown={ev.id: json.dumps(ev.values, ensure_ascii=False)[:300] for ev in page.events})
