"""Safe expressions: BPMN conditions, script tasks and DMN entries run sandboxed, with hard limits.

Process models are edited by designers in the browser, so their Python is untrusted input. Before anything runs,
the code is parsed and refused if it imports, touches a dunder or private attribute, defines classes, or raises a
power other than a small constant one (``check``: at deploy time for the code in the file, and again before each
run). It then runs with a small set of builtins (no ``open``, ``eval``, ``getattr``, ``__import__``…) and limits
that hold whatever the code does, C-level work included (``sum(range(10**15))``, ``"x" * 10**10``):

- **in a worker process** (``engine/sandbox_worker.py``, a small pool of them started once and reused) with an
  address-space limit (``RLIMIT_AS``, ``IOC_SANDBOX_MEMORY_MB``) and a CPU limit, and a wall-clock limit here
  (``IOC_SANDBOX_TIME_LIMIT_S``): past it the worker is killed (SIGKILL) and a new one takes its place;
- **a step's budget**: the evaluations of one engine step (``runtime.advance``, inside the instance's transaction
  and its lock) share ``STEP_BUDGET_FACTOR`` times the time limit, so that neither one runaway script nor a loop of
  slow ones (nor a BPMN loop that never ends) holds the database's write lock longer than that;
- **a fast path**: an expression made only of names, constants, comparisons, ``and``/``or``/``not``, ``+``/``-``,
  indexing and attributes (``decision == "accept"``, ``value > 150``, a timer's ``"PT4H"``) does work bounded by the
  size of the data it reads, so it is evaluated here, with the same builtins, without the round trip.

A limit reached raises ``SandboxLimit`` (``ScriptTimeout``, ``ScriptMemoryError``); the engine turns it, like any
failing step, into an incident of the instance (``runtime.advance``). ADR 0014 tells why a process pool.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import os
import pickle
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from types import CodeType
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

from engine import sandbox_worker
from engine.sandbox_worker import HEADER, SAFE_BUILTINS, SAFE_GLOBALS

TIME_LIMIT_S = 1.0  # defaults of IOC_SANDBOX_TIME_LIMIT_S and IOC_SANDBOX_MEMORY_MB (engine/config.py)
MEMORY_MB = 256
STEP_BUDGET_FACTOR = 5  # one engine step's evaluations together: this many times the time limit
MAX_RESULT_BYTES = 8 * 1024 * 1024  # what a script may hand back (pickled): beyond, the task data would bloat
POOL_IDLE = 4  # workers kept waiting between evaluations
MAX_EXPONENT = 64
FORBIDDEN_NODES = (ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal, ast.ClassDef, ast.AsyncFunctionDef,
                   ast.Await, ast.Yield, ast.YieldFrom, ast.AsyncFor, ast.AsyncWith)
# Nodes whose work is bounded by the size of the data they read: such an expression is evaluated in this process.
BOUNDED_NODES = (ast.Expression, ast.Constant, ast.Name, ast.Load, ast.Compare, ast.BoolOp, ast.And, ast.Or,
                 ast.UnaryOp, ast.Not, ast.USub, ast.UAdd, ast.BinOp, ast.Add, ast.Sub, ast.IfExp, ast.Attribute,
                 ast.Subscript, ast.Slice, ast.Tuple, ast.List, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE,
                 ast.In, ast.NotIn, ast.Is, ast.IsNot)
WORKER = Path(sandbox_worker.__file__).resolve()


class UnsafeCode(ValueError):
    """The code uses something the sandbox refuses; the message says what and where."""


class SandboxLimit(RuntimeError):
    """The code ran past one of the sandbox's limits; the message says which."""


class ScriptTimeout(SandboxLimit):
    pass


class ScriptMemoryError(SandboxLimit):
    pass


class ScriptError(Exception):
    """The designer's code raised an exception that is not a builtin one; ``line`` is where (0: unknown)."""


def check(source: str, mode: str) -> CodeType:
    """Parse ``source`` and refuse what the sandbox does not allow; return the compiled code."""
    return _checked(source, mode)[0]


