"""Workflows kept in memory between one action on an instance and the next.

Restoring a workflow from its stored state is most of the cost of an action (SpiffArena's users'
first complaint is slow instances). After a commit, the runtime keeps the workflow object it just
saved, keyed by the instance and the exact state text it stored; the next action on that instance
takes it back instead of restoring it, but only if the row still holds that same state (so a change
made by another process, a rollback, a migration or a rewind is never missed: the key no longer
matches and the state is restored from the database as before).

A kept workflow is *taken* (removed) by the action that uses it, so two threads never share one; a
failed action puts nothing back. The cache is per process and bounded (least recently used out).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow

Key = tuple[int, int, str]  # (instance id, definition id, the stored state text)


class LiveWorkflows:
    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._items: OrderedDict[int, tuple[Key, BpmnWorkflow]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def take(self, key: Key) -> BpmnWorkflow | None:
        with self._lock:
            item = self._items.pop(key[0], None)
            if item is not None and item[0] == key:
                self.hits += 1
                return item[1]
            self.misses += 1
            return None

    def keep(self, key: Key, wf: BpmnWorkflow) -> None:
        with self._lock:
            self._items[key[0]] = (key, wf)
            self._items.move_to_end(key[0])
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def stats(self) -> dict[str, Any]:
        return {"kept": len(self._items), "hits": self.hits, "misses": self.misses}


# About 20 KB each (the incident process): 2,000 kept workflows take about 40 MB per process.
live_workflows = LiveWorkflows(int(os.environ.get("IOC_LIVE_WORKFLOWS", "2000")))
