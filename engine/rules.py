"""Rule files (``rules/*.yaml``): loading, checking with file:line, and a cached rule set.

Limits a rule file meets (a careless edit or a hostile one must not reach the engine): YAML anchors and aliases
are refused (an alias bomb inside a scenario's variables passed and became a 254 MB process state), as is nesting
deeper than ``MAX_DEPTH``; a file is at most ``MAX_FILE_BYTES``, a scenario's variables at most
``MAX_VARIABLES_BYTES`` (as JSON); a geofence's areas must be valid polygons (``engine.geo_check``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from engine import geo_check
from engine.conditions import load_geometries
from engine.evaluation import Rule

SCHEMA_PATH = Path(__file__).parent / "schemas" / "rules.schema.json"
MAX_FILE_BYTES = 1024 * 1024
MAX_VARIABLES_BYTES = 16 * 1024
MAX_DEPTH = 20  # levels of nested mappings and lists


class _RuleLoader(yaml.SafeLoader):
    """PyYAML's safe loader without anchors and aliases (each alias shares a node: a few lines can stand for
    billions of values once the data is copied or written out), and with a depth limit (its composer recurses)."""

    depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            what = f"the alias *{event.anchor}" if isinstance(event, yaml.AliasEvent) else f"the anchor &{event.anchor}"
            raise yaml.composer.ComposerError(None, None, f"{what}: anchors and aliases are not allowed in rule "
                                              "files (write the values out)", event.start_mark)
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels",
                                                  event.start_mark)
            node: yaml.Node | None = super().compose_node(parent, index)
            return node
        finally:
            self.depth -= 1


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return result


def _line_of(node: yaml.Node | None, path: list[Any]) -> int:
    """The 1-based line of the YAML node at ``path`` (or of its nearest existing parent)."""
    line = node.start_mark.line + 1 if node is not None else 1
    for key in path:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
            if match is None:
                key_node = next((k for k, _ in node.value if getattr(k, "value", None) == key), None)
                return key_node.start_mark.line + 1 if key_node is not None else line
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line


def check_text(text: str, filename: str) -> tuple[list[Rule], list[Problem]]:
    if len(text.encode("utf-8")) > MAX_FILE_BYTES:
        return [], [Problem(filename, 1, f"the file is larger than {MAX_FILE_BYTES // 1024} KiB")]
    try:
        node = yaml.compose(text, Loader=_RuleLoader)
        data = yaml.load(text, Loader=_RuleLoader)  # noqa: S506 - a SafeLoader, without aliases
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        return [], [Problem(filename, line, f"YAML: {exc.problem}")]
    if data is None:
        return [], [Problem(filename, 1, "the file is empty")]
    problems = []
    for err in sorted(Draft202012Validator(schema()).iter_errors(data), key=lambda e: list(e.absolute_path)):
        path = list(err.absolute_path)
        where = ".".join(str(p) for p in path) or "(file)"
        problems.append(Problem(filename, _line_of(node, path), f"{where}: {err.message}"))
    if problems:
        return [], problems
    rules, seen = [], set()
    groups = {name: set(ids) for name, ids in (data.get("entity_groups") or {}).items()}
    for i, raw in enumerate(data["rules"]):
        line = _line_of(node, ["rules", i])
        if raw["id"] in seen:
            problems.append(Problem(filename, line, f"rules.{i}.id: duplicate rule id {raw['id']!r}"))
        seen.add(raw["id"])
        rule, problem = _rule(raw, i, line, filename, data, groups, node)
        if problem is not None:
            problems.append(problem)
        elif rule is not None:
            rules.append(rule)
    return rules, problems


def _rule(raw: dict[str, Any], i: int, line: int, filename: str, data: dict[str, Any],
          groups: dict[str, set[str]], node: yaml.Node | None) -> tuple[Rule | None, Problem | None]:
    """One rule from its checked mapping, or the problem the schema cannot see (with its line)."""
    value = raw.get("value", 0)
    op = raw.get("op", ">=" if raw["kind"] == "count" else ">")
    pairs: list[tuple[list[Any], str, Any]] = [(["value"], op, value)]
    pairs += [(["conditions", j, "value"], c["op"], c["value"]) for j, c in enumerate(raw.get("conditions") or [])]
    for where, o, v in pairs:
        if (o in ("between", "outside")) != isinstance(v, list):
            path = ".".join(str(w) for w in where)
            return None, Problem(filename, _line_of(node, ["rules", i, *where]), f"rules.{i}.{path}: '{o}' needs "
                                 + ("[low, high]" if o in ("between", "outside") else "one number"))
    variables = (raw.get("scenario") or {}).get("variables")
    if variables is not None and len(json.dumps(variables, default=str)) > MAX_VARIABLES_BYTES:
        return None, Problem(filename, _line_of(node, ["rules", i, "scenario", "variables"]),
                             f"rules.{i}.scenario.variables: larger than {MAX_VARIABLES_BYTES // 1024} KiB as JSON "
                             "(they go into every process the rule starts)")
    scope = raw.get("scope") or {}
    if scope.get("entity_group") and scope["entity_group"] not in groups:
        return None, Problem(filename, _line_of(node, ["rules", i, "scope", "entity_group"]),
                             f"rules.{i}.scope.entity_group: no entity group {scope['entity_group']!r} in this file")
    kind_keys = ("window_minutes", "percent", "minutes", "entities", "mode", "conditions")
    params: dict[str, Any] = {k: raw[k] for k in kind_keys if k in raw}
    if raw["kind"] == "geofence":
        fence = raw["geofence"]
        path = Path(filename).parent / fence["file"]
        fence_line = _line_of(node, ["rules", i, "geofence", "file"])
        try:
            collection = geo_check.read(path)
            geometries = load_geometries(collection)
        except (OSError, ValueError) as exc:
            return None, Problem(filename, fence_line, f"rules.{i}.geofence.file: cannot read {fence['file']}: {exc}")
        for bad in geo_check.problems(collection, path.read_text(encoding="utf-8")):
            return None, Problem(filename, fence_line, f"rules.{i}.geofence.file: {fence['file']} line {bad.line}: "
                                 f"{bad.message}")
        params.update(mode=fence["mode"], geometries=geometries, lat_field=fence.get("lat_field", "lat"),
                      lon_field=fence.get("lon_field", "lon"))
    rule = Rule(id=raw["id"], name=raw["name"], sector=raw.get("sector") or data.get("sector", ""),
                kind=raw["kind"], event_type=raw["event_type"], field=raw.get("field", ""), op=op,
                value=tuple(value) if isinstance(value, list) else value, severity=raw["severity"],
                dedupe_key=raw["dedupe_key"], title=raw.get("title", ""), scenario=raw.get("scenario") or {},
                enabled=raw.get("enabled", True), file=filename, line=line, name_en=raw.get("name_en", ""),
                pending_s=float(raw.get("pending_minutes", 0)) * 60,
                keep_firing_s=float(raw.get("keep_firing_minutes", 0)) * 60,
                no_data_s=float(raw["no_data_minutes"]) * 60 if "no_data_minutes" in raw else None,
                params=params, scope=scope, entity_groups=groups)
    return rule, None


def rule_files(directory: Path) -> list[Path]:
    return sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])


def check_scenarios(rules: list[Rule], processes: set[str]) -> list[Problem]:
    """Each rule's scenario names a process that exists."""
    return [Problem(r.file, r.line, f"rule {r.id!r}: scenario process {r.scenario['process']!r} is not in "
                    f"the processes folder ({', '.join(sorted(processes)) or 'none'})")
            for r in rules if r.scenario.get("process") and r.scenario["process"] not in processes]


