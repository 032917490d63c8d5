"""``norm-delay-law``: every stage (control, clamp, ρ × lr, one-shot rescale, same-state fork) and its claim rows,
on a small scale (the quick preset's MLP, d_hidden 64, at p = 31, 2 seeds: ~75 s on one core, 19 runs over five
stages) and the quick scale itself. Both are `long` (``pytest --run-long``): the default suite is at its time budget.
The stages' logic without training is tested in ``tests/unit/test_norm_delay_law_specs.py``."""

from __future__ import annotations

import math

import pytest

from grokscope.experiments import load_all
from grokscope.experiments.run import run_experiment

SMALL = {"preset": "quick", "p": 31, "frac": 0.6, "lr": 2e-2, "seeds": 2, "eval_points": 40, "checkpoints": 20,
         "control_steps": 800, "clamp_steps": 1000, "fork_steps": 1000, "rhos": [0.9, 1.0, 1.15],
         "matrix_rhos": [1.0, 1.15], "lr_factors": [1, 2], "once_rhos": [0.7, 1.3], "fork_rho": 1.15,
         "model": {"d_hidden": 64}}  # T_mem ~41, T_grok ~430-490 free


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    exp = load_all().get("norm-delay-law")
    mp = pytest.MonkeyPatch()
    mp.setitem(exp.scales, "small", SMALL)
    try:
        yield run_experiment(exp, "small", tmp_path_factory.mktemp("ndl"), workers=1)
    finally:
        mp.undo()


@pytest.mark.long
def test_every_stage_trains_and_every_row_has_a_verdict(small):
    doc = small.to_json()
    assert set(doc["stages"]) == {"control", "clamp", "matrix", "rescale", "fork"}
    assert doc["stages"]["clamp"]["members"] == 3 * 2 and doc["stages"]["fork"]["members"] == 4 * 2
    rows = {r["claim"]: r for r in doc["rows"]}
    assert len(rows) == 11
    assert all(r["verdict"] for r in rows.values())
    assert all(r["rule"] for r in rows.values())


@pytest.mark.long
def test_the_fork_branches_after_memorisation_and_before_grokking(small):
    from grokscope.experiments.norm_delay_law import fork_point

    _, step = fork_point(small.ctx)
    control = small.ctx.stages["control"].members
    assert max(m["t_mem"] for m in control) <= step < min(m["t_grok"] for m in control)
    fork = small.ctx.stages["fork"]
    for m in fork.members:  # every branch has whole curves: its T_mem is the parent's
        assert m["t_mem"] is not None and m["t_mem"] <= step


@pytest.mark.long
def test_clamped_arms_grok_at_the_held_norm(small):
    """A sustained clamp from step 0 holds ‖W‖ at ρ·W_c: the norm at T_grok is the held one."""
    from grokscope.experiments.toy import measure_wc

    w_c, _ = measure_wc(small.ctx)
    st = small.ctx.stages["clamp"]
    for rho in SMALL["rhos"]:
        rows = [m for m in st.where(arm=f"rho{rho:g}") if m["t_grok"] is not None]
        for v in st.metric_at(rows, "norm/total"):
            assert math.isclose(v, rho * round(w_c, 4), rel_tol=1e-5)


@pytest.mark.long
def test_quick_scale(tmp_path):
    doc = run_experiment(load_all().get("norm-delay-law"), "quick", tmp_path).to_json()
    by = {r["claim"]: r["verdict"] for r in doc["rows"]}
    alpha = [v for c, v in by.items() if c.startswith("delay law")]
    assert alpha == ["reproduced"], by
