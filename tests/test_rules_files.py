"""Rule files: the shipped ones are valid, and mistakes are reported with file:line."""

from __future__ import annotations

from pathlib import Path

from engine.rules import check_directory, check_text
from tests.conftest import ROOT, ioc, ioc_env

GOOD = """\
rules:
  - id: r1
    name: One
    kind: threshold
    event_type: air_quality
    field: aqi
    op: ">"
    value: 150
    severity: cao
    dedupe_key: "r1:{entity}"
"""


def test_shipped_rules_are_valid() -> None:
    rules, problems = check_directory(ROOT / "rules")
    assert problems == []
    assert any(r.scenario.get("process") == "incident" for r in rules)


def test_unknown_operator_is_reported_at_its_line() -> None:
    _, problems = check_text(GOOD.replace('op: ">"', 'op: "!="'), "bad.yaml")
    assert [(p.file, p.line) for p in problems] == [("bad.yaml", 7)]
    assert "!=" in problems[0].message


def test_missing_field_and_bad_severity_are_both_reported() -> None:
    text = GOOD.replace("    field: aqi\n", "").replace("severity: cao", "severity: urgent")
    _, problems = check_text(text, "bad.yaml")
    lines = sorted(p.line for p in problems)
    assert lines == [2, 8]  # the rule (missing 'field') and the severity line


def test_yaml_syntax_error_names_the_line() -> None:
    _, problems = check_text(GOOD + "  - id: [unclosed\n", "broken.yaml")
    assert problems and problems[0].line == 12


def test_between_needs_two_numbers() -> None:
    _, problems = check_text(GOOD.replace('op: ">"', "op: between"), "b.yaml")
    assert problems and problems[0].line == 8 and "[low, high]" in problems[0].message  # the value's line


def test_cli_rules_check(tmp_path: Path) -> None:
    env = ioc_env(tmp_path / "var")
    ok = ioc("rules", "check", str(ROOT / "rules"), env=env)
    assert "rules OK" in ok.stdout
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "env.yaml").write_text(GOOD.replace("value: 150", "value: high"))
    bad = ioc("rules", "check", str(tmp_path / "rules"), env=env, check=False)
    assert bad.returncode == 1
    assert f"{tmp_path / 'rules' / 'env.yaml'}:8:" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_cli_flags_a_scenario_whose_process_does_not_exist(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    text = GOOD + "    scenario:\n      process: no_such_process\n"
    (tmp_path / "rules" / "x.yaml").write_text(text)
    bad = ioc("rules", "check", str(tmp_path / "rules"), env=ioc_env(tmp_path / "var"), check=False)
    assert bad.returncode == 1 and "no_such_process" in bad.stderr and ":2:" in bad.stderr
