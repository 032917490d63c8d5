"""Percentile-bootstrap CIs for grokking times, with right-censoring handled honestly.

Censoring: a member that never grokked within its budget has ``T_grok > budget``; it is never given a made-up time.
Here it counts as ``+inf`` — it sorts above every grokked member, which is all a right-censored time is known to do.
So a median is exact while fewer than half the members are censored (the censored ones sit above it), and it is
``+inf`` otherwise; the point estimate is then reported as a *lower bound* (``Estimate.lower_bound``), the median
with the censored times set to their budget (a true time is > its budget, so that median can only be lower than the
truth), with the CI ``[low end of the bootstrap of that bound, +inf)``. A median that is not censored gets its CI
from resampling members with the ``+inf`` kept, so its upper CI end may be ``+inf`` (open).

A bootstrap replicate whose statistic is undefined (``inf/inf``, a fit with too few finite levels) is ``nan``; it is
counted against the CI on both sides (below the low end and above the high end), so undefined replicates widen the
interval instead of being dropped (dropping them would bias it). Percentiles use no interpolation (``lower`` /
``higher`` order statistics), which keeps ``inf`` ends well defined.

Seeded (``numpy.random.default_rng(seed)``) so a rerun gives the same CI.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from .claims import Estimate

N_BOOT = 2000
LEVEL = 0.95


def censored_times(t_grok: Sequence[float | None], censored: Sequence[bool | None] | None = None) -> np.ndarray:
    """Grokking times [n] in steps; a censored member (or a missing time) is ``+inf``."""
    cens = list(censored) if censored is not None else [False] * len(t_grok)
    return np.array([np.inf if (t is None or bool(c)) else float(t) for t, c in zip(t_grok, cens, strict=True)])


def seed_times(rows: Sequence[dict]) -> np.ndarray:
    """Grokking times [n] of a cell's member rows (catalog columns), in seed order, so that cells of the same seeds
    pair member by member; censored members are ``+inf``."""
    rows = sorted(rows, key=lambda m: m["seed"])
    return censored_times([m["t_grok"] for m in rows], [m["censored"] for m in rows])


def median(times: np.ndarray) -> float:
    """Median with ``+inf`` for censored members: ``inf`` as soon as the middle order statistic is censored."""
    if len(times) == 0:
        return float("nan")
    s = np.sort(times)
    n = len(s)
    mid = s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])  # finite + inf = inf: the median is unknown
    return float(mid)


def percentile_ci(replicates: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """Percentile interval of bootstrap replicates [B]; ``nan`` replicates count as -inf (low) and +inf (high)."""
    a = (1.0 - level) / 2.0
    undefined = np.isnan(replicates)
    low = np.percentile(np.where(undefined, -np.inf, replicates), 100 * a, method="lower")
    high = np.percentile(np.where(undefined, np.inf, replicates), 100 * (1 - a), method="higher")
    return float(low), float(high)


def bootstrap(samples: Sequence[np.ndarray], stat: Callable[..., float], n_boot: int = N_BOOT, seed: int = 0,
              paired: bool = False, level: float = LEVEL) -> tuple[float, float]:
    """95% percentile CI of ``stat(*samples)``, resampling each sample's members with replacement.

    ``paired``: the samples are aligned member by member (e.g. the same seeds in a control and a clamp arm, which
    share init and split); one index draw is used for all of them.
    """
    rng = np.random.default_rng(seed)
    if paired and len({len(s) for s in samples}) != 1:
        raise ValueError("paired bootstrap needs samples of equal length")
    reps = np.empty(n_boot)
    for b in range(n_boot):
        if paired:
            idx = rng.integers(0, len(samples[0]), len(samples[0]))
            draw = [s[idx] for s in samples]
        else:
            draw = [s[rng.integers(0, len(s), len(s))] for s in samples]
        with np.errstate(invalid="ignore", divide="ignore"):
            reps[b] = stat(*draw)
    return percentile_ci(reps, level)


def _at_budget(times: np.ndarray, budget: float | None) -> np.ndarray:
    """Censored members (inf) at the budget: each true time is larger, so statistics increasing in the times are
    lower bounds. Without a budget there is no bound: nan."""
    return np.where(np.isinf(times), np.nan if budget is None else budget, times)


def median_estimate(times: np.ndarray, budget: float | None = None, seed: int = 0, unit: str = "steps") -> Estimate:
    """Median grokking time with a bootstrap CI; a lower bound (at the budget) when the median is censored."""
    m = median(times)
    if np.isinf(m):  # the bound and the low end of its CI, both with censored members at the budget; open above
        bounded = _at_budget(times, budget)
        low, _ = bootstrap([bounded], median, seed=seed)
        return Estimate(median(bounded), low, np.inf, lower_bound=True, unit=unit, n=len(times))
    low, high = bootstrap([times], median, seed=seed)
    return Estimate(m, low, high, unit=unit, n=len(times))


def ratio(num: np.ndarray, den: np.ndarray) -> float:
    """median(num) / median(den); ``nan`` when the denominator's median is censored (inf) or both are."""
    a, b = median(num), median(den)
    if np.isinf(b) or np.isnan(a) or np.isnan(b) or b == 0:
        return float("nan")
    return a / b


