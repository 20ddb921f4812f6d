"""Attachments a browser cannot be tricked with: the kind is read from the bytes, the name's extension follows
the kind, what a browser could run is refused, and a file comes back typed, sandboxed and (but images) saved."""

from __future__ import annotations

import io
import re
import zipfile
from urllib.parse import quote

import pytest

from engine.attachments import display_name, sniff
from tests import factories
from tests.test_api import assert_error, login
from tests.test_task_operations import triaged


def zipped(*parts: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for part in parts:
            z.writestr(part, "<x/>")
    return buf.getvalue()


def ole(stream: str) -> bytes:
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + stream.encode("utf-16-le") + b"\x00\x00" + b"\x00" * 64


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32
PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.mark.no_database
@pytest.mark.parametrize("content, kind", [
    (PDF, "pdf"), (PNG, "png"), (b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpeg"), (b"GIF87a\x01\x00", "gif"),
    (b"GIF89a\x01\x00", "gif"), (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "webp"),
    (zipped("[Content_Types].xml", "word/document.xml"), "docx"),
    (zipped("[Content_Types].xml", "xl/workbook.xml"), "xlsx"),
    (zipped("[Content_Types].xml", "ppt/presentation.xml"), "pptx"),
    (zipped("so-lieu/thang-11.csv"), "zip"), (b"PK\x03\x04 not really a zip", None),
    (ole("WordDocument"), "doc"), (ole("Workbook"), "xls"), (ole("PowerPoint Document"), "ppt"),
    (ole("SummaryInformation"), None),  # an installer or an e-mail: OLE, but no Office document
    (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", "mp4"), (b"\x00\x00\x00\x14ftypqt  ", None),
    ("Trạm,AQI\nTH-AQ-01,177\n".encode(), "text"), ("\ufeffGhi chú: nước dâng".encode(), "text"),
    (b"<!DOCTYPE html><p>hi", "html"), (b"\xef\xbb\xbf  <html><script>alert(1)</script>", "html"),
    (b"Ten,Ghi chu\nA,<script>fetch('/api')</script>\n", "html"), (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "svg"),
    (b"<?xml version='1.0'?><svg onload='alert(1)'/>", "svg"), (b"<?xml version='1.0'?><note/>", "xml"),
    (b"MZ\x90\x00\x03 a Windows program", None), (b"\x7fELF\x02\x01", None), (b"", None),
])
def test_the_kind_is_read_from_the_content(content: bytes, kind: str | None) -> None:
    assert sniff(content) == kind


@pytest.mark.no_database
@pytest.mark.parametrize("sent, kind, kept", [
    ("report.pdf", "png", "report.png"), ("anh hien truong", "jpeg", "anh hien truong.jpg"),
    ("Ảnh.JPEG", "jpeg", "Ảnh.jpeg"), ("../../etc/passwd", "text", "passwd.txt"),
    ("C:\\Users\\an\\Biên bản.docx", "docx", "Biên bản.docx"), ("bao-cao\u202excod.pdf", "pdf", "bao-caoxcod.pdf"),
    ('a<b>:"c"|?*.csv', "csv", "a_b___c____.csv"), ("...", "png", "tệp.png"), ("v1.2 final", "pdf", "v1.2 final.pdf"),
])
def test_the_name_is_cleaned_and_takes_the_contents_extension(sent: str, kind: str, kept: str) -> None:
    assert display_name(sent, kind) == kept


def upload(c, csrf: str, task_id: int, content: bytes, name: str):
    return c.post(f"/api/v1/tasks/{task_id}/attachments", headers={"X-CSRFToken": csrf},
                  data={"file": (io.BytesIO(content), name)}, content_type="multipart/form-data")


def officer(client):
    tid = triaged(client)
    factories.user("officer", "SO-NNMT", name="hoa")
    c = client.application.test_client()
    return c, login(c, "hoa"), tid


def test_what_a_browser_could_run_is_refused_whatever_its_name(client) -> None:
    c, csrf, tid = officer(client)
    for content, name, kind in ((b"<html><script>document.cookie</script></html>", "anh.png", "html"),
                                (b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "so-do.svg", "svg"),
                                (b"fetch('/api/v1/users')", "bao-cao.js", "script")):
        body = assert_error(upload(c, csrf, tid, content, name), 422, "active_content")
        assert body["details"]["kind"] == kind and body["details"]["filename"] == name
        assert "trình duyệt" in body["message"]  # Vietnamese first
    assert c.get(f"/api/v1/tasks/{tid}/attachments").get_json() == []


def test_a_file_comes_back_typed_by_its_content_and_never_run(client) -> None:
    c, csrf, tid = officer(client)
    png = upload(c, csrf, tid, PNG, "report.pdf").get_json()
    assert (png["kind"], png["filename"]) == ("png", "report.png")
    pdf = upload(c, csrf, tid, PDF, "Biên bản hiện trường.pdf").get_json()
    image = c.get(f"/api/v1/tasks/attachments/{png['id']}")
    assert image.data == PNG and image.headers["Content-Type"] == "image/png"
    assert image.headers["Content-Disposition"] == "inline; filename=\"report.png\"; filename*=UTF-8''report.png"
    document = c.get(f"/api/v1/tasks/attachments/{pdf['id']}")
    assert document.headers["Content-Type"] == "application/pdf"
    assert document.headers["Content-Disposition"] == ("attachment; filename=\"Bien ban hien truong.pdf\"; "
                                                       f"filename*=UTF-8''{quote('Biên bản hiện trường.pdf')}")
    for served in (image, document):
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in served.headers["Content-Security-Policy"]
        assert "default-src 'none'" in served.headers["Content-Security-Policy"]


def test_a_directive_whose_document_is_refused_says_why(client) -> None:
    factories.user("leader", "VP-UBND", name="chutich")
    login(client, "chutich")
    page = client.get("/directives/new").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = client.post("/directives/new", content_type="multipart/form-data", data={
        "csrf_token": token, "title": "Ứng phó lũ", "deadline": "2030-01-01T17:00", "departments": ["SO-NNMT"],
        "document": (io.BytesIO(b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>"), "chi-dao.pdf")})
    assert r.status_code == 422 and "trình duyệt" in r.get_data(as_text=True)
    assert client.get("/api/v1/directives").get_json() == []  # not issued without its document
