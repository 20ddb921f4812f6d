"""A NUL (or another control character) in an uploaded text file is refused with 422 naming the file and the line,
on every path that takes one: a source's spreadsheet (API and page), the VMS provider's CSV (body and file), a BPMN
model and its form files, a task's attachment and a directive's document; and by the command line's water samples
and station files. Nothing of such a file is stored (PostgreSQL refuses NUL in text); a workbook whose name says
CSV is still read as the workbook it is."""

from __future__ import annotations

import io
import json
import os
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from connectors.station_file import LOCAL as VN
from connectors.station_file import station_file_name, write_station_file
from engine.db import utcnow
from engine.models import Event, IndicatorObservation, ProcessDefinition
from engine.text import control_in_file
from tests import factories
from tests.conftest import ioc
from tests.test_api import assert_error, bearer, login
from tests.test_bpmn_deploy import minimal
from tests.test_json_forms import SCHEMA, model
from tests.test_sources import xlsx
from tests.test_task_operations import triaged

SHEET = "Mã đơn vị,Kỳ,Thu ngân sách (tỷ đồng)\n14758,2026-09,12.5\n14797,2026-09,8\x00,1\n".encode()


@pytest.mark.no_database
@pytest.mark.parametrize(("data", "found"), [
    (b"ma,ky\n14758,2026-09\n", None),
    (b"ma\tky\r\n1\t2\r\n", None),  # tab and line ends are text
    (b"ma,ky\n14758,2026\x00-09\n", (2, "NUL")),
    (b"a\r\nb\rc\nd\x1b[0m", (4, "U+001B")),  # LF, CR LF and CR each end a line
    ("Mã,Kỳ\nSố\x00".encode(), (2, "NUL")),  # UTF-8
    ("Đơn,Ưu\nĐ\x00".encode("cp1258"), (2, "NUL")),  # Windows-1258
    ("Mã,Kỳ\nSố".encode("utf-16"), None),  # UTF-16 with its byte order mark: its NUL bytes are text
    ("Mã,Kỳ\n\nSố\x00".encode("utf-16"), (3, "NUL")),
    ("Mã,Kỳ".encode("utf-16-le"), (1, "NUL")),  # without the mark: NUL bytes
])
def test_where_a_text_file_holds_a_control_character(data: bytes, found: tuple[int, str] | None) -> None:
    assert control_in_file(data) == found


def _refused(answer: Any, file: str | None, line: int) -> dict[str, Any]:
    body = assert_error(answer, 422, "control_character")
    assert (body["details"]["file"], body["details"]["line"], body["details"]["character"]) == (file, line, "NUL")
    assert f"{file}, dòng {line}" in body["message"] if file else f"Dòng {line}" in body["message"]
    return body


def _spreadsheet_source(client) -> None:
    made = client.post("/api/v1/sources", headers=bearer(factories.token("admin")), json={
        "name": "thu-ngan-sach", "kind": "spreadsheet", "title": "Thu ngân sách",
        "config": {"period": "month", "indicators": [{"code": "budget_revenue", "column": "Thu ngân sách (tỷ đồng)"}]}})
    assert made.status_code == 201, made.get_json()


def _observations(session) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(IndicatorObservation))


def test_a_spreadsheet_with_a_nul_is_refused_by_file_and_line(client, session) -> None:
    _spreadsheet_source(client)
    operator = bearer(factories.token("operator"))

    def upload(content: bytes, name: str) -> Any:
        return client.post("/api/v1/sources/thu-ngan-sach/upload", headers=operator,
                           data={"file": (io.BytesIO(content), name)}, content_type="multipart/form-data")

    _refused(upload(SHEET, "thu-t9.csv"), "thu-t9.csv", 3)
    utf16 = SHEET.decode().replace("\x00", "").replace("14758", "147\x0058").encode("utf-16")  # with its BOM
    _refused(upload(utf16, "thu-t9-utf16.csv"), "thu-t9-utf16.csv", 2)
    assert _observations(session) == 0  # nothing of either file

    workbook = xlsx([["Mã đơn vị", "Kỳ", "Thu ngân sách (tỷ đồng)"], ["14758", "2026-09", 12.5]])
    kept = upload(workbook, "thu-t9.csv")  # a workbook named .csv: its NUL bytes are the zip's, not text
    assert kept.status_code == 200 and kept.get_json()["stored"] == 1

    factories.user("officer", "SO-TC", name="cv-tai-chinh")
    page_client = client.application.test_client()
    login(page_client, "cv-tai-chinh")
    form = page_client.get("/sources/thu-ngan-sach").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    page = page_client.post("/sources/thu-ngan-sach", content_type="multipart/form-data",
                            data={"csrf_token": token, "file": (io.BytesIO(SHEET), "thu-t10.csv")})
    html = page.get_data(as_text=True)
    assert page.status_code == 422 and "thu-t10.csv, dòng 3" in html and "ký tự điều khiển NUL" in html
    assert _observations(session) == 1


