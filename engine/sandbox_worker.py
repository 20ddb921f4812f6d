"""The sandbox's worker process: runs designers' conditions and scripts under operating-system limits.

Started by ``engine.sandbox`` as ``python -I -S engine/sandbox_worker.py MEMORY_BYTES``: isolated (no
environment variables, no site-packages, not even this package on its path) and importing the standard library
only. At start it limits its own address space (``RLIMIT_AS``: a script building a huge string gets a
``MemoryError`` instead of the machine's memory), forbids writing files and starting processes, and ignores
Ctrl-C (it ends when its parent closes the pipe). Before each request it sets its CPU limit (``RLIMIT_CPU``) a
little above the request's time limit: the parent's wall-clock timeout kills it first, and the CPU limit ends a
runaway script even if the parent is gone.

The protocol, over stdin/stdout: a 4-byte big-endian length, then a pickle. A request is
``(mode, source, scope, seconds, max_result_bytes)``; ``mode`` is ``eval`` or ``exec``. A reply is
``("ok", value)`` (eval), ``("ok", names)`` (exec: the names the script left bound, functions left out),
``("error", exception class name, message, line)`` or ``("memory", "")`` (after which the worker exits).
The source has passed ``engine.sandbox.check`` in the parent; the builtins here are the sandbox's whole world.
"""

from __future__ import annotations

import builtins
import math
import pickle
import resource
import signal
import struct
import sys
import traceback
from datetime import date, datetime, timedelta
from types import CodeType
from typing import Any, BinaryIO

SAFE_BUILTIN_NAMES = (
    "abs", "all", "any", "bool", "dict", "divmod", "enumerate", "filter", "float", "int", "isinstance", "len",
    "list", "map", "max", "min", "range", "reversed", "round", "set", "sorted", "str", "sum", "tuple", "zip",
    "True", "False", "None", "ValueError", "KeyError", "TypeError",
)
SAFE_BUILTINS = {name: getattr(builtins, name) for name in SAFE_BUILTIN_NAMES}
SAFE_GLOBALS = {"datetime": datetime, "date": date, "timedelta": timedelta}
HEADER = struct.Struct(">I")
_codes: dict[tuple[str, str], CodeType] = {}


def read_message(stream: BinaryIO) -> bytes | None:
    head = stream.read(HEADER.size)
    if len(head) < HEADER.size:
        return None
    (size,) = HEADER.unpack(head)
    body = stream.read(size)
    return body if len(body) == size else None


def write_message(stream: BinaryIO, payload: bytes) -> None:
    stream.write(HEADER.pack(len(payload)) + payload)
    stream.flush()


def _compiled(mode: str, source: str) -> CodeType:
    code = _codes.get((mode, source))
    if code is None:
        if len(_codes) > 512:
            _codes.clear()
        code = _codes[(mode, source)] = compile(source.strip() if mode == "eval" else source, "<string>", mode)
    return code


def _line(exc: BaseException) -> int:
    frames = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<string>"]
    return (frames[-1] or 0) if frames else 0


def run(mode: str, source: str, scope: dict[str, Any]) -> Any:
    """Evaluate or execute ``source`` with the sandbox's builtins and globals and the given names."""
    names = {**SAFE_GLOBALS, **scope, "__builtins__": SAFE_BUILTINS}
    code = _compiled(mode, source)
    if mode == "eval":
        return eval(code, names)  # noqa: S307 - checked by the parent, limited by this process's rlimits
    exec(code, names)  # noqa: S102 - checked by the parent, limited by this process's rlimits
    return {k: v for k, v in names.items() if k != "__builtins__" and k not in SAFE_GLOBALS and not callable(v)}


def answer(request: bytes) -> tuple[bytes, bool]:
    """The reply to one request, and whether the worker must exit after sending it."""
    mode, source, scope, seconds, max_result = pickle.loads(request)  # noqa: S301 - from our own parent
    used = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
    resource.setrlimit(resource.RLIMIT_CPU, (int(used + math.ceil(seconds)) + 2, resource.RLIM_INFINITY))
    try:
        result = pickle.dumps(("ok", run(mode, source, scope)), protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        return pickle.dumps(("memory", "")), True
    except Exception as exc:  # noqa: BLE001 - every failure of the designer's code goes back to the parent
        return pickle.dumps(("error", type(exc).__name__, str(exc)[:1000], _line(exc))), False
    if len(result) > max_result:
        return pickle.dumps(("error", "ValueError", f"the result is too big ({len(result) // 1024} KiB, at most "
                             f"{max_result // 1024} KiB)", 0)), False
    return result, False


def main() -> None:
    memory = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing the code does can write into the protocol
    write_message(stdout, b"ready")
    while (request := read_message(stdin)) is not None:
        try:
            reply, leave = answer(request)
        except MemoryError:
            reply, leave = pickle.dumps(("memory", "")), True
        except Exception as exc:  # noqa: BLE001 - a result that cannot be sent back (a generator, say)
            reply, leave = pickle.dumps(("error", type(exc).__name__, str(exc)[:1000], 0)), False
        write_message(stdout, reply)
        if leave:
            return


if __name__ == "__main__":
    main()
