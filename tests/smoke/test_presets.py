"""Every preset trains: a few steps of each through ``gs.run``, with a tiny evaluation grid and no checkpoints;
every metric of every member exists at every evaluation and is finite."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import grokscope as gs
from grokscope.presets import PRESETS

STEPS = 4
OVERRIDES = [f"train.steps={STEPS}", "eval.grid=linear", "eval.every=2", "checkpoint.count=0",
             "train.stop_on_grok=null"]
METRICS = {"train/loss", "train/acc", "test/loss", "test/acc", "norm/total", "norm/sq", "logit/scale",
           "logit/sc_frac", "logit/sat_frac"}
REGRESSION_METRICS = {"train/loss", "train/acc", "train/err", "test/loss", "test/acc", "test/err", "norm/total",
                      "norm/sq", "mode/0"}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_trains_a_few_steps(name: str, tmp_path: Path) -> None:
    run = gs.run(name, overrides=OVERRIDES, out=tmp_path, threads=1)
    assert run.complete and run.meta["steps_done"] == STEPS
    cfg = run.config
    n_members = len(cfg.member_table())
    df = run.metrics()
    assert sorted(df.step.unique().tolist()) == [0, 2, 4]
    regression = cfg.task.name == "teacher"  # real targets: relative errors and mode amplitudes, no class logits
    want = REGRESSION_METRICS if regression else METRICS
    if "logits" not in cfg.eval.probes:  # a preset with its own probe list (tian-x2): no logit diagnostics asked
        want = {m for m in want if not m.startswith("logit/")}
    assert want <= set(df.metric)
    counts = df.groupby(["step", "metric"]).size()
    assert (counts == n_members).all(), "one value per member per metric per evaluation"
    # norm/angle_mem (the angle of θ from θ at T_mem) is NaN until T_mem is known, and the update-Gram ratios
    # σ1/σ2, σ2/σ3 until there are enough updates for those singular values, by their definitions
    known = df[(df.metric != "norm/angle_mem") & ~df.metric.str.startswith("update_gram/")]
    assert all(math.isfinite(v) for v in known.value), known[~known.value.map(math.isfinite)]
    moved = df[df.metric == "train/loss"].pivot_table(index="step", columns="member", values="value")
    assert (moved.loc[0] != moved.loc[STEPS]).all(), "training changed every member's loss"
    assert len(run.events) == n_members
