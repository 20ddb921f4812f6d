"""The Jinja2 pages: login, inbox, task form, alerts, process instance, wall."""

from __future__ import annotations

from datetime import datetime
from functools import wraps
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from redis.exceptions import RedisError
from sqlalchemy import func, select

from engine import attachments, bus, directives, operations, registry, tasks, versions, wall
from engine.config import settings
from engine.db import utcnow
from engine.errors import N_, Invalid
from engine.models import Department, Notification, ProcessDefinition, Unit
from engine.org import SYSTEM as SYSTEM_VIEW
from web import sign_in
from web.api.alerts import alert_query
from web.api.instances import instance_view
from web.auth import current_user, page_auth
from web.db import db
from web.input_guard import bounded_int

bp = Blueprint("pages", __name__)
# English message ids; the Vietnamese catalog gives "Thấp", "Trung bình", "Cao", "Khẩn cấp"...
SEVERITY_LABELS = {"thap": N_("Low"), "trung_binh": N_("Medium"), "cao": N_("High"), "khan_cap": N_("Emergency")}
STATUS_LABELS = {"open": N_("waiting"), "completed": N_("completed"), "cancelled": N_("cancelled"),
                 "running": N_("running"), "suspended": N_("suspended"), "incident": N_("incident"),
                 "firing": N_("firing"), "in_handling": N_("in handling"), "closed": N_("closed"),
                 "acknowledged": N_("acknowledged"), "resolved": N_("resolved")}
ROLE_LABELS = {"leader": N_("Leaders"), "officer": N_("Officers"), "operator": N_("IOC operators"),
               "designer": N_("Process designers"), "admin": N_("Administrators")}
SECTORS = {"environment": N_("Environment"), "traffic": N_("Traffic and public order"),
           "fisheries": N_("Fisheries"), "socio_economic": N_("Socio-economic indicators"),
           "government": N_("Government performance"), "media": N_("Press and social media"),
           "health": N_("Health"), "education": N_("Education")}
ACTION_LABELS = {"instance.started": N_("Process started"), "instance.completed": N_("Process completed"),
                 "task.created": N_("Task created"), "task.claimed": N_("Task taken"),
                 "task.completed": N_("Task completed"), "alert.opened": N_("Alert opened"),
                 "alert.in_handling": N_("Alert in handling"), "alert.assigned": N_("Alert assigned"),
                 "alert.closed": N_("Alert closed"), "task.unclaimed": N_("Task given back"),
                 "task.delegated": N_("Task handed over"), "task.commented": N_("Comment"),
                 "timer.fired": N_("Timer fired"), "instance.incident": N_("Incident: a step failed"),
                 "instance.retried": N_("Failed step retried"), "instance.suspended": N_("Process suspended"),
                 "instance.resumed": N_("Process resumed"), "instance.cancelled": N_("Process cancelled"),
                 "instance.rewound": N_("Moved back to an earlier step"), "message.received": N_("Message received"),
                 "alert.acknowledged": N_("Alert acknowledged"), "alert.escalated": N_("Alert escalated"),
                 "alert.resolved": N_("Alert resolved: the condition cleared"), "alert.repeated": N_("Seen again"),
                 "alert.notification_silenced": N_("Notification held back by a silence"),
                 "rules.changed": N_("Rule changed"), "rules.reverted": N_("Rule reverted"),
                 "task.taken_over": N_("Task taken over")}


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    def label(table: dict[str, str]) -> Any:
        return lambda key: _(table[key]) if key in table else key

    def unread_count() -> int:
        me = current_user()
        if me is None:
            return 0
        return db().scalar(select(func.count()).select_from(Notification).where(
            Notification.user_id == me.id, Notification.channel == "in_app", Notification.read_at.is_(None))) or 0

    return {"user": current_user(), "now_utc": utcnow(), "severity_label": label(SEVERITY_LABELS),
            "unread_count": unread_count,
            "status_label": label(STATUS_LABELS), "role_label": label(ROLE_LABELS),
            "action_label": label(ACTION_LABELS), "sector_pages": sector_pages()}


def sector_pages() -> list[dict[str, Any]]:
    """The registered sectors' navigation entries (engine.sectors), with the blueprint each one's pages are in."""
    from engine import sectors

    return [{"endpoint": page.endpoint, "title": page.title, "blueprint": page.endpoint.split(".")[0]}
            for sector in sectors.all_sectors() for page in sector.pages]


