"""Kernels and analyses of the diagnostic papers' experiments (head-reinit, lar-grokking, dmd-localize,
feature-lottery) on tiny tensors and synthetic stages with known answers."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from grokscope.detect import localize as loc
from grokscope.experiments import head_reinit as hr
from grokscope.experiments import lottery_kernels as lk
from grokscope.experiments.base import Context, StageResult
from grokscope.experiments.claims import Estimate
from grokscope.experiments.lar_grokking import lar_at
from grokscope.probes.margin_quantiles import margins


class FakeStage(StageResult):
    def __init__(self, members: list[dict], curves: dict) -> None:
        super().__init__("arms", Path("."), members)
        self._curves = curves

    def curves(self, metric: str) -> dict:
        return self._curves.get(metric, {})


def test_regime_rule_and_paired_effect_size():
    assert hr.classify_regime(10.0, 0.03, 1.0, lam_c=0.02) == "collapse"
    assert hr.classify_regime(0.05, 0.99, 0.9, lam_c=0.02) == "developmental grokking"
    assert hr.classify_regime(0.001, 0.1, 0.995, lam_c=0.02) == "memorisation"  # identical heads below λ_c: no collapse
    assert hr.expected_regime(0.001, 0.02, 10) == "memorisation" and hr.expected_regime(10, 0.02, 10) == "collapse"
    assert hr.paired_d(np.array([-1.0, -2.0, -3.0])) == pytest.approx(-2.0)
    assert math.isnan(hr.paired_d(np.array([1.0])))
    curve = (np.array([0.0, 10, 20, 30]), np.array([9.0, 1.0, 3.0, 2.0]))
    assert hr.peak_after(curve, 10) == 3.0  # the peak before the intervention step is not counted
    rule = hr.contains_zero()
    assert rule(0.0, Estimate(0.01, -0.02, 0.03)) == "reproduced"
    assert rule(0.0, Estimate(0.05, 0.02, 0.08)) == "contradicted"


def test_head_reinit_analysis_reads_the_paired_differences():
    rng = np.random.default_rng(0)
    members, sig, sim, acc = [], {}, {}, {}
    steps = np.array([0.0, 100, 200, 300])
    for arm, seed in ((a, s) for a in "ABC" for s in range(8)):
        peak = 0.10 + 0.01 * seed + {"A": 0.0, "B": -0.05, "C": 0.0}[arm] + 0.005 * rng.standard_normal()
        members.append({"run_id": arm, "member": seed, "values": {"arm": arm, "seed": seed}})
        sig[(arm, seed)] = (steps, np.array([0.5, peak, peak / 2, 0.0]))  # the step-0 value is before the surgery
        sim[(arm, seed)], acc[(arm, seed)] = (steps, np.full(4, 0.9)), (steps, np.full(4, 1.0))
    arms = FakeStage(members, {hr.SIGMA: sig, hr.SIM: sim, "test/acc": acc})
    reg = FakeStage([{"run_id": "R", "member": 0, "values": {"optim.wd": 10.0, "seed": 0}}],
                    {hr.SIM: {("R", 0): (steps, np.full(4, 1.0))}, "test/acc": {("R", 0): (steps, np.full(4, 0.03))}})
    exp = hr.HeadReinit()
    p = {**exp.params("quick"), "at_step": 50, "n_boot": 200}
    rows = {r.claim: r for r in exp.analyse(Context(exp, "quick", p, Path("."), {"arms": arms, "regimes": reg}))}
    ba = rows["peak σ_H: B − A (paired)"]
    assert ba.measured.value == pytest.approx(-0.05, abs=0.01) and ba.verdict in ("reproduced", "shape reproduced")
    assert rows["peak σ_H: C − A (matched clip vs control) is not significant"].verdict == "reproduced"
    assert rows["peak σ_H: B − A, paired Cohen d"].verdict == "reproduced"
    regime = [r for c, r in rows.items() if c.startswith("the regime classifier")][0]
    assert regime.measured.value == 1.0 and regime.measured.n == 9


def test_lar_at_and_margins():
    assert lar_at((np.array([0.0, 10, 20]), np.array([0.5, 0.6, 0.7])), 15) == 0.6
    assert math.isnan(lar_at((np.array([0.0]), np.array([0.5])), None))
    z = torch.tensor([[[2.0, 1.0, 0.5], [0.0, 3.0, 1.0]]])
    assert torch.allclose(margins(z, torch.tensor([[0, 2]])), torch.tensor([[1.0, -2.0]], dtype=torch.float64))


def test_residual_peaks_at_a_regime_change_and_alarm_rates():
    t = np.arange(120)
    u = (np.arange(8) + 0.5) / 8
    traj = np.where(t[:, None] < 60, 0.01 * t[:, None] + u, 0.6 + u * (1 + 0.02 * np.maximum(t[:, None] - 60, 0) ** 1.5))
    steps, res = loc.residual_curve(t * 10.0, traj, window=12, delay=2, rank=3)
    peak = steps[int(np.argmax(res))]
    assert 600 <= peak <= 600 + 12 * 10  # the first windows that contain the change
    assert loc.onset_step(np.array([0, 10, 20]), np.array([0.1, 0.6, 0.9])) == 10
    assert loc.peak_lead(steps, res, 800, start=None) == 800 - peak
    ctrl = [np.full(10, 1.0), np.full(10, 2.0), np.full(10, 3.0)]
    assert loc.loo_false_alarm_rate(ctrl, fpr=0.05, k=3) == pytest.approx(1 / 3)  # only the largest beats the rest
    share, n = loc.norm_matched_concordance(np.array([10.0, 10.1, 20.0]), np.array([1.0, 3.0, 9.0]),
                                            np.array([0.1, 0.5, 0.0]))
    assert (share, n) == (1.0, 1)  # the 20-norm window is not norm-matched with the others


def test_perturbation_deviation_is_zero_without_a_kick():
    from grokscope.config import RunConfig
    from grokscope.train.loop import state_dict
    from grokscope.train.setup import build

    cfg = RunConfig.model_validate({"task": {"name": "modular", "p": 7, "frac": 0.5},
                                    "model": {"name": "transformer", "d_model": 8, "n_heads": 2, "d_mlp": 16},
                                    "members": {"seeds": 2}})
    s = build(cfg, torch.device("cpu"))
    state = state_dict(s, 0)
    assert np.all(loc.perturbation_deviation(s, state, 2, 0.0, seed=1) == 0)
    dev = loc.perturbation_deviation(s, state, 2, 1e-3, seed=1)
    assert dev.shape == (2,) and np.all((dev > 1e-5) & (dev < 1e-1))


def test_pitchfork_at_beta_c_and_shapes():
    Z = lk.anisotropic_mixture(300, seed=0)
    ratios = np.geomspace(0.7, 1.4, 11)
    sp, align = lk.pitchfork(Z, ratios, K=20, iters=30)
    kick = lk.spread(lk.collapsed_start(Z, 20, 1e-4, 0), Z.mean(0))
    assert lk.critical_ratio(ratios, sp, kick, 30) == pytest.approx(1.0, abs=0.06)
    assert align[ratios > 1.1].min() > 0.9  # splits along e_1
    t = np.geomspace(1, 1000, 30)
    flat = np.zeros(30)
    falling_late = np.where(t > 300, -3.0, 0.0)
    assert lk.classify_shape(t, np.linspace(-1, 1, 30), flat) == "no arc"
    assert lk.classify_shape(t, np.linspace(-1, 1, 30), falling_late) == "delayed escape"
    assert lk.classify_shape(t, np.linspace(0, 1, 30), np.linspace(0, -3, 30)) == "full V"
    assert lk.classify_shape(t, np.concatenate([np.linspace(-1, 1, 15), np.linspace(1, -1, 15)]),
                             falling_late) == "fold-back"
    assert lk.classify_shape(t, np.full(30, -1.0), falling_late) == "forbidden"


def test_atom_purity_and_lottery_stats():
    label = torch.tensor([0] * 60 + [1] * 60)
    codes = torch.zeros(120, 3)
    codes[:60, 0] = torch.arange(60.0) + 1  # atom 0: only label 0
    codes[::2, 1] = 1.0  # atom 1: half and half
    pur = lk.atom_purity(codes, label, k=50)
    assert pur[0] == 1.0 and pur[1] == pytest.approx(0.5, abs=0.05) and math.isnan(pur[2])
    early = np.linspace(0, 1, 40)
    rho, top, ratio = lk.lottery_stats(early, early ** 2, n_labels=10)
    assert rho == pytest.approx(1.0) and top == pytest.approx(np.mean(early[-4:] ** 2)) and ratio == 10 * top
