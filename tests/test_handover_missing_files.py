"""A database restored without its data directory (issue 19: the backup guide's old restore lost the files): the
rows of the tasks' attachments and the cameras' evidence are there, their files are not. Each download then answers
404, with the JSON error body for the API and the error page for pages, never a 500; the task's page still opens."""

from __future__ import annotations

import io
import shutil

from engine.config import settings
from tests import factories
from tests.test_api import assert_error, login
from tests.test_attachments import PDF
from tests.test_task_operations import triaged

SNAPSHOT = "CAM-KHOI-PHUC/20261125T081500-12-red_light.jpg"
CLIP = "CAM-KHOI-PHUC/20261125T081500-12-red_light.avi"


def _lose_the_data_directory() -> None:
    """What restoring only the database leaves: the files' folders empty."""
    for folder in ("attachments", "evidence"):
        shutil.rmtree(settings().data_dir / folder, ignore_errors=True)


def test_an_attachment_whose_file_was_lost_answers_404_with_the_error_body(client) -> None:
    tid = triaged(client)
    factories.user("officer", "SO-NNMT", name="khoi_phuc")
    kim = client.application.test_client()
    kim.environ_base["HTTP_X_CSRFTOKEN"] = login(kim, "khoi_phuc")
    added = kim.post(f"/api/v1/tasks/{tid}/attachments", data={"file": (io.BytesIO(PDF), "biên bản.pdf")},
                     content_type="multipart/form-data")
    assert added.status_code == 201
    attachment = added.get_json()["id"]
    assert kim.get(f"/api/v1/tasks/attachments/{attachment}").data == PDF

    _lose_the_data_directory()
    body = assert_error(kim.get(f"/api/v1/tasks/attachments/{attachment}"), 404, "file_missing")
    assert "tệp đính kèm" in body["message"]  # Vietnamese first, and says which file is gone
    assert_error(kim.get("/api/v1/tasks/attachments/999999"), 404, "not_found")  # no such row: as before
    page = kim.get(f"/tasks/{tid}")
    assert page.status_code == 200 and "biên bản.pdf" in page.get_data(as_text=True)


def test_evidence_whose_file_was_lost_answers_the_404_page(client) -> None:
    folder = settings().data_dir / "evidence" / "CAM-KHOI-PHUC"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SNAPSHOT.split("/")[1]).write_bytes(b"\xff\xd8\xff\xe0 a snapshot")
    (folder / CLIP.split("/")[1]).write_bytes(b"RIFF\0\0\0\0AVI a clip")
    factories.user("operator", None, name="van_hanh")
    c = client.application.test_client()
    login(c, "van_hanh")
    assert c.get(f"/evidence/{SNAPSHOT}").status_code == 200 and c.get(f"/evidence/{CLIP}").status_code == 200

    _lose_the_data_directory()
    for name in (SNAPSHOT, CLIP):
        gone = c.get(f"/evidence/{name}")
        assert gone.status_code == 404 and gone.mimetype == "text/html", name
        assert "Traceback" not in gone.get_data(as_text=True)
