"""Reading BPMN files: safe XML parsing, deploy-time checks, and the human-task catalog.

A deploy error names the file, the line and the BPMN element, never a traceback. The catalog is
what the inbox needs to know about each user task (lane, candidates, due date, priority, form),
read once at deploy time so that listing tasks never touches workflow state.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from uuid import UUID

from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition, TimerEventDefinition
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.config import settings
from engine.errors import N_, DeployError
from engine.forms import SchemaError, fields_from_json_schema
from engine.isotime import parse_datetime, parse_duration
from engine.sandbox import UnsafeCode, script_engine
from engine.sandbox import check as sandbox_check
from engine.text import line_of, nul_paths

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS, "spiffworkflow": SPIFF_NS}
# SpiffArena's extensions the engine does not run, and what to draw instead.
SPIFF_REFUSED = {
    "preScript": "a script task before the task",
    "postScript": "a script task after the task",
    "serviceTaskOperator": "a connector that sends an event, or a message",
    "calledDecisionId": "camunda:decisionRef on the business rule task",
}
TIMER_TAGS = ("timeDuration", "timeDate", "timeCycle")
TIMER_EVENTS = ("DurationTimerEventDefinition", "TimeDateEventDefinition", "CycleTimerEventDefinition")
_PLACEHOLDER = re.compile(r"\$\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}")
_BARE_ISO = re.compile(r"^(R\d*/)?(P[0-9WDTHMS.,]+|\d{4}-\d{2}-\d{2}[0-9T:.+\-Z]*)(/P[0-9WDTHMS.,]+)?$")



class _StateConverter(BpmnWorkflowConverter):
    """A workflow's state without its spec: the spec is stored once per version and, once
    deserialized, shared by every instance of that version (Spiff specs are not changed by running)."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct: dict[str, Any] = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any]) -> BpmnWorkflow:
        spec, subprocess_specs = dct.pop("spec"), dct.pop("subprocess_specs")
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG))
_state_serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure({**CAMUNDA_CONFIG,
                                                                             BpmnWorkflow: _StateConverter}))
SCRIPT_ENGINE = script_engine()  # every condition and script runs sandboxed (engine/sandbox.py)


@dataclass
class ParsedProcess:
    process_key: str
    name: str
    spec_json: str
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    timer_start: bool = False  # its start event is a timer: it runs on a schedule


def _fail(message: str, filename: str, line: int | None = None, element: str | None = None,
          **params: Any) -> DeployError:
    details = {"file": filename, "line": line, "element": element}
    return DeployError(message, details={k: v for k, v in details.items() if v is not None}, **params)


def parse_xml(content: bytes, filename: str) -> etree._ElementTree:
    """A BPMN file, parsed safely (see ``parse_xml_any``)."""
    tree = parse_xml_any(content, filename)
    root = tree.getroot()
    if root.tag != f"{{{BPMN_NS}}}definitions":
        raise _fail(N_("This is not a BPMN 2.0 file: the root element is %(tag)s"), filename,
                    root.sourceline, tag=etree.QName(root).localname)
    return tree


