"""The ``logit-mediation`` rerun's stage specs and analysis pieces, from synthetic earlier-stage results (no
training: the end-to-end runs are the `long` tests in tests/experiments/test_logit_mediation_rerun.py)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import grokscope.experiments.logit_mediation_rerun as lmr
from grokscope.experiments import load_all
from grokscope.experiments.base import Context, StageResult
from grokscope.sweep import load_spec


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Context:
    wc = {"control": 40.0, "mse-control": 25.0}
    monkeypatch.setattr(lmr, "measure_wc", lambda ctx, stage="control": (wc[stage], [wc[stage]]))
    exp = load_all().get("logit-mediation")
    c = Context(exp, "quick", exp.params("quick"), tmp_path)
    for name in ("control", "mse-control"):
        c.stages[name] = StageResult(name, tmp_path, [])
    return c


def test_ce_cells_cover_baseline_sweep_and_grid_once(ctx):
    cells = lmr.ce_cells(ctx.params)
    assert len(cells) == len(set(cells))
    assert (1.0, 1.0) in cells and all((1.15, t) in cells for t in ctx.params["taus"])
    grid = {(r, t) for r in ctx.params["grid_rhos"] for t in ctx.params["grid_taus"]}
    assert grid <= set(cells) and len(cells) == len(grid | {(1.15, t) for t in ctx.params["taus"]})


def test_mediation_arms_clamp_at_rho_wc_and_divide_by_tau(ctx):
    spec = lmr.mediation_spec(ctx)
    arms = spec["arms"]
    assert arms["rho1.15_tau1.3"] == {"intervene.clamp.rho": 1.15, "intervene.clamp.w_c": 40.0,
                                      "intervene.clamp.from_step": 0, "loss.tau": 1.3}
    assert spec["base"]["loss"]["name"] == "ce"
    assert len(load_spec(spec).cells) == len(arms) * ctx.params["seeds"]


def test_mse_arms_clamp_around_the_mse_controls_own_wc(ctx):
    spec = lmr.mse_spec(ctx)
    assert spec["base"]["loss"]["name"] == "mse"
    assert set(spec["arms"]) == {"rho1_tau1", "rho1.15_tau1"}
    assert {a["intervene.clamp.w_c"] for a in spec["arms"].values()} == {25.0}
    assert lmr.mse_control_spec(ctx)["base"]["loss"]["name"] == "mse"


def test_recovery_of_a_fully_mediated_delay_is_one():
    """If T depends on L only, matching L at ρ_up recovers the whole norm-induced delay (paper 1's definition)."""
    from grokscope.laws.recovery import recovery_fraction

    l_sweep = np.array([30.0, 26.0, 22.0, 18.0])  # τ raised: L falls
    t_of_l = lambda ell: 100 * np.exp(0.1 * ell)  # noqa: E731
    l0 = 22.0
    r = recovery_fraction(t_of_l(l0), t_of_l(30.0), l0, l_sweep, t_of_l(l_sweep))
    assert r == pytest.approx(1.0)
    # a direct norm effect the temperature cannot undo: the sweep sits 1.5x higher -> recovery below 1
    assert recovery_fraction(t_of_l(l0), 1.5 * t_of_l(30.0), l0, l_sweep, 1.5 * t_of_l(l_sweep)) < 0.9


def test_cell_scale_of_no_members_is_nan(ctx):
    assert math.isnan(lmr.cell_scale(ctx, "control", [], 100.0))
