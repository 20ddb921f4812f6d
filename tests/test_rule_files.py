"""Editing rule files from the web: the administrators' comments, key order and layout survive."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from engine.rule_files import RuleFileError, delete_rule, set_enabled, unified_diff, upsert_rule, write_atomically
from engine.rules import check_text
from tests.conftest import ROOT

pytestmark = pytest.mark.no_database  # pure: no database, no Redis (runs once, in the SQLite pass)

# A two-rule file in the shipped file's style (the shipped one grows as sectors add rules).
ENV = (ROOT / "tests" / "fixtures" / "environment_two_rules.yaml").read_text(encoding="utf-8")
AQI_HEADING = '  # Chỉ số chất lượng không khí VN_AQI trên 150: mức "Xấu" (Quyết định 1459/QĐ-TCMT).'
WATER_HEADING = "  # Mực nước sông vượt báo động III: nguy cơ lũ, ngập lụt."

SMALL = """\
sector: test
rules:
  - id: a  # eol id
    name: A
    name_en: A in English  # eol name_en
    # above kind
    kind: threshold
    event_type: e
    field: f
    op: between
    value: [1, 2]  # the range
    severity: cao
    dedupe_key: "a:{entity}"
    scenario:
      process: incident
      # about the scenario
  # heading b
  - id: b
    name: B
    kind: threshold
    event_type: e
    field: f
    op: ">"
    value: 3
    severity: thap
    dedupe_key: "b"
