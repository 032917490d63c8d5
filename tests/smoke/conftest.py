"""Fixtures shared by the end-to-end tests (helpers live in ``helpers.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import SMOKE_ARGS, grokscope, ok, run_dirs


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One finished tiny run (300 steps), shared read-only; copy it before changing anything."""
    out = tmp_path_factory.mktemp("smoke") / "out"
    p = ok(grokscope(*SMOKE_ARGS, "--out", out))
    dirs = run_dirs(out)
    assert len(dirs) == 1, (list(out.iterdir()), p.stdout)
    return dirs[0]
