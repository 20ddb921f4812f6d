"""Models drawn in SpiffArena's modeler (the Spiff flavour): lanes, JSON Schema forms and instructions run;
quoted timer expressions fire; extensions the engine would skip are refused at deploy with the line."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

from engine import registry, runtime, timers
from engine.db import transaction, utcnow
from engine.errors import DeployError
from tests.test_json_forms import SCHEMA

SPIFF_MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Definitions_spiff"
    targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:collaboration id="c"><bpmn:participant id="p" processRef="spiff_inspection" /></bpmn:collaboration>
  <bpmn:process id="spiff_inspection" name="Kiểm tra (SpiffArena)" isExecutable="true">
    <bpmn:laneSet id="ls">
      <bpmn:lane id="lane_officers" name="Chuyên viên"><bpmn:flowNodeRef>inspect</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>late</bpmn:flowNodeRef></bpmn:lane>
      <bpmn:lane id="lane_leaders" name="Lãnh đạo"><bpmn:flowNodeRef>review_late</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="inspect" name="Kiểm tra hiện trường">
      <bpmn:extensionElements>
        <spiffworkflow:instructionsForEndUser>Đến hiện trường, chụp ảnh, ghi kết quả.
        </spiffworkflow:instructionsForEndUser>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="inspect-schema.json" />
          <spiffworkflow:property name="formUiSchemaFilename" value="inspect-uischema.json" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="late" attachedToRef="inspect" cancelActivity="true">
      <bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression"
        xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">"PT1S"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:userTask id="review_late" name="Quá hạn: lãnh đạo xem xét">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="inspect" />
    <bpmn:sequenceFlow id="f2" sourceRef="inspect" targetRef="end" />
    <bpmn:sequenceFlow id="f3" sourceRef="late" targetRef="review_late" />
    <bpmn:sequenceFlow id="f4" sourceRef="review_late" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""
SCHEMAS = {"inspect-schema.json": json.dumps(SCHEMA).encode()}


def test_a_spiffarena_model_runs_with_its_lanes_form_instructions_and_quoted_timer(session) -> None:
    (definition,) = registry.deploy(session, SPIFF_MODEL.encode(), "spiff.bpmn", schemas=SCHEMAS)
    assert definition.tasks["inspect"]["documentation"] == "Đến hiện trường, chụp ảnh, ghi kết quả."
    instance = runtime.start_process(session, "spiff_inspection", {}, actor="test")
    (task,) = runtime.current_step(session, instance)
    assert task.candidate_role == "officer"  # the lane "Chuyên viên" is the officer role
    assert [f["id"] for f in task.form] == ["result", "level", "visited_on", "people", "urgent"]
    assert instance.next_timer_at is not None and instance.next_timer_at <= utcnow() + timedelta(seconds=2)
    session.commit()
    time.sleep(1.1)  # the timer's second passes (Spiff reads the real clock)
    assert timers.fire_due_timers() == 1
    with transaction() as s:
        (late,) = runtime.current_step(s, runtime.get_instance(s, instance.id))
        assert (late.bpmn_id, late.candidate_role) == ("review_late", "leader")


@pytest.mark.parametrize("extension", ["preScript", "postScript"])
def test_spiff_extensions_the_engine_would_skip_are_refused_with_the_line(session, extension: str) -> None:
    bad = SPIFF_MODEL.replace(
        "<spiffworkflow:properties>",
        f"<spiffworkflow:{extension}>x = 1</spiffworkflow:{extension}><spiffworkflow:properties>")
    with pytest.raises(DeployError) as err:
        registry.deploy(session, bad.encode(), "spiff.bpmn", schemas=SCHEMAS)
    line = next(n for n, text in enumerate(bad.splitlines(), 1) if f"spiffworkflow:{extension}>" in text)
    assert err.value.details == {"file": "spiff.bpmn", "line": line, "element": "inspect"}
    assert extension in str(err.value) and "script task" in str(err.value)
