"""Issue 18, hole 8: a machine's token does what its scopes name, for its sources, until it expires."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from engine.db import transaction, utcnow
from engine.models import ApiToken, AuditEntry
from tests import factories
from tests.conftest import ioc
from tests.test_api import bearer
from tests.test_sign_in import cli_env, logged_in, page_csrf


def test_a_sensors_token_sends_events_and_nothing_else(client) -> None:  # type: ignore[no-untyped-def]
    sensor = bearer(factories.token("operator", scope_list=["events:write"]))
    assert client.post("/api/v1/events", json={"events": [factories.aqi_event()]}, headers=sensor).status_code == 202
    for method, path in (("get", "/api/v1/alerts"), ("get", "/api/v1/tasks"), ("get", "/api/v1/instances"),
                         ("post", "/api/v1/alerts/1/acknowledge"), ("post", "/api/v1/instances/1/cancel"),
                         ("get", "/api/v1/stream")):
        resp = getattr(client, method)(path, headers=sensor, json={} if method == "post" else None)
        assert resp.status_code == 403, (path, resp.status_code)
        assert resp.get_json()["code"] == "scope_missing"


def test_a_reading_scope_does_not_write(client) -> None:  # type: ignore[no-untyped-def]
    sender = bearer(factories.token("operator", scope_list=["events:write"]))
    client.post("/api/v1/events", json={"events": [factories.aqi_event(aqi=250)]}, headers=sender)
    reader = bearer(factories.token("operator", scope_list=["alerts:read"]))
    from web.worker import run_worker

    run_worker(burst=True)
    alerts = client.get("/api/v1/alerts", headers=reader)
    assert alerts.status_code == 200 and alerts.get_json()
    ack = client.post(f"/api/v1/alerts/{alerts.get_json()[0]['id']}/acknowledge", json={}, headers=reader)
    assert ack.status_code == 403 and ack.get_json()["details"]["needed"] == "alerts:write"


def test_peoples_endpoints_refuse_every_token(client) -> None:  # type: ignore[no-untyped-def]
    everything = bearer(factories.token("admin"))  # every scope there is
    for path in ("/api/v1/users", "/api/v1/tokens", "/api/v1/notifications"):
        resp = client.get(path, headers=everything)
        assert resp.status_code == 403 and resp.get_json()["code"] == "token_not_allowed", path


def test_a_token_limited_to_a_source_sends_only_its_events(client) -> None:  # type: ignore[no-untyped-def]
    station = bearer(factories.token("operator", scope_list=["events:write"], sources=["tram-nghi-son"]))
    own = factories.aqi_event(source="tram-nghi-son")
    other = factories.aqi_event(source="tram-sam-son")
    body = client.post("/api/v1/events", json={"events": [other, own]}, headers=station).get_json()
    assert body["accepted"] == 1
    assert body["errors"] == [{"index": 0, "field": "source",
                               "reason": "this token may send events of tram-nghi-son only"}]


def test_expired_and_revoked_tokens_are_refused_and_use_is_noted(app, client) -> None:  # type: ignore[no-untyped-def]
    token = factories.token("operator", scope_list=["alerts:read"])
    assert client.get("/api/v1/alerts", headers=bearer(token)).status_code == 200
    with transaction() as s:
        row = s.scalars(select(ApiToken)).one()
        assert row.last_used_at is not None
        assert s.scalar(select(AuditEntry.id).where(AuditEntry.action == "token.used")) is not None
        s.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        token_id = row.id
    assert client.get("/api/v1/alerts", headers=bearer(token)).status_code == 401
    with transaction() as s:
        s.execute(update(ApiToken).values(expires_at=None))
    factories.user("admin", "TT-IOC", name="quantri-tok")
    admin = logged_in(app, "quantri-tok")
    listed = admin.get("/api/v1/tokens").get_json()
    assert listed[0]["scopes"] == ["alerts:read"] and "token_hash" not in listed[0] and token not in str(listed)
    assert admin.delete(f"/api/v1/tokens/{token_id}", headers={"X-CSRFToken": page_csrf(admin)}).status_code == 204
    assert client.get("/api/v1/alerts", headers=bearer(token)).status_code == 401


def test_an_administrator_makes_a_scoped_token_through_the_api(app, client) -> None:  # type: ignore[no-untyped-def]
    factories.user("admin", "TT-IOC", name="quantri-mk")
    admin = logged_in(app, "quantri-mk")
    made = admin.post("/api/v1/tokens", json={"name": "camera-ql1a", "role": "operator", "scopes": ["cameras:write"],
                                              "days": 30}, headers={"X-CSRFToken": page_csrf(admin)})
    assert made.status_code == 201
    token = made.get_json()["token"]
    assert client.get("/api/v1/cameras", headers=bearer(token)).status_code == 403  # cameras:read not given
    wrong = admin.post("/api/v1/tokens", json={"name": "x", "role": "operator", "scopes": ["root"]},
                       headers={"X-CSRFToken": page_csrf(admin)})
    assert wrong.status_code == 422


def test_cli_tokens_get_a_stations_scopes_unless_told_more(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    sensor = ioc("token", "create", "sensor-a", "--role", "operator", env=env).stdout.strip()
    reader = ioc("token", "create", "dash-b", "--role", "leader", "--scope", "alerts:read,indicators:read",
                 "--days", "30", env=env).stdout.strip()
    bad = ioc("token", "create", "c", "--role", "operator", "--scope", "everything", env=env, check=False)
    assert bad.returncode == 1 and "everything" in bad.stderr and "Traceback" not in bad.stderr
    with transaction() as s:
        rows = {r.name: r for r in s.scalars(select(ApiToken))}
    assert rows["sensor-a"].scopes == ["alerts:read", "events:write"] and rows["sensor-a"].expires_at is not None
    assert rows["dash-b"].scopes == ["alerts:read", "indicators:read"]
    assert sensor.startswith("ioc_") and reader.startswith("ioc_") and "\n" not in sensor


def test_an_administrator_makes_lists_and_revokes_tokens_at_admin(app, client) -> None:  # type: ignore[no-untyped-def]
    import re

    factories.user("admin", "TT-IOC", name="quantri-page")
    admin = logged_in(app, "quantri-page")
    page = admin.get("/admin/tokens").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    made = admin.post("/admin/tokens", data={"csrf_token": csrf, "name": "tram-sam-son", "role": "operator",
                                             "scope": ["events:write"], "sources": "tram-sam-son", "days": "90"})
    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    token = re.search(r'id="token-value" class="secret">([^<]+)<', made.get_data(as_text=True)).group(1)
    listed = admin.get("/admin/tokens").get_data(as_text=True)
    assert "tram-sam-son" in listed and "events:write" in listed and token not in listed
    sent = client.post("/api/v1/events", json={"events": [factories.aqi_event(source="tram-sam-son")]},
                       headers=bearer(token))
    assert sent.status_code == 202
    none = admin.post("/admin/tokens", data={"csrf_token": csrf, "name": "x", "role": "operator", "days": "90"})
    assert none.status_code == 422  # a token with no scope is refused, with the reason on the page
    with transaction() as s:
        token_id = s.scalar(select(ApiToken.id).where(ApiToken.name == "tram-sam-son"))
    admin.post(f"/admin/tokens/{token_id}/revoke", data={"csrf_token": csrf})
    assert client.post("/api/v1/events", json={"events": [factories.aqi_event(source="tram-sam-son")]},
                       headers=bearer(token)).status_code == 401
    with transaction() as s:
        actions = [a.action for a in s.scalars(select(AuditEntry).where(AuditEntry.actor == "quantri-page"))]
    assert "token.created" in actions and "token.revoked" in actions
