"""The REST API: bad input gets a clear 4xx with {code, message, details}; auth and CSRF hold."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from engine import jobs
from engine.models import Event
from tests import factories


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error(resp, status: int, code: str | None = None) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()
    assert set(body) == {"code", "message", "details"}
    assert "Traceback" not in resp.get_data(as_text=True)
    if code:
        assert body["code"] == code
    return body


def login(client, username: str) -> str:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    resp = client.post("/login", data={"username": username, "password": factories.PASSWORD, "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    inbox = client.get("/inbox").get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', inbox).group(1)


def test_openapi_lists_the_contract(client) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/events", "/api/v1/alerts", "/api/v1/tasks", "/api/v1/tasks/{task_id}/claim",
                 "/api/v1/tasks/{task_id}/complete", "/api/v1/instances/{instance_id}", "/api/v1/stream"):
        assert path in spec["paths"], path
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200 and b"/static/vendor/swagger-ui/" in docs.data
    bundle = client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js")  # served locally, from npm
    assert bundle.status_code == 200 and len(bundle.data) > 100_000


def test_events_without_auth_or_with_a_bogus_token_are_refused(client) -> None:
    assert_error(client.post("/api/v1/events", json={"events": [factories.aqi_event()]}), 401, "unauthorized")
    assert_error(client.get("/api/v1/alerts", headers=bearer("nope")), 401, "unauthorized")


@pytest.mark.parametrize("body, status, where", [
    ('{"events": [{"broken": ', 400, None),
    ('[]', 422, None),
    ('{"events": []}', 422, "events"),
    ('{"events": [{"source": "x"}]}', 422, "events"),
    ('{"events": [{"source": "x", "type": "t", "sector": "s", "time": "2026-01-01T00:00:00", "values": {}}]}',
     422, "time"),  # a time without a zone is ambiguous: refused
    ('{"events": [{"source": "x", "type": "t", "sector": "s", "time": "yesterday", "values": 3}]}', 422, "values"),
    ('{"events": [{"source": "x", "type": "t", "sector": "s", "time": "2026-01-01T00:00:00Z", "values": {},'
     ' "surprise": 1}]}', 422, "surprise"),
])
def test_bad_event_batches(client, body: str, status: int, where: str | None) -> None:
    tok = factories.token()
    resp = client.post("/api/v1/events", data=body, content_type="application/json", headers=bearer(tok))
    err = assert_error(resp, status)
    if where:
        assert where in str(err["details"])


def test_idempotency_key_stores_an_event_once(client, session) -> None:
    tok = factories.token()
    event = factories.aqi_event(key="station-1:2026-11-25T10")
    first = client.post("/api/v1/events", json={"events": [event, event]}, headers=bearer(tok)).get_json()
    again = client.post("/api/v1/events", json={"events": [event]}, headers=bearer(tok)).get_json()
    assert first["accepted"] == 1 and first["duplicates"] == 1
    assert again == {"accepted": 0, "duplicates": 1, "ids": [], "errors": []}
    assert session.scalar(select(func.count()).select_from(Event)) == 1


def test_events_are_stored_exactly_as_sent(client, session) -> None:
    values = {"ghi_chu": 'Trạm "Sầm Sơn" \\ cửa biển', "pm25": 35.123456789, "so": -0.0, "ds": [1, "hai", None],
              "long": {"sâu": {"hơn": True}}, "emoji": "🌊", "nul": None}
    events = [factories.aqi_event(entity="TH-AQ-Ω", key="exact-1", values=values,
                                  location={"lat": 19.8067, "lon": 105.7852}),
              factories.aqi_event(entity=None, key="exact-2", values={"aqi": 40})]
    ids = client.post("/api/v1/events", json={"events": events}, headers=bearer(factories.token())).get_json()["ids"]
    first, second = (session.get(Event, i) for i in ids)
    assert first.values == values and first.location == {"lat": 19.8067, "lon": 105.7852}
    assert first.entity == "TH-AQ-Ω" and second.entity is None
    assert second.values == {"aqi": 40} and second.location is None


def test_stored_times_are_found_by_the_queries_that_read_them(client, session) -> None:
    """Times stored by the batch insert compare with the times the rest of the engine binds (equality and ranges,
    whole seconds included), whatever zone they were sent in; a full batch spans several insert statements."""
    sent = [factories.aqi_event(key=f"t-{i}", time=(datetime(2026, 11, 25, 17, tzinfo=timezone(timedelta(hours=7)))
                                                   + timedelta(seconds=i)).isoformat()) for i in range(1000)]
    sent[1]["time"] = "2026-11-25T10:00:00.5Z"
    body = client.post("/api/v1/events", json={"events": sent}, headers=bearer(factories.token())).get_json()
    assert body["accepted"] == 1000 and len(set(body["ids"])) == 1000
    ten = datetime(2026, 11, 25, 10, tzinfo=UTC)
    assert session.scalars(select(Event.idempotency_key).where(Event.time == ten)).all() == ["t-0"]
    assert session.get(Event, body["ids"][1]).time == ten + timedelta(milliseconds=500)
    window = (Event.time >= ten + timedelta(milliseconds=500), Event.time < ten + timedelta(seconds=3))
    assert session.scalar(select(func.count()).select_from(Event).where(*window)) == 2
    assert session.scalar(select(func.count()).select_from(Event).where(Event.time > ten)) == 999


def test_officer_cannot_post_events(client) -> None:
    assert_error(client.post("/api/v1/events", json={"events": [factories.aqi_event()]},
                             headers=bearer(factories.token("officer"))), 403, "forbidden")


def test_cookie_session_needs_the_csrf_header_to_change_things(client) -> None:
    factories.user("operator", "TT-IOC", name="op_csrf")
    csrf = login(client, "op_csrf")
    event = {"events": [factories.aqi_event()]}
    assert_error(client.post("/api/v1/events", json=event), 400, "csrf_failed")
    assert client.post("/api/v1/events", json=event, headers={"X-CSRFToken": csrf}).status_code == 202


def test_tasks_over_the_api_not_yours_twice_and_bad_form(client) -> None:
    factories.user("operator", "TT-IOC", name="op1")
    factories.user("operator", "TT-IOC", name="op2")
    ids = client.post("/api/v1/events", json={"events": [factories.aqi_event(aqi=199)]},
                      headers=bearer(factories.token())).get_json()["ids"]
    jobs.process_events(ids)

    op2 = client.application.test_client()
    csrf2 = login(op2, "op2")
    csrf1 = login(client, "op1")
    tasks = client.get("/api/v1/tasks?scope=department").get_json()
    assert [t["bpmn_id"] for t in tasks] == ["triage"]
    tid = tasks[0]["id"]
    assert client.post(f"/api/v1/tasks/{tid}/claim", headers={"X-CSRFToken": csrf1}).get_json()["assignee"] == "op1"
    assert_error(op2.post(f"/api/v1/tasks/{tid}/claim", headers={"X-CSRFToken": csrf2}), 409, "task_taken")
    assert_error(op2.post(f"/api/v1/tasks/{tid}/complete", json={"values": {"department": "SO-NNMT"}},
                          headers={"X-CSRFToken": csrf2}), 403)
    wrong = {"values": {"department": "NOPE", "due_in": "PT4H"}}
    bad = assert_error(client.post(f"/api/v1/tasks/{tid}/complete", json=wrong, headers={"X-CSRFToken": csrf1}),
                       422, "invalid_form")
    assert set(bad["details"]["fields"]) == {"department"}
    ok = client.post(f"/api/v1/tasks/{tid}/complete", json={"values": {"department": "SO-NNMT", "due_in": "PT4H"}},
                     headers={"X-CSRFToken": csrf1})
    assert ok.status_code == 200 and ok.get_json()["status"] == "completed"
    assert_error(client.post(f"/api/v1/tasks/{tid}/complete", json={"values": {"department": "SO-NNMT"}},
                             headers={"X-CSRFToken": csrf1}), 409, "task_closed")
    assert_error(client.post("/api/v1/tasks/999999/claim", headers={"X-CSRFToken": csrf1}), 404, "not_found")
    inst = client.get(f"/api/v1/instances/{ok.get_json()['instance_id']}").get_json()
    assert [t["bpmn_id"] for t in inst["tasks"]] == ["triage", "handle"]
    assert "task.completed" in [h["action"] for h in inst["history"]]


def test_officer_of_another_department_cannot_see_the_instance(client) -> None:
    factories.user("officer", "SO-YT", name="yte")
    ids = client.post("/api/v1/events", json={"events": [factories.aqi_event(aqi=199)]},
                      headers=bearer(factories.token())).get_json()["ids"]
    jobs.process_events(ids)
    login(client, "yte")
    alerts = client.get("/api/v1/alerts").get_json()
    assert alerts == []  # officers see their own department's alerts only
    ops = client.application.test_client()
    factories.user("operator", "TT-IOC", name="op3")
    login(ops, "op3")
    instance_id = ops.get("/api/v1/alerts").get_json()[0]["instance_id"]
    assert_error(client.get(f"/api/v1/instances/{instance_id}"), 403)


def test_unknown_path_and_method(client) -> None:
    assert_error(client.get("/api/v1/nothing-here"), 404)
    assert_error(client.delete("/api/v1/events", headers=bearer(factories.token())), 405)


def test_login_with_a_wrong_password_is_refused(client) -> None:
    factories.user("leader", name="boss")
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = client.post("/login", data={"username": "boss", "password": "wrong-one-123", "csrf_token": token})
    assert resp.status_code == 401
    assert client.get("/inbox").status_code == 302
    no_csrf = client.post("/login", data={"username": "boss", "password": factories.PASSWORD})
    assert no_csrf.status_code == 400


def test_production_refuses_the_default_secret_key(tmp_path) -> None:
    from tests.conftest import ioc, ioc_env

    env = ioc_env(tmp_path / "var")
    env.update(IOC_ENV="production")
    env.pop("IOC_SECRET_KEY", None)
    result = ioc("run", "--port", "1", env=env, check=False)
    assert result.returncode == 1 and "IOC_SECRET_KEY" in result.stderr and "Traceback" not in result.stderr


def test_logins_are_audited_without_the_password(client, session) -> None:
    from engine.models import AuditEntry

    factories.user("leader", name="audited")
    login(client, "audited")
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": "audited", "password": "not-the-password", "csrf_token": token})
    stmt = select(AuditEntry).where(AuditEntry.action.like("user.login%")).order_by(AuditEntry.id)
    rows = list(session.scalars(stmt))
    assert [r.action for r in rows] == ["user.login", "user.login_failed"]
    assert all("not-the-password" not in str(r.details) for r in rows)


def test_unknown_unit_code_is_refused_and_known_one_accepted(client) -> None:
    tok = factories.token()
    bad = client.post("/api/v1/events", json={"events": [factories.aqi_event(unit="99999")]}, headers=bearer(tok))
    err = assert_error(bad, 422)
    assert err["details"]["events"] == [{"index": 0, "field": "unit", "reason": "unknown administrative unit code"}]
    ok = client.post("/api/v1/events", json={"events": [factories.aqi_event(unit="14758")]}, headers=bearer(tok))
    assert ok.status_code == 202


def test_a_batch_with_bad_events_stores_the_good_ones_and_names_the_bad(client, session) -> None:
    tok = factories.token()
    events = [factories.aqi_event(entity="A"), {"source": "x"}, factories.aqi_event(entity="B", unit="99999"),
              factories.aqi_event(entity="C", time="2026-01-01T00:00:00"), 7, factories.aqi_event(entity="D")]
    resp = client.post("/api/v1/events", json={"events": events}, headers=bearer(tok))
    body = resp.get_json()
    assert resp.status_code == 202 and body["accepted"] == 2
    assert {e["field"] for e in body["errors"] if e["index"] == 1} == {"type", "sector", "time", "values"}
    assert {e["index"] for e in body["errors"]} == {1, 2, 3, 4}
    assert {(e["index"], e["field"]) for e in body["errors"] if e["index"] in (2, 3)} == {(2, "unit"), (3, "time")}
    session.rollback()
    assert sorted(session.scalars(select(Event.entity))) == ["A", "D"]


def test_a_body_that_is_not_declared_json_gets_415(client) -> None:
    resp = client.post("/api/v1/events", data='{"events": []}', content_type="text/plain",
                       headers=bearer(factories.token()))
    assert_error(resp, 415, "unsupported_media_type")


def test_alert_json_has_null_department_before_triage(client) -> None:
    ids = client.post("/api/v1/events", json={"events": [factories.aqi_event(aqi=170)]},
                      headers=bearer(factories.token())).get_json()["ids"]
    jobs.process_events(ids)
    (alert,) = client.get("/api/v1/alerts", headers=bearer(factories.token("leader"))).get_json()
    assert alert["department"] is None and alert["instance_id"] is not None


def test_revoked_token_is_refused(client, tmp_path) -> None:
    from tests.conftest import ioc

    env = dict(__import__("os").environ)
    tok = ioc("token", "create", "gateway-x", "--role", "operator", "--scope", "alerts:read", env=env).stdout.strip()
    assert client.get("/api/v1/alerts", headers=bearer(tok)).status_code == 200
    assert "1 token(s)" in ioc("token", "revoke", "gateway-x", env=env).stdout
    assert_error(client.get("/api/v1/alerts", headers=bearer(tok)), 401)
    again = ioc("token", "revoke", "gateway-x", env=env, check=False)
    assert again.returncode == 1 and "Traceback" not in again.stderr


def test_officers_follow_only_their_own_work_on_the_stream() -> None:
    from engine.org import Principal
    from web.api.stream import visible_change

    officer = Principal(name="o", role="officer", department_id=7, user_id=1)
    operator = Principal(name="p", role="operator", user_id=2)
    assert visible_change(officer, {"kind": "task.created", "department_id": 7})
    assert not visible_change(officer, {"kind": "task.created", "department_id": 8, "role": None})
    assert not visible_change(officer, {"kind": "alert.opened", "title": "secret"})
    assert visible_change(operator, {"kind": "alert.opened", "title": "x"})


def test_live_pages_follow_the_stream_from_where_it_stood_before_their_first_query(client) -> None:
    """The alert list and the inbox carry the live stream's position, read before the request's first database query
    (the snapshot their rows come from): their script follows the changes from there, so a change committed while
    the page was being made or on its way to the browser still refreshes it."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from engine import bus

    factories.user("leader", name="sep")
    login(client, "sep")
    for path in ("/alerts", "/inbox"):
        published: list[str] = []

        def change_during_the_request(*_args: object, published: list[str] = published) -> None:
            if not published:  # a worker's commit, as the page starts reading
                bus.send([{"kind": "alert.opened", "alert_id": 7}])
                published.append(bus.latest_id())

        event.listen(Engine, "before_cursor_execute", change_during_the_request)
        try:
            page = client.get(path).get_data(as_text=True)
        finally:
            event.remove(Engine, "before_cursor_execute", change_during_the_request)
        since = re.search(r'data-live="[a-z.]+" data-live-since="([^"]+)"', page).group(1)
        assert published and published[0] in [entry_id for entry_id, _ in bus.read_after(since, 10)]