@lru_cache(maxsize=1024)
def _checked(source: str, mode: str) -> tuple[CodeType, frozenset[str], bool]:
    """The compiled code, the names it mentions, and whether it may take the fast path."""
    try:
        tree = ast.parse(source.strip() if mode == "eval" else source, mode=mode)
    except SyntaxError as exc:
        raise UnsafeCode(f"syntax error on line {exc.lineno}: {exc.msg}") from None
    names = set()
    for node in ast.walk(tree):
        where = f"line {getattr(node, 'lineno', '?')}"
        if isinstance(node, FORBIDDEN_NODES):
            raise UnsafeCode(f"{type(node).__name__.lower()} is not allowed ({where})")
        if isinstance(node, ast.Name):
            if node.id.startswith("__"):
                raise UnsafeCode(f"the name {node.id} is not allowed ({where})")
            names.add(node.id)
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise UnsafeCode(f"the attribute {node.attr} is not allowed ({where})")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            exp = node.right
            if not (isinstance(exp, ast.Constant) and isinstance(exp.value, int) and abs(exp.value) <= MAX_EXPONENT):
                raise UnsafeCode(f"powers are limited to constant exponents up to {MAX_EXPONENT} ({where})")
    code: CodeType = compile(tree, "<string>", mode)  # type: ignore[call-overload]  # ast.mod is accepted
    fast = mode == "eval" and all(isinstance(node, BOUNDED_NODES) for node in ast.walk(tree))
    return code, frozenset(names), fast


# One engine step's deadline (time.monotonic()), shared by its evaluations; None outside a step.
_step_deadline: ContextVar[tuple[float, float] | None] = ContextVar("sandbox_step_deadline", default=None)


@contextlib.contextmanager
def step_budget(seconds: float) -> Iterator[None]:
    """Within the block, all evaluations together may run for ``seconds`` (an engine step, under its lock)."""
    token = _step_deadline.set((time.monotonic() + seconds, seconds))
    try:
        yield
    finally:
        _step_deadline.reset(token)


def _time_left(limit: float) -> float:
    step = _step_deadline.get()
    if step is None:
        return limit
    left = step[0] - time.monotonic()
    if left <= 0:
        raise ScriptTimeout(f"the step's conditions and scripts ran for more than {step[1]:g} s together")
    return min(limit, left)


# Classes a worker's reply may hold (defence in depth: the worker runs designers' code).
_REPLY_CLASSES = {
    "builtins": {"dict", "list", "set", "frozenset", "tuple", "str", "bytes", "bytearray", "int", "float",
                 "complex", "bool", "range", "slice", "NoneType"},
    "datetime": {"datetime", "date", "time", "timedelta", "timezone"},
    "decimal": {"Decimal"}, "uuid": {"UUID"}, "collections": {"OrderedDict"}, "zoneinfo": {"ZoneInfo._unpickle"},
    "copyreg": {"_reconstructor"},
}


class _ReplyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if name not in _REPLY_CLASSES.get(module, ()):
            raise pickle.UnpicklingError(f"the sandbox's reply holds a {module}.{name}")
        return super().find_class(module, name)


