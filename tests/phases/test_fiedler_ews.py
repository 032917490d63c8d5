"""``reproduce fiedler-ews``: the series kernels on known inputs, the tiny scale end to end (the framework:
detect stage, fork + phase switch + steering rules, claim rows), and the quick scale (``long``)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from grokscope.experiments.base import load_all
from grokscope.experiments.claims import VERDICTS
from grokscope.experiments.fiedler_rows import climb_step, naive_ar1, phase_rate
from grokscope.experiments.run import run_experiment


def test_naive_ar1_is_saturated_by_a_trend_and_the_kernels_on_known_series() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(400.0)
    ramp = 0.05 * t + rng.normal(0, 0.1, t.size)  # papers/03 §11: a ramp alone gives naive AR1 ≈ 0.99
    ar1 = naive_ar1(ramp, 200)
    assert np.isnan(ar1[:2]).all() and np.nanmedian(ar1[200:]) > 0.95
    noise = naive_ar1(rng.normal(0, 1, 400), 200)
    assert abs(np.nanmedian(noise[200:])) < 0.2
    steps = np.arange(0, 400, 10)
    series = np.where(steps < 100, 0.0, 0.9)
    series[:10:2] = 0.3  # baseline mean 0.15: the first step >= 100 above 0.25
    assert climb_step(steps, series, 100, 0.1) == 100
    assert climb_step(steps, np.zeros(steps.size), 100, 0.1) is None
    assert phase_rate(steps, 2.0 * steps, 0, 390) == pytest.approx(2.0)
    assert math.isnan(phase_rate(steps, 2.0 * steps, 500, 600))


def test_stage_specs_build_valid_runs(tmp_path: Path) -> None:
    """Without training: the detect and switch specs are valid configs; the steered branch builds both rules and
    the mul phase (the fork is left out: there is no parent here)."""
    import torch

    from grokscope.config import load_config
    from grokscope.experiments.base import Context, StageResult
    from grokscope.experiments.fiedler_ews import detect_spec, switch_spec
    from grokscope.train.setup import build

    exp = load_all().get("fiedler-ews")
    ctx = Context(exp, "tiny", exp.params("tiny"), tmp_path)
    det = detect_spec(ctx)["base"]
    assert det["checkpoint"]["at"] == [ctx.params["fork_step"]] and det["eval"]["probes"] == ["accuracy", "fiedler"]
    load_config(det)
    ctx.stages["detect"] = StageResult("detect", tmp_path, [{"path": str(tmp_path / "parent"), "values": {}}])
    spec = switch_spec(ctx)
    assert spec["base"]["train"]["fork"] == {"run": str(tmp_path / "parent"), "step": ctx.params["fork_step"]}
    steered = {**spec["base"], "train": {**spec["base"]["train"], "fork": None},
               "intervene": {"on_alarm": spec["arms"]["steered"]["intervene.on_alarm"]}}
    s = build(load_config(steered), torch.device("cpu"))
    assert s.phases.names == ["add", "mul"] and [r.name for r in s.rules.rules] == ["steer", "escalate"]
    assert s.rules.rules[0].hold == 2 and s.rules.rules[0].from_step == ctx.params["fork_step"] + 1
    assert s.model.groups["hidden"] == ["W_in"]  # fc1, what the escalation freezes


@pytest.mark.long
def test_tiny_scale_end_to_end(tmp_path: Path) -> None:
    """The whole framework in ~10 s of training, but three process starts: over the default suite's budget."""
    exp = load_all().get("fiedler-ews")
    rows = run_experiment(exp, "tiny", tmp_path, workers=1).to_json()["rows"]
    assert all(r["verdict"] in VERDICTS for r in rows) and len(rows) == 16
    text = json.dumps(rows).lower()
    assert "detrend" in text and "steer" in text
    runs = sorted((tmp_path / "fiedler-ews" / "switch" / "runs").iterdir())
    cfgs = [json.loads((r / "config.json").read_text()) for r in runs]
    assert sorted(len(c["intervene"]["on_alarm"]) for c in cfgs) == [0, 2]
    assert all(c["phases"][0]["at"] == exp.scales["tiny"]["fork_step"] for c in cfgs)
    import grokscope

    m = grokscope.load_run(runs[0]).metrics()
    after = m[m.step > exp.scales["tiny"]["fork_step"]]
    assert {"task/add/test/acc", "task/mul/test/acc", "graph/fiedler"} <= set(after.metric)


@pytest.mark.long
def test_quick_scale_writes_detrended_and_steering_rows(tmp_path: Path) -> None:
    rows = run_experiment(load_all().get("fiedler-ews"), "quick", tmp_path).to_json()["rows"]
    text = json.dumps(rows).lower()
    assert "detrend" in text and "steer" in text
