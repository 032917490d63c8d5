"""Paper 1's temperature-mediation recovery fraction (§1.4 (2)) with its paired seed bootstrap.

Baseline (ρ=1, τ=1) gives T0 and the logit scale L0; norm-up (ρ=1.15, τ=1) gives T1; a τ sweep at ρ=1.15 gives
(L_i, T_i). T2 = ``np.interp(L0, L_sweep, T_sweep)`` with the sweep sorted by L (the T_grok the norm-up network would
have at the baseline's logit scale), and the recovery fraction is ``(T1 − T2)/(T1 − T0)``: 1 means matching L undoes
all of the norm-induced delay. The CI resamples the seed indices once per replicate for every cell (the cells share
seeds), recomputes each cell's median, holds the L-curve fixed (01 §1.4b), and takes the 2.5/97.5 percentiles of
4000 replicates from ``default_rng(0)``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from .cells import cell_median

N_BOOT = 4000


def nearest_logged(steps: np.ndarray, values: np.ndarray, at: float) -> float:
    """A curve's value at the logged step nearest ``at`` (paper 1 reads L there; resolution = the log interval)."""
    i = int(np.argmin(np.abs(np.asarray(steps, float) - at)))
    return float(np.asarray(values, float)[i])


def recovery_fraction(t0: float, t1: float, l0: float, l_sweep: np.ndarray, t_sweep: np.ndarray) -> float:
    """``(T1 − T2)/(T1 − T0)`` with ``T2 = interp(L0, L_sweep, T_sweep)`` (the sweep sorted by L)."""
    order = np.argsort(l_sweep)
    t2 = float(np.interp(l0, np.asarray(l_sweep, float)[order], np.asarray(t_sweep, float)[order]))
    return (t1 - t2) / (t1 - t0) if t1 != t0 else math.nan


@dataclass(frozen=True)
class Recovery:
    value: float
    low: float
    high: float
    t0: float
    t1: float
    t2: float
    n_boot: int

    def to_json(self) -> dict:
        return asdict(self)


def recovery_bootstrap(base: np.ndarray, up: np.ndarray, sweep: list[np.ndarray], l0: float, l_sweep: np.ndarray,
                       censor: str = "majority", n_boot: int = N_BOOT, seed: int = 0,
                       level: float = 0.95) -> Recovery:
    """Recovery fraction and its paired-bootstrap CI from per-seed times: ``base`` [S] and ``up`` [S] (ρ=1.15, τ=1),
    ``sweep``: one [S] per τ (``inf`` = censored); ``l_sweep`` [K] the sweep's logit scales (held fixed)."""
    def med(t: np.ndarray) -> float:
        return cell_median(t, None, censor)[0]

    def stat(idx: np.ndarray | slice) -> float:
        return recovery_fraction(med(base[idx]), med(up[idx]), l0, l_sweep, np.array([med(s[idx]) for s in sweep]))

    s = len(base)
    if any(len(x) != s for x in (up, *sweep)):
        raise ValueError("the paired bootstrap needs the same seeds in every cell")
    rng = np.random.default_rng(seed)
    reps = np.array([stat(rng.integers(0, s, s)) for _ in range(n_boot)])
    a = 100 * (1 - level) / 2
    low, high = np.nanpercentile(reps, [a, 100 - a])
    order = np.argsort(l_sweep)
    t_sweep = np.array([med(x) for x in sweep])
    t2 = float(np.interp(l0, np.asarray(l_sweep)[order], t_sweep[order]))
    return Recovery(stat(slice(None)), float(low), float(high), med(base), med(up), t2, n_boot)
