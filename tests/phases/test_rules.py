"""Closed-loop rules: a rule on a synthetic signal fires at the step computed independently, once per member,
and a run killed with kill -9 after the firing resumes without firing again (the rule state is in the resume
state), its metrics equal to an uninterrupted run's; the action registry and its config checks."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import grokscope
from grokscope.config import load_config
from grokscope.config_phases import OnAlarmRule
from grokscope.errors import UserError
from grokscope.train.actions import ACTIONS, register_action
from grokscope.train.rules import Rules, window_slope
from grokscope.train.setup import build
from smoke.helpers import popen, run_dirs, wait_for

PLUGIN = Path(__file__).resolve().parents[1] / "plugins" / "synthetic_signal.py"


def synth(step: float) -> float:
    """The plugin's signal (tests/plugins/synthetic_signal.py), restated: 0 up to step 200, then -0.01 per step."""
    return 0.0 if step <= 200 else -0.01 * (step - 200)


RULE = {"name": "drop", "metric": "synth/x", "stat": "slope", "window": 50, "op": "<", "threshold": -0.003,
        "hold": 3, "actions": [{"action": "scale_lr", "factor": 0.5}]}
EVERY, STEPS = 10, 1000


def expected_firing(every: int = EVERY) -> int:
    """Brute force from the definition: np.polyfit slope over (t-50, t], three evaluations in a row below -0.003."""
    streak = 0
    for t in range(0, STEPS + 1, every):
        pts = [s for s in range(0, t + 1, every) if s > t - 50]
        slope = np.polyfit(pts, [synth(s) for s in pts], 1)[0] if len(pts) >= 2 else np.nan
        streak = streak + 1 if slope < -0.003 else 0
        if streak == 3:
            return t
    raise AssertionError("never fires")


def test_rule_fires_once_at_the_computed_step() -> None:
    rules = Rules([OnAlarmRule(**RULE)], M=2, groups={}, phase_names=None)
    fake = type("S", (), {})()
    fake.controls = type("C", (), {"lr_scale": np.ones(2), "changed": lambda self: None})()
    steps: list[int] = []
    fired = []
    for t in range(0, 1000, EVERY):
        steps.append(t)
        hist = np.array([[synth(s)] * 2 for s in steps])
        fired += rules.on_eval(fake, t, steps, lambda name, h=hist: h, {}, [True, False])
    assert [(e["step"], e["member"]) for e in fired] == [(expected_firing(), 0)] == [(240, 0)]
    assert fake.controls.lr_scale.tolist() == [0.5, 1.0]
    assert rules.events()["fired/drop"] == [240, None]
    assert window_slope(np.array([0, 10, 20]), np.array([0.0, 1.0, 2.0]), 20, 50) == pytest.approx(0.1)


def test_rule_config_checks_and_registry() -> None:
    base = {"preset": "quick", "task": {"p": 13}, "model": {"d_hidden": 8}}
    with pytest.raises(UserError, match="exactly one of metric, alarm"):
        load_config({**base, "intervene": {"on_alarm": [{k: v for k, v in RULE.items() if k != "metric"}]}})
    bad = {**RULE, "actions": [{"action": "warp_speed"}]}
    with pytest.raises(ValueError, match="unknown action 'warp_speed'"):
        build(load_config({**base, "intervene": {"on_alarm": [bad]}}), torch.device("cpu"))
    bad = {**RULE, "actions": [{"action": "freeze_group", "group": "nope"}]}
    with pytest.raises(ValueError, match="unknown group 'nope'"):
        build(load_config({**base, "intervene": {"on_alarm": [bad]}}), torch.device("cpu"))
    bad = {**RULE, "actions": [{"action": "set_replay", "fraction": 0.1, "source": "add"}]}
    with pytest.raises(ValueError, match="not a phase of this run"):
        build(load_config({**base, "intervene": {"on_alarm": [bad]}}), torch.device("cpu"))

    @register_action("test_noop")
    def noop(s, m, note: str = "") -> str:
        return note
    try:
        build(load_config({**base, "intervene": {"on_alarm": [{**RULE, "actions": [{"action": "test_noop"}]}]}}),
              torch.device("cpu"))
        with pytest.raises(ValueError, match="already registered"):
            register_action("test_noop")(noop)
    finally:
        ACTIONS.pop("test_noop")


TOML = f"""
preset = "quick"
name = "quick"
task = {{ p = 13 }}
model = {{ d_hidden = 32 }}
train = {{ steps = {STEPS}, stop_on_grok = false }}
eval = {{ grid = "linear", every = {EVERY}, probes = ["accuracy", "test_synthetic_signal"], plugins = ["{PLUGIN}"] }}
checkpoint = {{ flush_seconds = 0.2, count = 0 }}
members = {{ seeds = 2 }}

[[intervene.on_alarm]]
name = "drop"
metric = "synth/x"
stat = "slope"
window = 50
threshold = -0.003
hold = 3
actions = [{{ action = "scale_lr", factor = 0.5 }}, {{ action = "freeze_group", group = "embed" }}]
"""


@pytest.mark.slow
def test_rule_survives_kill_9_and_resume(tmp_path: Path) -> None:
    cfg_path = tmp_path / "rule.toml"
    cfg_path.write_text(TOML.replace("stop_on_grok = false", "stop_on_grok = 1e9"))
    proc = popen("run", cfg_path, "--threads", "1", "-q", "--out", tmp_path / "cut", log_dir=tmp_path / "log")
    try:
        run = wait_for(lambda: next(iter(run_dirs(tmp_path / "cut")), None), proc, what="the run directory")
        wait_for(lambda: (run / "state.pt").exists()
                 and json.loads((run / "meta.json").read_text())["steps_done"] >= expected_firing() + 100,
                 proc, timeout=300, what="a resume state past the firing")
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL, "the run finished before it could be killed"
    finally:
        if proc.poll() is None:
            proc.kill()
    grokscope.resume(run, threads=1, quiet=True)  # in this process: one interpreter start fewer
    firings = json.loads((run / "firings.json").read_text())
    assert [(f["step"], f["member"]) for f in firings] == [(expected_firing(), 0), (expected_firing(), 1)]
    ref = grokscope.run(load_config(cfg_path), out=tmp_path / "ref", threads=1, quiet=True)
    got = grokscope.load_run(run).metrics().sort_values(["step", "member", "metric"]).reset_index(drop=True)
    want = ref.metrics().sort_values(["step", "member", "metric"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    ev = grokscope.load_run(run).events
    assert [e["fired/drop"] for e in ev] == [expected_firing()] * 2 and ev[0]["fired/drop.n"] == 1
