"""Bootstrap CIs on known distributions, and the censoring conventions."""

from __future__ import annotations

import math

import numpy as np

from grokscope.experiments.bootstrap import (
    censored_times,
    log_slope_estimate,
    median,
    median_estimate,
    percentile_ci,
    ratio_estimate,
)


def test_median_ci_of_a_normal_sample():
    x = np.random.default_rng(1).normal(100.0, 10.0, 400)
    m = median_estimate(x, seed=0)
    assert m.low < 100.0 < m.high and not m.lower_bound
    # asymptotic s.e. of the median: 1.2533 σ/√n -> 95% width ≈ 2.45
    assert 0.6 * 2.45 < m.high - m.low < 1.5 * 2.45
    assert median_estimate(x, seed=0) == m  # seeded


def test_censored_members_are_inf_and_a_censored_median_is_a_lower_bound():
    t = censored_times([100, None, 300, 400], [False, True, True, False])
    assert list(t) == [100, math.inf, math.inf, 400]
    assert math.isinf(median(t))
    m = median_estimate(t, budget=500)
    assert m.lower_bound and m.value == 450.0 and math.isinf(m.high)  # median of [100, 500, 500, 400]
    few = median_estimate(censored_times([100, 200, 300, None]), budget=500)
    assert not few.lower_bound and few.value == 250.0 and math.isinf(few.high)  # CI open above, point exact


def test_ratio_of_medians_and_its_bound():
    rng = np.random.default_rng(2)
    den = rng.normal(100, 5, 50)
    r = ratio_estimate(3 * den, den, paired=True)
    assert np.allclose([r.value, r.low, r.high], 3.0)  # paired: every replicate is 3
    r2 = ratio_estimate(3 * den, rng.normal(100, 5, 50))  # unpaired: a real interval around 3
    assert r2.low < r2.value < r2.high and 2.7 < r2.low and r2.high < 3.3 and r2.high - r2.low > 0.05
    cens = ratio_estimate(np.full(5, np.inf), np.full(5, 100.0), budget=800)
    assert cens.lower_bound and cens.value == 8.0 and cens.low == 8.0 and math.isinf(cens.high)


def test_undefined_replicates_widen_the_interval():
    assert percentile_ci(np.array([1.0] * 90 + [np.nan] * 10)) == (-math.inf, math.inf)
    assert percentile_ci(np.array([1.0] * 99 + [np.nan])) == (1.0, 1.0)


def test_log_slope_recovers_an_exponential_law():
    rng = np.random.default_rng(3)
    rhos = [0.8, 1.0, 1.2]
    groups = [np.exp(2.0 + 7.4 * r + rng.normal(0, 0.05, 20)) for r in rhos]
    a = log_slope_estimate(rhos, groups)
    assert abs(a.value - 7.4) < 0.3 and a.low < 7.4 < a.high
    groups[-1] = np.full(20, np.inf)  # a censored level drops out of the fit
    assert abs(log_slope_estimate(rhos, groups).value - 7.4) < 0.5
    assert math.isnan(log_slope_estimate(rhos[:1], groups[:1]).value)
