"""The sandbox's cost per evaluation (engine/sandbox.py), beside plain ``eval`` of the same code in this process.

Prints, per call, in microseconds: plain in-process ``eval``/``exec`` (the baseline, what the engine did before it
used a worker process), the fast path (a bounded expression, evaluated here), the worker path (a pooled worker
process: pickle both ways over a pipe), and the start of a fresh worker (after one was killed at a limit).

    .venv/bin/python bench/sandbox.py [--calls N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("IOC_SECRET_KEY", "bench-secret-key-that-is-long-enough-0123456789")

from engine import sandbox  # noqa: E402
from engine.sandbox_worker import SAFE_BUILTINS, SAFE_GLOBALS  # noqa: E402

DATA = {"departments": ["SO-YT", "SO-XD"], "value": 180, "severity": "cao", "decision": "accept",
        "evidence": [{"t": i, "v": i * 0.5} for i in range(200)]}  # task data the code does not read


def per_call(fn: Callable[[], object], calls: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    calls = parser.parse_args().calls
    env = sandbox.SandboxEnvironment(time_limit_s=1, memory_mb=256)
    fast, slow, script = 'decision == "accept" and value > 150', "len(departments) == 2", "total = value * 2"
    scope = {**SAFE_GLOBALS, **DATA, "__builtins__": SAFE_BUILTINS}
    base_eval = per_call(lambda: eval(compile(slow, "<s>", "eval"), dict(scope)), calls)  # noqa: S307 - bench
    base_exec = per_call(lambda: exec(compile(script, "<s>", "exec"), dict(scope)), calls)  # noqa: S102 - bench
    rows = [
        ("plain eval in this process (baseline)", base_eval, 1.0),
        ("fast path: " + fast, t := per_call(lambda: env.evaluate(fast, dict(DATA)), calls), t / base_eval),
        ("worker: " + slow, t := per_call(lambda: env.evaluate(slow, dict(DATA)), calls), t / base_eval),
        ("plain exec in this process (baseline)", base_exec, 1.0),
        ("worker: " + script, t := per_call(lambda: env.execute(script, dict(DATA)), calls), t / base_exec),
    ]
    sandbox._pool.close()
    start = time.perf_counter()
    for _ in range(20):
        sandbox._pool.close()
        env.evaluate(slow, dict(DATA))
    rows.append(("a fresh worker's start + first call", (time.perf_counter() - start) / 20 * 1e6, 0.0))
    for name, us, ratio in rows:
        print(f"{name:60s} {us:10.1f} µs/call" + (f"  ×{ratio:.1f}" if ratio else ""))
    sandbox._pool.close()


if __name__ == "__main__":
    main()
