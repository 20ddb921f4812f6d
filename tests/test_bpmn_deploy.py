"""Deploying BPMN files: versions stored once by hash; bad files refused with file, line and element."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine import registry
from engine.errors import DeployError
from engine.models import ProcessDefinition
from tests.conftest import ROOT

MINIMAL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="{pid}" name="Minimal" isExecutable="{exe}">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="work" name="Do it" camunda:candidateGroups="role:officer">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="e"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="work" />
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="{target}" />
  </bpmn:process>
</bpmn:definitions>
"""


def minimal(pid: str = "minimal", exe: str = "true", target: str = "e") -> bytes:
    return MINIMAL.format(pid=pid, exe=exe, target=target).encode()


def test_same_file_is_stored_once_and_a_change_makes_a_new_version(session) -> None:
    first = registry.deploy(session, minimal(), "m.bpmn")
    again = registry.deploy(session, minimal(), "m.bpmn")
    changed = registry.deploy(session, minimal().replace(b"Do it", b"Do it now"), "m.bpmn")
    session.commit()
    assert first[0].id == again[0].id and first[0].version == 1
    assert changed[0].version == 2
    count = session.scalar(select(func.count()).select_from(ProcessDefinition)
                           .where(ProcessDefinition.process_key == "minimal"))
    assert count == 2
    assert registry.latest(session, "minimal").version == 2


def test_incident_process_has_its_tasks_and_lanes(session) -> None:
    definition = registry.latest(session, "incident")
    tasks = definition.tasks
    assert list(tasks) == ["triage", "handle", "report", "review"]
    assert tasks["triage"]["lane"] == "Trực ban IOC"
    assert tasks["handle"]["candidate_groups"] == "${department}"
    assert tasks["review"]["candidate_groups"] == "role:leader"
    assert [f["id"] for f in tasks["review"]["form"]] == ["decision", "leader_comment"]
    assert '"spec"' in definition.spec_json and definition.filename == "incident.bpmn"


@pytest.mark.parametrize("content, line, element, words", [
    (minimal()[:-40], 10, None, "not well-formed"),
    (minimal().replace(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
                       b"<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"),
     1, None, "entity"),
    (minimal(exe="false"), 1, None, "executable"),
    (minimal(target="nowhere"), None, None, "nowhere"),
    (b"<notbpmn/>", 1, None, "not a BPMN"),
])
def test_bad_files_are_refused_with_where(session, content: bytes, line: int | None, element: str | None,
                                          words: str) -> None:
    with pytest.raises(DeployError) as err:
        registry.deploy(session, content, "bad.bpmn")
    assert err.value.details["file"] == "bad.bpmn"
    if line is not None:
        assert err.value.details["line"] == line
    assert words.lower() in str(err.value).lower() + str(err.value.details).lower()


def test_bare_iso_timer_from_camunda_modeler_is_accepted(session) -> None:
    content = minimal().replace(
        b'<bpmn:endEvent id="e">',
        b'<bpmn:boundaryEvent id="late" attachedToRef="work" cancelActivity="false">'
        b'<bpmn:timerEventDefinition><bpmn:timeDuration>PT4H</bpmn:timeDuration></bpmn:timerEventDefinition>'
        b'</bpmn:boundaryEvent><bpmn:endEvent id="e">')
    (definition,) = registry.deploy(session, content, "timer.bpmn")
    assert definition.process_key == "minimal"