def ratio_estimate(num: np.ndarray, den: np.ndarray, budget: float | None = None, seed: int = 0,
                   paired: bool = False) -> Estimate:
    """Ratio of median times with a bootstrap CI; a lower bound when only the numerator's median is censored."""
    r, n = ratio(num, den), len(num) + len(den)
    if np.isinf(r):  # numerator censored: the bound (censored at the budget) and its CI's low end; open above
        bounded = _at_budget(num, budget)
        low, _ = bootstrap([bounded, den], ratio, seed=seed, paired=paired)
        return Estimate(ratio(bounded, den), low, np.inf, lower_bound=True, unit="×", n=n)
    low, high = bootstrap([num, den], ratio, seed=seed, paired=paired)
    return Estimate(r, low, high, unit="×", n=n)


def paired_estimate(samples: Sequence[np.ndarray], stat: Callable[..., float], budget: float, seed: int = 0,
                    unit: str = "×") -> Estimate:
    """``stat`` of paired samples of times with a bootstrap CI; when it is not finite because a median is censored,
    ``stat`` with the censored times at their budget, as a lower bound (open above). Only for statistics that
    increase with the censored sample's times (as ``ratio_estimate``'s numerator)."""
    value, n = stat(*samples), int(sum(len(s) for s in samples))
    if np.isfinite(value):
        return Estimate(value, *bootstrap(samples, stat, seed=seed, paired=True), unit=unit, n=n)
    bounded = [_at_budget(s, budget) for s in samples]
    low, _ = bootstrap(bounded, stat, seed=seed, paired=True)
    return Estimate(stat(*bounded), low, np.inf, lower_bound=True, unit=unit, n=n)


def log_slope(xs: Sequence[float], groups: Sequence[np.ndarray]) -> float:
    """OLS slope of log(median T) on x over the levels whose median is finite; ``nan`` with fewer than 2 levels."""
    pts = [(x, median(g)) for x, g in zip(xs, groups, strict=True)]
    pts = [(x, m) for x, m in pts if np.isfinite(m) and m > 0]
    if len({x for x, _ in pts}) < 2:
        return float("nan")
    x = np.array([p[0] for p in pts])
    y = np.log([p[1] for p in pts])
    return round(float(np.polyfit(x, y, 1)[0]), 9)  # equal times give exactly 0, not a rounding-error sign


def log_slope_estimate(xs: Sequence[float], groups: Sequence[np.ndarray], seed: int = 0, unit: str = "") -> Estimate:
    """Exponential delay-law slope α of ``log T = a + α·x`` (paper 4 §4.2) with a bootstrap CI over members.

    Levels whose median is censored carry no finite time and are left out of the fit (the point estimate and each
    replicate alike), so the slope describes only the uncensored range; say so in the row's scale notes.
    """
    a = log_slope(xs, groups)
    low, high = bootstrap(list(groups), lambda *g: log_slope(xs, g), seed=seed)
    return Estimate(a, low, high, unit=unit, n=int(sum(len(g) for g in groups)))


def log_fit_r2(xs: Sequence[float], groups: Sequence[np.ndarray]) -> float:
    """R² of the exponential law ``ln T = c + α·x`` on the per-level medians (censored medians left out); ``nan``
    with fewer than 3 finite levels."""
    from ..laws.fits import exp_law

    pts = [(x, median(g)) for x, g in zip(xs, groups, strict=True)]
    pts = [(x, m) for x, m in pts if np.isfinite(m)]
    return exp_law(np.array([p[0] for p in pts]), np.array([p[1] for p in pts])).r2 if len(pts) >= 3 else math.nan
