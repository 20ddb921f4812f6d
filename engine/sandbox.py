"""Safe expressions: BPMN conditions and script tasks run sandboxed.

Process models are edited by designers in the browser, so their Python is untrusted input. Before
anything runs, the code is parsed and refused if it imports, touches a dunder or private attribute,
defines classes, or raises a huge power; it then runs with a small set of builtins (no ``open``,
``eval``, ``getattr``, ``__import__``…) and a time limit enforced line by line.
"""

from __future__ import annotations

import ast
import builtins
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from types import CodeType, FrameType
from typing import Any, TypeVar

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

T = TypeVar("T")
TIME_LIMIT_S = 1.0
MAX_EXPONENT = 64
SAFE_BUILTIN_NAMES = (
    "abs", "all", "any", "bool", "dict", "divmod", "enumerate", "filter", "float", "int", "isinstance", "len",
    "list", "map", "max", "min", "range", "reversed", "round", "set", "sorted", "str", "sum", "tuple", "zip",
    "True", "False", "None", "ValueError", "KeyError", "TypeError",
)
SAFE_BUILTINS = {name: getattr(builtins, name) for name in SAFE_BUILTIN_NAMES}
SAFE_GLOBALS = {"datetime": datetime, "date": date, "timedelta": timedelta}
FORBIDDEN_NODES = (ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal, ast.ClassDef, ast.AsyncFunctionDef,
                   ast.Await, ast.Yield, ast.YieldFrom, ast.AsyncFor, ast.AsyncWith)


class UnsafeCode(ValueError):
    """The code uses something the sandbox refuses; the message says what and where."""


class ScriptTimeout(RuntimeError):
    pass


def check(source: str, mode: str) -> CodeType:
    """Parse ``source`` and refuse what the sandbox does not allow; return the compiled code."""
    try:
        tree = ast.parse(source.strip() if mode == "eval" else source, mode=mode)
    except SyntaxError as exc:
        raise UnsafeCode(f"syntax error on line {exc.lineno}: {exc.msg}") from None
    for node in ast.walk(tree):
        where = f"line {getattr(node, 'lineno', '?')}"
        if isinstance(node, FORBIDDEN_NODES):
            raise UnsafeCode(f"{type(node).__name__.lower()} is not allowed ({where})")
        if isinstance(node, ast.Name) and node.id.startswith("__"):
            raise UnsafeCode(f"the name {node.id} is not allowed ({where})")
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise UnsafeCode(f"the attribute {node.attr} is not allowed ({where})")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            exp = node.right
            if not (isinstance(exp, ast.Constant) and isinstance(exp.value, int) and abs(exp.value) <= MAX_EXPONENT):
                raise UnsafeCode(f"powers are limited to constant exponents up to {MAX_EXPONENT} ({where})")
    code: CodeType = compile(tree, "<string>", mode)  # type: ignore[call-overload]  # ast.mod is accepted
    return code


def run_limited(fn: Callable[[], T], seconds: float = TIME_LIMIT_S) -> T:
    """Run ``fn`` in this thread, stopping it when it has run for more than ``seconds``."""
    deadline = time.monotonic() + seconds

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        if time.monotonic() > deadline:
            raise ScriptTimeout(f"the script ran for more than {seconds:g} s")
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        return fn()
    finally:
        sys.settrace(previous)


class SandboxEnvironment(TaskDataEnvironment):
    """Spiff's task-data environment, with every expression and script checked and limited."""

    def __init__(self, time_limit_s: float = TIME_LIMIT_S) -> None:
        super().__init__(dict(SAFE_GLOBALS))
        self.time_limit_s = time_limit_s

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None
                 ) -> Any:
        code = check(expression, "eval")
        scope = {**self.globals, **(external_context or {}), **context, "__builtins__": SAFE_BUILTINS}
        return run_limited(lambda: eval(code, scope), self.time_limit_s)  # noqa: S307 - checked and limited

    def execute(self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> bool:
        code = check(script, "exec")
        self.check_for_overwrite(context, external_context or {})
        scope = {**self.globals, **(external_context or {}), **context, "__builtins__": SAFE_BUILTINS}
        run_limited(lambda: exec(code, scope), self.time_limit_s)  # noqa: S102 - checked and limited
        for key, value in scope.items():  # keep the data the script set, not its functions or our globals
            if key == "__builtins__" or callable(value) or key in self.globals:
                continue
            if external_context and key in external_context:
                continue
            context[key] = value
        for key in [k for k in context if k not in scope]:
            context.pop(key)
        return True


def script_engine() -> PythonScriptEngine:
    return PythonScriptEngine(environment=SandboxEnvironment())
