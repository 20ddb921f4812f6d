"""Conditions and scripts run sandboxed: hostile code is refused at deploy or stopped at run time."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import registry, runtime
from engine.db import session_factory, transaction
from engine.errors import DeployError
from engine.models import AuditEntry, HumanTask, ProcessInstance
from engine.sandbox import SandboxEnvironment, ScriptTimeout, UnsafeCode, check

HOSTILE = [
    "__import__('os').system('id')",
    "import os",
    "from subprocess import run",
    "().__class__.__base__.__subclasses__()",
    "open('/etc/passwd').read()",
    "eval('1+1')",
    "getattr(x, 'secret')",
    "x._private",
    "globals()",
    "9 ** 9 ** 9",
    "2 ** n",
    "class A: pass",
]


@pytest.mark.parametrize("source", HOSTILE)
def test_hostile_code_is_refused_before_it_runs(source: str) -> None:
    env = SandboxEnvironment()
    with pytest.raises((UnsafeCode, NameError)):
        mode = "exec" if source.startswith(("import", "from", "class")) else "eval"
        if mode == "eval":
            env.evaluate(source, {"x": 1, "n": 3})
        else:
            env.execute(source, {})


@pytest.mark.parametrize("source, data, expected", [
    ('decision == "accept"', {"decision": "accept"}, True),
    ("value > 150 and severity in ('cao', 'khan_cap')", {"value": 180, "severity": "cao"}, True),
    ("len(departments) == 2", {"departments": ["SO-YT", "SO-XD"]}, True),
    ("max(levels) ** 2", {"levels": [1, 3]}, 9),
    ("(deadline - start).days", {"deadline": __import__("datetime").date(2026, 12, 1),
                                 "start": __import__("datetime").date(2026, 11, 25)}, 6),
])
def test_ordinary_conditions_work(source: str, data: dict, expected: object) -> None:
    assert SandboxEnvironment().evaluate(source, data) == expected


def test_scripts_set_data_and_leave_no_functions_behind() -> None:
    data = {"values": [3, 4]}
    SandboxEnvironment().execute("def half(v):\n    return v / 2\ntotal = half(sum(values))", data)
    assert data == {"values": [3, 4], "total": 3.5}


def test_a_runaway_script_is_stopped() -> None:
    with pytest.raises(ScriptTimeout):
        SandboxEnvironment(time_limit_s=0.2).execute("while True:\n    pass", {})


def test_check_reports_the_line() -> None:
    with pytest.raises(UnsafeCode, match="line 2"):
        check("x = 1\nimport os", "exec")


MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="{pid}" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="calc" scriptFormat="python"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script></bpmn:scriptTask>
    <bpmn:userTask id="next" camunda:candidateGroups="role:officer"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="e"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="calc" />
    <bpmn:sequenceFlow id="f2" sourceRef="calc" targetRef="next" />
    <bpmn:sequenceFlow id="f3" sourceRef="next" targetRef="e" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_hostile_script_is_refused_at_deploy_with_its_line(session) -> None:
    content = MODEL.format(pid="evil", script="import os\nos.system('id')").encode()
    with pytest.raises(DeployError) as err:
        registry.deploy(session, content, "evil.bpmn")
    assert err.value.details == {"file": "evil.bpmn", "line": 8, "element": "calc"}
    assert "import" in str(err.value)


def test_a_runaway_script_puts_the_instance_into_an_incident() -> None:
    content = MODEL.format(pid="loop", script="n = 0\nwhile True:\n    n = n + 1").encode()
    with transaction() as session:
        registry.deploy(session, content, "loop.bpmn")
        iid = runtime.start_process(session, "loop", {}, actor="test").id
    with session_factory(write=False)() as s:
        instance = s.get(ProcessInstance, iid)
        assert instance.status == "incident" and instance.error.startswith("calc:")
        assert s.scalar(select(AuditEntry.action).where(AuditEntry.instance_id == iid,
                                                        AuditEntry.action == "instance.incident"))
        assert list(s.scalars(select(HumanTask).where(HumanTask.instance_id == iid))) == []


def test_a_good_script_runs_in_a_process() -> None:
    content = MODEL.format(pid="good", script="deadline_days = 3 if severity == 'cao' else 7").encode()
    with transaction() as session:
        registry.deploy(session, content, "good.bpmn")
        instance = runtime.start_process(session, "good", {"severity": "cao"}, actor="test")
        assert instance.status == "running"
        wf = runtime.load(instance)
    assert wf.get_tasks(manual=True)[0].data["deadline_days"] == 3
