"""DMN business rule tasks: which department handles which alert, decided by a table; the unsupported
parts of DMN are refused at deploy with a clear message."""

from __future__ import annotations

import pytest

from engine import registry, runtime
from engine.errors import DeployError
from tests.conftest import ROOT

ROUTED = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="routed" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:businessRuleTask id="route" camunda:decisionRef="route_alert">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:businessRuleTask>
    <bpmn:userTask id="handle" camunda:candidateGroups="${department}">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="e"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="route" />
    <bpmn:sequenceFlow id="f2" sourceRef="route" targetRef="handle" />
    <bpmn:sequenceFlow id="f3" sourceRef="handle" targetRef="e" />
  </bpmn:process>
</bpmn:definitions>"""


@pytest.mark.parametrize("sector, severity, department", [
    ("environment", "khan_cap", "SO-NNMT"), ("environment", "cao", "TT-IOC"), ("traffic", "thap", "CA-TINH"),
])
def test_the_decision_table_routes_the_task(session, sector: str, severity: str, department: str) -> None:
    registry.deploy(session, (ROOT / "processes" / "route_alert.dmn").read_bytes(), "route_alert.dmn")
    registry.deploy(session, ROUTED, "routed.bpmn")
    instance = runtime.start_process(session, "routed", {"sector": sector, "severity": severity}, actor="test")
    (task,) = runtime.current_step(session, instance)
    assert task.candidate_department.code == department


def dmn(table_attrs: str = "", extra: str = "") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="x" name="x" namespace="n">
  <decision id="pick" name="Pick">
    {extra}
    <decisionTable id="t" {table_attrs}>
      <input id="i"><inputExpression id="ie" typeRef="string"><text>a</text></inputExpression></input>
      <output id="o" name="b" typeRef="string" />
      <rule id="r"><inputEntry id="ri"><text>-</text></inputEntry>
        <outputEntry id="ro"><text>"x"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>""".encode()


@pytest.mark.parametrize("content, words, line", [
    (dmn('hitPolicy="PRIORITY"'), "PRIORITY", 5),
    (dmn(extra='<informationRequirement id="ir"><requiredDecision href="#other"/></informationRequirement>'),
     "requirement", 3),
])
def test_unsupported_dmn_is_refused_with_where(session, content: bytes, words: str, line: int) -> None:
    with pytest.raises(DeployError) as err:
        registry.deploy(session, content, "bad.dmn")
    assert words in str(err.value) and err.value.details["line"] == line and err.value.details["file"] == "bad.dmn"
