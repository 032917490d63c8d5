"""Drive the real CLI entry point ``grokscope.cli.main`` in-process (no torch import per case)."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pytest


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def cli(capsys: pytest.CaptureFixture, *args: object) -> Outcome:
    from grokscope.cli import main

    old = sys.argv
    sys.argv = ["grokscope", *map(str, args)]
    code = 0
    try:
        main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    finally:
        sys.argv = old
    cap = capsys.readouterr()
    return Outcome(code, cap.out, cap.err)


def assert_one_line(o: Outcome, *expect: str) -> str:
    lines = o.err_lines()
    assert o.code == 2, f"exit {o.code}, stderr: {o.err[-800:]}"
    assert len(lines) == 1, f"{len(lines)} stderr lines: {o.err[-800:]}"
    assert "Traceback" not in o.err
    for e in expect:
        assert e in lines[0], (e, lines[0])
    return lines[0]
