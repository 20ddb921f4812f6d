"""How far ``ioc export`` and ``ioc import`` are (issue 19): on a terminal one line redrawn in place, a bar with rows
(or bytes) done of the total known up front and the percentage, per table and for the files; in a log or a pipe,
plain lines."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests import factories
from tests.conftest import ROOT, ioc
from tests.test_handover import env_for, instance, scratch_database, the_tests_instance
from web import progress


@pytest.mark.no_database
@pytest.mark.parametrize(("what", "done", "total", "unit", "line"), [
    ("events", 0, 1_000_000, "rows", "events [░░░░░░░░░░] 0/1,000,000 rows   0%"),
    ("events", 512_000, 1_000_000, "rows", "events [█████░░░░░] 512,000/1,000,000 rows  51%"),
    ("events", 999_999, 1_000_000, "rows", "events [█████████░] 999,999/1,000,000 rows  99%"),  # 100 only when done
    ("events", 1_000_000, 1_000_000, "rows", "events [██████████] 1,000,000/1,000,000 rows 100%"),
    ("units", 0, 0, "rows", "units [██████████] 0/0 rows 100%"),  # an empty table is done
    ("files/attachments", 3 << 29, 1 << 31, "bytes", "files/attachments [███████░░░] 1.5 GB/2.0 GB  75%"),
    ("files/evidence", 1536, 4 << 20, "bytes", "files/evidence [░░░░░░░░░░] 1.5 kB/4.0 MB   0%"),
    ("files/rules", 512, 512, "bytes", "files/rules [██████████] 512 B/512 B 100%"),
])
def test_the_bar(what: str, done: int, total: int, unit: str, line: str) -> None:
    assert progress.bar(what, done, total, unit, width=10) == line


@pytest.mark.no_database
def test_plain_lines_say_each_tenth_of_a_long_table_only() -> None:
    out = io.StringIO()
    plain = progress.Plain(out)
    for done in range(0, 300_001, 1000):
        plain.step("events", done, 300_000, "rows")
        plain.step("units", min(done, 167), 167, "rows")  # short: no line of its own
    plain.line("events: 300000 rows, 1 bytes")
    lines = out.getvalue().splitlines()
    assert lines[0] == "events: 30,000/300,000 rows (10%)…" and lines[8] == "events: 270,000/300,000 rows (90%)…"
    assert len(lines) == 10 and lines[-1] == "events: 300000 rows, 1 bytes" and "\r" not in out.getvalue()


def _on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run ``ioc`` with its stderr on a pseudo-terminal; what the terminal showed."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "web.cli", *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=follower)
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    return proc.wait(60), shown.decode("utf-8", errors="replace")


def test_a_terminal_shows_a_bar_per_table_and_for_the_files_and_a_log_plain_lines(client, tmp_path: Path) -> None:
    factories.user("officer", "SO-NNMT", name="tien_do")
    source = the_tests_instance()
    code, shown = _on_a_terminal(["export", str(tmp_path / "out")], env_for(source))
    assert code == 0, shown
    assert "\rusers [████████████████████████] 1/1 rows 100%" in shown
    assert "\rusers: 1 rows, " in shown  # the bar gives way to the table's line
    assert "files/rules [" in shown and "%" in shown.split("files/rules [")[1].split("\r")[0]
    with scratch_database("sqlite", tmp_path / "t") as url:
        target = instance(url, tmp_path / "t")
        code, shown = _on_a_terminal(["import", str(tmp_path / "out")], env_for(target))
        assert code == 0, shown
        assert "\rchecking the export [" in shown and "\rusers [████████████████████████] 1/1 rows 100%" in shown

    logged = ioc("export", str(tmp_path / "again"), env=env_for(source))  # stderr is a pipe here
    assert "\r" not in logged.stderr and "█" not in logged.stderr
    assert "users: 1 rows" in logged.stderr and "files/rules: " in logged.stderr
