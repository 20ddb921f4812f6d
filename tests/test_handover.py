"""The handover (issue 19): `ioc export DIR` writes every table and file of a populated instance; `ioc import DIR`
loads it into a fresh instance on the other database (SQLite → PostgreSQL, or PostgreSQL → SQLite in the PostgreSQL
pass) and back, every row and file the same, the audit chain whole; the officer's task is in their inbox and can be
completed, and a timer due meanwhile fires. A tampered file, an unfinished export and a used instance are refused."""

from __future__ import annotations

import io
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from engine import audit, cameras, handover, indicators, timers
from engine import db as engine_db
from engine.config import settings
from engine.models import HumanTask, Indicator
from tests import factories
from tests.conftest import MUTABLE_TABLES, ioc, ioc_env
from tests.test_api import login
from tests.test_attachments import PDF
from tests.test_task_operations import triaged

RTSP = "rtsp://admin:p/ss@w0rd@10.1.2.3:554/Streaming/101"
EVIDENCE = ("CAM-HANDOVER", "20261125T081500-12-red_light.jpg")


# -- scratch instances -----------------------------------------------------------------------------------------------


def _forget(url: str) -> None:
    for key in ((url, True), (url, False)):
        if (eng := engine_db._engines.pop(key, None)) is not None:
            eng.dispose()


