"""Issue 18, "done when": every route of the app (API and pages), as anonymous, each role, an officer of another
department and two scoped tokens, against the objects of one department (Sở Nông nghiệp và Môi trường): who gets
in (status codes) and what they read (bodies). The table below is the duty model, written out; the routes come from
the app, so a new route without a line here fails the test.

A cell is *allowed* (the request passes the checks: any answer but 401, 403 or a redirect to the login) or *denied*
(401, 403, 404 or the login page). Reads are sent for every principal; a change is sent only where it must be
refused (sending it where it is allowed would change the objects the other cells look at). Every answer an
officer of another department or a token gets is searched for the department's private texts.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest

from engine import jobs
from tests import factories
from tests.test_api import bearer
from tests.test_sign_in import logged_in

A_SECRETS = ("ghi-chu-bi-mat-A", "bao-cao-bi-mat-A", "nhap-bi-mat-A")
PEOPLE = ("leader", "operator", "designer", "admin", "officer_a", "officer_b")
TOKENS = ("tok_sensor", "tok_reader")
ALL = frozenset(PEOPLE)
OWN = ALL - {"officer_b"}  # the object belongs to officer_a's department
STAFF = frozenset({"leader", "operator", "designer", "admin"})
OPS = frozenset({"operator", "admin"})
OPS_LEAD = frozenset({"operator", "leader", "admin"})
ADMIN = frozenset({"admin"})
DESIGN = frozenset({"designer", "admin"})
LEAD = frozenset({"leader", "admin"})
HANDLER = frozenset({"officer_a"})  # the department's own work
DISPATCH = HANDLER | {"leader", "operator", "admin"}  # give a task back to its group, or hand it on, with a reason
TASK_READERS = frozenset({"leader", "admin", "officer_a"})  # a task's form, comments and files
PUBLIC = "public"  # anyone, anonymous included: not checked cell by cell
SIGNED = "signed"  # a machine proves itself by an HMAC signature instead (the webhook): not checked here

# (endpoint, method) -> who may. Object routes point at officer_a's department's objects.
EXPECTED: dict[tuple[str, str], Any] = {
    ("pages.home", "GET"): PUBLIC, ("pages.login", "GET"): PUBLIC, ("pages.login", "POST"): PUBLIC,
    ("pages.logout", "POST"): PUBLIC, ("static", "GET"): PUBLIC, ("pages_vendor", "GET"): PUBLIC,
    ("alert_pages.service_worker", "GET"): PUBLIC, ("api-docs.openapi_json", "GET"): PUBLIC,
    ("api-docs.openapi_swagger_ui", "GET"): PUBLIC, ("sso.start", "GET"): PUBLIC, ("sso.callback", "GET"): PUBLIC,
    ("sources.WebhookIn", "POST"): SIGNED,
    ("account.account", "GET"): ALL, ("account.password", "GET"): ALL, ("account.password", "POST"): ALL,
    ("account.end_other_sessions", "POST"): ALL,
    # alerts
    ("pages.alerts", "GET"): ALL, ("alert_pages.alert", "GET"): OWN, ("alert_pages.alert", "POST"): OWN - {"designer"},
    ("alerts.Alerts", "GET"): ALL, ("alerts.OneAlert", "GET"): OWN, ("alerts.AlertCap", "GET"): OWN,
    ("alerts.AlertFeed", "GET"): ALL, ("alerts.Acknowledge", "POST"): OWN - {"designer"},
    # tasks
    ("pages.inbox", "GET"): ALL, ("tasks.Tasks", "GET"): ALL, ("tasks.TaskOne", "GET"): TASK_READERS,
    ("pages.task", "GET"): TASK_READERS, ("pages.task", "POST"): HANDLER,
    ("tasks.Attachments", "GET"): TASK_READERS, ("tasks.Attachments", "POST"): HANDLER,
    ("tasks.AttachmentFile", "GET"): TASK_READERS,
    ("tasks.Comments", "GET"): TASK_READERS, ("tasks.Comments", "POST"): TASK_READERS,
    ("tasks.Claim", "POST"): HANDLER, ("tasks.Complete", "POST"): HANDLER, ("tasks.Delegate", "POST"): DISPATCH,
    ("tasks.Draft", "POST"): HANDLER, ("tasks.Unclaim", "POST"): DISPATCH, ("tasks.TakeOver", "POST"): LEAD,
    # instances and processes
    ("cockpit_pages.instances", "GET"): STAFF, ("instances.Instances", "GET"): STAFF,
    ("instances.Instance", "GET"): OWN, ("pages.instance", "GET"): OWN,
    ("pages.instance", "POST"): STAFF,  # the page's form; each action then checks its own roles (the API's lines)
    **{(f"instances.instance_{a}", "POST"): OPS_LEAD for a in ("cancel", "resume", "retry", "rewind", "suspend")},
    ("instances.MigrationPreview", "GET"): STAFF, ("instances.MigrationPreview", "POST"): DESIGN,
    ("messages.Messages", "POST"): OPS_LEAD,
    ("processes.Processes", "GET"): ALL, ("processes.Processes", "POST"): DESIGN, ("processes.Xml", "GET"): ALL,
    ("processes.Overview", "GET"): STAFF, ("processes.Validate", "POST"): DESIGN, ("pages.designer", "GET"): DESIGN,
    ("processes.Pending", "GET"): DESIGN | LEAD, ("processes.Approve", "POST"): LEAD,
    ("processes.Reject", "POST"): LEAD | DESIGN,
    # directives
    ("pages.directives_page", "GET"): ALL, ("directives.Directives", "GET"): ALL,
    ("directives.Directives", "POST"): LEAD, ("directives.DirectiveOne", "GET"): OWN,
    ("pages.new_directive", "GET"): LEAD, ("pages.new_directive", "POST"): LEAD,
    # the wall and the live stream
    ("pages.wall_page", "GET"): STAFF, ("live.Wall", "GET"): STAFF, ("live.Stream", "GET"): ALL,
    # events and data
    ("events.Events", "POST"): OPS, ("events.Quarantined", "GET"): OPS, ("events.Requeue", "POST"): OPS,
    ("data_pages.quarantine_page", "GET"): OPS, ("data_pages.quarantine_page", "POST"): OPS,
    ("entities.Entities", "GET"): ALL, ("entities.OneEntity", "GET"): ALL, ("entities.Registry", "POST"): OPS,
    ("entities.VmsPositions", "POST"): OPS, ("entities.VmsPositionsCsv", "POST"): OPS,
    ("indicators.Indicators", "GET"): ALL, ("indicators.OneIndicator", "GET"): ALL, ("indicators.Export", "GET"): ALL,
    ("indicators.Observations", "GET"): ALL, ("indicators.Observations", "POST"): OPS_LEAD,
    ("indicators.Targets", "PUT"): LEAD, ("data_pages.indicators_page", "GET"): ALL,
    ("data_pages.indicator_page", "GET"): ALL,
    ("sources.Sources", "GET"): ALL, ("sources.Sources", "POST"): ADMIN, ("sources.OneSource", "GET"): ALL,
    ("sources.OneSource", "PATCH"): ADMIN, ("sources.Notify", "POST"): OPS, ("sources.RunSource", "POST"): OPS,
    ("sources.Runs", "GET"): ALL, ("sources.TestSource", "POST"): ADMIN,
    ("sources.Upload", "POST"): ALL - {"designer"},
    ("data_pages.sources_page", "GET"): ALL, ("data_pages.sources_page", "POST"): ADMIN,
    ("data_pages.source_page", "GET"): ALL, ("data_pages.source_page", "POST"): ALL - {"designer"},
    ("data_pages.source_settings", "POST"): ADMIN, ("data_pages.source_template", "GET"): ALL,
    # sectors
    ("environment_pages.monitor", "GET"): ALL, ("environment_pages.station", "GET"): ALL,
    ("fisheries_pages.monitor", "GET"): ALL, ("fisheries_pages.vessel", "GET"): ALL,
    ("traffic_pages.monitor", "GET"): ALL, ("traffic.Violations", "GET"): ALL,
    ("traffic.Sightings", "GET"): ALL - {"designer"}, ("traffic_pages.evidence", "GET"): ALL - {"designer"},
    ("cameras.Cameras", "GET"): ALL, ("cameras.Cameras", "POST"): OPS, ("cameras.Calibration", "GET"): ALL,
    ("cameras.Calibration", "PUT"): OPS, ("cameras.Evidence", "POST"): OPS, ("cameras.Health", "POST"): OPS,
    ("traffic_pages.cameras_list", "GET"): ALL, ("traffic_pages.cameras_list", "POST"): OPS,
    ("traffic_pages.camera", "GET"): ALL, ("traffic_pages.live_view", "GET"): ALL,
    ("traffic_pages.snapshot", "GET"): ALL,
    # notifications (each person's own) and silences
    ("alert_pages.notifications_page", "GET"): ALL, ("alert_pages.notifications_page", "POST"): ALL,
    ("notifications.Mine", "GET"): ALL, ("notifications.Read", "POST"): ALL,
    ("notifications.Preferences", "GET"): ALL, ("notifications.Preferences", "PUT"): ALL,
    ("notifications.PushKey", "GET"): ALL, ("notifications.PushSubscriptions", "POST"): ALL,
    ("notifications.Silences", "GET"): ALL, ("notifications.Silences", "POST"): OPS_LEAD,
    ("notifications.OneSilence", "DELETE"): OPS_LEAD,
    ("alert_pages.silences_page", "GET"): ALL, ("alert_pages.silences_page", "POST"): OPS_LEAD,
    # rules, organisation, administration
    ("rule_pages.rules", "GET"): ADMIN, ("rule_pages.edit", "GET"): ADMIN, ("rule_pages.edit", "POST"): ADMIN,
    ("rule_pages.revert", "POST"): ADMIN, ("rule_pages.decide", "POST"): ADMIN,
    ("approval_pages.approvals_page", "GET"): DESIGN | LEAD, ("approval_pages.decide", "POST"): LEAD,
    ("organisation.PendingUsers", "GET"): ADMIN, ("organisation.UserConfirmation", "POST"): ADMIN,
    ("organisation.Units", "GET"): ALL, ("organisation.Departments", "GET"): ALL,
    ("organisation.Departments", "POST"): ADMIN, ("organisation.OneDepartment", "PATCH"): ADMIN,
    ("organisation.Users", "GET"): ADMIN, ("organisation.Users", "POST"): ADMIN,
    ("organisation.OneUser", "PATCH"): ADMIN, ("organisation.UserPasswordReset", "POST"): ADMIN,
    ("organisation.UserSessionsEnd", "POST"): ADMIN, ("organisation.MyPassword", "POST"): ALL,
    ("tokens.Tokens", "GET"): ADMIN, ("tokens.Tokens", "POST"): ADMIN, ("tokens.OneToken", "DELETE"): ADMIN,
    **{(f"admin_pages.{name}", method): ADMIN for name, method in (
        ("overview", "GET"), ("users", "GET"), ("new_user", "GET"), ("new_user", "POST"), ("edit_user", "GET"),
        ("edit_user", "POST"), ("set_active", "POST"), ("reset_password", "POST"), ("end_sessions", "POST"),
        ("departments", "GET"), ("departments", "POST"), ("edit_department", "GET"),
        ("edit_department", "POST"), ("confirm_sign_on", "POST"))},
    ("admin_tokens.tokens_page", "GET"): ADMIN, ("admin_tokens.tokens_page", "POST"): ADMIN,
    ("admin_tokens.revoke", "POST"): ADMIN,
}
# What the two tokens may do (role operator): a sensor's events:write, a dashboard's alerts:read.
TOKEN_ALLOWED = {"tok_sensor": {("events.Events", "POST")},
                 "tok_reader": {("alerts.Alerts", "GET"), ("alerts.OneAlert", "GET"), ("alerts.AlertCap", "GET"),
                                ("alerts.AlertFeed", "GET")}}
ENDLESS = {"live.Stream", "traffic_pages.live_view"}  # streams: the status is read, not the body
# Reads of objects the fixture does not make (a station's hours, a vessel, an evidence file): 404 is an answer.
UPSTREAM = (502, 503, 504)  # a camera that cannot be reached answers so: not an error of the IOC's
MAY_404 = {"environment_pages.station", "fisheries_pages.vessel", "traffic_pages.evidence"}
# Bodies that pass validation, so that a change is refused for who is asking, not for what it says.
BODIES: dict[str, Any] = {"tasks.Comments": {"body": "x"}, "tasks.Delegate": {"reason": "x", "department": "SO-XD"},
                          "tasks.Draft": {"values": {}}, "tasks.Complete": {"values": {}},
                          "tasks.TakeOver": {"reason": "x"}}


def routes(app) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    out = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((rule.endpoint, method, rule.rule))
    return sorted(out)


def test_every_route_has_a_line_in_the_duty_table(app) -> None:  # type: ignore[no-untyped-def]
    missing = [f"{e} {m} {r}" for e, m, r in routes(app) if (e, m) not in EXPECTED]
    assert missing == [], f"new routes need a line in EXPECTED: {missing}"
    stale = sorted(set(EXPECTED) - {(e, m) for e, m, _ in routes(app)})
    assert stale == [], f"lines for routes that are gone: {stale}"


@pytest.fixture
def world(app) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Objects of Sở NN&MT (officer_a's department) and one client per principal."""
    from tests.test_sign_in import page_csrf

    names = {"leader": ("leader", None), "operator": ("operator", "TT-IOC"), "designer": ("designer", "TT-IOC"),
             "admin": ("admin", "TT-IOC"), "officer_a": ("officer", "SO-NNMT"), "officer_b": ("officer", "SO-XD")}
    users = {who: factories.user(role, dept, name=f"mx_{who}") for who, (role, dept) in names.items()}
    clients = {who: logged_in(app, f"mx_{who}") for who in PEOPLE}
    csrf = {who: page_csrf(c) for who, c in clients.items()}
    clients["anon"] = app.test_client()
    csrf["anon"] = re.search(r'name="csrf_token" value="([^"]+)"',
                             clients["anon"].get("/login").get_data(as_text=True)).group(1)
    machine = factories.token("operator")
    ops, ops_h = clients["operator"], {"X-CSRFToken": csrf["operator"]}
    ids = ops.post("/api/v1/events", json={"events": [factories.aqi_event(entity="TH-MX-01", aqi=199)]},
                   headers=bearer(machine)).get_json()["ids"]
    jobs.process_events(ids)
    (triage,) = [t for t in ops.get("/api/v1/tasks").get_json() if t["bpmn_id"] == "triage"]
    done = ops.post(f"/api/v1/tasks/{triage['id']}/complete", headers=ops_h,
                    json={"values": {"department": "SO-NNMT", "due_in": "PT4H"}}).get_json()
    instance = ops.get(f"/api/v1/instances/{done['instance_id']}").get_json()
    (handle,) = [t for t in instance["tasks"] if t["bpmn_id"] == "handle"]
    a, a_h = clients["officer_a"], {"X-CSRFToken": csrf["officer_a"]}
    assert a.post(f"/api/v1/tasks/{handle['id']}/claim", headers=a_h).status_code == 200
    assert a.post(f"/api/v1/tasks/{handle['id']}/comments", headers=a_h,
                  json={"body": "ghi-chu-bi-mat-A"}).status_code in (200, 201)
    assert a.post(f"/api/v1/tasks/{handle['id']}/draft", headers=a_h,
                  json={"values": {"actions_taken": "nhap-bi-mat-A"}}).status_code == 200
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    up = a.post(f"/api/v1/tasks/{handle['id']}/attachments", headers=a_h,
                data={"file": (io.BytesIO(pdf), "bao-cao-bi-mat-A.pdf")}, content_type="multipart/form-data")
    assert up.status_code in (200, 201), up.get_data(as_text=True)
    attachment = up.get_json()
    leader_h = {"X-CSRFToken": csrf["leader"]}
    directive = clients["leader"].post("/api/v1/directives", headers=leader_h, json={
        "title": "Kiểm tra nguồn thải", "content": "Báo cáo kết quả", "deadline": "2030-01-01T00:00:00+07:00",
        "departments": ["SO-NNMT"]}).get_json()
    ops.post("/api/v1/cameras", headers=ops_h, json={"code": "CAM-MX", "name": "Nút giao",
                                                    "source": "http://127.0.0.1:9/snap.jpg"})  # refused at once
    admin = clients["admin"]
    made = admin.post("/api/v1/sources", headers={"X-CSRFToken": csrf["admin"]}, json={
        "name": "matrix-src", "kind": "spreadsheet", "title": "Sở Tài chính",
        "config": {"period": "month", "indicators": [{"code": "budget_revenue", "column": "Thu"}]}})
    assert made.status_code == 201, made.get_data(as_text=True)
    definition = admin.get("/api/v1/processes").get_json()[0]
    departments = {d["code"]: d["id"] for d in admin.get("/api/v1/departments?limit=1000").get_json()}
    sensor = factories.token("operator", scope_list=["events:write"])
    reader = factories.token("operator", scope_list=["alerts:read"])
    tokens = admin.get("/api/v1/tokens").get_json()
    values = {"alert_id": done.get("alert_id") or instance.get("alert_id"), "task_id": handle["id"],
              "instance_id": instance["id"], "attachment_id": attachment.get("id", 1),
              "directive_id": directive["id"], "definition_id": definition["id"], "user_id": users["officer_a"].user_id,
              "department_id": departments["SO-NNMT"], "token_id": tokens[0]["id"], "notification_id": 999999,
              "silence_id": 999999, "code": "CAM-MX", "kind": "station", "name": "matrix-src", "station": "TH-MX-01",
              "rule_id": "aqi-poor", "entry_id": 1, "package": "bpmn-js", "filename": "x.js"}
    paths = {"indicators": "budget_revenue", "entities.OneEntity": "TH-MX-01", "fisheries_pages.vessel": "TH-MX-01",
             "traffic_pages.evidence": "x.jpg", "static": "css/ioc.css"}
    return {"clients": clients, "csrf": csrf, "values": values, "paths": paths,
            "tokens": {"tok_sensor": sensor, "tok_reader": reader}}


