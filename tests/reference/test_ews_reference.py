"""Rolling indicators and Kendall τ against ewstools (test-only dependency) on a seeded series."""

from __future__ import annotations

import numpy as np
import pytest

from grokscope.detect import ews as E

ewstools = pytest.importorskip("ewstools")
pd = pytest.importorskip("pandas")


@pytest.mark.parametrize("method,bandwidth,window", [("Gaussian", 0.2, 0.25), ("Gaussian", 30, 50), (None, None, 0.4)])
def test_matches_ewstools(method, bandwidth, window):
    rng = np.random.default_rng(7)
    n, transition = 300, 240
    x = np.cumsum(rng.normal(size=n)) * 0.1 + np.sin(np.arange(n) / 20)
    ts = ewstools.TimeSeries(pd.Series(x, index=np.arange(n, dtype=float)), transition=float(transition))
    if method:
        ts.detrend(method=method, bandwidth=bandwidth)
    ts.compute_var(rolling_window=window)
    ts.compute_auto(rolling_window=window, lag=1)
    ts.compute_ktau()
    ours = E.ews(np.arange(n), x, detrend_method="gaussian" if method else "none", bandwidth=bandwidth or 0.2,
                 window=window, transition=transition)
    ref_var = ts.ews["variance"].to_numpy()[: transition + 1]
    ref_ac = ts.ews["ac1"].to_numpy()[: transition + 1]
    assert np.allclose(ours.indicators["var"], ref_var, equal_nan=True, rtol=1e-9, atol=1e-12)
    assert np.allclose(ours.indicators["ac1"], ref_ac, equal_nan=True, rtol=1e-9, atol=1e-12)
    assert ours.tau["var"] == pytest.approx(ts.ktau["variance"], abs=1e-12)
    assert ours.tau["ac1"] == pytest.approx(ts.ktau["ac1"], abs=1e-12)


@pytest.mark.parametrize("n,sigma", [(50, 2.0), (30, 9.0), (10, 7.5)])
def test_gaussian_smooth_is_scipy_reflect(n, sigma):
    from scipy.ndimage import gaussian_filter1d

    x = np.random.default_rng(n).normal(size=n)
    assert np.allclose(E.gaussian_smooth(x, sigma), gaussian_filter1d(x, sigma, mode="reflect"), atol=1e-12)
