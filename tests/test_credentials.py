"""Credentials in the open (issue 18.7): a camera's password holding ``/`` or ``@``, or a token in a query string,
is in no API answer or page for any role, no audit row, no log line (a failed SQL statement included) and not in
clear in its column; the runner still gets it; a source sent back masked keeps it. A source's URL likewise."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.engine import Engine

from connectors import runtime
from connectors.camera import live
from connectors.camera import runner as camera_runner
from connectors.camera.runner import calibration_to_dict
from connectors.camera.synthetic import calibration
from engine import cameras, credentials, entities, sources
from engine.db import get_engine
from engine.models import AuditEntry, Source
from tests import factories
from tests.conftest import free_port
from tests.test_api import login

RTSP = "rtsp://admin:p/ss@w0rd@10.1.2.3:554/Streaming/101"
SNAPSHOT = "http://10.1.2.3/snap.jpg?user=admin&pwd=s3cr3t"
SECRETS = ("p/ss", "w0rd", "s3cr3t")


def clear_of_secrets(text_: str, secrets: tuple[str, ...] = SECRETS) -> bool:
    return not any(s in text_ for s in secrets)


@pytest.mark.no_database
@pytest.mark.parametrize(("url", "shown"), [
    (RTSP, "rtsp://admin:***@10.1.2.3:554/Streaming/101"),
    (SNAPSHOT, "http://10.1.2.3/snap.jpg?user=admin&pwd=***"),
    ("rtsp://u:a@b:c?d@[fe80::1]:554/s?token=t&channel=1", "rtsp://u:***@[fe80::1]:554/s?token=***&channel=1"),
    ("https://h/x?X-Amz-Signature=abc&X-Amz-Credential=k&page=2", "https://h/x?X-Amz-Signature=***&X-Amz-Credential=***&page=2"),
    ("rtsp://user:pw@", "rtsp://***"),  # unreadable: masked whole
    ("rtsp://10.0.0.5/live@main", "rtsp://10.0.0.5/live@main"), ("/srv/video.mp4", "/srv/video.mp4"),
    ("synthetic:720p", "synthetic:720p"),
])
def test_an_address_is_shown_masked(url: str, shown: str) -> None:
    assert credentials.masked(url) == shown and credentials.masked(shown) == shown
    assert credentials.has_secret(url) is (shown != url)


@pytest.mark.no_database
def test_an_edited_address_takes_its_masked_parts_back_but_never_to_a_new_host() -> None:
    assert credentials.unmasked("rtsp://admin:***@10.1.2.3:554/Streaming/102", RTSP) == RTSP[:-1] + "2"
    assert credentials.unmasked("http://10.1.2.3/snap.jpg?user=admin&pwd=***&q=1", SNAPSHOT) == SNAPSHOT + "&q=1"
    for unsafe in ("rtsp://admin:***@203.0.113.9/Streaming/101", "http://10.1.2.3/snap.jpg?user=admin&key=***"):
        with pytest.raises(ValueError):
            credentials.unmasked(unsafe, RTSP if unsafe.startswith("rtsp") else SNAPSHOT)
    assert credentials.scrub("GET http://u:p@ss@h/x failed: url: /hook?access_token=s3cr3t&n=1") == \
        "GET http://u:***@h/x failed: url: /hook?access_token=***&n=1"


def _register(client, headers: dict[str, str], code: str, source: str):
    return client.post("/api/v1/cameras", headers=headers, json={"code": code, "name": code, "source": source})


def test_a_camera_password_is_in_no_answer_page_audit_row_column_or_log(client, session, caplog, monkeypatch) -> None:
    caplog.set_level(logging.INFO)
    factories.user("operator", name="cam-operator")
    headers = {"X-CSRFToken": login(client, "cam-operator")}
    for code, source in (("CAM-RTSP", RTSP), ("CAM-SNAP", SNAPSHOT)):
        assert _register(client, headers, code, source).status_code == 201
    client.put("/api/v1/cameras/CAM-RTSP/calibration", headers=headers,
               json=calibration_to_dict(calibration(scale=2)))
    client.get("/logout")

    for role in ("operator", "leader", "officer", "admin", "designer"):
        factories.user(role, name=f"see-{role}")
        login(client, f"see-{role}")
        for url in ("/api/v1/cameras", "/api/v1/entities?kind=camera", "/api/v1/entities/camera/CAM-RTSP",
                    "/cameras", "/cameras/CAM-RTSP", "/cameras/CAM-SNAP"):
            answer = client.get(url)
            assert answer.status_code == 200 and clear_of_secrets(answer.get_data(as_text=True)), (role, url)
        shown = {c["code"]: c["source"] for c in client.get("/api/v1/cameras").get_json()}
        assert shown == {"CAM-RTSP": credentials.masked(RTSP), "CAM-SNAP": credentials.masked(SNAPSHOT)}
        client.get("/logout")

    audit = [json.dumps(d, ensure_ascii=False) for d in session.scalars(select(AuditEntry.details))]
    assert audit and all(clear_of_secrets(d) for d in audit)
    with get_engine().connect() as conn:
        assert clear_of_secrets(str(conn.execute(text("SELECT * FROM entities")).all()))

    # Sent back as shown, a source keeps its password; pointed elsewhere, it must carry the password again.
    headers = {"X-CSRFToken": login(client, "cam-operator")}
    assert _register(client, headers, "CAM-RTSP", credentials.masked(RTSP)).status_code == 201
    moved = _register(client, headers, "CAM-SNAP", "http://203.0.113.9/snap.jpg?user=admin&pwd=***")
    assert moved.status_code == 422 and "source" in moved.get_json()["details"]["fields"]
    client.get("/logout")
    # The runner gets it whole: `ioc camera run`, and the page's snapshot.
    session.rollback()
    assert [cameras.source_of(entities.get(session, "camera", c)) for c in ("CAM-RTSP", "CAM-SNAP")] == [RTSP, SNAPSHOT]
    opened: list[str] = []
    monkeypatch.setattr(camera_runner, "frames_of", lambda source, **_kw: opened.append(source) or iter(()))
    from web import cli

    assert cli._cmd_camera_run(cli.build_parser().parse_args(["camera", "run", "CAM-RTSP"])) == 0
    monkeypatch.setattr(live, "snapshot", lambda source: opened.append(source))
    login(client, "see-operator")
    assert client.get("/cameras/CAM-SNAP/snapshot.jpg").status_code == 503
    assert opened == [RTSP, SNAPSHOT]
    assert clear_of_secrets(caplog.text)

    # A statement that fails is logged without its parameters.
    def broken(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ANN202
        return ("UPDATE no_such_table" + statement[len("UPDATE entities"):]
                if statement.startswith("UPDATE entities") else statement), parameters

    event.listen(Engine, "before_cursor_execute", broken, retval=True)
    try:
        failed = _register(client, {"X-CSRFToken": login(client, "see-operator")}, "CAM-SNAP",
                           "http://10.1.2.3/snap.jpg?user=admin&pwd=s3cr3t&channel=2")
    finally:
        event.remove(Engine, "before_cursor_execute", broken)
    assert failed.status_code == 500 and "no_such_table" in caplog.text and clear_of_secrets(caplog.text)


def test_a_source_url_with_a_password_or_a_token_is_kept_encrypted_and_shown_masked(client, session, caplog) -> None:
    factories.user("admin", name="src-admin")
    admin = {"X-CSRFToken": login(client, "src-admin")}
    url = f"http://ingest:Pa55-s3cr3t@127.0.0.1:{free_port()}/quan-trac?api_key=K3y-s3cr3t"
    config = {"url": url, "params": {"token": "T0k-s3cr3t", "page_size": 50},
              "mapping": {"type": "air_quality", "sector": "environment", "entity": "$.s", "time": "$.t",
                          "values": {"aqi": "$.aqi"}}}
    made = client.post("/api/v1/sources", headers=admin, json={
        "name": "url-secrets", "kind": "http_pull", "config": config})
    assert made.status_code == 201, made.get_json()
    shown = made.get_json()["config"]
    assert shown["url"] == credentials.masked(url) and shown["params"] == {"token": "••••••", "page_size": 50}
    assert client.patch("/api/v1/sources/url-secrets", headers=admin,
                        json={"config": shown}).status_code == 200  # sent back as shown: kept
    stored = session.scalar(select(Source.config).where(Source.name == "url-secrets"))
    secrets = ("Pa55-s3cr3t", "K3y-s3cr3t", "T0k-s3cr3t")
    assert clear_of_secrets(json.dumps(stored), secrets)
    assert sources.unsealed(stored) == config  # what the connector gets
    caplog.set_level(logging.INFO)
    assert runtime.run("url-secrets") is None  # nothing listens there
    session.rollback()
    failure = session.scalar(select(Source.last_error).where(Source.name == "url-secrets"))
    audit = json.dumps([d for d in session.scalars(select(AuditEntry.details))])
    assert "127.0.0.1" in failure and all(clear_of_secrets(t, secrets) for t in (failure, audit, caplog.text))
