"""A tiny two-member run shared by the workbench tests (gromov p=23: groks within a few hundred steps)."""

from __future__ import annotations

import pytest

import grokscope as gs

TINY = {"preset": "gromov", "name": "wb", "task": {"p": 23, "frac": 0.5}, "model": {"d_hidden": 64},
        "optim": {"lr": 2e-2}, "train": {"steps": 200}, "eval": {"points": 25},
        "checkpoint": {"count": 3, "flush_seconds": 0.01}, "members": {"seeds": [0, 1]}}


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    return gs.run(TINY, out=tmp_path_factory.mktemp("wb_runs"), device="cpu")


@pytest.fixture(scope="session")
def other_run(tmp_path_factory):
    cfg = {**TINY, "optim": {"lr": 1e-2}, "train": {"steps": 120}, "members": {"seeds": [0]}}
    return gs.run(cfg, out=tmp_path_factory.mktemp("wb_runs2"), device="cpu")
