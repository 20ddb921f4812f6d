"""The inbox reads each reason to see a task (role, department, assignee, named) only as far as the page needs:
every page, with every filter, is exactly the page of the full query."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from engine.db import transaction, utcnow
from engine.models import Department, HumanTask, ProcessDefinition, ProcessInstance
from engine.tasks import inbox_query
from tests import factories


@pytest.fixture()
def tasks_for_an_officer(session):
    officer = factories.user("officer", "SO-NNMT", name="chuyenvien-w")
    rnd = random.Random(7)
    now = utcnow()
    with transaction() as s:
        mine = s.scalar(select(Department.id).where(Department.code == "SO-NNMT"))
        other = s.scalar(select(Department.id).where(Department.code == "SO-YT"))
        definition = ProcessDefinition(process_key=f"w-{uuid.uuid4().hex[:12]}", name="w", version=1,
                                       content_hash=uuid.uuid4().hex * 2,
                                       filename="-", bpmn_xml="-", spec_json="{}", tasks={}, deployed_by="test")
        s.add(definition)
        s.flush()
        instance = ProcessInstance(definition_id=definition.id, business_key="w", status="running", state_json="{}",
                                   started_by="test")
        s.add(instance)
        s.flush()
        rows = []
        for k in range(400):
            reason = rnd.choice(["role", "department", "assignee", "other"])
            rows.append({
                "instance_id": instance.id, "task_guid": str(uuid.uuid4()), "bpmn_id": "t", "name": f"task {k}",
                "candidate_role": "officer" if reason == "role" else None,
                "candidate_department_id": mine if reason == "department" else other if reason == "other" else None,
                "assignee_id": officer.user_id if reason == "assignee" else None,
                "status": rnd.choice(["open", "open", "open", "completed"]), "priority": rnd.choice([20, 50, 50, 80]),
                "due_at": rnd.choice([None, now - timedelta(hours=rnd.randint(1, 50)),
                                      now + timedelta(hours=rnd.randint(1, 50))]),
                "sector": rnd.choice(["environment", "traffic"]), "form": [], "lock_version": 1, "created_at": now})
        s.execute(insert(HumanTask.__table__), rows)
    return officer


@pytest.mark.parametrize("scope", ["all", "department"])
@pytest.mark.parametrize("filters", [{}, {"overdue": True}, {"sector": "traffic"}])
def test_every_page_is_the_page_of_the_full_query(session, tasks_for_an_officer, scope, filters):
    officer = tasks_for_an_officer
    full = [t.id for t in session.scalars(inbox_query(officer, scope, "open", **filters))]
    assert 20 < len(full) < 300  # the fixture gives pages to turn, and tasks the officer must not see
    for offset, limit in ((0, 10), (10, 10), (35, 25), (0, 500)):
        page = session.scalars(inbox_query(officer, scope, "open", window=offset + limit, **filters)
                               .limit(limit).offset(offset))
        assert [t.id for t in page] == full[offset:offset + limit], (offset, limit)