def url_for_rule(rule: str, endpoint: str, world: dict[str, Any]) -> str:
    values, paths = world["values"], world["paths"]

    def fill(m: re.Match[str]) -> str:
        name = m.group(2)
        if m.group(1) == "path":
            return paths.get(endpoint, "x")
        if endpoint.startswith("indicators.") and name == "code":
            return paths["indicators"]
        if endpoint.startswith("data_pages.indicator") and name == "code":
            return paths["indicators"]
        return str(values.get(name, 1))

    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", fill, rule)


def send(client, endpoint: str, method: str, url: str, csrf: str | None, token: str | None,  # type: ignore[no-untyped-def]
         endless: bool):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if csrf:
        headers["X-CSRFToken"] = csrf
    kwargs: dict[str, Any] = {"headers": headers, "buffered": not endless}
    if method not in ("GET", "DELETE"):
        if endpoint == "tasks.Attachments":
            kwargs["data"] = {"file": (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "x.pdf")}
            kwargs["content_type"] = "multipart/form-data"
        elif url.startswith("/api/"):
            kwargs["json"] = BODIES.get(endpoint, {})
        else:
            kwargs["data"] = {"csrf_token": csrf or ""}
    resp = client.open(url, method=method, **kwargs)
    if endless:
        resp.close()
    return resp