def parse_xml_any(content: bytes, filename: str) -> etree._ElementTree:
    """Parse without resolving entities, loading DTDs or touching the network."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        tree = etree.ElementTree(etree.fromstring(content, parser))
    except etree.XMLSyntaxError as exc:
        raise _fail(N_("The file is not well-formed XML: %(reason)s"), filename, exc.lineno,
                    reason=exc.msg) from None
    if tree.docinfo.doctype or b"<!ENTITY" in content:
        raise _fail(N_("DOCTYPE and entity declarations are refused in process files"), filename, 1)
    return tree


def quote_bare_timers(tree: etree._ElementTree) -> None:
    """Timer values drawn in Camunda Modeler are bare ISO 8601 (``PT4H``) or ``${variable}``; the engine
    evaluates an expression, so the first become string literals and the second a variable name."""
    for tag in TIMER_TAGS:
        for node in tree.getroot().iter(f"{{{BPMN_NS}}}{tag}"):
            text = (node.text or "").strip()
            if _BARE_ISO.match(text):
                node.text = json.dumps(text)
            elif m := _PLACEHOLDER.fullmatch(text):
                node.text = m.group(1)


def _form_fields(task_node: etree._Element) -> list[dict[str, Any]]:
    fields = []
    for node in task_node.iterfind(".//camunda:formData/camunda:formField", NS):
        f: dict[str, Any] = {"id": node.get("id"), "type": node.get("type") or "string",
                             "label": node.get("label") or node.get("id"), "default": node.get("defaultValue")}
        f["options"] = [{"id": v.get("id"), "name": v.get("name") or v.get("id")}
                        for v in node.iterfind("camunda:value", NS)]
        props = node.iterfind("camunda:properties/camunda:property", NS)
        f["properties"] = {p.get("id"): p.get("value") for p in props}
        constraints = node.iterfind("camunda:validation/camunda:constraint", NS)
        f["validation"] = {c.get("name"): c.get("config") for c in constraints}
        fields.append(f)
    return fields


def _spiff_property(node: etree._Element, name: str) -> str | None:
    prop = node.find(f"bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property[@name='{name}']", NS)
    return prop.get("value") if prop is not None else None


def check_spiff_extensions(tree: etree._ElementTree, filename: str) -> None:
    """Models drawn in SpiffArena run when they use what the engine supports (lanes, JSON Schema forms,
    instructions, quoted timer expressions); an extension it would silently skip is refused instead."""
    for name, instead in SPIFF_REFUSED.items():
        for el in tree.getroot().iter(f"{{{SPIFF_NS}}}{name}"):
            owner = el.getparent().getparent() if el.getparent() is not None else None
            raise _fail(N_("The SpiffWorkflow extension %(name)s is not supported: use %(instead)s"), filename,
                        el.sourceline, owner.get("id") if owner is not None else None, name=name, instead=instead)


ESCAPED_NUL = "\\u0000"  # as JSON writes NUL


def _json_form(node: etree._Element, schemas: dict[str, bytes], filename: str) -> list[dict[str, Any]] | None:
    """Fields from a JSON Schema file beside the model (``camunda:formKey="json:file.schema.json"``, or
    SpiffArena's ``formJsonSchemaFilename`` property)."""
    key = node.get(f"{{{CAMUNDA_NS}}}formKey") or ""
    spiff_form = _spiff_property(node, "formJsonSchemaFilename")
    if spiff_form and not key:
        key = f"json:{spiff_form}"
    if not key.startswith("json:"):
        return None
    name = key[len("json:"):].strip()
    if name not in schemas:
        raise _fail(N_("The form file %(name)s is not deployed with the model (put it beside the .bpmn file)"),
                    filename, node.sourceline, node.get("id"), name=name)
    try:
        schema = json.loads(schemas[name])
        if where := nul_paths(schema):  # written \u0000: PostgreSQL refuses NUL in text, and no form needs one
            text = schemas[name].decode("utf-8", errors="replace")
            raise SchemaError(f"line {line_of(text, max(0, text.find(ESCAPED_NUL)))}: a NUL character "
                              f"(\\u0000) in {where[0]}")
        return fields_from_json_schema(schema)
    except (ValueError, SchemaError) as exc:
        raise _fail(N_("The form file %(name)s cannot be used: %(reason)s"), filename, node.sourceline,
                    node.get("id"), name=name, reason=str(exc)) from None


def task_catalog(process_node: etree._Element, lanes: dict[str, str | None], schemas: dict[str, bytes] | None = None,
                 filename: str = "") -> dict[str, dict[str, Any]]:
    """What the inbox needs about each user task, read from the model's XML."""
    catalog: dict[str, dict[str, Any]] = {}
    for node in process_node.iter(f"{{{BPMN_NS}}}userTask", f"{{{BPMN_NS}}}manualTask"):
        tid = node.get("id")
        doc = node.find("bpmn:documentation", NS)
        if doc is None:  # SpiffArena writes what the person should do here
            doc = node.find("bpmn:extensionElements/spiffworkflow:instructionsForEndUser", NS)
        catalog[tid] = {
            "name": node.get("name") or tid,
            "lane": lanes.get(tid),
            "documentation": (doc.text or "").strip() if doc is not None else "",
            "candidate_groups": node.get(f"{{{CAMUNDA_NS}}}candidateGroups"),
            "candidate_users": node.get(f"{{{CAMUNDA_NS}}}candidateUsers"),
            "assignee": node.get(f"{{{CAMUNDA_NS}}}assignee"),
            "due_date": node.get(f"{{{CAMUNDA_NS}}}dueDate"),
            "follow_up_date": node.get(f"{{{CAMUNDA_NS}}}followUpDate"),
            "priority": node.get(f"{{{CAMUNDA_NS}}}priority"),
            "form": _json_form(node, schemas or {}, filename) or _form_fields(node),
            "line": node.sourceline,
        }
    return catalog


def check_catalog(catalog: dict[str, dict[str, Any]], filename: str) -> None:
    """Static due dates and priorities must mean something; ``${...}`` values are checked at run time."""
    for task_id, meta in catalog.items():
        for attr in ("due_date", "follow_up_date"):
            text = meta.get(attr)
            if text and "${" not in text and parse_duration(text) is None and parse_datetime(text) is None:
                raise _fail(N_("%(value)s is not an ISO 8601 duration or date-time"), filename, meta["line"],
                            task_id, value=text)
        prio = meta.get("priority")
        if prio and "${" not in prio and not prio.strip().isdigit():
            raise _fail(N_("The priority %(value)s is not a whole number"), filename, meta["line"], task_id,
                        value=prio)


def _lanes(process_node: etree._Element) -> dict[str, str | None]:
    lanes: dict[str, str | None] = {}
    for lane in process_node.iter(f"{{{BPMN_NS}}}lane"):
        for ref in lane.iterfind("bpmn:flowNodeRef", NS):
            lanes[(ref.text or "").strip()] = lane.get("name") or lane.get("id")
    return lanes


def executable_process_ids(directory: Path) -> set[str]:
    """The ids of the executable processes in a folder of BPMN files (for cross-checking rule files)."""
    ids: set[str] = set()
    for path in sorted(directory.glob("*.bpmn")):
        try:
            tree = parse_xml(path.read_bytes(), path.name)
        except DeployError:
            continue
        ids |= {p.get("id") for p in tree.getroot().iterfind("bpmn:process", NS) if p.get("isExecutable") == "true"}
    return ids


def check_ids(tree: etree._ElementTree, filename: str) -> None:
    """Every id unique in the file (form fields included: the engine finds elements by id), and every
    sequence flow pointing at an element that exists."""
    seen: dict[str, int] = {}
    for node in tree.getroot().iter():
        if not isinstance(node.tag, str):
            continue
        ns = etree.QName(node).namespace
        node_id = node.get("id")
        if node_id is None or ns not in (BPMN_NS, CAMUNDA_NS) or etree.QName(node).localname in ("value", "property"):
            continue
        if node_id in seen:
            raise _fail(N_("The id %(id)s is used twice (first on line %(first)s); ids must be unique in a file"),
                        filename, node.sourceline, node_id, id=node_id, first=seen[node_id])
        seen[node_id] = node.sourceline or 0
    for flow in tree.getroot().iter(f"{{{BPMN_NS}}}sequenceFlow"):
        for attr in ("sourceRef", "targetRef"):
            ref = flow.get(attr)
            if ref not in seen:
                raise _fail(N_("The sequence flow %(flow)s points at %(ref)s, which is not in the file"), filename,
                            flow.sourceline, flow.get("id"), flow=flow.get("id"), ref=ref)


def check_code(tree: etree._ElementTree, filename: str) -> None:
    """Scripts and conditions must pass the sandbox's checks (engine/sandbox.py) before they are deployed."""
    for tag, mode in (("script", "exec"), ("conditionExpression", "eval")):
        for node in tree.getroot().iter(f"{{{BPMN_NS}}}{tag}"):
            source = node.text or ""
            if not source.strip():
                continue
            try:
                sandbox_check(source, mode)
            except UnsafeCode as exc:
                owner = node.getparent()
                raise _fail(N_("This code is refused: %(reason)s"), filename, node.sourceline,
                            owner.get("id") if owner is not None else None, reason=str(exc)) from None


def _literal(expression: str | None) -> str | None:
    """The text of a timer value written as a string literal (``"R3/PT1H"``), or None for an expression."""
    try:
        value = ast.literal_eval((expression or "").strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, str) else None


def cycle_problem(value: str) -> tuple[str, dict[str, Any]] | None:
    """Why the timer cycle ``value`` may not run (message id and its parameters), or None (see ``cycle_limits``)."""
    try:
        cycles, _start, every = TimerEventDefinition.parse_iso_recurring_interval(value)
    except Exception:  # noqa: BLE001 - Spiff's parser raises bare Exception, ValueError, AttributeError…
        return N_("%(value)s is not an ISO 8601 repeating interval (such as R3/PT1H)"), {"value": value}
    return cycle_limits(value, cycles, every.total_seconds())


def cycle_limits(value: str, cycles: int, every_s: float) -> tuple[str, dict[str, Any]] | None:
    """A cycle shorter than ``IOC_TIMER_MIN_CYCLE_S`` or with more repetitions than ``IOC_TIMER_MAX_REPETITIONS``
    would fire on every pass of the timer loop (``R999999/PT0S``); ``R/…`` without a count (``cycles`` -1)
    repeats until its element ends, at that pace at most."""
    limits = settings()
    if every_s < limits.timer_min_cycle_s:
        return (N_("The timer cycle %(value)s repeats every %(every)s s; the shortest cycle allowed is "
                   "%(minimum)s s (IOC_TIMER_MIN_CYCLE_S)"),
                {"value": value, "every": f"{every_s:g}", "minimum": f"{limits.timer_min_cycle_s:g}"})
    if cycles > limits.timer_max_repetitions:
        return (N_("The timer cycle %(value)s repeats %(count)s times; at most %(limit)s repetitions are allowed "
                   "(IOC_TIMER_MAX_REPETITIONS)"), {"value": value, "count": cycles,
                                                    "limit": limits.timer_max_repetitions})
    return None


def check_timer_cycles(tree: etree._ElementTree, filename: str) -> None:
    """Timer values must pass the sandbox's checks and the cycles written in the file keep to the limits
    (``cycle_problem``); run after ``quote_bare_timers``. A cycle computed from a variable is checked when it is
    computed (``runaway_cycle``)."""
    for node in tree.getroot().iter(*(f"{{{BPMN_NS}}}{tag}" for tag in TIMER_TAGS)):
        definition = node.getparent()
        event = definition.getparent() if definition is not None else None
        element = event.get("id") if event is not None else None
        try:
            sandbox_check(node.text or "", "eval")
        except UnsafeCode as exc:
            raise _fail(N_("This code is refused: %(reason)s"), filename, node.sourceline, element,
                        reason=str(exc)) from None
        value = _literal(node.text) if etree.QName(node).localname == "timeCycle" else None
        problem = cycle_problem(value) if value is not None else None
        if problem is not None:
            raise _fail(problem[0], filename, node.sourceline, element, **problem[1])


def runaway_cycle(wf: BpmnWorkflow) -> tuple[Task, str] | None:
    """A waiting timer whose cycle, computed from the instance's data, breaks the limits: the task and why."""
    for task in wf.get_tasks(state=TaskState.WAITING):
        definition = getattr(task.task_spec, "event_definition", None)
        value = task.internal_data.get("event_value")
        if not isinstance(definition, CycleTimerEventDefinition) or _literal(definition.expression) is not None \
                or not isinstance(value, dict):
            continue
        problem = cycle_limits(definition.expression, int(value.get("cycles", 0)), float(value.get("duration", 0)))
        if problem is not None:
            return task, problem[0] % problem[1]
    return None


def external_calls(tree: etree._ElementTree) -> list[tuple[str, str, int | None]]:
    """(called process id, call activity id, line) of the call activities that call a process which is
    not in this file: the registry finds those among the deployed processes."""
    own = {p.get("id") for p in tree.getroot().iterfind("bpmn:process", NS)}
    return [(called, el.get("id") or "", el.sourceline) for el in tree.getroot().iter(f"{{{BPMN_NS}}}callActivity")
            if (called := (el.get("calledElement") or "").strip()) and called not in own]


def parse_process_file(content: bytes, filename: str, decisions: list[bytes] | None = None,
                       schemas: dict[str, bytes] | None = None,
                       library: dict[str, tuple[bytes, dict[str, Any]]] | None = None) -> list[ParsedProcess]:
    """Check a BPMN file and return its executable processes, ready to store. ``decisions`` are the DMN
    files its business rule tasks may refer to (``camunda:decisionRef``); ``schemas`` the JSON Schema
    form files beside it, by file name (``camunda:formKey="json:NAME"``); ``library`` the deployed
    processes its call activities call in other files (id -> (their file, their task catalog))."""
    tree = parse_xml(content, filename)
    check_ids(tree, filename)
    check_code(tree, filename)
    check_spiff_extensions(tree, filename)
    quote_bare_timers(tree)
    check_timer_cycles(tree, filename)
    parser = CamundaParser()
    own = {p.get("id") for p in tree.getroot().iterfind("bpmn:process", NS)}
    try:
        for dmn in decisions or []:
            parser.add_dmn_str(dmn)
        for key, (xml, _tasks) in (library or {}).items():
            other = parse_xml(xml, f"{key}.bpmn")
            quote_bare_timers(other)
            parser.add_bpmn_xml(other, filename=f"{key}.bpmn")
        parser.add_bpmn_xml(tree, filename=filename)
        process_ids = [pid for pid in parser.get_process_ids() if pid in own]
    except ValidationException as exc:
        raise _fail(N_("The model is not valid: %(reason)s"), filename, exc.line_number or None,
                    exc.id or None, reason=exc.msg if hasattr(exc, "msg") else str(exc)) from None
    if not process_ids:
        raise _fail(N_("The file has no executable process (set isExecutable=\"true\")"), filename, 1)
    result = []
    for pid in process_ids:
        node = tree.getroot().find(f"bpmn:process[@id='{pid}']", NS)
        try:
            spec = parser.get_spec(pid)
            subprocesses = parser.get_subprocess_specs(pid)
            # Build and step an empty instance: catches constructs the engine cannot run.
            spec_json = spec_to_json(BpmnWorkflow(spec, subprocesses))
        except ValidationException as exc:
            raise _fail(N_("The model is not valid: %(reason)s"), filename, exc.line_number or None,
                        exc.id or None, reason=str(exc).splitlines()[0]) from None
        except (NotImplementedError, KeyError, AttributeError, TypeError) as exc:
            raise _fail(N_("The engine cannot run this model: %(reason)s"), filename,
                        node.sourceline if node is not None else None, pid, reason=str(exc)) from None
        # The tasks of every process in the file: a call activity's user tasks show in the caller's inbox.
        catalog = {tid: meta for _xml, tasks in (library or {}).values() for tid, meta in tasks.items()}
        catalog.update({tid: meta for proc in tree.getroot().iterfind("bpmn:process", NS)
                        for tid, meta in task_catalog(proc, _lanes(proc), schemas, filename).items()})
        check_catalog(catalog, filename)
        result.append(ParsedProcess(process_key=pid, name=(node.get("name") if node is not None else None) or pid,
                                    spec_json=spec_json, tasks=catalog,
                                    timer_start=node is not None and node.find(
                                        "bpmn:startEvent/bpmn:timerEventDefinition", NS) is not None))
    return result


def _due_time(value: Any) -> datetime | None:
    if isinstance(value, dict):  # a cycle: {"cycles": remaining, "next": iso, "duration": seconds}
        if value.get("cycles") == 0:
            return None
        value = value.get("next")
    return parse_datetime(value) if isinstance(value, str) else None


def next_due(wf: BpmnWorkflow) -> datetime | None:
    """The earliest due time among the workflow's waiting timers, or None."""
    dues = [d for ev in wf.waiting_events() if ev.event_type in TIMER_EVENTS and (d := _due_time(ev.value))]
    return min(dues) if dues else None


def spec_to_json(wf: BpmnWorkflow) -> str:
    dct = json.loads(serializer.serialize_json(wf))
    return json.dumps({"spec": dct["spec"], "subprocess_specs": dct["subprocess_specs"]})


def split_state(wf: BpmnWorkflow) -> str:
    """The workflow's state without its spec (the spec is stored once per version)."""
    result: str = _state_serializer.serialize_json(wf)
    return result


@lru_cache(maxsize=256)
def _specs(spec_json: str) -> tuple[Any, dict[str, Any]]:
    """The deserialized spec and subprocess specs of a stored version (immutable: shared by instances)."""
    dct = json.loads(spec_json)
    return serializer.from_dict(dct["spec"]), {n: serializer.from_dict(s) for n, s in dct["subprocess_specs"].items()}


def restore(spec_json: str, state_json: str) -> BpmnWorkflow:
    dct = json.loads(state_json)
    spec, subs = _specs(spec_json)
    dct["spec"], dct["subprocess_specs"] = spec, dict(subs)
    _state_serializer.migrate(dct)
    wf: BpmnWorkflow = _state_serializer.from_dict(dct)
    wf.script_engine = SCRIPT_ENGINE
    return wf


def new_workflow(spec_json: str) -> BpmnWorkflow:
    """A fresh instance of a stored spec."""
    spec, subs = _specs(spec_json)
    return BpmnWorkflow(spec, dict(subs), script_engine=SCRIPT_ENGINE)