def test_cli_deploy_names_file_and_line(tmp_path) -> None:
    from tests.conftest import ioc, ioc_env

    bad = tmp_path / "broken.bpmn"
    bad.write_bytes(minimal()[:-40])
    result = ioc("process", "deploy", str(bad), env=ioc_env(tmp_path / "var"), check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("error: broken.bpmn:10:")
    assert "Traceback" not in result.stderr
    ok = ioc("process", "deploy", str(ROOT / "processes" / "incident.bpmn"), env=ioc_env(tmp_path / "var"))
    assert "incident v" in ok.stdout


def test_a_form_field_reusing_an_element_id_is_refused_with_both_lines(session) -> None:
    content = minimal().replace(
        b'camunda:candidateGroups="role:officer">',
        b'camunda:candidateGroups="role:officer"><bpmn:extensionElements><camunda:formData>'
        b'<camunda:formField id="work" type="string" /></camunda:formData></bpmn:extensionElements>')
    with pytest.raises(DeployError) as err:
        registry.deploy(session, content, "dup.bpmn")
    assert err.value.details == {"file": "dup.bpmn", "line": 6, "element": "work"}
    assert "used twice" in str(err.value)


def test_a_flow_to_a_missing_element_names_the_flow(session) -> None:
    with pytest.raises(DeployError) as err:
        registry.deploy(session, minimal(target="nowhere"), "m.bpmn")
    assert err.value.details == {"file": "m.bpmn", "line": 10, "element": "f2"}


def test_a_static_due_date_that_means_nothing_is_refused(session) -> None:
    content = minimal().replace(b'camunda:candidateGroups="role:officer"',
                                b'camunda:candidateGroups="role:officer" camunda:dueDate="tomorrow"')
    with pytest.raises(DeployError) as err:
        registry.deploy(session, content, "due.bpmn")
    assert err.value.details == {"file": "due.bpmn", "line": 6, "element": "work"} and "tomorrow" in str(err.value)


def test_a_lane_named_after_a_role_routes_its_tasks(session) -> None:
    from engine import runtime

    content = minimal(pid="laned").replace(b' camunda:candidateGroups="role:officer"', b"").replace(
        b'<bpmn:startEvent id="s">',
        b'<bpmn:laneSet id="ls"><bpmn:lane id="l1" name="L\xc3\xa3nh \xc4\x91\xe1\xba\xa1o">'
        b'<bpmn:flowNodeRef>work</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet><bpmn:startEvent id="s">')
    registry.deploy(session, content, "laned.bpmn")
    instance = runtime.start_process(session, "laned", {}, actor="test")
    (task,) = runtime.current_step(session, instance)
    assert task.lane == "Lãnh đạo" and task.candidate_role == "leader"


def test_a_call_activity_puts_the_called_process_tasks_in_the_right_inbox(session) -> None:
    from engine import runtime

    content = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="parent_flow" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:callActivity id="call_inspect" name="Kiểm tra" calledElement="inspection_flow">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:callActivity>
    <bpmn:userTask id="close" camunda:candidateGroups="role:leader">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="e"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="call_inspect" />
    <bpmn:sequenceFlow id="f2" sourceRef="call_inspect" targetRef="close" />
    <bpmn:sequenceFlow id="f3" sourceRef="close" targetRef="e" />
  </bpmn:process>
  <bpmn:process id="inspection_flow" isExecutable="true">
    <bpmn:startEvent id="is"><bpmn:outgoing>g1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="inspect" name="Kiểm tra hiện trường" camunda:candidateGroups="department:SO-XD">
      <bpmn:incoming>g1</bpmn:incoming><bpmn:outgoing>g2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="ie"><bpmn:incoming>g2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="g1" sourceRef="is" targetRef="inspect" />
    <bpmn:sequenceFlow id="g2" sourceRef="inspect" targetRef="ie" />
  </bpmn:process>
</bpmn:definitions>""".encode()
    deployed = registry.deploy(session, content, "call.bpmn")
    assert sorted(d.process_key for d in deployed) == ["inspection_flow", "parent_flow"]
    instance = runtime.start_process(session, "parent_flow", {}, actor="test")
    (task,) = runtime.current_step(session, instance)
    assert (task.bpmn_id, task.name, task.candidate_department.code) == ("inspect", "Kiểm tra hiện trường", "SO-XD")


CALLEE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d2" targetNamespace="t">
  <bpmn:process id="site_visit" isExecutable="true">
    <bpmn:startEvent id="vs"><bpmn:outgoing>v1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="visit" name="Kiểm tra thực địa" camunda:candidateGroups="department:SO-XD">
      <bpmn:incoming>v1</bpmn:incoming><bpmn:outgoing>v2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="ve"><bpmn:incoming>v2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="v1" sourceRef="vs" targetRef="visit" />
    <bpmn:sequenceFlow id="v2" sourceRef="visit" targetRef="ve" />
  </bpmn:process>
</bpmn:definitions>""".encode()
CALLER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d1" targetNamespace="t">
  <bpmn:process id="complaint" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:callActivity id="call_visit" name="Kiểm tra" calledElement="site_visit">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:callActivity>
    <bpmn:userTask id="answer" name="Trả lời công dân" camunda:candidateGroups="role:leader">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="e"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="call_visit" />
    <bpmn:sequenceFlow id="f2" sourceRef="call_visit" targetRef="answer" />
    <bpmn:sequenceFlow id="f3" sourceRef="answer" targetRef="e" />
  </bpmn:process>
</bpmn:definitions>""".encode()


def test_a_call_activity_calls_a_process_deployed_from_another_file(session) -> None:
    from engine import runtime, tasks
    from tests.factories import user

    with pytest.raises(DeployError) as err:  # the called process is not deployed yet
        registry.deploy(session, CALLER, "complaint.bpmn")
    assert err.value.code == "callee_missing" and "site_visit" in str(err.value)
    assert err.value.details == {"file": "complaint.bpmn", "line": 6, "element": "call_visit"}
    registry.deploy(session, CALLEE, "site_visit.bpmn")
    (caller,) = registry.deploy(session, CALLER, "complaint.bpmn")
    assert registry.deploy(session, CALLER, "complaint.bpmn")[0].id == caller.id  # unchanged: same version
    instance = runtime.start_process(session, "complaint", {"title": "Phản ánh ô nhiễm"}, actor="test")
    (visit,) = runtime.current_step(session, instance)
    assert (visit.name, visit.candidate_department.code) == ("Kiểm tra thực địa", "SO-XD")
    session.commit()
    tasks.complete_task(session, visit.id, user("officer", "SO-XD"), {})
    (answer,) = runtime.current_step(session, instance)
    assert (answer.bpmn_id, answer.candidate_role) == ("answer", "leader")
    # A new version of the called process makes a new version of the caller when it is deployed again.
    registry.deploy(session, CALLEE.replace("Kiểm tra thực địa".encode(), "Kiểm tra tại chỗ".encode()),
                    "site_visit.bpmn")
    (again,) = registry.deploy(session, CALLER, "complaint.bpmn")
    assert again.version == caller.version + 1 and again.tasks["visit"]["name"] == "Kiểm tra tại chỗ"


def test_a_processes_folder_deploys_called_processes_first(session, tmp_path) -> None:
    (tmp_path / "a_complaint.bpmn").write_bytes(CALLER)  # sorts before the file it calls
    (tmp_path / "z_site_visit.bpmn").write_bytes(CALLEE)
    deployed = registry.deploy_directory(session, tmp_path)
    assert sorted(d.process_key for d in deployed) == ["complaint", "site_visit"]
