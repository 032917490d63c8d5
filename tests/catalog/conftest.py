"""Fixtures for the catalog and report tests: tiny real runs, synthetic run and sweep dirs."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from catalog_synth import write_sweep

TINY = {"name": "tiny", "task": {"name": "modular", "op": "add", "p": 13, "frac": 0.5},
        "model": {"name": "mlp", "d_embed": 8, "d_hidden": 32, "act": "gelu"},
        "optim": {"lr": 1e-2, "wd": 1.0}, "train": {"steps": 120}, "eval": {"points": 20},
        "checkpoint": {"count": 0}}


@pytest.fixture(scope="session")
def real_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two real runs: one with wd packed per member (2 wd x 2 seeds), one plain (2 seeds, another p)."""
    from grokscope import api

    root = tmp_path_factory.mktemp("real") / "runs"
    packed = copy.deepcopy(TINY)
    packed["members"] = {"seeds": 2, "vary": {"optim.wd": [0.1, 2.0]}}
    api.run(packed, out=root, threads=1)
    plain = copy.deepcopy(TINY)
    plain["task"]["p"] = 11
    plain["members"] = {"seeds": 2}
    api.run(plain, out=root, threads=1)
    return root


@pytest.fixture
def sweep_dir(tmp_path: Path) -> Path:
    """A synthetic 2-axis sweep (wd x p, 2 seeds packed per run), written as the sweep engine would."""
    return write_sweep(tmp_path / "sw")