def test_the_vms_csv_with_a_nul_is_refused_by_line_body_or_file(client, session) -> None:
    token = factories.token("operator")
    now = utcnow().isoformat()
    csv_text = f"registration,time,lat,lon\nTH-90001-TS,{now},19.7,106.1\nTH-900\x0002-TS,{now},19.8,106.2\n".encode()
    body = client.post("/api/v1/entities/vessels/positions.csv", data=csv_text,
                       headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"})
    _refused(body, None, 3)
    as_file = client.post("/api/v1/entities/vessels/positions.csv", headers={"Authorization": f"Bearer {token}"},
                          data={"file": (io.BytesIO(csv_text), "vms-0800.csv")}, content_type="multipart/form-data")
    _refused(as_file, "vms-0800.csv", 3)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Event)) == 0


def test_a_bpmn_model_or_its_form_file_with_a_nul_is_refused_by_file_and_line(client, session) -> None:
    designer = bearer(factories.token("designer"))

    def deploy(files: dict[str, Any]) -> Any:
        return client.post("/api/v1/processes", headers=designer, data=files, content_type="multipart/form-data")

    raw = minimal("nul_model").replace(b'name="Minimal"', b'name="Mini\x00mal"')
    _refused(deploy({"file": (io.BytesIO(raw), "co-nul.bpmn")}), "co-nul.bpmn", 4)
    escaped = json.dumps({**SCHEMA, "properties": {**SCHEMA["properties"], "result": {
        "type": "string", "title": "Kết quả\u0000"}}}, indent=1).encode()  # written \u0000, as JSON writes NUL
    answer = deploy({"file": (io.BytesIO(model("nul_form", "json:kiem-tra.json")), "kiem-tra.bpmn"),
                     "forms": (io.BytesIO(escaped), "kiem-tra.json")})
    refused = assert_error(answer, 422, "deploy_error")
    assert refused["details"]["file"] == "kiem-tra.bpmn" and "kiem-tra.json" in refused["message"]
    assert "line 10" in refused["message"] and "properties.result.title" in refused["message"]
    session.rollback()
    keys = session.scalars(select(ProcessDefinition.process_key).where(
        ProcessDefinition.process_key.in_(["nul_model", "nul_form"]))).all()
    assert keys == []


def test_an_attachment_or_a_directives_document_with_a_nul_is_refused_by_file_and_line(client) -> None:
    task_id = triaged(client)
    factories.user("officer", "SO-NNMT", name="cv-dinh-kem")
    officer = client.application.test_client()
    csrf = login(officer, "cv-dinh-kem")
    attached = officer.post(f"/api/v1/tasks/{task_id}/attachments", headers={"X-CSRFToken": csrf},
                            data={"file": (io.BytesIO(b"bien ban\nhien truong\x00\n"), "bien-ban.txt")},
                            content_type="multipart/form-data")
    _refused(attached, "bien-ban.txt", 2)
    assert officer.get(f"/api/v1/tasks/{task_id}/attachments").get_json() == []

    factories.user("leader", "VP-UBND", name="ct-nul")
    leader = client.application.test_client()
    login(leader, "ct-nul")
    token = re.search(r'name="csrf_token" value="([^"]+)"', leader.get("/directives/new").get_data(as_text=True))
    issued = leader.post("/directives/new", content_type="multipart/form-data", data={
        "csrf_token": token.group(1), "title": "Ứng phó lũ", "deadline": "2030-01-01T17:00",
        "departments": ["SO-NNMT"], "document": (io.BytesIO(b"Ke hoach\x00"), "ke-hoach.csv")})
    assert issued.status_code == 422 and "ke-hoach.csv, dòng 1" in issued.get_data(as_text=True)
    assert leader.get("/api/v1/directives").get_json() == []


def test_the_command_line_names_the_line_of_a_nul_in_water_samples_and_station_files(tmp_path: Path, session) -> None:
    sheet = tmp_path / "mau-nuoc.csv"
    sheet.write_bytes(b"site,time,pH\nSONG-MA-01,2026-10-05 09:30,7.1\nSONG-MA-02,2026-10-05 10:15,7\x00.4\n")
    wqi = ioc("environment", "wqi", str(sheet), env=dict(os.environ), check=False)
    assert wqi.returncode == 1 and "mau-nuoc.csv" in wqi.stderr and "line 3" in wqi.stderr
    assert "Traceback" not in wqi.stderr and len(wqi.stderr.strip().splitlines()) == 1

    folder = tmp_path / "tram"
    folder.mkdir()
    at = datetime.now(VN).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    content = write_station_file("TH-AQ-NUL", at, {"pm25": 30.0, "pm10": 50.0, "no2": 20.0})
    first, rest = content.split(b"\n", 1)
    (folder / station_file_name("TH-AQ-NUL", at)).write_bytes(first + b"\n" + rest.replace(b"\t", b"\t\x00", 1))
    stations = ioc("environment", "import", str(folder), env=dict(os.environ), check=False)
    assert stations.returncode == 1 and "refused" in stations.stderr and "line 2" in stations.stderr
    assert "Traceback" not in stations.stderr
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Event)) == 0
