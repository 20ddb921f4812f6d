"""Editing rule files (``rules/<sector>.yaml``) from the web without losing the administrators' layout.

Only the lines of the rule being changed are re-emitted (ruamel.yaml round-trip, so comments inside the
rule, key order, quoting and number formats survive); every other byte of the file is kept as it was.
The comments and blank lines *between* rules belong to the rule below them and move with it.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import os
import re
import stat
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml as pyyaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    LiteralScalarString,
    PlainScalarString,
    SingleQuotedScalarString,
)
from ruamel.yaml.tokens import CommentToken

from engine.errors import N_, Invalid

KEY = "rules"
_KEY_LINE = re.compile(r"^(?P<key>[\"']?rules[\"']?[ \t]*:)(?P<value>[^#\n]*?)(?P<rest>[ \t]*(#.*)?\n?)$")


class RuleFileError(Invalid):
    """A rule file that cannot be edited, or a rule id it does not hold; ``line`` is 1-based (0: no line)."""

    code = "rule_file_error"

    def __init__(self, message: str, line: int, **params: Any) -> None:
        super().__init__(message, details={"line": line}, **params)
        self.line = line


def upsert_rule(text: str, rule: Mapping[str, Any]) -> str:
    """``text`` with ``rule`` replacing the rule of the same id (surviving keys keep their place and
    comments, new keys go last, missing keys are dropped), or appended at the end of ``rules:``."""
    rule_id = rule.get("id")
    if not isinstance(rule_id, str) or not rule_id:
        raise RuleFileError(N_("the rule has no id"), 0)
    document = _RuleFile(text)
    index = document.index_of(rule_id)
    if index is None:
        return document.append(rule)
    return document.edit(index, lambda old: _merge(old, rule))


def delete_rule(text: str, rule_id: str) -> str:
    """``text`` without the rule ``rule_id`` and the comment lines right above it."""
    document = _RuleFile(text)
    return document.remove(document.require(rule_id))


def set_enabled(text: str, rule_id: str, enabled: bool) -> str:
    """``text`` with rule ``rule_id`` switched on or off (no ``enabled`` key means on)."""
    document = _RuleFile(text)
    index = document.require(rule_id)
    rule = document.seq[index]
    if "enabled" not in rule and enabled:
        return text
    return document.edit(index, lambda old: _set(old, "enabled", enabled))


def unified_diff(old: str, new: str, filename: str) -> str:
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 f"a/{filename}", f"b/{filename}")
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` (through a symlink, if it is one) so that readers see the old or the new text, never a
    mix; the file keeps its mode (a new file gets 0644)."""
    target = path.resolve()
    mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o644
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class _RuleFile:
    """The parsed file plus where each rule's lines are: (first comment line above it, first line, end)."""

    def __init__(self, text: str) -> None:
        self.newline = "\r\n" if "\r\n" in text else "\n"
        self.lines = text.replace("\r\n", "\n").splitlines(keepends=True)
        self.doc = _load("".join(self.lines))
        if not isinstance(self.doc, CommentedMap):
            raise RuleFileError(N_("the file is empty") if self.doc is None
                                else N_("the file must be a mapping with a 'rules' list"), 1)
        seq = self.doc.get(KEY)
        self.key_line = self.doc.lc.key(KEY)[0] if KEY in self.doc else None
        if seq is not None and not isinstance(seq, CommentedSeq):
            raise RuleFileError(N_("'rules' must be a list"), (self.key_line or 0) + 1)
        self.seq: CommentedSeq = seq if seq is not None else CommentedSeq()
        self.block = bool(self.seq) and not self.seq.fa.flow_style()
        self.yaml = _yaml(*(_indents(self.doc, self.seq) if self.block else (2, 4, 2)))
        self.spans = self._spans() if self.block else []

    def _spans(self) -> list[tuple[int, int, int]]:
        keys = list(self.doc)
        after = keys.index(KEY) + 1
        last = self.doc.lc.key(keys[after])[0] if after < len(keys) else len(self.lines)
        dash = self.seq.lc.col
        starts = []
        for i in range(len(self.seq)):
            start = self.seq.lc.item(i)[0]
            while start > 0 and not self.lines[start].lstrip().startswith("-"):
                start -= 1
            starts.append(start)
        spans, floor = [], (self.key_line or 0) + 1
        for i, start in enumerate(starts):
            limit = starts[i + 1] if i + 1 < len(starts) else last
            end = limit
            while end > start + 1 and _is_gap(self.lines[end - 1]):
                end -= 1
            while end < limit and _is_comment(self.lines[end]) and _indent(self.lines[end]) > dash:
                end += 1
            head = start
            while head > floor and _is_comment(self.lines[head - 1]):
                head -= 1
            spans.append((head, start, end))
            floor = end
        return spans

    def index_of(self, rule_id: str) -> int | None:
        found = [i for i, r in enumerate(self.seq) if isinstance(r, Mapping) and r.get("id") == rule_id]
        if len(found) > 1:
            raise RuleFileError(N_("rule id %(rule_id)s is in the file twice"), self._line(found[1]), rule_id=rule_id)
        return found[0] if found else None

    def require(self, rule_id: str) -> int:
        index = self.index_of(rule_id)
        if index is None:
            raise RuleFileError(N_("no rule with id %(rule_id)s"), (self.key_line or 0) + 1, rule_id=rule_id)
        return index

    def _line(self, index: int) -> int:
        return int(self.seq.lc.item(index)[0]) + 1

    def edit(self, index: int, change: Callable[[CommentedMap], None]) -> str:
        if not self.block:
            change(self.seq[index])
            return self._dump_document()
        _, start, end = self.spans[index]
        old = "".join(self.lines[start:end])
        wrapper = _load(f"{KEY}:\n{old}", offset=start - 1)
        change(wrapper[KEY][0])
        new = self._dump(wrapper[KEY])
        if not old.endswith("\n"):
            new = new.rstrip("\n")
        return self._text(self.lines[:start], [new], self.lines[end:])

    def remove(self, index: int) -> str:
        if not self.block:
            del self.seq[index]
            return self._dump_document()
        head, _, end = self.spans[index]
        before, after = self.lines[:head], self.lines[end:]
        if before and before[-1].strip() == "" and (not after or after[0].strip() == ""):
            while before and before[-1].strip() == "":
                before.pop()
        elif before and before[-1].strip() != "" and after and after[0].strip() == "":
            while after and after[0].strip() == "":
                after.pop(0)
        if len(self.seq) == 1:  # the last rule goes: 'rules:' alone would be null, not a list
            emptied = _set_key_value(before[self.key_line or 0], " []")
            if emptied is None:
                raise RuleFileError(N_("'rules' must be a list"), (self.key_line or 0) + 1)
            before[self.key_line or 0] = emptied
        return self._text(before, [], after)

    def append(self, rule: Mapping[str, Any]) -> str:
        like = self.seq[-1] if self.seq else None
        if not self.block and self.seq:
            self.seq.append(_fresh(rule, like))
            return self._dump_document()
        block = self._dump(CommentedSeq([_fresh(rule, like)]))
        if not self.block:
            if self.key_line is None:
                ending = "" if not self.lines or self.lines[-1].endswith("\n") else "\n"
                return self._text(self.lines, [ending, f"{KEY}:\n", block], [])
            key_line = _set_key_value(self.lines[self.key_line], "")
            if key_line is None:
                raise RuleFileError(N_("'rules' must be a list"), self.key_line + 1)
            return self._text(self.lines[:self.key_line], [key_line, block], self.lines[self.key_line + 1:])
        end = self.spans[-1][2]
        separated = len(self.spans) == 1 or any(self.lines[e].strip() == "" for _, _, e in self.spans[:-1])
        ending = "" if self.lines[end - 1].endswith("\n") else "\n"
        return self._text(self.lines[:end], [ending, "\n" if separated else "", block], self.lines[end:])

    def _dump(self, seq: CommentedSeq) -> str:
        out = io.StringIO()
        self.yaml.dump(CommentedMap([(KEY, seq)]), out)
        return out.getvalue().split("\n", 1)[1]

    def _dump_document(self) -> str:
        out = io.StringIO()
        self.yaml.dump(self.doc, out)
        return out.getvalue().replace("\n", self.newline)

    def _text(self, *parts: list[str]) -> str:
        return "".join("".join(p) for p in parts).replace("\n", self.newline)


