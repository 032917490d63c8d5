"""One tiny complete run shared by the damaged-file and byte-flip tests (copied before each damage)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

TINY = ["train.steps=30", "task.p=11", "model.d_hidden=16", "members.seeds=1", "checkpoint.count=2"]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    import grokscope as gs

    out = tmp_path_factory.mktemp("hard")
    return gs.run("quick", overrides=TINY, out=out, threads=1).path


@pytest.fixture
def run_copy(tiny_run: Path, tmp_path: Path) -> Path:
    dst = tmp_path / tiny_run.name
    shutil.copytree(tiny_run, dst)
    return dst
