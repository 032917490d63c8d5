"""The 1-D Langevin mode simulation against Kramers' formula, and the fits on synthetic escape times."""

from __future__ import annotations

import numpy as np
import pytest

from grokscope.escape import fits, langevin, modes


def test_one_dimensional_mean_escape_time_matches_kramers():
    depth, s, gamma, lr = 4, 1.0, 0.2, 0.05
    T = modes.barrier(depth, s, gamma) / 4.0  # ΔE/T = 4: Kramers' regime (corrections O(T/ΔE))
    times = langevin.simulate(depth, s, gamma, T, lr, n=300, steps=200_000, seed=3)
    assert np.isfinite(times).all()
    ratio = times.mean() / langevin.kramers_steps(depth, s, gamma, T, lr)
    assert 0.8 < ratio < 1.4, ratio


def test_arrhenius_fit_recovers_a_known_slope_and_censoring_is_kept():
    rng = np.random.default_rng(0)
    dE, temps = 0.01, [0.01 / x for x in (1.0, 2.0, 3.0, 4.0)]
    groups = [rng.exponential(50 * np.exp(dE / T), 200) for T in temps]
    groups[-1][:20] = np.inf  # 10% censored: the median stays exact
    fit = fits.arrhenius_fit(temps, groups)
    assert fit.slope == pytest.approx(dE, rel=0.1) and fit.r2 > 0.98 and fit.levels == 4
    est = fits.slope_estimate(temps, groups)
    assert est.low < dE < est.high
    fixed = fits.arrhenius_fit(temps, groups, log_tau0=np.log(50 * np.log(2)))
    assert fixed.slope == pytest.approx(dE, rel=0.1)


def test_exponential_ks_accepts_exponential_and_rejects_a_constant_delay():
    rng = np.random.default_rng(1)
    _, p_exp = fits.exponential_ks(rng.exponential(100, 60) + 10)
    _, p_det = fits.exponential_ks(rng.normal(1000, 10, 60))
    assert p_exp > 0.05 and p_det < 0.01


def test_escape_step_is_censored_when_never_crossed():
    steps = np.array([0, 10, 20, 30])
    assert fits.escape_step(steps, np.array([0, 0.1, 0.5, 0.9]), 0.4) == 20
    assert fits.escape_step(steps, np.array([0, 0.1, 0.2, np.nan]), 0.4) == np.inf
    surv = fits.survival(np.array([5.0, 15.0, np.inf]), np.array([0, 10, 20]))
    assert surv.tolist() == pytest.approx([1.0, 2 / 3, 1 / 3])
