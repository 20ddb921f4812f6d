"""What a transaction hands on after it commits — live-stream messages, jobs — leaves only when the whole
transaction commits: a savepoint's commit is not the transaction's, and a savepoint rolled back takes back
what was added within it."""

from __future__ import annotations

import pytest

from engine import bus
from engine.db import transaction
from engine.queue import enqueue_after_commit, get_queue


def stream_kinds(after: str) -> list[str]:
    return [change["kind"] for _id, change in bus.read_after(after, 1)]


def test_a_savepoint_publishes_nothing_before_the_transaction_commits_and_a_rolled_back_one_nothing_at_all() -> None:
    before = bus.latest_id()
    queued = get_queue().count
    with transaction() as session:
        bus.publish(session, "test.outer")
        with session.begin_nested():
            bus.publish(session, "test.kept")
            enqueue_after_commit(session, "engine.jobs.sweep")
        assert stream_kinds(before) == [] and get_queue().count == queued  # the savepoint committed; not yet
        with pytest.raises(ValueError), session.begin_nested():
            bus.publish(session, "test.dropped")
            enqueue_after_commit(session, "engine.jobs.sweep")
            raise ValueError("this step fails")
        bus.publish(session, "test.after")
        assert stream_kinds(before) == []
    assert stream_kinds(before) == ["test.outer", "test.kept", "test.after"]
    assert get_queue().count == queued + 1


def test_a_transaction_rolled_back_publishes_nothing_of_its_savepoints() -> None:
    before = bus.latest_id()
    with pytest.raises(RuntimeError), transaction() as session:
        with session.begin_nested():
            bus.publish(session, "test.inner")
        raise RuntimeError("the whole action fails")
    assert stream_kinds(before) == []
