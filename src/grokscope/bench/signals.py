"""Causal signal kernels: each maps a series on its eval steps ``[n]`` to a signal ``[n]`` whose value at index i
reads only indices <= i (the benchmark audits this for every predictor, ``protocol.audit_causal``).

Pure numpy; the predictors (``predictors.py``) compose them from a member's metric history.
"""

from __future__ import annotations

import math

import numpy as np

from ..detect.dmd import center, dmd, hankel
from ..detect.online import OnlineEWS


def trailing_slope(steps: np.ndarray, values: np.ndarray, k: int = 8, per: float = 1000.0) -> np.ndarray:
    """Least-squares slope (units per ``per`` steps) of the last ``k`` finite points ending at each index; NaN
    until ``k`` finite points exist."""
    steps, values = np.asarray(steps, float), np.asarray(values, float)
    out = np.full(values.size, np.nan)
    idx = np.flatnonzero(np.isfinite(values))
    for j in range(k - 1, idx.size):
        sel = idx[j - k + 1:j + 1]
        t, v = steps[sel], values[sel]
        dt = t - t.mean()
        den = float(dt @ dt)
        if den > 0:
            out[idx[j]] = per * float(dt @ (v - v.mean())) / den
    return out


def drop_from_peak(values: np.ndarray) -> np.ndarray:
    """(running max − value) / running max: how far the series has fallen from its peak so far (0 at a new peak)."""
    v = np.asarray(values, float)
    peak = np.fmax.accumulate(np.where(np.isfinite(v), v, -np.inf))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (peak - v) / np.abs(peak)
    return np.where(np.isfinite(out), out, np.nan)


def online_ac1(values: np.ndarray, detrend: str = "gaussian", window: int = 20, bandwidth: float = 0.2) -> np.ndarray:
    """Lag-1 autocorrelation of the series so far, fed one value at a time (``detect.online.OnlineEWS``: each
    update detrends only the values seen so far). ``detrend="none"`` is paper 11's naive variant (03 §11)."""
    det = OnlineEWS("ac1", detrend_method=detrend, bandwidth=bandwidth, window=window, calibrate=10 ** 9)
    return np.array([det.update(i, float(v)) if math.isfinite(v) else math.nan for i, v in enumerate(values)])


def dmd_residual(traj: np.ndarray, window: int = 20, delay: int = 3, rank: float = 4) -> np.ndarray:
    """Sliding Hankel-DMD one-step residual of a distribution trajectory ``traj [n, m]`` (03 §13, reconstructed;
    ``detect.dmd``: each window centred at its own mean), reported at each window's last snapshot (causal); NaN
    rows are skipped, NaN before the first full window and where a window is degenerate (constant)."""
    traj = np.asarray(traj, float)
    out = np.full(traj.shape[0], np.nan)
    ok = np.flatnonzero(np.isfinite(traj).all(1))
    for j in range(window - 1, ok.size):
        w = center(traj[ok[j - window + 1:j + 1]])
        if not np.abs(w).max() > 0:
            continue
        H = hankel(w, delay)
        with np.errstate(all="ignore"):
            try:
                r = dmd(H[:, :-1], H[:, 1:], rank).residual
            except np.linalg.LinAlgError:
                continue
        out[ok[j]] = r if np.isfinite(r) else np.nan
    return out


def first_time(steps: np.ndarray, values: np.ndarray, level: float) -> np.ndarray:
    """At each index: the first step so far with value >= level (NaN until then)."""
    v = np.asarray(values, float)
    hit = np.flatnonzero(v >= level)
    out = np.full(v.size, np.nan)
    if hit.size:
        out[hit[0]:] = float(np.asarray(steps)[hit[0]])
    return out


def first_passage_forecast(steps: np.ndarray, train_acc: np.ndarray, sq_norm: np.ndarray, lr: float, wd: float,
                           kappa: float, v_star: float, mem_threshold: float = 0.99) -> np.ndarray:
    """Paper 10's law (02 §10) at each index: T̂ = T_mem + max(ln(V_mem/V★), 0)/(2κηλ) once memorised (NaN
    before); +inf with λ = 0 (the law's delay diverges)."""
    t_mem = first_time(steps, train_acc, mem_threshold)
    out = np.full(t_mem.size, np.nan)
    if not np.isfinite(t_mem).any():
        return out
    i = int(np.flatnonzero(np.isfinite(t_mem))[0])
    v_mem = float(sq_norm[i])
    rate = 2 * kappa * lr * wd
    delay = math.inf if rate <= 0 else max(math.log(v_mem / v_star), 0.0) / rate if v_mem > 0 else math.nan
    out[i:] = t_mem[i] + delay
    return out


def calibrate_v_star(cases: list[tuple[float, float, float, float]], kappa: float) -> float:
    """V★ from grokked members ``(T_mem, T_grok, V_mem, ηλ)`` with κ fixed: the median of
    ln V_mem − 2κηλ(T_grok − T_mem) (the value that makes the median forecast error zero), as V★."""
    logs = [math.log(v) - 2 * kappa * r * (tg - tm) for tm, tg, v, r in cases if v > 0 and r > 0 and tg >= tm]
    if not logs:
        return math.nan
    return float(math.exp(float(np.median(logs))))
