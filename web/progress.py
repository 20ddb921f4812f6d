"""How a long command (``ioc export``, ``ioc import``) shows how far it is, on stderr.

The engine reports two things: a line (a table or folder done, a warning) and a step (``what``, ``done`` of
``total`` ``unit``, the totals known up front). On a terminal each step redraws one line — a bar, done / total and
the percentage — and a line replaces the bar when its table is done; otherwise (a log file, a pipe) only the lines
are written, and, for a long table, one more line at each tenth. ``bar`` is the pure part.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO

WIDTH = 24  # the bar's cells
REDRAW_S = 0.1  # a terminal's line is redrawn at most this often (and at every table's end)
PLAIN_FROM = {"rows": 100_000, "bytes": 100 << 20}  # a table or folder this long gets a plain line at each tenth
_UNITS = ((1 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "kB"))


def amount(n: int, unit: str) -> str:
    """``1234567`` rows as ``1,234,567``; bytes as ``1.2 GB``."""
    if unit == "bytes":
        for size, name in _UNITS:
            if n >= size:
                return f"{n / size:.1f} {name}"
        return f"{n} B"
    return f"{n:,}"


def of(done: int, total: int, unit: str) -> str:
    """``512,000/1,000,000 rows``; ``0.5 GB/1.0 GB``."""
    return f"{amount(done, unit)}/{amount(total, unit)}{'' if unit == 'bytes' else ' ' + unit}"


def percent(done: int, total: int) -> int:
    """Whole percent done, 100 only when all is done (an empty table is done)."""
    if total <= 0 or done >= total:
        return 100
    return min(99, done * 100 // total)


def bar(what: str, done: int, total: int, unit: str, width: int = WIDTH) -> str:
    """One line: ``events [██████░░░░…] 512,000/1,000,000 rows  51%``."""
    filled = width if total <= 0 else min(width, done * width // total)
    return f"{what} [{'█' * filled}{'░' * (width - filled)}] {of(done, total, unit)} {percent(done, total):3d}%"


class Plain:
    """For a log or a pipe: the lines, and a line at each tenth of a long table."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._tenth: dict[str, int] = {}

    def line(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def step(self, what: str, done: int, total: int, unit: str) -> None:
        if total < PLAIN_FROM.get(unit, 0) or done >= total:
            return
        tenth = done * 10 // total
        if tenth > self._tenth.get(what, 0):
            self._tenth[what] = tenth
            self.line(f"{what}: {of(done, total, unit)} ({percent(done, total)}%)…")


class Terminal:
    """For a terminal: one line redrawn in place."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._shown = ""  # the bar on the screen now, "" when none
        self._last = 0.0

    def _draw(self, text: str) -> None:
        columns = shutil.get_terminal_size((100, 24)).columns - 1
        text = text[:columns]
        self.out.write("\r" + text + " " * max(0, len(self._shown) - len(text)))
        self.out.flush()
        self._shown = text

    def line(self, text: str) -> None:
        if self._shown:
            self.out.write("\r" + " " * len(self._shown) + "\r")
            self._shown = ""
        print(text, file=self.out, flush=True)

    def step(self, what: str, done: int, total: int, unit: str) -> None:
        now = time.monotonic()
        if done < total and now - self._last < REDRAW_S:
            return
        self._last = now
        self._draw(bar(what, done, total, unit))


def for_stream(out: TextIO | None = None) -> Plain | Terminal:
    """The bar on a terminal, plain lines otherwise."""
    out = out or sys.stderr
    return Terminal(out) if out.isatty() else Plain(out)
