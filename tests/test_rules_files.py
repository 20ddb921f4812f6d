"""Rule files: the shipped ones are valid, and mistakes are reported with file:line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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


BOWTIE = {"type": "Polygon", "coordinates": [[[106.0, 19.0], [106.2, 19.2], [106.2, 19.0], [106.0, 19.2],
                                              [106.0, 19.0]]]}  # crosses itself at (106.1, 19.1)


def areas_file(path: Path, *geometries: dict) -> Path:
    features = [{"type": "Feature", "properties": {"name": f"area {i}"}, "geometry": g}
                for i, g in enumerate(geometries, 1)]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, indent=1), encoding="utf-8")
    return path


@pytest.mark.no_database
def test_a_yaml_alias_bomb_in_scenario_variables_is_refused_at_its_line() -> None:
    bomb = GOOD + ('    scenario:\n      process: incident\n      variables:\n'
                   '        a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
                   '        b: [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n')
    rules, problems = check_text(bomb, "bomb.yaml")
    assert rules == [] and [(p.line, "anchors and aliases are not allowed" in p.message) for p in problems] == [
        (14, True)]


@pytest.mark.no_database
def test_scenario_variables_and_files_are_limited_in_size() -> None:
    big = GOOD + f'    scenario:\n      process: incident\n      variables:\n        note: "{"x" * 20_000}"\n'
    _, problems = check_text(big, "big.yaml")
    assert [p.line for p in problems] == [14] and "larger than 16 KiB" in problems[0].message
    _, problems = check_text(GOOD + "#" * (1024 * 1024), "huge.yaml")
    assert "larger than 1024 KiB" in problems[0].message
    _, problems = check_text("rules:\n  - " + "[" * 50 + "]" * 50 + "\n", "deep.yaml")
    assert "nested deeper than 20 levels" in problems[0].message


@pytest.mark.no_database
def test_a_geofence_that_crosses_itself_is_refused_with_the_repaired_shape(tmp_path: Path) -> None:
    areas_file(tmp_path / "fence.geojson", BOWTIE)
    text = GOOD.replace("kind: threshold", "kind: geofence").replace('    op: ">"\n    value: 150\n', "") + (
        "    geofence: {file: fence.geojson, mode: enter}\n")
    rules, problems = check_text(text, str(tmp_path / "fence.yaml"))
    assert rules == [] and [p.line for p in problems] == [9]
    assert "Self-intersection[106.1 19.1]" in problems[0].message
    assert 'make_valid repairs it as {"type":"MultiPolygon"' in problems[0].message


@pytest.mark.no_database
def test_cli_rules_check_refuses_a_sea_zone_that_crosses_itself_and_writes_the_repair(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from engine import geo_check
    from web.cli import main

    rules = tmp_path / "rules"
    (rules / "geo").mkdir(parents=True)
    (rules / "env.yaml").write_text(GOOD)
    good = json.loads((ROOT / "rules/geo/thanh_hoa_sea_zones.geojson").read_text(encoding="utf-8"))["features"][0]
    zones = areas_file(rules / "geo" / "sea_zones.geojson", good["geometry"], BOWTIE)
    assert main(["rules", "check", str(rules), "--repair"]) == 1  # in this process: the CLI's code, fast
    err = capsys.readouterr().err
    second = [i for i, text in enumerate(zones.read_text().splitlines(), 1) if '"type": "Feature"' in text][1]
    assert f"{zones}:{second}: feature 2 (area 2): the Polygon is not valid: Self-intersection" in err
    repaired = geo_check.repaired_path(zones)
    assert f"wrote {repaired}" in err
    assert geo_check.check_file(repaired) == []  # the repaired file passes
    assert json.loads(repaired.read_text())["features"][0]["geometry"] == good["geometry"]  # good ones unchanged
