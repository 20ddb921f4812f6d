"""Forms declared as JSON Schema beside the model: rendered as HTML, validated on the server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine import registry, runtime
from engine.errors import DeployError, Invalid
from engine.forms import SchemaError, fields_from_json_schema, validate
from tests.conftest import ioc, ioc_env
from tests.test_bpmn_deploy import minimal

SCHEMA = {"type": "object", "required": ["result", "visited_on"], "properties": {
    "result": {"type": "string", "title": "Kết quả kiểm tra", "maxLength": 200, "x-widget": "textarea"},
    "level": {"type": "string", "title": "Mức độ", "enum": ["low", "high"], "enumNames": ["Thấp", "Cao"]},
    "visited_on": {"type": "string", "format": "date", "title": "Ngày kiểm tra"},
    "people": {"type": "integer", "title": "Số người"},
    "urgent": {"type": "boolean", "title": "Khẩn"}}}


def test_json_schema_becomes_fields_the_server_validates() -> None:
    fields = fields_from_json_schema(SCHEMA)
    assert [(f["id"], f["type"]) for f in fields] == [("result", "string"), ("level", "enum"), ("visited_on", "date"),
                                                      ("people", "long"), ("urgent", "boolean")]
    assert fields[1]["options"] == [{"id": "low", "name": "Thấp"}, {"id": "high", "name": "Cao"}]
    ok = validate(fields, {"result": "Đạt", "visited_on": "2026-11-25", "people": "3", "level": "high"})
    assert ok["people"] == 3 and ok["urgent"] is False
    with pytest.raises(Invalid) as err:
        validate(fields, {"result": "x" * 201, "visited_on": "25/11/2026", "level": "medium"})
    assert set(err.value.details["fields"]) == {"result", "visited_on", "level"}


@pytest.mark.parametrize("schema", [{"type": "array"}, {"type": "object", "properties": {"x": {"type": "number"}}}])
def test_schemas_the_engine_cannot_render_are_refused(schema: dict) -> None:
    with pytest.raises(SchemaError):
        fields_from_json_schema(schema)


def model(pid: str, form_key: str) -> bytes:
    return minimal(pid=pid).replace(b'camunda:candidateGroups="role:officer"',
                                    f'camunda:candidateGroups="role:officer" camunda:formKey="{form_key}"'.encode())


def test_a_model_uses_a_form_file_beside_it(session) -> None:
    schemas = {"inspect.schema.json": json.dumps(SCHEMA).encode()}
    registry.deploy(session, model("json_form", "json:inspect.schema.json"), "m.bpmn", schemas=schemas)
    instance = runtime.start_process(session, "json_form", {}, actor="test")
    (task,) = runtime.current_step(session, instance)
    assert [f["id"] for f in task.form] == ["result", "level", "visited_on", "people", "urgent"]
    with pytest.raises(DeployError) as err:
        registry.deploy(session, model("json_form2", "json:missing.json"), "m2.bpmn", schemas=schemas)
    assert err.value.details["element"] == "work" and "missing.json" in str(err.value)


def test_cli_deploys_a_model_with_the_form_file_beside_it(tmp_path: Path) -> None:
    (tmp_path / "inspect.schema.json").write_text(json.dumps(SCHEMA))
    (tmp_path / "m.bpmn").write_bytes(model("json_cli", "json:inspect.schema.json"))
    out = ioc("process", "deploy", str(tmp_path / "m.bpmn"), env=ioc_env(tmp_path / "var"))
    assert "json_cli v1" in out.stdout