class _Worker:
    """One worker process and its pipes; used by one thread at a time."""

    def __init__(self, memory_bytes: int) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and our own worker file
            [sys.executable, "-I", "-S", str(WORKER), str(memory_bytes)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, close_fds=True)
        self.memory_bytes = memory_bytes
        if self._read(10.0) != b"ready":
            self.kill()
            raise SandboxLimit("the sandbox's worker process did not start")

    def _read_exact(self, size: int, deadline: float) -> bytes | None:
        assert self.proc.stdout is not None
        fd, out = self.proc.stdout.fileno(), bytearray()
        while len(out) < size:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
            chunk = os.read(fd, size - len(out))
            if not chunk:
                return None  # the worker died
            out += chunk
        return bytes(out)

    def _read(self, seconds: float) -> bytes | None:
        deadline = time.monotonic() + seconds
        head = self._read_exact(HEADER.size, deadline)
        if head is None:
            return None
        return self._read_exact(HEADER.unpack(head)[0], deadline)

    def ask(self, request: bytes, seconds: float) -> bytes | None:
        """The reply (None when the worker died); TimeoutError past ``seconds``."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(HEADER.pack(len(request)) + request)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return None
        return self._read(seconds)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                if pipe is not None:
                    pipe.close()


class _Pool:
    """Idle workers waiting for the next evaluation. A process that forks (a web server's workers) starts its own:
    workers inherited from the parent belong to it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.idle: list[_Worker] = []
        self.pid = os.getpid()

    def take(self, memory_bytes: int) -> _Worker:
        with self.lock:
            if self.pid != os.getpid():
                self.idle, self.pid = [], os.getpid()
            while self.idle:
                worker = self.idle.pop()
                if worker.memory_bytes == memory_bytes and worker.proc.poll() is None:
                    return worker
                worker.kill()
        return _Worker(memory_bytes)

    def give_back(self, worker: _Worker) -> None:
        with self.lock:
            if self.pid == os.getpid() and len(self.idle) < POOL_IDLE:
                self.idle.append(worker)
                return
        worker.kill()

    def close(self) -> None:
        with self.lock:
            idle, self.idle = self.idle, []
        for worker in idle:
            worker.kill()


_pool = _Pool()


def _raise_from_worker(_kind: str, name: str, message: str, line: int) -> None:
    cls = getattr(builtins, name, None)
    if not (isinstance(cls, type) and issubclass(cls, Exception)) or issubclass(cls, OSError):
        cls = ScriptError
        message = f"{name}: {message}"
    exc = cls(message)
    exc.sandbox_line = line  # type: ignore[attr-defined]  # read by SandboxScriptEngine for the error's line
    raise exc


def run_in_worker(mode: str, source: str, scope: dict[str, Any], seconds: float, memory_mb: int) -> Any:
    """Run checked code in a worker under the limits; what ``eval`` returns, or the names an ``exec`` left."""
    seconds = _time_left(seconds)
    request = pickle.dumps((mode, source, scope, seconds, MAX_RESULT_BYTES), protocol=pickle.HIGHEST_PROTOCOL)
    worker = _pool.take(memory_mb * 1024 * 1024)
    try:
        reply = worker.ask(request, seconds)
    except TimeoutError:
        worker.kill()
        raise ScriptTimeout(f"the code ran for more than {seconds:g} s and was stopped") from None
    if reply is None:
        worker.kill()
        raise SandboxLimit("the code was stopped by the sandbox's limits (CPU time or memory)")
    answer = _ReplyUnpickler(io.BytesIO(reply)).load()
    if answer[0] == "memory":
        worker.kill()
        raise ScriptMemoryError(f"the code needed more than {memory_mb} MB of memory and was stopped")
    _pool.give_back(worker)
    if answer[0] == "error":
        _raise_from_worker(*answer)
    return answer[1]


class SandboxEnvironment(TaskDataEnvironment):
    """Spiff's task-data environment, with every expression and script checked and limited. The limits are read
    from the settings at each evaluation unless given."""

    def __init__(self, time_limit_s: float | None = None, memory_mb: int | None = None) -> None:
        super().__init__(dict(SAFE_GLOBALS))
        self._time_limit_s, self._memory_mb = time_limit_s, memory_mb

    @property
    def time_limit_s(self) -> float:
        if self._time_limit_s is not None:
            return self._time_limit_s
        from engine.config import settings

        return settings().sandbox_time_limit_s

    @property
    def memory_mb(self) -> int:
        if self._memory_mb is not None:
            return self._memory_mb
        from engine.config import settings

        return settings().sandbox_memory_mb

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None
                 ) -> Any:
        code, names, fast = _checked(expression, "eval")
        scope = {**(external_context or {}), **context}
        if fast:
            _time_left(self.time_limit_s)  # a step past its budget stops here too (a BPMN loop that never ends)
            return eval(code, {**self.globals, **scope, "__builtins__": SAFE_BUILTINS})  # noqa: S307 - bounded
        return run_in_worker("eval", expression, {k: scope[k] for k in names if k in scope}, self.time_limit_s,
                             self.memory_mb)

    def execute(self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> bool:
        _code, names, _fast = _checked(script, "exec")
        self.check_for_overwrite(context, external_context or {})
        external = external_context or {}
        scope = {**external, **context}
        sent = {k: scope[k] for k in names if k in scope}
        left = run_in_worker("exec", script, sent, self.time_limit_s, self.memory_mb)
        for key, value in left.items():  # keep the data the script set, not its functions or our globals
            if key not in external:
                context[key] = value
        for key in [k for k in sent if k in context and k not in left]:  # ``del name`` in the script
            context.pop(key)
        return True


class SandboxScriptEngine(PythonScriptEngine):
    """Spiff's script engine over the sandbox: a limit reached says so in the step's error, and an error's line
    comes from the worker (the traceback stays there)."""

    def evaluate(self, task: Any, expression: str, external_context: dict[str, Any] | None = None) -> Any:
        try:
            return super().evaluate(task, expression, external_context)
        except WorkflowTaskException as exc:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, SandboxLimit | UnsafeCode):
                raise WorkflowTaskException(f"{cause} (expression {expression!r})", task=task,
                                            exception=cause) from cause
            raise

    def get_error_line_number_and_content(self, script: str, err: Exception) -> tuple[int, str]:
        line = getattr(err, "sandbox_line", 0)
        if not line:
            result: tuple[int, str] = super().get_error_line_number_and_content(script, err)
            return result
        lines = script.splitlines()
        return line, lines[line - 1] if line <= len(lines) else ""


def script_engine() -> PythonScriptEngine:
    return SandboxScriptEngine(environment=SandboxEnvironment())
