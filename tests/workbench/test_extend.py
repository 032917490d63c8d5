"""Extending a finished run (``grokscope resume RUN --steps N``) equals an uninterrupted longer run on the shared
steps: a recorded extension of the same run (grokscope/extend.py)."""

from __future__ import annotations

import copy
import shutil

import pandas as pd
import pytest
from tests.hardening.cli_inproc import cli

import grokscope as gs
from grokscope.api import Run, extend
from grokscope.errors import UserError
from grokscope.train.status import RunInterrupted

SHORT, LONG = 80, 200
BASE = {"preset": "gromov", "name": "ext", "task": {"p": 23, "frac": 0.5}, "model": {"d_hidden": 64},
        "optim": {"lr": 2e-2}, "train": {"steps": SHORT}, "eval": {"points": 25},
        "checkpoint": {"count": 4, "flush_seconds": 0.01}, "members": {"seeds": [0, 1]}}


def cfg(steps: int) -> dict:
    d = copy.deepcopy(BASE)
    d["train"]["steps"] = steps
    return d


def rows(r: Run) -> pd.DataFrame:
    return r.metrics().sort_values(["step", "member", "metric"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    short = gs.run(cfg(SHORT), out=tmp_path_factory.mktemp("short"), device="cpu")
    long = gs.run(cfg(LONG), out=tmp_path_factory.mktemp("long"), device="cpu")
    return short, long


def copy_of(run: Run, tmp_path) -> Run:
    shutil.copytree(run.path, tmp_path / run.path.name)
    return Run(tmp_path / run.path.name)


@pytest.mark.slow
def test_extension_equals_an_uninterrupted_longer_run_on_shared_steps(pair, tmp_path):
    short, long = pair
    short = copy_of(short, tmp_path)
    before = set(rows(short).step)
    ext = extend(short.path, LONG, device="cpu")
    assert ext.path == short.path and ext.complete
    assert ext.config.train.steps == LONG and ext.meta["steps_done"] == LONG
    assert ext.meta["extensions"][-1] == {**ext.meta["extensions"][-1], "from_steps": SHORT, "to_steps": LONG,
                                          "continued_from": SHORT}
    got, ref = rows(ext), rows(long)
    shared = sorted(set(got.step) & set(ref.step))
    # after the old budget the extension evaluates on the longer run's own grid: every such step is shared
    assert {s for s in ref.step if s > SHORT} <= set(got.step)
    assert any(s > SHORT for s in shared) and any(s <= SHORT for s in shared)
    a = got[got.step.isin(shared)].reset_index(drop=True)
    b = ref[ref.step.isin(shared)].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_exact=True)  # bit-identical where the grids agree
    assert before <= set(got.step)  # the evals already recorded are kept
    # checkpoints after the old budget follow the longer run's schedule; the final weights are the same
    assert {s for s in long.checkpoint_steps() if s > SHORT} <= set(ext.checkpoint_steps())
    w1, w2 = ext.load_checkpoint(LONG)["params"], long.load_checkpoint(LONG)["params"]
    assert all((w1[k] == w2[k]).all() for k in w2)
    assert [e["budget"] for e in ext.events] == [LONG] * len(long.events)
    assert [(e["t_mem"], e["t_grok"]) for e in ext.events] == [(e["t_mem"], e["t_grok"]) for e in long.events]
    assert not (ext.path / "state.pt").exists() and (ext.path / "curves.png").is_file()
    assert sorted(p.name for p in ext.dir.ckpt_dir.glob("state_*.pt")) == [f"state_{LONG:08d}.pt"]  # extendable again


@pytest.mark.slow
def test_an_interrupted_extension_resumes_to_the_same_metrics(pair, tmp_path):
    short, long = pair
    short = copy_of(short, tmp_path)

    def stop(step, values):
        if step > (SHORT + LONG) // 2:
            raise KeyboardInterrupt

    with pytest.raises(RunInterrupted):
        extend(short.path, LONG, device="cpu", on_eval=stop)
    assert Run(short.path).status == "interrupted" and Run(short.path).config.train.steps == LONG
    done = gs.resume(short.path, device="cpu")
    assert done.complete and len(done.meta["extensions"]) == 1
    got, ref = rows(done), rows(long)
    shared = sorted(set(got.step) & set(ref.step))
    pd.testing.assert_frame_equal(got[got.step.isin(shared)].reset_index(drop=True),
                                  ref[ref.step.isin(shared)].reset_index(drop=True), check_exact=True)


def test_extension_mistakes_are_one_line(capsys, pair):
    short, _ = pair
    with pytest.raises(UserError, match="not beyond"):
        extend(short.path, 50, device="cpu")
    res = cli(capsys, "resume", short.path, "--steps", "60", "-q")
    assert res.code == 2 and "not beyond" in res.err and len(res.err.strip().splitlines()) == 1


def test_a_run_whose_members_all_stopped_is_not_extended(pair, tmp_path):
    short = copy_of(pair[0], tmp_path)
    short.dir.update_meta(steps_done=SHORT - 10)  # as train.stop_on_grok leaves it: complete before the budget
    with pytest.raises(UserError, match="stop_on_grok"):
        extend(short.path, LONG, device="cpu")