def check_directory(directory: Path) -> tuple[list[Rule], list[Problem]]:
    rules: list[Rule] = []
    problems: list[Problem] = []
    if not directory.is_dir():
        return [], [Problem(str(directory), 0, "no such directory")]
    ids: dict[str, str] = {}
    for path in rule_files(directory):
        if path.stat().st_size > MAX_FILE_BYTES:
            problems.append(Problem(str(path), 1, f"the file is larger than {MAX_FILE_BYTES // 1024} KiB"))
            continue
        file_rules, file_problems = check_text(path.read_text(encoding="utf-8"), str(path))
        problems.extend(file_problems)
        for rule in file_rules:
            if rule.id in ids:
                problems.append(Problem(str(path), rule.line, f"rule id {rule.id!r} is also in {ids[rule.id]}"))
            ids[rule.id] = str(path)
            rules.append(rule)
    return rules, problems


def area_files(directory: Path) -> list[Path]:
    """The GeoJSON area files under a rules folder (geofences, ``geo/*.geojson`` sea zones); repaired copies aside."""
    return sorted(p for p in directory.rglob("*.geojson") if not p.name.endswith(".repaired.geojson"))


def check_area_files(directory: Path) -> list[Problem]:
    """Each area file's invalid shapes, unreadable or oversized files, with the line of the feature."""
    files = area_files(directory) if directory.is_dir() else [directory]
    return [Problem(str(path), bad.line, bad.message) for path in files for bad in geo_check.check_file(path)]


_cache: dict[str, tuple[tuple[tuple[str, float], ...], list[Rule]]] = {}


def current_rules(directory: Path) -> list[Rule]:
    """The valid rules of ``directory``, re-read when a file changes (a bad file keeps the last good set)."""
    stamp = tuple((str(p), p.stat().st_mtime) for p in rule_files(directory))
    key = str(directory)
    if key in _cache and _cache[key][0] == stamp:
        return _cache[key][1]
    rules, problems = check_directory(directory)
    if problems and key in _cache:
        return _cache[key][1]
    _cache[key] = (stamp, rules)
    return rules
