"""Escape times and their statistics (papers/01 §3.3 [reconstructed]): detection with right-censoring, the
Arrhenius fit log τ = log τ_0 + ΔE / T with a bootstrap CI, and the exponential waiting-time check.

Escape time of a member: the first eval step at which its mode amplitude u_iᵀ W_eff v_i reaches the threshold
(default: the midpoint between the off amplitude 0 and the on amplitude b*^L); a member that never reaches it is
censored at the budget (+inf here, never a made-up number; ``experiments.bootstrap`` handles it). τ of a
temperature is the *median* escape time (exact while fewer than half the members are censored); for exponential
waiting times median = ln 2 · mean, so log τ's slope against 1/T is the same either way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..experiments.bootstrap import bootstrap, median
from ..experiments.claims import Estimate


def escape_step(steps: np.ndarray, amplitude: np.ndarray, threshold: float) -> float:
    """First step with amplitude >= threshold (NaN values skipped); ``inf`` if never (right-censored)."""
    a = np.asarray(amplitude, dtype=float)
    hits = np.flatnonzero(np.nan_to_num(a, nan=-np.inf) >= threshold)
    return float(np.asarray(steps)[hits[0]]) if hits.size else math.inf


@dataclass(frozen=True)
class ArrheniusFit:
    slope: float  # ΔE estimate (units of the loss)
    log_tau0: float
    r2: float
    levels: int  # temperatures with a finite median in the fit
    log10_span: float  # log10(max τ / min τ) over those levels


def arrhenius_fit(temps: Sequence[float], groups: Sequence[np.ndarray], log_tau0: float | None = None) -> ArrheniusFit:
    """OLS of log(median τ) on 1/T over the temperatures whose median is finite.

    ``log_tau0``: fix the prefactor (e.g. Kramers' 2π/sqrt(ℓ''(0)|ℓ''(b_top)|)/η) and fit the slope alone
    (through that intercept); None fits both. NaN slope with fewer than 2 finite levels (1 with a fixed τ_0)."""
    pts = [(1.0 / T, median(g)) for T, g in zip(temps, groups, strict=True)]
    pts = [(x, m) for x, m in pts if np.isfinite(m) and m > 0]
    need = 1 if log_tau0 is not None else 2
    if len(pts) < need:
        return ArrheniusFit(math.nan, math.nan, math.nan, len(pts), math.nan)
    x = np.array([p[0] for p in pts])
    y = np.log([p[1] for p in pts])
    if log_tau0 is None:
        slope, icpt = np.polyfit(x, y, 1)
    else:
        icpt = log_tau0
        slope = float(np.sum(x * (y - icpt)) / np.sum(x * x))
    resid = y - (icpt + slope * x)
    ss = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss if ss > 0 else math.nan
    span = float((y.max() - y.min()) / math.log(10))
    return ArrheniusFit(float(slope), float(icpt), r2, len(pts), span)


def slope_estimate(temps: Sequence[float], groups: Sequence[np.ndarray], log_tau0: float | None = None,
                   seed: int = 0) -> Estimate:
    """The Arrhenius slope with a 95% bootstrap CI over members (resampled within each temperature)."""
    fit = arrhenius_fit(temps, groups, log_tau0)
    low, high = bootstrap(list(groups), lambda *g: arrhenius_fit(temps, g, log_tau0).slope, seed=seed)
    return Estimate(fit.slope, low, high, unit="loss units", n=int(sum(len(g) for g in groups)))


def survival(times: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """S(t) = fraction of members not escaped by t (censored members never escape within the budget)."""
    t = np.asarray(times, dtype=float)
    return np.array([float(np.mean(t > g)) for g in grid])


def exponential_ks(times: np.ndarray, n_sim: int = 500, seed: int = 0) -> tuple[float, float]:
    """KS statistic of the escape times against a shifted exponential (shift = the smallest time, mean fitted) and
    its p-value by parametric bootstrap (the Lilliefors correction for fitted parameters). Uncensored times only."""
    t = np.sort(np.asarray(times, dtype=float))
    t = t[np.isfinite(t)]
    if t.size < 5:
        return math.nan, math.nan

    def stat(x: np.ndarray) -> float:
        x = np.sort(x)
        shift = x[0]
        mean = float(np.mean(x - shift))
        if mean <= 0:
            return 1.0
        cdf = 1.0 - np.exp(-(x - shift) / mean)
        n = x.size
        i = np.arange(1, n + 1)
        return float(max(np.max(i / n - cdf), np.max(cdf - (i - 1) / n)))

    d = stat(t)
    rng = np.random.default_rng(seed)
    mean = float(np.mean(t - t[0]))
    sims = np.array([stat(rng.exponential(mean, t.size)) for _ in range(n_sim)])
    return d, float((1 + np.sum(sims >= d)) / (n_sim + 1))