def _yaml(mapping: int, sequence: int, offset: int) -> YAML:
    result = YAML()  # round-trip
    result.preserve_quotes = True
    result.allow_unicode = True
    result.width = 100_000  # never fold a long title onto a second line
    result.indent(mapping=mapping, sequence=sequence, offset=offset)
    return result


def _load(text: str, offset: int = 0) -> Any:
    try:
        return _yaml(2, 4, 2).load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 + offset if mark is not None else 1
        raise RuleFileError(N_("YAML: %(problem)s"), line,
                            problem=getattr(exc, "problem", None) or str(exc)) from exc


def _indents(doc: CommentedMap, seq: CommentedSeq) -> tuple[int, int, int]:
    """(mapping, sequence, offset) as ruamel counts them, read from the first rules of the file."""
    key_col = doc.lc.key(KEY)[1]
    offset, sequence = seq.lc.col - key_col, seq.lc.item(0)[1] - key_col
    for rule in seq:
        for key, value in rule.items() if isinstance(rule, CommentedMap) else ():
            if isinstance(value, CommentedMap) and value and not value.fa.flow_style():
                return value.lc.col - rule.lc.key(key)[1], sequence, offset
    return 2, sequence, offset


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _is_gap(line: str) -> bool:
    return line.strip() == "" or _is_comment(line)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _set_key_value(line: str, value: str) -> str | None:
    """The ``rules:`` line with an empty or ``[]`` value replaced by ``value``."""
    match = _KEY_LINE.match(line)
    if match is None or "".join(match["value"].split()) not in ("", "[]", "~", "null"):
        return None
    return match["key"] + value + match["rest"]


