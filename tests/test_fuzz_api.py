"""Issue 19, "Fuzzing in CI": schemathesis against the OpenAPI document of a running ``ioc run``, as an officer and
as an administrator, each with their own session cookie. No answer may be a server error (5xx), and every answer
must be what the document says: its status among the documented ones, its content type, its body's schema (errors
included: ``{code, message, details}``, the code a string).

The run is bounded: a handful of cases per operation (``MAX_EXAMPLES``) besides schemathesis's boundary cases,
with a fixed seed, so that a failure comes back the same way; the objects the paths name (a task, an instance, an
alert, a directive…) are made first and their ids given to schemathesis, drawn half of the time, so that the
cases reach past "not found". A failure prints schemathesis's report: each failing request as a curl command
(the cookie filtered out) and the server's answer.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from tests.conftest import Server, ioc

PASSWORD = "Fuzz-Password-2026"
SEED = 20261207
MAX_EXAMPLES = 5
BUDGET_S = 150  # per person: a run that takes longer fails rather than hold CI (about 20-45 s each here)
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
# The administrator's run adds schemathesis's boundary cases (its coverage phase: each field at and past its bounds,
# missing, of the wrong type; about 3,000 cases). The officer's would mostly stop at the role check (403) before any
# field is read: their run is the examples and the generated cases.
PHASES = {"officer": "examples,fuzzing", "admin": "examples,coverage,fuzzing"}
# Operations that cannot be fuzzed meaningfully, each with its reason. Everything else is.
EXCLUDED = {
    "GET /api/v1/stream": "server-sent events: the answer never ends (tests/test_live*.py and the browser tests "
                          "follow it)",
    "POST /api/v1/users/{user_id}/sessions/end": "ends every session of the person named: the fuzzing person's own "
                                                 "when the id is theirs, and every later case would be 401",
    "POST /api/v1/users/{user_id}/password-reset": "a reset person must choose a new password before anything else: "
                                                   "every later case of theirs would be 403",
    "PATCH /api/v1/users/{user_id}": "a new role, department or kiosk mark, or deactivation, ends the sessions of the "
                                     "person changed, the fuzzing person's own included",
}
# Path parameters -> the list of ids made by ``seed`` whose values schemathesis draws from half of the time.
BOUND = ("task_id", "instance_id", "alert_id", "directive_id", "definition_id", "department_id", "silence_id",
         "code", "name", "kind")


def person(server: Server, username: str, role: str, department: str | None = None) -> requests.Session:
    """A person signed in with a session cookie, and the CSRF token that the API asks of cookie sessions."""
    args = ["user", "add", username, "--role", role, "--password", PASSWORD]
    if department:
        args += ["--department", department]
    ioc(*args, env=server.env)
    s = requests.Session()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', s.get(f"{server.base}/login").text).group(1)
    r = s.post(f"{server.base}/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf},
               allow_redirects=False)
    assert r.status_code == 302, r.text
    s.headers["X-CSRFToken"] = re.search(r'name="csrf-token" content="([^"]+)"',
                                         s.get(f"{server.base}/account").text).group(1)
    return s


def seed(server: Server, admin: requests.Session) -> dict[str, list[Any]]:
    """Objects for the paths to name: an incident (alert, instance, triage task) from an event, a directive to the
    officer's department (its task), a silence, a source, a camera; and the ids of all that."""
    api = f"{server.base}/api/v1"
    now = datetime.now(UTC)
    made = [
        admin.post(f"{api}/events", json={"events": [{
            "source": "fuzz-gateway", "type": "air_quality", "sector": "environment", "entity": "TH-AQ-FUZZ",
            "time": now.isoformat(), "values": {"aqi": 231}, "idempotency_key": "fuzz-1"}]}),
        admin.post(f"{api}/directives", json={"title": "Kiểm tra an toàn thực phẩm", "content": "Báo cáo kết quả",
                                              "deadline": (now + timedelta(days=3)).isoformat(),
                                              "departments": ["SO-NNMT"]}),
        admin.post(f"{api}/notifications/silences", json={"entity": "TH-AQ-OTHER", "reason": "bảo trì trạm",
                                                          "ends_at": (now + timedelta(hours=2)).isoformat()}),
        admin.post(f"{api}/sources", json={"name": "fuzz-so-tai-chinh", "kind": "spreadsheet", "title": "Sở Tài chính",
                                           "config": {"period": "month",
                                                      "indicators": [{"code": "budget_revenue", "column": "Thu"}]}}),
        admin.post(f"{api}/cameras", json={"code": "CAM-FUZZ", "name": "Nút giao Đại lộ Lê Lợi",
                                           "source": "synthetic:720p"}),
    ]
    assert all(r.status_code in (201, 202) for r in made), [r.text for r in made]
    deadline = time.monotonic() + 30
    while not admin.get(f"{api}/alerts").json():  # the worker evaluates the event within seconds
        assert time.monotonic() < deadline, "the event raised no alert"
        time.sleep(0.2)

    def ids(path: str, key: str = "id") -> list[Any]:
        answer = admin.get(f"{api}/{path}")
        assert answer.status_code == 200, answer.text
        return [row[key] for row in answer.json()][:20]

    return {"task_id": ids("tasks"), "instance_id": ids("instances"), "alert_id": ids("alerts"),
            "directive_id": ids("directives"), "definition_id": ids("processes"),
            "department_id": ids("departments?limit=20"), "silence_id": ids("notifications/silences"),
            "code": ids("indicators", "code")[:10] + ["CAM-FUZZ"], "name": ["fuzz-so-tai-chinh"],
            "kind": ["camera", "station", "vessel"]}


