"""The first-passage law of the grokking delay under AdamW (02 §10, arXiv:2605.18845).

After memorisation the gradient nearly vanishes and decoupled decay contracts the squared norm
``V_t = ‖θ_t‖²`` as ``V_t ≈ V_mem · exp(−2κηλ (t − T_mem))`` (κ < 1 absorbs the Adam re-injection); grokking is the
first passage of V below ``V★``, so ``T_grok − T_mem ≈ ln(V_mem/V★) / (2κηλ)``. κ is measured per trajectory from
the post-memorisation contraction (a log-linear fit of V_t on ``[T_mem, T_grok]``, with its R²); V★ is calibrated on
one cell (``V★ = V_mem · exp(−2κηλ·delay)``, median over its members); predictions on held-out cells are scored
by the MAPE, and V★'s stability by leave-one-out.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from .fits import linear_fit


@dataclass(frozen=True)
class Contraction:
    kappa: float
    r2: float
    n: int

    def to_json(self) -> dict:
        return asdict(self)


def fit_contraction(steps: np.ndarray, norm: np.ndarray, t_mem: float, lr: float, wd: float,
                    t_end: float | None = None) -> Contraction:
    """κ = −slope/(2ηλ) of ``ln V_t = ln ‖θ_t‖²`` against t over ``[t_mem, t_end]`` (steps; ``norm`` = ‖θ‖)."""
    steps, norm = np.asarray(steps, float), np.asarray(norm, float)
    m = (steps >= t_mem) & (steps <= (np.inf if t_end is None else t_end)) & (norm > 0)
    fit = linear_fit(steps[m], 2 * np.log(norm[m]))
    return Contraction(-fit.slope / (2 * lr * wd), fit.r2, int(m.sum()))


def predict_delay(v_mem: np.ndarray, v_star: float, kappa: float, lr: np.ndarray, wd: np.ndarray) -> np.ndarray:
    """``ln(V_mem/V★)/(2κηλ)`` in steps."""
    return np.log(np.asarray(v_mem, float) / v_star) / (2 * kappa * np.asarray(lr, float) * np.asarray(wd, float))


def calibrate_v_star(v_mem: np.ndarray, delay: np.ndarray, kappa: float, lr: np.ndarray, wd: np.ndarray) -> float:
    """V★ that makes the law exact per member, then the median over the calibration members."""
    v = np.asarray(v_mem, float) * np.exp(-2 * kappa * np.asarray(lr, float) * np.asarray(wd, float)
                                          * np.asarray(delay, float))
    return float(np.median(v))


def mape(pred: np.ndarray, obs: np.ndarray) -> float:
    """Mean absolute percentage error, in % of the observed delays."""
    pred, obs = np.asarray(pred, float), np.asarray(obs, float)
    return float(100 * np.mean(np.abs(pred - obs) / np.abs(obs)))


def loo_v_star(v_mem: np.ndarray, delay: np.ndarray, kappa: float, lr: np.ndarray, wd: np.ndarray) -> float:
    """Leave-one-out variation of V★: the largest relative change of V★ when one member is left out (in %)."""
    full = calibrate_v_star(v_mem, delay, kappa, lr, wd)
    n = len(v_mem)
    if n < 2:
        return math.nan
    idx = np.arange(n)
    devs = [abs(calibrate_v_star(*(np.asarray(a)[idx != i] for a in (v_mem, delay)), kappa,
                                 np.asarray(lr)[idx != i] if np.ndim(lr) else lr,
                                 np.asarray(wd)[idx != i] if np.ndim(wd) else wd) / full - 1) for i in range(n)]
    return float(100 * max(devs))
