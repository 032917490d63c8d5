"""train.fork: branching a run from a parent's saved state continues the very same networks."""

from __future__ import annotations

import copy

import pandas as pd
import pytest

import grokscope as gs
from grokscope.api import Run
from grokscope.errors import UserError

PARENT = {"preset": "gromov", "name": "parent", "task": {"p": 23, "frac": 0.5}, "model": {"d_hidden": 64},
          "optim": {"lr": 2e-2}, "train": {"steps": 300}, "eval": {"points": 30},
          "checkpoint": {"count": 4, "states": True, "flush_seconds": 0.01}, "members": {"seeds": [0, 1]}}


def rows(r: Run) -> pd.DataFrame:
    return r.metrics().sort_values(["step", "member", "metric"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def parent(tmp_path_factory):
    return gs.run(PARENT, out=tmp_path_factory.mktemp("parent"), device="cpu")


def branch(parent: Run, step: int, **changes) -> dict:
    d = copy.deepcopy(PARENT)
    d["name"] = "branch"
    d["checkpoint"]["states"] = False
    d["train"]["fork"] = {"run": str(parent.path), "step": step}
    for k, v in changes.items():
        d[k] = {**d.get(k, {}), **v}
    return d


def fork_step(parent: Run) -> int:
    steps = [s for s in parent.checkpoint_steps() if 0 < s < 300]
    assert steps, parent.checkpoint_steps()
    return steps[len(steps) // 2]


def test_an_unchanged_branch_reproduces_the_parent(parent, tmp_path):
    t = fork_step(parent)
    b = gs.run(branch(parent, t), out=tmp_path, device="cpu")
    pd.testing.assert_frame_equal(rows(b), rows(parent), check_exact=True)
    assert [{k: e[k] for k in ("t_mem", "t_grok", "budget")} for e in b.events] == \
           [{k: e[k] for k in ("t_mem", "t_grok", "budget")} for e in parent.events]


def test_arms_branch_from_the_parent_member_with_their_seed(parent, tmp_path):
    t = fork_step(parent)
    b = gs.run(branch(parent, t, members={"seeds": [1], "vary": {"optim.wd": [1.0, 0.0]}}), out=tmp_path, device="cpu")
    got, ref = rows(b), rows(parent)
    ref1 = ref[ref.member == 1].drop(columns="member").reset_index(drop=True)
    same = got[got.member == 0].drop(columns="member").reset_index(drop=True)
    pd.testing.assert_frame_equal(same, ref1, check_exact=True)  # wd 1.0 = the parent's own setting
    off = got[got.member == 1]
    before = off[off.step <= t].drop(columns="member").reset_index(drop=True)
    pd.testing.assert_frame_equal(before, ref1[ref1.step <= t].reset_index(drop=True), check_exact=True)
    norm_after = off[(off.step == 300) & (off.metric == "norm/total")].value.item()
    assert norm_after > ref1[(ref1.step == 300) & (ref1.metric == "norm/total")].value.item()  # no decay: larger


def test_a_branch_killed_before_its_first_state_resumes_from_the_parent(parent, tmp_path):
    t = fork_step(parent)
    d = branch(parent, t)
    d["checkpoint"]["flush_seconds"] = 1e9  # no resume state before the stop

    class Stop(Exception):
        pass

    def stop(step, values):
        raise Stop

    with pytest.raises(Stop):
        gs.run(d, out=tmp_path, device="cpu", on_eval=stop)
    (path,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert not (path / "state.pt").exists()
    b = gs.resume(path, device="cpu")
    pd.testing.assert_frame_equal(rows(b), rows(parent), check_exact=True)


@pytest.mark.parametrize("change,match", [
    ({"train": {"fork": {"step": 2}}}, "no saved state at step 2"),
    ({"members": {"seeds": [5]}}, "no member with seed 5"),
    ({"task": {"frac": 0.6}}, "task differs"),
    ({"model": {"d_hidden": 32}}, "other parameters or shapes"),
])
def test_bad_forks_are_one_line_errors_and_write_nothing(parent, tmp_path, change, match):
    d = branch(parent, fork_step(parent))
    for k, v in change.items():
        if k == "train":
            d["train"]["fork"].update(v["fork"])
        else:
            d[k] = {**d[k], **v}
    with pytest.raises(UserError, match=match):
        gs.run(d, out=tmp_path, device="cpu")
    assert not any(tmp_path.iterdir())
