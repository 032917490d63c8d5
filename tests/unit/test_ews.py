"""detect/ews.py: detrending, rolling indicators, Kendall τ before the transition, grids, surrogates."""

from __future__ import annotations

import numpy as np
import pytest

from grokscope.detect import ews as E


def _ramp(n=400, noise=0.01, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float)
    return t, 0.01 * t + noise * rng.normal(size=n)


def test_pure_trend_naive_ac1_near_one_and_near_zero_after_detrending():
    # 03 §11 [CHK]: a ramp plus small noise gives AC1 ≈ 0.99 un-detrended, ≈ 0 once detrended
    t, x = _ramp()
    naive = E.ews(t, x, detrend_method="none", window=200)
    honest = E.ews(t, x, detrend_method="linear", window=200)
    assert np.nanmin(naive.indicators["ac1"]) > 0.95
    assert abs(np.nanmean(honest.indicators["ac1"])) < 0.1


def test_ar1_with_growing_phi_gives_positive_tau_and_small_p():
    rng = np.random.default_rng(1)
    n = 600
    phi = np.linspace(0.1, 0.95, n)  # critical slowing down: the return rate falls towards the transition
    x = np.zeros(n)
    for i in range(1, n):
        x[i] = phi[i] * x[i - 1] + rng.normal()
    r = E.ews(np.arange(n), x + 0.002 * np.arange(n), detrend_method="gaussian", bandwidth=0.2, window=0.25)
    assert r.tau["ac1"] > 0.5
    p = E.surrogate_p_values(r, "ar1", n=60, seed=0)
    assert p["ac1"] < 0.05
    white = E.ews(np.arange(n), rng.normal(size=n), detrend_method="gaussian")
    assert E.surrogate_p_values(white, "phase", n=60)["ac1"] > 0.01


def test_nothing_past_the_transition_enters():
    t, x = _ramp(300)
    x2 = x.copy()
    x2[201:] = 1e6 * np.sin(np.arange(99))  # anything at all after the transition
    a = E.ews(t, x, transition=200, detrend_method="linear", window=50)
    b = E.ews(t, x2, transition=200, detrend_method="linear", window=50)
    assert a.tau == b.tau and a.steps[-1] == 200


def test_geometric_grid_is_resampled_at_the_largest_gap_and_reported():
    steps = np.unique(np.round(np.geomspace(1, 5000, 120)))
    vals = np.log(steps)
    grid, v, info = E.uniform_grid(steps, vals)
    assert info["grid"] == "resampled" and info["spacing"] == np.diff(steps).max()
    assert np.allclose(np.diff(grid), info["spacing"]) and info["n_points"] < steps.size
    r = E.ews(steps, vals, window=0.5, detrend_method="none")
    assert r.settings["grid"] == "resampled"
    with pytest.raises(ValueError, match="linear eval grid"):
        E.ews(steps, vals, grid="linear")
    lin = np.arange(0, 1000, 10)
    assert E.uniform_grid(lin, lin * 1.0)[2]["grid"] == "linear"


def test_window_fraction_or_points_and_bad_window():
    t, x = _ramp(100)
    assert E.ews(t, x, window=0.25).settings["window_points"] == 25
    assert E.ews(t, x, window=30).settings["window_points"] == 30
    with pytest.raises(ValueError, match="does not fit"):
        E.ews(t, x, window=500)


def test_variance_ratio_of_paper11():
    w = np.array([[1.0, -1, 1, -1, 1, -1, 1, -1, 3, -3]])
    expected = np.var(w[0, 8:], ddof=1) / np.var(w[0, :8], ddof=1)
    assert E.variance_ratio(w)[0] == pytest.approx(expected)


def test_surrogates_keep_the_linear_structure():
    rng = np.random.default_rng(3)
    x = np.zeros(4000)
    for i in range(1, x.size):
        x[i] = 0.7 * x[i - 1] + rng.normal()
    ar = E.surrogate(x, "ar1", rng, 4)
    ph = E.surrogate(x, "phase", rng, 4)
    for s in (ar, ph):
        assert s.shape == (4, x.size)
        assert E.lag1_autocorr(s).mean() == pytest.approx(0.7, abs=0.06)
    assert np.allclose(np.abs(np.fft.rfft(ph[0] - ph[0].mean())), np.abs(np.fft.rfft(x - x.mean())))


def test_sensitivity_grid_shape():
    t, x = _ramp(200)
    s = E.sensitivity(t, x, windows=(0.2, 0.4), bandwidths=(0.1, 0.3))
    assert len(s["tau"]) == 2 and len(s["tau"][0]) == 2
