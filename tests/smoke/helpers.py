"""Helpers for the end-to-end tests: run the real ``grokscope`` command in a subprocess.

Every training run passes ``--threads 1`` and a tiny budget; the machine is small and shared.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

_SCRIPT = Path(sys.executable).parent / "grokscope"
GROKSCOPE = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "grokscope.cli"]

RUN_RE = re.compile(r"^quick(-[A-Za-z0-9._]+=[A-Za-z0-9._]+)*-[0-9a-f]{12}$")  # named by what differs (issue 12)

# a small, fast variant of the quick preset (13² examples, 32 hidden units)
TINY = ["--set", "task.p=13", "--set", "model.d_hidden=32"]
SMOKE_ARGS = ["run", "quick", "--threads", "1", "-q", "--set", "train.steps=300", *TINY]


def env() -> dict[str, str]:
    e = dict(os.environ)
    e.update(PYTHONUNBUFFERED="1", COLUMNS="200", NO_COLOR="1", TERM="dumb")
    e.pop("FORCE_COLOR", None)
    return e


def grokscope(*args: str | Path, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``grokscope ARGS`` to completion and return the CompletedProcess (text stdout/stderr)."""
    return subprocess.run([*GROKSCOPE, *map(str, args)], cwd=cwd, env=env(), capture_output=True, text=True,
                          timeout=timeout)


def popen(*args: str | Path, log_dir: Path) -> subprocess.Popen:
    """Start ``grokscope ARGS`` in the background; stdout/stderr go to files in ``log_dir``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "stdout.txt", "w") as out, open(log_dir / "stderr.txt", "w") as err:
        return subprocess.Popen([*GROKSCOPE, *map(str, args)], env=env(), stdout=out, stderr=err)


def ok(p: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert p.returncode == 0, f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    return p


def run_dirs(out: Path) -> list[Path]:
    """The run directories (``quick-<12 hex>``) directly under ``out``."""
    return sorted(d for d in out.iterdir() if d.is_dir() and RUN_RE.match(d.name)) if out.is_dir() else []


def wait_for(predicate, proc: subprocess.Popen | None = None, timeout: float = 60.0, poll: float = 0.005,
             what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; fail if ``proc`` exits first or on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"grokscope exited ({proc.returncode}) before {what}")
        time.sleep(poll)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def assert_one_line_error(p: subprocess.CompletedProcess, *expect: str) -> str:
    report = f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    assert "Traceback" not in p.stderr, report
    assert p.returncode == 2, report
    lines = p.stderr.splitlines()
    assert len(lines) == 1, report
    assert lines[0].startswith("error: "), report
    for text in expect:
        assert text in lines[0], f"{text!r} not in the error line\n{report}"
    return lines[0]
