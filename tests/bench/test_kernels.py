"""Kernels of the benchmark: causal signals, the first-passage forecast, the SGLD LLC, the Hill α, the logistic."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from grokscope.bench import signals as S
from grokscope.bench.esd_alpha import hill_alpha
from grokscope.bench.history import History
from grokscope.bench.llc import sgld_llc
from grokscope.bench.logistic import fit_logistic
from grokscope.bench.predictors import PREDICTORS
from grokscope.bench.protocol import audit_causal


def _history(n: int = 60, seed: int = 0) -> History:
    rng = np.random.default_rng(seed)
    steps = np.arange(n) * 10
    m = {"graph/fiedler": np.cumsum(rng.standard_normal(n)) + 0.1 * np.arange(n),
         "norm/total": 10 + np.sin(np.arange(n) / 5) + rng.standard_normal(n) * 0.1,
         "norm/sq": np.full(n, 500.0), "train/acc": np.minimum(np.arange(n) / 10, 1.0),
         "train/loss": np.exp(-np.arange(n) / 10), "test/loss": np.ones(n), "lar/lar": rng.random(n),
         "logit/scale": rng.random(n) + 1, "update_gram/s2_s3": rng.random(n) + 1}
    for j in range(32):
        m[f"logprob_quantiles/q{j:02d}"] = -np.exp(-np.arange(n) / 20) * (j + 1) + 0.01 * rng.standard_normal(n)
    return History(steps, m, {"lr": 1e-2, "wd": 1.0, "op": "add"})


@pytest.mark.parametrize("name", ["fiedler_ews_detrended", "fiedler_ews_naive", "dmd_residual", "lar_slope",
                                  "norm_peak", "first_passage", "weight_norm_slope", "steps_since_mem"])
def test_shipped_signals_are_causal(name: str) -> None:
    p = PREDICTORS.get(name)
    fitted = {"kappa": 0.252, "v_star": 50.0}
    assert audit_causal(p.signal, [_history(), _history(seed=1)], fitted) is None


def test_trailing_slope_and_drop_from_peak() -> None:
    steps = np.arange(10) * 100.0
    assert S.trailing_slope(steps, 2 * steps + 1, k=4)[-1] == pytest.approx(2000.0)
    assert np.isnan(S.trailing_slope(steps, steps, k=4)[2])
    np.testing.assert_allclose(S.drop_from_peak(np.array([1.0, 2.0, 1.0, 3.0])), [0, 0, 0.5, 0])


def test_first_passage_forecast_and_v_star_calibration() -> None:
    steps = np.arange(0, 1000, 100)
    acc = np.array([0, 0.5, 1, 1, 1, 1, 1, 1, 1, 1.0])
    f = S.first_passage_forecast(steps, acc, np.full(10, math.e ** 2 * 10), lr=0.01, wd=1.0, kappa=0.25, v_star=10)
    assert np.isnan(f[1]) and f[2] == pytest.approx(200 + 2 / (2 * 0.25 * 0.01))
    assert np.isinf(S.first_passage_forecast(steps, acc, np.full(10, 100.0), 0.01, 0.0, 0.25, 10)[5])
    # V★ that makes each case exact when they agree
    vs = S.calibrate_v_star([(200, 600, math.e ** 2 * 10, 0.01)], kappa=0.25)
    assert vs == pytest.approx(10.0)


def test_sgld_llc_of_a_quadratic_is_half_the_dimension() -> None:
    torch.manual_seed(0)
    d, n = 6, 1000
    h = torch.tensor([1.0, 2.0, 0.5, 1.5, 1.0, 3.0], dtype=torch.float64)
    w = torch.zeros(2, d, dtype=torch.float64, requires_grad=True)  # two members
    lam = sgld_llc(lambda: 0.5 * (h * w ** 2).sum(-1), {"w": w}, n, eps=2e-3, gamma=1.0, chains=2, draws=600,
                   burn_in=100)
    assert lam.shape == (2,)
    assert torch.allclose(lam, torch.full((2,), d / 2, dtype=torch.float64), rtol=0.15)
    assert torch.equal(w.detach(), torch.zeros(2, d, dtype=torch.float64))  # w* restored


def test_hill_alpha_recovers_a_pareto_exponent() -> None:
    g = torch.Generator().manual_seed(0)
    alpha = 2.5  # pdf ∝ x^-α on x >= 1: x = U^(-1/(α-1))
    u = torch.rand(2, 4000, generator=g, dtype=torch.float64)
    est = hill_alpha(u ** (-1 / (alpha - 1)), tail=0.5)
    assert torch.allclose(est, torch.full((2,), alpha, dtype=torch.float64), rtol=0.1)


def test_logistic_separates_and_standardises() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3)) * [1, 100, 0.01]
    y = (X[:, 0] + X[:, 1] / 100 > 0).astype(float)
    m = fit_logistic(X, y, l2=1.0)
    assert ((m.predict_proba(X) > 0.5) == y.astype(bool)).mean() > 0.95
    assert m.coef[0] > 0 and m.coef[1] > 0 and abs(m.coef[2]) < abs(m.coef[0]) / 5