def config(path: Path, ids: dict[str, list[Any]]) -> Path:
    """schemathesis.toml: each bound path parameter drawn from the ids made, half of the time (TOML's inline
    tables and arrays are JSON's, for these values). The boundary cases send two methods that no operation has,
    not every one: the answer (405, JSON) comes from one handler whatever the method."""
    lines = ['[phases.coverage]\nunexpected-methods = ["DELETE", "TRACE"]\n']
    lines += [f"[dictionaries.{name}]\nvalues = {json.dumps(values, ensure_ascii=False)}\n"
              for name, values in ids.items() if values]
    lines.append("[parameters]")
    lines += [f'"path.{name}" = {{ dictionary = "{name}", probability = 0.5 }}' for name in BOUND if ids.get(name)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def fuzz(server: Server, who: requests.Session, phases: str, settings: Path, cwd: Path
         ) -> subprocess.CompletedProcess[str]:
    st = Path(sys.executable).parent / "st"
    excluded = [arg for name in EXCLUDED for arg in ("--exclude-name", name)]
    cwd.mkdir(exist_ok=True)
    try:
        return subprocess.run(
            [str(st), "--config-file", str(settings), "run", f"{server.base}/api/v1/openapi.json",
             "--checks", CHECKS, "--phases", phases, "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED),
             "--workers", "1", "--request-timeout", "30", "--generation-database", "none",
             "--generation-with-security-parameters", "false",  # the session's cookie, not a generated bearer token
             "--header", f"Cookie: session={who.cookies['session']}",
             "--header", f"X-CSRFToken: {who.headers['X-CSRFToken']}", "--no-color", *excluded],
            cwd=cwd, text=True, capture_output=True, timeout=BUDGET_S)
    except subprocess.TimeoutExpired as exc:  # said without the command line, which holds the session's cookie
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
        raise AssertionError(f"schemathesis ran past its {BUDGET_S} s ({cwd.name}):\n{out[-5000:]}") from None


def report(output: str, limit: int = 60_000) -> str:
    """What schemathesis said about the failures (each with its curl command), and its summary: the first failures
    only when they are many."""
    start = output.find("=== FAILURES")
    failures = output[start:] if start >= 0 else output[-limit:]
    if len(failures) <= limit:
        return failures
    summary = failures[failures.find("=== SUMMARY"):]
    return f"{failures[:limit]}\n[… {len(failures) - limit} characters of failures left out …]\n{summary}"


def test_the_api_gives_no_server_error_and_answers_as_documented_under_fuzzing(server: Server, tmp_path: Path
                                                                                 ) -> None:
    officer = person(server, "fuzz_chuyenvien", "officer", "SO-NNMT")
    admin = person(server, "fuzz_quantri", "admin")
    settings = config(tmp_path / "schemathesis.toml", seed(server, admin))
    failed = []
    # The officer first: the administrator's cases change the organisation (departments, sources, tokens).
    for name, who in (("officer", officer), ("admin", admin)):
        run = fuzz(server, who, PHASES[name], settings, tmp_path / name)
        assert "Tested:" in run.stdout, run.stdout[-3000:] + run.stderr[-3000:]  # it ran (the document was read)
        if run.returncode != 0:
            failed.append(f"===== as the {name} (`st replay` runs from {tmp_path / name}) =====\n"
                          f"{report(run.stdout)}\n{run.stderr[-3000:]}")
    assert not failed, "\n".join(failed)