@bp.route("/")
def home() -> Any:
    return redirect(url_for("pages.inbox") if current_user() else url_for("pages.login"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "POST":
        return sign_in.attempt(request.form.get("username", ""), request.form.get("password", ""),
                               request.args.get("next"))
    return render_template("login.html", error=None)


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    sign_in.sign_out()
    return redirect(url_for("pages.login"))


def live_page(view: Any) -> Any:
    """A page that refreshes itself from the live stream (``data-live``): where the stream stands is read before
    anything else of the request (``g.live_since``), in particular before the database snapshot that the page's
    rows come from, and the page's script follows the changes from there. So a change committed while the page is
    being made or on its way to the browser still refreshes it ("" when Redis cannot say: the script then follows
    from the moment it connects)."""
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            g.live_since = bus.latest_id()
        except RedisError:
            g.live_since = ""
        return view(*args, **kwargs)

    return wrapper


@bp.route("/inbox")
@live_page
@page_auth()
def inbox() -> Any:
    scope = request.args.get("scope", "all")
    if scope not in tasks.SCOPES:
        scope = "all"
    overdue = request.args.get("overdue") == "1"
    due_soon = request.args.get("due_soon") == "1"
    sector = request.args.get("sector") or None
    unit = request.args.get("unit") or None
    stmt = tasks.inbox_query(g.principal, scope, "open", overdue, due_soon=due_soon, sector=sector, unit=unit,
                             window=200)
    rows = list(db().scalars(stmt.limit(200)))
    units = list(db().scalars(select(Unit).where(Unit.parent_id.is_not(None)).order_by(Unit.name)))
    return render_template("inbox.html", tasks=rows, scope=scope, overdue=overdue, due_soon=due_soon,
                           sector=sector, unit=unit, units=units, sectors=SECTORS)


def _choices() -> dict[str, list[Department]]:
    return {"departments": list(db().scalars(select(Department).order_by(Department.kind, Department.id)))}


@bp.route("/tasks/<int:task_id>", methods=["GET", "POST"])
@page_auth()
def task(task_id: int) -> Any:
    session_ = db()
    row = tasks.get_task(session_, task_id, g.principal)
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    if request.method == "POST":
        action = request.form.get("action")
        if action in ("claim", "unclaim", "delegate", "comment", "draft", "attach", "take_over"):
            return _task_action(task_id, action)
        values = {f["id"]: request.form.get(f["id"]) for f in row.form}
        for f in row.form:
            if f.get("type") == "boolean":
                values[f["id"]] = request.form.get(f["id"]) == "true"
        try:
            tasks.complete_task(session_, task_id, g.principal, values)
        except Invalid as exc:
            session_.rollback()
            errors = {k: _(v) for k, v in exc.details.get("fields", {}).items()}
            row = tasks.get_task(session_, task_id, g.principal)
        else:
            session_.commit()
            flash(_("Task completed: %(name)s", name=row.name), "ok")
            return redirect(url_for("pages.inbox"))
    view = instance_view(row.instance_id, g.principal) if row.instance_id else None
    comments = tasks.comments_for(session_, task_id, g.principal)
    files = attachments.for_task(session_, task_id, g.principal)
    can_hand_over = g.principal.role in tasks.OVERSEERS or row.assignee_id in (None, g.principal.user_id)
    may_work = tasks.may_work(g.principal, row, session_)
    can_take_over = g.principal.role in tasks.TAKERS and row.assignee_id != g.principal.user_id and not may_work
    return render_template("task.html", task=row, errors=errors, values=values or row.draft or {},
                           choices=_choices(), view=view, comments=comments, files=files,
                           can_hand_over=can_hand_over, may_work=may_work, can_take_over=can_take_over
                           ), (422 if errors else 200)


def _task_action(task_id: int, action: str) -> Any:
    session_ = db()
    form = request.form
    if action == "claim":
        tasks.claim_task(session_, task_id, g.principal)
        message = _("You have taken this task")
    elif action == "unclaim":
        tasks.unclaim_task(session_, task_id, g.principal)
        message = _("The task is back in its group's inbox")
    elif action == "take_over":
        tasks.take_over_task(session_, task_id, g.principal, form.get("reason", ""))
        message = _("You have taken over this task: you may complete it")
    elif action == "delegate":
        tasks.delegate_task(session_, task_id, g.principal, reason=form.get("reason", ""),
                            user=form.get("to_user") or None, department=form.get("to_department") or None)
        message = _("The task has been handed over")
    elif action == "draft":
        row = tasks.get_task(session_, task_id, g.principal)
        tasks.save_draft(session_, task_id, g.principal, {f["id"]: form.get(f["id"]) for f in row.form
                                                          if form.get(f["id"]) is not None})
        message = _("Draft saved")
    elif action == "attach":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise Invalid(N_("Choose a file to attach"))
        attachments.attach(session_, task_id, g.principal, upload.filename, upload.read(attachments.MAX_BYTES + 1))
        message = _("File attached")
    else:
        tasks.add_comment(session_, task_id, g.principal, form.get("body", ""))
        message = _("Comment added")
    session_.commit()
    flash(message, "ok")
    if action == "delegate" and not tasks.can_see(g.principal, tasks.get_task(session_, task_id, SYSTEM_VIEW)):
        return redirect(url_for("pages.inbox"))
    return redirect(url_for("pages.task", task_id=task_id))


@bp.route("/alerts")
@live_page
@page_auth()
def alerts() -> Any:
    status = request.args.get("status") or "open"
    rows = list(db().scalars(alert_query({"status": status if status != "all" else None}).limit(300)))
    return render_template("alerts.html", alerts=rows, status=status)


INSTANCE_ACTORS = (*operations.OPERATORS, "leader", *versions.MIGRATORS)  # the engine checks each action's own


@bp.route("/instances/<int:instance_id>", methods=["GET", "POST"])
@page_auth(post_roles=INSTANCE_ACTORS)
def instance(instance_id: int) -> Any:
    if request.method == "POST":
        action, form, who, session_ = request.form.get("action"), request.form, g.principal, db()
        if action == "retry":
            operations.retry(session_, instance_id, who)
        elif action == "suspend":
            operations.suspend(session_, instance_id, who, form.get("reason", ""))
        elif action == "resume":
            operations.resume(session_, instance_id, who)
        elif action == "cancel":
            operations.cancel(session_, instance_id, who, form.get("reason", ""))
        elif action == "rewind":
            operations.rewind(session_, instance_id, who, form.get("task", ""), form.get("reason", ""))
        elif action == "migrate":
            versions.migrate(session_, instance_id, who)
        else:
            raise Invalid(N_("Unknown action"))
        session_.commit()
        flash(_("Done"), "ok")
        return redirect(url_for("pages.instance", instance_id=instance_id))
    view = instance_view(instance_id, g.principal)
    done_steps = sorted({t.bpmn_id for t in view["tasks"] if t.status == "completed"})
    migration = None
    inst = view["instance"]
    if g.principal.role in versions.MIGRATORS and inst.status in ("running", "suspended", "incident"):
        if registry.latest(db(), inst.definition.process_key).id != inst.definition_id:
            migration = versions.preview(db(), instance_id)
    return render_template("instance.html", done_steps=done_steps, migration=migration, **view)


BLANK_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Definitions_new" targetNamespace="https://ioc.local/bpmn">
  <bpmn:process id="quy_trinh_moi" name="Quy trình mới" isExecutable="true">
    <bpmn:startEvent id="start" name="Bắt đầu" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="Diagram_new">
    <bpmndi:BPMNPlane id="Plane_new" bpmnElement="quy_trinh_moi">
      <bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="180" y="160" width="36" height="36" />
      </bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>"""


@bp.route("/designer")
@page_auth("designer", "admin")
def designer() -> Any:
    definition_id = request.args.get("definition_id", type=bounded_int)
    definition = db().get(ProcessDefinition, definition_id) if definition_id else None
    waiting = db().scalars(select(ProcessDefinition).where(ProcessDefinition.status == registry.PENDING)
                           .order_by(ProcessDefinition.id))
    return render_template(
        "designer.html", definitions=registry.all_latest(db()), pending=list(waiting), blank=BLANK_BPMN,
        xml_url=url_for("processes.Xml", definition_id=definition.id) if definition else None,
        filename=definition.filename if definition else "quy_trinh_moi.bpmn")


DIRECTIVE_STATES = {"to_acknowledge": N_("waiting to be acknowledged"), "in_progress": N_("in progress"),
                    "to_review": N_("report waiting for review"), "extension_asked": N_("extension requested"),
                    "overdue": N_("overdue"), "done": N_("done")}


@bp.route("/directives", methods=["GET"])
@page_auth()
def directives_page() -> Any:
    session_ = db()
    rows = [directives.summary(session_, d, g.principal) for d in directives.visible(session_, g.principal)]
    return render_template("directives.html", directives=rows, state_label=lambda s: _(DIRECTIVE_STATES.get(s, s)))


@bp.route("/directives/new", methods=["GET", "POST"])
@page_auth("leader", "admin")
def new_directive() -> Any:
    errors: dict[str, str] = {}
    form = request.form
    if request.method == "POST":
        try:
            local = datetime.fromisoformat(form.get("deadline", "")).replace(tzinfo=ZoneInfo(settings().timezone))
        except ValueError:
            errors["deadline"] = _("must be a date and time")
        else:
            try:
                upload = request.files.get("document")
                document = (upload.filename, upload.read(attachments.MAX_BYTES + 1)) if upload and upload.filename \
                    else None
                directives.issue(db(), g.principal, title=form.get("title", ""), content=form.get("content", ""),
                                 deadline=local, departments=form.getlist("departments"), document=document)
            except Invalid as exc:
                db().rollback()
                errors = {k: _(v) for k, v in exc.details.get("fields", {}).items()} \
                    or {"document": _(exc.message, **exc.params)}  # the fields are right: the file was refused
            else:
                db().commit()
                flash(_("The directive has been issued"), "ok")
                return redirect(url_for("pages.directives_page"))
    return render_template("directive_new.html", errors=errors, form=form, choices=_choices()), (422 if errors else 200)


@bp.route("/wall")
@page_auth("leader", "operator", "admin", "designer")
def wall_page() -> Any:
    return render_template("wall.html", summary=wall.summary(db()))
