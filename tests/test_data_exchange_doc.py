"""The examples of docs/data-exchange.md run as written, against a real `ioc run`."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from tests.conftest import ROOT, Server, ioc

DOC = ROOT / "docs" / "data-exchange.md"


def examples() -> dict[str, tuple[str, str]]:
    found = {}
    for lang, code in re.findall(r"```(bash|python)\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S):
        name = re.match(r"# example: (\S+)", code)
        if name:
            found[name.group(1)] = (lang, code)
    return found


def run(lang: str, code: str, env: dict[str, str]) -> str:
    cmd = ["bash", "-euo", "pipefail", "-c", code] if lang == "bash" else [sys.executable, "-c", code]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_documented_examples_run_as_written(server: Server) -> None:
    found = examples()
    assert set(found) == {"events-curl", "events-python", "observations-curl", "webhook-sign", "vms-csv"}
    scopes = "events:write,indicators:write,indicators:read,sources:write,entities:write"
    token = ioc("token", "create", "so-nnmt", "--role", "operator", "--scope", scopes, env=server.env).stdout.strip()
    env = {**server.env, "IOC_URL": server.base, "IOC_TOKEN": token}
    out = json.loads(run(*found["events-curl"], env))
    assert out["accepted"] == 1 and [(e["index"], e["field"]) for e in out["errors"]] == [(1, "time")]
    assert run(*found["events-python"], env).startswith("202 ")
    lines = run(*found["observations-curl"], env).strip().splitlines()
    stored, rolled = json.loads(lines[0]), json.loads("".join(lines[1:]))
    assert stored["stored"] == 2 and rolled == [{"period": "2026-Q3", "unit": None, "entity": None, "value": 4210.0,
                                                 "previous_year": None, "change_pct": None}]
    assert run(*found["webhook-sign"], env).startswith("sha256=")
    vms = json.loads(run(*found["vms-csv"], env))
    assert vms["accepted"] == 1 and [(e["row"], e["field"]) for e in vms["errors"]] == [(3, "time")]


def test_the_documented_json_schemas_accept_what_the_api_accepts() -> None:
    from jsonschema import Draft202012Validator

    schemas = [json.loads(s) for s in re.findall(r"```json\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)]
    event_schema, observation_schema = schemas
    Draft202012Validator.check_schema(event_schema)
    event = {"source": "so-nnmt", "type": "air_quality", "sector": "environment", "time": "2026-11-25T10:00:00+07:00",
             "values": {"aqi": 104}, "unit": "14797", "location": {"lat": 19.8, "lon": 105.77}}
    assert not list(Draft202012Validator(event_schema).iter_errors(event))
    assert list(Draft202012Validator(event_schema).iter_errors({**event, "surprise": 1}))
    assert not list(Draft202012Validator(observation_schema).iter_errors(
        {"unit": "38", "period_start": "2026-09-01T00:00:00+07:00", "value": 4210}))
    assert list(Draft202012Validator(observation_schema).iter_errors({"period_start": "x", "value": 1}))
