"""Attachments (size limited, seen by whoever sees the task) and saved drafts; the kinds and the headers of a
served file are in test_attachment_safety.py."""

from __future__ import annotations

import io
import re

from tests import factories
from tests.test_api import assert_error, login
from tests.test_task_operations import triaged

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_attach_list_download_and_refuse(client) -> None:
    tid = triaged(client)
    factories.user("officer", "SO-NNMT", name="kim")
    factories.user("officer", "SO-YT", name="lan")
    kim = client.application.test_client()
    csrf = login(kim, "kim")
    ok = kim.post(f"/api/v1/tasks/{tid}/attachments", headers={"X-CSRFToken": csrf},
                  data={"file": (io.BytesIO(PDF), "bien-ban hien truong.pdf")}, content_type="multipart/form-data")
    assert ok.status_code == 201 and ok.get_json()["kind"] == "pdf"
    fake = kim.post(f"/api/v1/tasks/{tid}/attachments", headers={"X-CSRFToken": csrf},
                    data={"file": (io.BytesIO(b"MZ not a pdf"), "report.pdf")}, content_type="multipart/form-data")
    assert_error(fake, 422, "unsupported_file")
    (listed,) = kim.get(f"/api/v1/tasks/{tid}/attachments").get_json()
    download = kim.get(f"/api/v1/tasks/attachments/{listed['id']}")
    assert download.status_code == 200 and download.data == PDF
    assert download.headers["Content-Type"] == "application/pdf"
    assert "attachment" in download.headers["Content-Disposition"]
    lan = client.application.test_client()
    login(lan, "lan")
    assert_error(lan.get(f"/api/v1/tasks/attachments/{listed['id']}"), 403)  # not her department's task
    page = kim.get(f"/tasks/{tid}").get_data(as_text=True)
    assert "bien-ban hien truong.pdf" in page


def test_too_large_is_refused(client, monkeypatch) -> None:
    import engine.attachments

    monkeypatch.setattr(engine.attachments, "MAX_BYTES", 1000)
    tid = triaged(client)
    factories.user("officer", "SO-NNMT", name="minh")
    c = client.application.test_client()
    csrf = login(c, "minh")
    big = c.post(f"/api/v1/tasks/{tid}/attachments", headers={"X-CSRFToken": csrf},
                 data={"file": (io.BytesIO(PDF + b"0" * 2000), "big.pdf")}, content_type="multipart/form-data")
    assert_error(big, 422)


def test_a_saved_draft_comes_back_in_the_form(client) -> None:
    tid = triaged(client)
    factories.user("officer", "SO-NNMT", name="nga")
    c = client.application.test_client()
    login(c, "nga")
    page = c.get(f"/tasks/{tid}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = c.post(f"/tasks/{tid}", data={"csrf_token": token, "action": "draft", "actions_taken": "Đang lấy mẫu nước"})
    assert r.status_code == 302
    assert c.get(f"/api/v1/tasks/{tid}").get_json()["draft"] == {"actions_taken": "Đang lấy mẫu nước"}
    assert "Đang lấy mẫu nước</textarea>" in c.get(f"/tasks/{tid}").get_data(as_text=True)