def _merge(old: CommentedMap, new: Mapping[str, Any]) -> None:
    for key in [k for k in old if k not in new]:
        _drop(old, key)
    for key, value in new.items():
        _set(old, key, value)


def _set(old: CommentedMap, key: str, value: Any) -> None:
    if key not in old:
        old[key] = _fresh(value, None)
        return
    current = old[key]
    if isinstance(current, CommentedMap) and isinstance(value, Mapping):
        _merge(current, value)
    elif _same(current, value):
        return
    elif not isinstance(current, list | Mapping) and not isinstance(value, list | tuple | Mapping):
        old[key] = _fresh(value, current)  # a scalar for a scalar: the comments on the key stay
    else:
        rest = _detach_tail(old, key)
        old[key] = _fresh(value, current)
        _attach_tail(old, key, rest)


def _drop(old: CommentedMap, key: str) -> None:
    """Delete ``key``; the comment lines below its value (above the next key) move to the key before."""
    keys, column = list(old), old.lc.key(key)[1]
    rest = _detach_tail(old, key)
    del old[key]
    if keys.index(key) > 0:  # comment lines indented deeper than the key were about its value: they go too
        kept = [line for line in rest.splitlines(keepends=True) if _indent(line) <= column]
        _attach_tail(old, keys[keys.index(key) - 1], "".join(kept))


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, list) and isinstance(new, list | tuple):
        return len(old) == len(new) and all(_same(a, b) for a, b in zip(old, new, strict=True))
    if isinstance(old, Mapping) or isinstance(new, Mapping | list | tuple):
        return False
    kinds = (bool, str, type(None))
    return all(isinstance(old, k) == isinstance(new, k) for k in kinds) and old == new


def _fresh(value: Any, like: Any) -> Any:
    """``value`` as ruamel nodes, styled like ``like`` (the value it replaces, or a sibling rule)."""
    if isinstance(value, Mapping):
        return CommentedMap((k, _fresh(v, like.get(k) if isinstance(like, Mapping) else None))
                            for k, v in value.items())
    if isinstance(value, list | tuple):
        seq = CommentedSeq(_fresh(v, None) for v in value)
        flow = like.fa.flow_style() if isinstance(like, CommentedSeq) else all(
            not isinstance(v, list | tuple | Mapping) for v in value)
        if flow:
            seq.fa.set_flow_style()
        return seq
    if not isinstance(value, str):
        return value
    if isinstance(like, LiteralScalarString | FoldedScalarString) and "\n" in value:
        return type(like)(value)
    if isinstance(like, DoubleQuotedScalarString | SingleQuotedScalarString):
        return type(like)(value)  # the quotes the file had there
    # PlainScalarString, as ruamel turns a str put in place of a quoted string into that string's type
    return DoubleQuotedScalarString(value) if _needs_quotes(value) else PlainScalarString(value)


def _needs_quotes(text: str) -> bool:
    """Whether ``text`` written plain would be read back as something else, by ruamel or by PyYAML (YAML 1.1,
    where ``yes`` and ``on`` are booleans), which ``engine.rules`` uses."""
    out = io.StringIO()
    _yaml(2, 4, 2).dump({"k": text}, out)
    written = out.getvalue()
    if written[3:4] in ("'", '"', "|", ">"):
        return True
    return pyyaml.safe_load(written) != {"k": text}


def _tail_holder(parent: CommentedMap | CommentedSeq, key: Any) -> tuple[Any, Any, int]:
    """Where ruamel keeps the comment lines that follow ``parent[key]``: on its last scalar, deepest first."""
    value = parent[key]
    if isinstance(value, CommentedMap | CommentedSeq) and value and not value.fa.flow_style():
        return _tail_holder(value, list(value)[-1] if isinstance(value, CommentedMap) else len(value) - 1)
    return parent, key, 2 if isinstance(parent, CommentedMap) else 0


def _detach_tail(parent: CommentedMap, key: str) -> str:
    """The whole comment lines after ``parent[key]`` (not its end-of-line comment), taken off it."""
    holder, where, slot = _tail_holder(parent, key)
    entry = holder.ca.items.get(where)
    token = entry[slot] if entry else None
    if token is None:
        return ""
    eol, _, rest = token.value.partition("\n")
    if eol:
        token.value = eol + "\n"
    else:
        entry[slot] = None
    return str(rest)


def _attach_tail(parent: CommentedMap, key: str, rest: str) -> None:
    if not rest:
        return
    holder, where, slot = _tail_holder(parent, key)
    entry = holder.ca.items.setdefault(where, [None, None, None, None])
    if entry[slot] is None:
        entry[slot] = CommentToken("\n" + rest, CommentMark(0), None)
    else:
        entry[slot].value = entry[slot].value + rest