def _postgres_server() -> str | None:
    """A PostgreSQL server where the test may make a database: the tests' own, or a local one."""
    url = settings().database_url
    if not url.startswith("postgresql"):
        url = os.environ.get("IOC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    url = str(sa.make_url(url).set(database="postgres").render_as_string(hide_password=False))
    probe = sa.create_engine(url, connect_args={"connect_timeout": 2}, isolation_level="AUTOCOMMIT")
    try:
        with probe.connect():
            return url
    except sa.exc.OperationalError:
        return None
    finally:
        probe.dispose()


@contextmanager
def scratch_database(kind: str, folder: Path) -> Iterator[str]:
    """A new, empty database of ``kind``, dropped afterwards."""
    if kind == "sqlite":
        url = f"sqlite:///{folder / 'ioc.db'}"
        try:
            yield url
        finally:
            _forget(url)
        return
    server = _postgres_server()
    if server is None:
        pytest.skip("PostgreSQL is not reachable (IOC_TEST_POSTGRES_URL or 127.0.0.1:5432): the SQLite ↔ PostgreSQL "
                    "handover needs both")
    name = f"ioc_handover_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = str(sa.make_url(server).set(database=name).render_as_string(hide_password=False))
    try:
        yield url
    finally:
        _forget(url)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def instance(url: str, folder: Path) -> handover.Instance:
    return handover.Instance(url, folder, folder / "rules", settings().secret_key, None)


def the_tests_instance(rules_dir: Path | None = None) -> handover.Instance:
    s = settings()
    return handover.Instance(s.database_url, s.data_dir, rules_dir or s.rules_dir, s.secret_key, None)


def env_for(inst: handover.Instance) -> dict[str, str]:
    return dict(ioc_env(inst.data_dir, embedded=False), IOC_DATABASE_URL=inst.database_url,
                IOC_RULES_DIR=str(inst.rules_dir))


# -- what an instance holds ------------------------------------------------------------------------------------------


def rows_of(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, as the database gives it back."""
    with engine_db.get_engine(url, write=False).connect() as conn:
        return {t.name: [dict(r._mapping) for r in conn.execute(sa.select(t).order_by(*t.primary_key.columns))]
                for t in handover.tables()}


def files_of(inst: handover.Instance) -> dict[str, bytes]:
    return {f"{name}/{p.relative_to(folder).as_posix()}": p.read_bytes()
            for name, folder in inst.folders().items() for p in handover._files_under(folder)}


def assert_same_rows(before: dict[str, list[dict[str, Any]]], after: dict[str, list[dict[str, Any]]],
                     added_audit: list[str]) -> None:
    """Every row alike, but for sessions (ended by the handover, under an id hash nobody has) and the audit rows the
    handover added at the chain's end."""
    for name, rows in before.items():
        theirs = after[name]
        if name == "audit_log":
            assert [r["action"] for r in theirs[len(rows):]] == added_audit
            theirs = theirs[:len(rows)]
        if name == "user_sessions":
            assert rows and all(a["sid_hash"] != b["sid_hash"] and a["revoked_at"]
                                for a, b in zip(theirs, rows, strict=True))
            strip = ("sid_hash", "revoked_at", "revoked_reason")
            rows = [{k: v for k, v in r.items() if k not in strip} for r in rows]
            theirs = [{k: v for k, v in r.items() if k not in strip} for r in theirs]
        assert theirs == rows, name


# -- a small populated instance --------------------------------------------------------------------------------------


def populate(client: Any) -> dict[str, Any]:
    """An incident through triage with a comment and an attachment, a directive with a timer about to be due, an
    indicator observation, a camera with its password and an evidence snapshot, signed-in people."""
    handle = triaged(client)
    factories.user("officer", "SO-NNMT", name="kim")
    kim = client.application.test_client()
    kim.environ_base["HTTP_X_CSRFTOKEN"] = login(kim, "kim")
    assert kim.post(f"/api/v1/tasks/{handle}/comments", json={"body": "Đã đến hiện trường, đang lấy mẫu"}
                    ).status_code == 201
    assert kim.post(f"/api/v1/tasks/{handle}/attachments", data={"file": (io.BytesIO(PDF), "biên bản.pdf")},
                    content_type="multipart/form-data").status_code == 201
    leader = factories.user("leader", "VP-UBND", name="chu_tich_ho")
    factories.user("officer", "SO-YT", name="yte_ho")
    deadline = datetime.now(UTC) + timedelta(seconds=4)
    from engine import directives

    with engine_db.transaction() as session:
        directives.issue(session, leader, title="Kiểm tra an toàn thực phẩm", content="Báo cáo kết quả",
                         deadline=deadline, departments=["SO-YT"])
        indicator = session.scalars(sa.select(Indicator).order_by(Indicator.id)).first()
        assert indicator is not None
        result = indicators.record(session, indicator, [{"unit": "38", "value": 52.5, "period_start":
                                                         datetime.now(UTC) - timedelta(days=40)}],
                                   source="handover-test", actor="test")
        assert result.stored == 1, result.errors
        cameras.register(session, EVIDENCE[0], name="Ngã tư Bà Triệu", source=RTSP, actor="test")
    yte = client.application.test_client()
    yte.environ_base["HTTP_X_CSRFTOKEN"] = login(yte, "yte_ho")
    (ack,) = [t for t in yte.get("/api/v1/tasks").get_json() if t["bpmn_id"] == "acknowledge"]
    assert yte.post(f"/api/v1/tasks/{ack['id']}/complete", json={"values": {}}).status_code == 200
    folder = settings().data_dir / "evidence" / EVIDENCE[0]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / EVIDENCE[1]).write_bytes(b"\xff\xd8\xff\xe0 a snapshot, faces blurred")
    return {"handle": handle, "deadline": deadline}


def wipe_the_tests_database() -> None:
    with engine_db.get_engine().begin() as conn:
        audit.allow_maintenance(conn)
        for table in MUTABLE_TABLES:
            conn.execute(sa.text(f"DELETE FROM {table}"))  # noqa: S608 - fixed table names


# -- the journeys ----------------------------------------------------------------------------------------------------


def test_an_export_loads_into_the_other_database_and_back_and_work_carries_on(client, tmp_path: Path) -> None:
    made = populate(client)
    source = the_tests_instance()
    before, files = rows_of(source.database_url), files_of(source)
    (camera,) = [e for e in before["entities"] if e["code"] == EVIDENCE[0]]
    assert camera["credentials"].startswith("enc:") and files[f"evidence/{'/'.join(EVIDENCE)}"]

    exported = ioc("export", str(tmp_path / "out"), "--with-password-hashes", env=env_for(source))
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["complete"] and manifest["schema_revision"] and "manifest.json SHA-256" in exported.stdout
    assert {t["name"]: t["rows"] for t in manifest["tables"]} == {n: len(r) for n, r in before.items()}
    assert f"users: {len(before['users'])} rows" in exported.stderr  # a progress line per table
    other = "postgresql" if source.database_url.startswith("sqlite") else "sqlite"
    with scratch_database(other, tmp_path / "other") as url:
        target = instance(url, tmp_path / "other")
        imported = ioc("import", str(tmp_path / "out"), env=env_for(target))
        assert "imported" in imported.stdout
        assert "audit chain ok" in ioc("audit", "verify", env=env_for(target)).stdout
        assert_same_rows(before, rows_of(url), ["handover.imported"])
        assert files_of(target) == files

        # ...and back, into the tests' own database, emptied
        handover.export(tmp_path / "back", target, with_password_hashes=True)
    wipe_the_tests_database()
    home = the_tests_instance(tmp_path / "rules-back")
    handover.import_(tmp_path / "back", home)
    # the export is of the moment it began: the target's own "handover.exported" row came after it
    assert_same_rows(before, rows_of(home.database_url), ["handover.imported", "handover.imported"])
    assert files_of(home) == files
    with engine_db.session_factory(write=False)() as session:
        assert audit.verify(session).ok

    # The officer's inbox shows the task; it can be completed; the directive's timer, due meanwhile, fires.
    kim = client.application.test_client()
    kim.environ_base["HTTP_X_CSRFTOKEN"] = login(kim, "kim")
    assert made["handle"] in [t["id"] for t in kim.get("/api/v1/tasks").get_json()]
    assert "Biện pháp" in kim.get(f"/tasks/{made['handle']}").get_data(as_text=True)
    done = kim.post(f"/api/v1/tasks/{made['handle']}/complete", json={"values": {"actions_taken": "Đã xử lý"}})
    assert done.status_code == 200, done.get_json()
    time.sleep(max(0.0, (made["deadline"] - datetime.now(UTC)).total_seconds() + 0.2))
    fired = sum(timers.fire_due_timers() for _ in range(3))  # the reminder, then the deadline
    assert fired >= 1
    with engine_db.session_factory(write=False)() as session:
        assert session.scalars(sa.select(HumanTask.status).where(HumanTask.bpmn_id == "escalation")).all() == ["open"]


def test_a_tampered_or_unfinished_export_and_a_used_instance_are_refused(tmp_path: Path) -> None:
    factories.user("officer", "SO-NNMT", name="kiem_tra")
    source = the_tests_instance()
    out = tmp_path / "out"
    lines: list[str] = []
    handover.export(out, source, progress=lines.append)
    users = (out / "tables" / "users.jsonl").read_text(encoding="utf-8")
    assert "kiem_tra" in users and "password_hash" not in users and "sid_hash" not in \
        (out / "tables" / "user_sessions.jsonl").read_text(encoding="utf-8")
    assert any(line.startswith("users: 1 rows") for line in lines)

    # Run again into the same folder: what is written and unchanged is not written again.
    lines.clear()
    handover.export(out, source, progress=lines.append)
    assert "users: 1 rows, written before" in lines and "events: 0 rows, written before" in lines

    with scratch_database("sqlite", tmp_path / "t") as url:
        target = instance(url, tmp_path / "t")
        good = (out / "tables" / "users.jsonl").read_bytes()
        (out / "tables" / "users.jsonl").write_bytes(good.replace(b"officer", b"admin\x20\x20"))
        refused = ioc("import", str(out), env=env_for(target), check=False)
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        assert refused.stderr.strip().splitlines()[-1] == ("error: tables/users.jsonl does not match the manifest "
                                                           "(size or SHA-256): the export was altered or damaged")
        (out / "tables" / "users.jsonl").write_bytes(good)

        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        (out / "manifest.json").write_text(json.dumps(dict(manifest, complete=False)), encoding="utf-8")
        with pytest.raises(Exception, match="did not finish"):
            handover.import_(out, target)
        (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")

        handover.import_(out, target)
        assert [r["username"] for r in rows_of(url)["users"]] == ["kiem_tra"]
        again = ioc("import", str(out), env=env_for(target), check=False)
        assert again.returncode == 1 and again.stderr.strip().splitlines()[-1].startswith(
            "error: This instance already holds data (table ")
