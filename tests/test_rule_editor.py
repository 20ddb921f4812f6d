"""Administrators change rules from the web: a change waits for a second administrator's approval, then the file
keeps its comments, the change is audited with its diff and both names, the next event is judged by the new
threshold, bad values are refused with the line, and a change can be reverted (approved in the same way)."""

from __future__ import annotations

import html as html_lib
import re
import shutil

import pytest
from sqlalchemy import select

from engine import jobs
from engine.config import settings
from engine.db import transaction
from engine.events import ingest_events
from engine.models import Alert, AuditEntry
from tests import factories
from tests.conftest import ROOT
from tests.test_api import login


@pytest.fixture
def rules_dir(tmp_path, monkeypatch):
    directory = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", directory)
    monkeypatch.setenv("IOC_RULES_DIR", str(directory))
    settings.cache_clear()
    yield directory
    monkeypatch.delenv("IOC_RULES_DIR")
    settings.cache_clear()


def form_of(html: str) -> dict[str, str]:
    fields = dict(re.findall(r'<input id="[^"]+" name="([^"]+)" value="([^"]*)"', html))
    fields["csrf_token"] = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    fields.update(re.findall(r'<select id="[^"]+" name="([^"]+)">.*?<option value="([^"]*)" selected', html, re.S))
    fields["enabled"] = "on"
    return {k: html_lib.unescape(v) for k, v in fields.items()}


def ingest(aqi: float, entity: str) -> None:
    with transaction() as session:
        result = ingest_events(session, [factories.incoming(aqi=aqi, entity=entity)], "test")
    jobs.process_events(result.accepted)


def approve_pending(client) -> None:
    """A second administrator approves the rule's one pending change on the rule page."""
    page = client.get("/rules/aqi-poor").get_data(as_text=True)
    (change_id,) = re.findall(r'<li data-change="(\d+)">', page)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = client.post(f"/rules/aqi-poor/changes/{change_id}", data={"action": "approve", "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]


def test_an_administrator_changes_a_threshold_and_the_next_event_is_judged_by_it(client, session,
                                                                                  rules_dir) -> None:
    factories.user("admin", name="quantri")
    factories.user("admin", name="quantri_hai")
    login(client, "quantri")
    second = client.application.test_client()
    login(second, "quantri_hai")
    before = (rules_dir / "environment.yaml").read_text()
    page = client.get("/rules/aqi-poor")
    assert page.status_code == 200 and "Chất lượng không khí ở mức xấu" in page.get_data(as_text=True)
    ingest(140, "S-BEFORE")
    assert session.scalar(select(Alert)) is None  # 140 is under the shipped 150
    form = form_of(page.get_data(as_text=True))
    form.update(value="120", action="save")
    resp = client.post("/rules/aqi-poor", data=form)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    assert (rules_dir / "environment.yaml").read_text() == before  # pending until a second administrator approves
    approve_pending(second)
    after = (rules_dir / "environment.yaml").read_text()
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]
    assert changed == [("    value: 150", "    value: 120")]  # every comment and every other line kept
    ingest(140, "S-AFTER")
    session.rollback()
    assert [a.entity for a in session.scalars(select(Alert))] == ["S-AFTER"]
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "rules.changed"))
    assert (entry.actor, entry.details["proposed_by"]) == ("quantri_hai", "quantri")
    assert "-    value: 150\n+    value: 120" in entry.details["diff"]
    # History and revert (a change too: the other administrator approves it)
    page = client.get("/rules/aqi-poor").get_data(as_text=True)
    assert "value: 120" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post(f"/rules/aqi-poor/revert/{entry.id}", data={"csrf_token": token}).status_code == 302
    approve_pending(second)
    assert (rules_dir / "environment.yaml").read_text() == before


def test_a_bad_threshold_is_refused_with_its_line_and_the_file_is_unchanged(client, rules_dir) -> None:
    factories.user("admin", name="quantri2")
    login(client, "quantri2")
    before = (rules_dir / "environment.yaml").read_text()
    form = form_of(client.get("/rules/aqi-poor").get_data(as_text=True))
    form.update(op="between", value="150", action="save")  # between needs two numbers
    resp = client.post("/rules/aqi-poor", data=form)
    assert resp.status_code == 422 and "hai số" in resp.get_data(as_text=True)
    form.update(op=">", value="150", dedupe_key="", action="save")  # the schema's own check, with the line
    resp = client.post("/rules/aqi-poor", data=form)
    problems = re.findall(r'<ul class="problems".*?</ul>', resp.get_data(as_text=True), re.S)
    assert resp.status_code == 422 and "environment.yaml:8:" in problems[0] and "dedupe_key" in problems[0], problems
    assert (rules_dir / "environment.yaml").read_text() == before


def test_preview_counts_how_often_the_rule_would_have_fired(client, rules_dir) -> None:
    factories.user("admin", name="quantri3")
    login(client, "quantri3")
    for entity, aqi in (("A", 130), ("A", 90), ("A", 135), ("B", 125)):
        with transaction() as session:
            ingest_events(session, [factories.incoming(aqi=aqi, entity=entity)], "test")
    form = form_of(client.get("/rules/aqi-poor").get_data(as_text=True))
    form.update(value="120", action="preview")
    html = client.post("/rules/aqi-poor", data=form).get_data(as_text=True)
    assert re.search(r"3 (lần|times)", html), html[:3000]  # A twice (it cleared in between), B once


def test_officers_cannot_open_the_rule_editor(client, rules_dir) -> None:
    factories.user("officer", name="canbo")
    login(client, "canbo")
    assert client.get("/rules/aqi-poor").status_code in (302, 403)
