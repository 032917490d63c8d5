"""``first-passage``: the analysis on synthetic trajectories that follow (or break) the law, the stage specs, and
the reproduction itself (``tiny``: the framework; ``quick``: `long`, run with ``--run-long``)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from grokscope.experiments import first_passage as fp
from grokscope.experiments import load_all
from grokscope.experiments.base import Context, StageResult
from grokscope.experiments.run import run_experiment

KAPPA, V_STAR, T_MEM = 0.3, 800.0, 50


class FakeStage(StageResult):
    """A finished stage from synthetic member rows and ``norm/V`` curves (no training, no catalog)."""

    def __init__(self, name: str, members: list[dict], curves: dict) -> None:
        super().__init__(name, Path("."), members)
        self._curves = curves

    def curves(self, metric: str) -> dict:
        assert metric == "norm/V"
        return self._curves


def law_member(run: str, m: int, lr: float, wd: float, v_mem: float, arm: str | None = None,
               kappa: float = KAPPA, noise: float = 0.0, rng: np.random.Generator | None = None) -> tuple[dict, tuple]:
    """A member whose V contracts at 2κηλ after T_mem and groks at its first passage below V★ (eval every 5 steps)."""
    steps = np.arange(0, 20001, 5, dtype=float)
    v = np.where(steps < T_MEM, v_mem, v_mem * np.exp(-2 * kappa * lr * wd * (steps - T_MEM)))
    if noise:
        v = v * np.exp(noise * rng.standard_normal(len(v)))
    t_grok = int(steps[np.argmax(v < V_STAR)])
    values = {"seed": m} if arm is None else {"arm": arm, "seed": m}
    row = {"run_id": run, "member": m, "seed": m, "lr": lr, "wd": wd, "t_mem": T_MEM, "t_grok": t_grok,
           "censored": False, "values": values, "final_norm_angle_mem": 0.5}
    return row, (steps, v)


def stages(v_mems=(2000.0, 2600.0, 3200.0, 4000.0), kappa_held: float = KAPPA, arms_grok: bool = False):
    rng = np.random.default_rng(0)
    rows, curves = [], {}
    for arm in ("control", "freeze", "nowd"):
        for i, vm in enumerate(v_mems):
            r, c = law_member(arm, i, 1e-2, 1.0, vm, arm, noise=0.002, rng=rng)
            if arm != "control" and not arms_grok:
                r.update(t_grok=None, censored=True)
            rows.append(r)
            curves[(arm, i)] = c
    control = FakeStage("control", rows, curves)
    rows, curves = [], {}
    params = {"lr": 1e-2, "wd": 1.0, "lr_factors": [0.5, 1, 2], "wd_factors": [0.5, 1, 2]}
    for k, (lr, wd) in enumerate(fp.grid_cells(params)):
        for i, vm in enumerate(v_mems[:3]):
            r, c = law_member(f"g{k}", i, lr, wd, vm, kappa=kappa_held, noise=0.002, rng=rng)
            rows.append(r)
            curves[(f"g{k}", i)] = c
    return control, FakeStage("grid", rows, curves)


def analyse(control: StageResult, grid: StageResult) -> dict[str, dict]:
    exp = load_all().get("first-passage")
    params = {**exp.params("quick"), "grid_steps": 20000, "arm_steps": 20000, "n_boot": 200}
    ctx = Context(exp, "quick", params, Path("."), {"control": control, "grid": grid})
    return {r.claim: r.to_json() for r in exp.analyse(ctx)}


def row(rows: dict, start: str) -> dict:
    (hit,) = [r for c, r in rows.items() if c.startswith(start)]
    return hit


def test_trajectories_recover_kappa_and_v_mem():
    control, _ = stages()
    ts = fp.trajectories(control, control.where(arm="control"))
    assert len(ts) == 4
    for t in ts:
        assert t["kappa"] == pytest.approx(KAPPA, rel=0.02) and t["r2"] > 0.99
    assert sorted(t["v_mem"] for t in ts) == pytest.approx([2000.0, 2600.0, 3200.0, 4000.0], rel=0.01)


def test_law_predicts_held_out_cells_and_beats_the_scaling_baseline():
    rows = analyse(*stages())
    assert row(rows, "MAPE of the calibrated law")["measured"]["value"] < 3.0  # only the 5-step eval resolution
    assert row(rows, "MAPE of the calibrated law")["verdict"] == "reproduced"
    ratio = row(rows, "the law against")
    assert ratio["measured"]["value"] < 0.2 and ratio["verdict"] == "reproduced"  # V_mem varies: scaling misses it
    for name in ("aggregate η-exponent", "aggregate λ-exponent"):
        assert row(rows, name)["measured"]["value"] == pytest.approx(1.0, abs=0.05)
    assert row(rows, "aggregate η-exponent")["verdict"] == "reproduced"  # the CI holds 1.02
    assert row(rows, "κ = ")["measured"]["value"] == pytest.approx(KAPPA, rel=0.02)
    assert row(rows, "range of the held-out delays")["measured"]["value"] > 10


def test_a_kappa_that_changes_off_the_calibration_cell_is_caught():
    rows = analyse(*stages(kappa_held=0.6))  # held-out cells contract twice as fast: delays are half the forecast
    mape = row(rows, "MAPE of the calibrated law")
    assert mape["measured"]["value"] > 50 and mape["verdict"] == "contradicted"


def test_arm_rows_follow_the_grok_fractions():
    rows = analyse(*stages())
    assert row(rows, "norm frozen")["verdict"] == "reproduced" and row(rows, "norm frozen")["measured"]["value"] == 0
    assert row(rows, "the paired free controls")["verdict"] == "reproduced"
    rows = analyse(*stages(arms_grok=True))
    assert row(rows, "norm frozen")["verdict"] == "contradicted"
    assert row(rows, "weight decay removed")["verdict"] == "contradicted"


def test_grid_spec_packs_cells_of_similar_length_together():
    exp = load_all().get("first-passage")
    p = exp.params("quick")
    spec = fp.grid_spec(Context(exp, "quick", p, Path(".")))
    cells = [(a["optim.lr"], a["optim.wd"]) for a in spec["arms"].values()]
    rates = [lr * wd for lr, wd in cells]
    assert rates == sorted(rates) and len(rates) == 7  # every factor pair but the calibration cell and ηλ × 0.25
    assert (p["lr"], p["wd"]) not in cells
    assert spec["member_cap"] == 2 * p["seeds"]


@pytest.mark.long  # two stages, four packed runs: ~1.5 min on the contended 2-core machine
def test_tiny_scale_runs_every_stage(tmp_path):
    doc = run_experiment(load_all().get("first-passage"), "tiny", tmp_path, workers=1).to_json()
    assert set(doc["stages"]) == {"control", "grid"}
    assert doc["stages"]["control"]["members"] == 3 * 2
    assert len(doc["rows"]) == 11 and all(r["verdict"] and r["rule"] for r in doc["rows"])


@pytest.mark.long
def test_quick_scale(tmp_path):
    doc = run_experiment(load_all().get("first-passage"), "quick", tmp_path).to_json()
    by = {r["claim"]: r for r in doc["rows"]}
    assert row(by, "per-trajectory log-linear fit")["measured"]["value"] > 0.8
    assert math.isfinite(float(row(by, "MAPE of the calibrated law")["measured"]["value"]))