# end of file
"""


def rules_of(text: str) -> dict[str, Any]:
    rules, problems = check_text(text, "environment.yaml")
    assert problems == []
    return {r.id: r for r in rules}


def raw_rule(text: str, rule_id: str) -> dict[str, Any]:
    """The rule as the web form would send it back: plain Python values."""
    import yaml

    return next(r for r in yaml.safe_load(text)["rules"] if r["id"] == rule_id)


def comments(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith("#")]


def changed_lines(old: str, new: str) -> list[str]:
    diff = unified_diff(old, new, "environment.yaml").splitlines()
    return [line for line in diff[2:] if line[:1] in "+-"]


@pytest.mark.parametrize(("rule_id", "key", "value", "before", "after"), [
    ("aqi-poor", "value", 175, "    value: 150", "    value: 175"),
    ("water-level-alarm-3", "value", 6.5, "    value: 6.0", "    value: 6.5"),
    ("water-level-alarm-3", "value", 6, None, None),  # 6 == 6.0: the file keeps "6.0"
    ("aqi-poor", "op", ">=", '    op: ">"', '    op: ">="'),
    ("aqi-poor", "severity", "khan_cap", "    severity: cao", "    severity: khan_cap"),
    ("water-level-alarm-3", "title", "Mực nước {value} m tại {entity}",
     '    title: "Mực nước {value} m tại trạm {entity} vượt báo động III"',
     '    title: "Mực nước {value} m tại {entity}"'),
    ("aqi-poor", "scenario", {"process": "incident", "variables": {"suggested_department": "SO-TNMT"}},
     "        suggested_department: SO-NNMT", "        suggested_department: SO-TNMT"),
])
def test_editing_one_value_changes_that_line_only(rule_id: str, key: str, value: Any,
                                                  before: str | None, after: str | None) -> None:
    new = upsert_rule(ENV, {**raw_rule(ENV, rule_id), key: value})
    assert comments(new) == comments(ENV)
    assert changed_lines(ENV, new) == ([f"-{before}", f"+{after}"] if before else [])
    assert getattr(rules_of(new)[rule_id], key) == value


@pytest.mark.parametrize("rule_id", ["aqi-poor", "water-level-alarm-3"])
def test_saving_a_rule_unchanged_leaves_the_file_byte_identical(rule_id: str) -> None:
    assert upsert_rule(ENV, raw_rule(ENV, rule_id)) == ENV


def test_numbers_stay_numbers() -> None:
    new = upsert_rule(ENV, {**raw_rule(ENV, "water-level-alarm-3"), "value": 7.25})
    assert rules_of(new)["water-level-alarm-3"].value == 7.25
    assert "    value: 7.25\n" in new


def test_dropped_keys_go_and_new_keys_are_appended_to_the_rule() -> None:
    rule = {k: v for k, v in raw_rule(ENV, "aqi-poor").items() if k not in ("scenario", "name_en")}
    new = upsert_rule(ENV, {**rule, "enabled": False})
    assert comments(new) == comments(ENV)
    assert "name_en: Poor air quality" not in new and "suggested_department: SO-NNMT" in new  # rule 2 keeps its
    lines = new.splitlines()
    assert lines[lines.index("    enabled: false") - 1] == '    title: "VN_AQI {value} tại trạm {entity}"'
    assert lines[lines.index("    enabled: false") + 2] == WATER_HEADING
    assert rules_of(new)["aqi-poor"].enabled is False and rules_of(new)["aqi-poor"].scenario == {}


@pytest.mark.parametrize(("change", "expected"), [
    # dropping a key keeps the comment above the next key; its end-of-line comment goes with it
    ({"name_en": None}, ["  - id: a  # eol id", "    name: A", "    # above kind", "    kind: threshold"]),
    # dropping a nested mapping drops the comments inside it but keeps the heading of the next rule
    ({"scenario": None}, ['    dedupe_key: "a:{entity}"', "  # heading b", "  - id: b"]),
    # a changed list keeps its flow style and its end-of-line comment
    ({"value": [1, 5]}, ["    value: [1, 5]  # the range"]),
])
def test_comments_inside_a_rule_survive_edits(change: dict[str, Any], expected: list[str]) -> None:
    rule = {k: v for k, v in {**raw_rule(SMALL, "a"), **change}.items() if v is not None}
    new = upsert_rule(SMALL, rule)
    lines = new.splitlines()
    first = lines.index(expected[0])
    assert lines[first:first + len(expected)] == expected
    rules_of(new)


def test_adding_a_rule_appends_it_after_the_last_one() -> None:
    rule = {"id": "rain-heavy", "name": "Mưa lớn trên 100 mm/24h", "name_en": "yes", "kind": "threshold",
            "event_type": "rain", "field": "mm_24h", "op": "between", "value": (50, 100), "severity": "trung_binh",
            "dedupe_key": "rain-heavy:{entity}", "title": "Lượng mưa {value} mm tại {entity}"}
    new = upsert_rule(ENV, rule)
    assert new.startswith(ENV)
    assert new[len(ENV):] == (
        "\n"
        "  - id: rain-heavy\n"
        "    name: Mưa lớn trên 100 mm/24h\n"
        '    name_en: "yes"\n'  # YAML 1.1 (PyYAML) would read a plain yes as true
        "    kind: threshold\n"
        "    event_type: rain\n"
        "    field: mm_24h\n"
        '    op: "between"\n'  # new values take the quoting of the same key in the rule above
        "    value: [50, 100]\n"
        "    severity: trung_binh\n"
        '    dedupe_key: "rain-heavy:{entity}"\n'  # quoted like the rules above it
        '    title: "Lượng mưa {value} mm tại {entity}"\n')
    added = rules_of(new)["rain-heavy"]
    assert (added.op, added.value, added.line) == ("between", (50, 100), 41)


@pytest.mark.parametrize(("text", "rule_id", "gone", "kept"), [
    (ENV, "aqi-poor", [AQI_HEADING, "  - id: aqi-poor"], ["rules:", WATER_HEADING, "  - id: water-level-alarm-3"]),
    (ENV, "water-level-alarm-3", [WATER_HEADING, "  - id: water-level-alarm-3"], ["  - id: aqi-poor"]),
    (SMALL, "b", ["  # heading b", "  - id: b"], ["      # about the scenario", "# end of file"]),
    (SMALL, "a", ["  - id: a  # eol id", "    # above kind"], ["rules:", "  # heading b", "# end of file"]),
])
def test_deleting_a_rule_removes_it_and_the_comment_above_it(text: str, rule_id: str, gone: list[str],
                                                             kept: list[str]) -> None:
    new = delete_rule(text, rule_id)
    assert rule_id not in rules_of(new)
    assert not set(gone) & set(new.splitlines())
    assert set(kept) <= set(new.splitlines())
    assert "\n\n\n" not in new and not new.endswith("\n\n")


def test_deleting_every_rule_leaves_an_empty_list() -> None:
    new = delete_rule(delete_rule(ENV, "aqi-poor"), "water-level-alarm-3")
    assert new.endswith("sector: environment\nrules: []\n")
    assert rules_of(new) == {}


@pytest.mark.parametrize(("text", "rule_id", "enabled", "diff"), [
    (ENV, "aqi-poor", False, ["+    enabled: false"]),
    (ENV, "aqi-poor", True, []),  # no key means enabled: nothing to write
    (ENV.replace("    kind: threshold\n", "    enabled: false\n    kind: threshold\n", 1), "aqi-poor", True,
     ["-    enabled: false", "+    enabled: true"]),
    (SMALL, "b", False, ["+    enabled: false"]),
])
def test_toggling_enabled(text: str, rule_id: str, enabled: bool, diff: list[str]) -> None:
    new = set_enabled(text, rule_id, enabled)
    assert changed_lines(text, new) == diff
    assert rules_of(new)[rule_id].enabled is enabled


@pytest.mark.parametrize("name", [
    "Cảnh báo ngập úng đô thị — Thanh Hoá",
    "Độ mặn vượt 4‰ tại cửa sông Mã",
    "Nhiệt độ ≥ 39 °C: nắng nóng đặc biệt gay gắt",
])
def test_vietnamese_text_is_written_as_characters(name: str) -> None:
    new = upsert_rule(ENV, {**raw_rule(ENV, "aqi-poor"), "name": name, "title": name})
    assert "\\u" not in new and "\\x" not in new
    assert rules_of(new)["aqi-poor"].name == name and rules_of(new)["aqi-poor"].title == name
    assert f"    name: {name}\n" in new or f'    name: "{name}"\n' in new


@pytest.mark.parametrize("title", [">", "yes", "on", "150", "6.0", "null", "", "a: b", "# not a comment",
                                   "{value}", "- x", "2024-05-01", "'single'", 'say "hi"'])
def test_strings_that_need_quoting_are_read_back_as_the_same_string(title: str) -> None:
    rule = {k: v for k, v in raw_rule(ENV, "aqi-poor").items() if k != "title"}  # no old quoting to copy
    new = upsert_rule(ENV, {**rule, "title": title})
    assert rules_of(new)["aqi-poor"].title == title


@pytest.mark.parametrize("call", [
    lambda t: delete_rule(t, "no-such-rule"),
    lambda t: set_enabled(t, "no-such-rule", False),
])
def test_an_unknown_rule_id_is_an_error(call: Any) -> None:
    with pytest.raises(RuleFileError) as caught:
        call(ENV)
    assert "no-such-rule" in str(caught.value) and caught.value.line == 6


@pytest.mark.parametrize(("text", "line"), [
    (ENV.replace('op: ">="', 'op: ">='), 34),  # unclosed quote: found where the string runs into the next rule
    (ENV.replace("    field: aqi", "   field: aqi"), 13),
    (ENV.replace("    field: aqi", "    field: aqi\n    field: pm25"), 14),
    ("rules:\n  - id: [unclosed\n", 3),
    ("- a\n- b\n", 1),
    ("", 1),
    ("sector: x\nrules: 5\n", 2),
])
def test_a_broken_file_is_an_error_with_its_line(text: str, line: int) -> None:
    with pytest.raises(RuleFileError) as caught:
        upsert_rule(text, {"id": "aqi-poor", "name": "x"})
    assert caught.value.line == line


@pytest.mark.parametrize(("text", "expected_tail"), [
    ("sector: x\n", "sector: x\nrules:\n  - id: n\n"),
    ("sector: x\nrules: []  # none yet\n", "sector: x\nrules:  # none yet\n  - id: n\n"),
    ("sector: x\nrules:\n", "sector: x\nrules:\n  - id: n\n"),
])
def test_the_first_rule_of_a_file(text: str, expected_tail: str) -> None:
    rule = {**raw_rule(SMALL, "b"), "id": "n"}
    new = upsert_rule(text, rule)
    assert new.startswith(expected_tail)
    assert list(rules_of(new)) == ["n"]


def test_line_endings_and_a_missing_final_newline_are_kept() -> None:
    crlf = ENV.replace("\n", "\r\n")
    new = set_enabled(crlf, "aqi-poor", False)
    assert new.count("\r\n") == new.count("\n") == crlf.count("\n") + 1
    bare = SMALL.removesuffix("\n")
    assert not upsert_rule(bare, {**raw_rule(SMALL, "b"), "value": 4}).endswith("\n")


def test_a_flow_style_rules_list_is_edited_in_place() -> None:
    text = "rules: [{id: a, name: A, kind: threshold, event_type: e, field: f, op: '>', value: 1, severity: cao, " \
           "dedupe_key: a}]\n"
    new = upsert_rule(text, {**raw_rule(text, "a"), "value": 2})
    assert new == text.replace("value: 1", "value: 2")


def test_unified_diff() -> None:
    assert unified_diff(ENV, ENV, "environment.yaml") == ""
    diff = unified_diff("a\nb", "a\nc", "x.yaml")
    assert diff.splitlines()[:2] == ["--- a/x.yaml", "+++ b/x.yaml"]
    assert diff.endswith("-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n")


def test_write_atomically_replaces_the_file_and_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "environment.yaml"
    path.write_text("old\n", encoding="utf-8")
    path.chmod(0o640)
    link = tmp_path / "link.yaml"
    link.symlink_to(path)
    write_atomically(link, ENV)
    assert path.read_text(encoding="utf-8") == ENV and link.is_symlink()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    write_atomically(tmp_path / "new.yaml", "rules: []\n")
    assert stat.S_IMODE((tmp_path / "new.yaml").stat().st_mode) == 0o644
    assert sorted(os.listdir(tmp_path)) == ["environment.yaml", "link.yaml", "new.yaml"]