def denied(resp) -> bool:  # type: ignore[no-untyped-def]
    if resp.status_code in (401, 403, 404):
        return True
    return resp.status_code in (301, 302, 303) and "/login" in resp.headers.get("Location", "")


def test_nobody_reads_or_changes_what_their_duty_does_not_allow(app, world) -> None:  # type: ignore[no-untyped-def]
    problems: list[str] = []
    table = sorted(routes(app), key=lambda r: r[1] != "GET")  # every read first, then the changes
    for endpoint, method, rule in table:
        who_may = EXPECTED.get((endpoint, method))
        if who_may in (PUBLIC, SIGNED, None):
            continue
        url = url_for_rule(rule, endpoint, world)
        reading = method == "GET"
        endless = endpoint in ENDLESS
        for who in ("anon", *PEOPLE, *TOKENS):
            token = world["tokens"].get(who)
            allowed = ((endpoint, method) in TOKEN_ALLOWED[who]) if token else who in who_may
            if allowed and not reading:
                continue  # a change that may be made is not made here (it would change the others' objects)
            client = world["clients"]["anon" if token else who]
            csrf = world["csrf"]["anon" if token else who]
            resp = send(client, endpoint, method, url, None if token and url.startswith("/api/") else csrf, token,
                        endless)
            cell = f"{who:<10} {method:<6} {url} ({endpoint}) -> {resp.status_code}"
            if resp.status_code >= 500 and resp.status_code not in UPSTREAM:
                problems.append(f"500: {cell}")
            elif allowed and denied(resp) and not (resp.status_code == 404 and endpoint in MAY_404):
                problems.append(f"refused, should be allowed: {cell}")
            elif not allowed and not denied(resp):
                problems.append(f"let in, should be refused: {cell}")
            if who in ("officer_b", "anon", *TOKENS) and not endless and resp.status_code < 300:
                body = resp.get_data().decode("utf-8", "replace")
                leaked = [s for s in A_SECRETS if s in body]
                if leaked:
                    problems.append(f"reads the other department's {leaked}: {cell}")
    assert problems == [], "\n" + "\n".join(problems)
