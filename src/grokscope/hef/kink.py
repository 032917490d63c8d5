"""The normalised accuracy curve and its tanh-kink collapse (papers/01 §5.2-5.3 item 2; RECONSTRUCTED).

``A(t) = (acc(t) − acc_min) / (acc_max − acc_min)``; per run the fit ``A = ½(1 + tanh((t − t_c)/w))`` by least
squares (start: t_c at the 50% crossing, w from the 10-90% rise time, which is 2·atanh(0.8)·w for this profile).
The pooled R² of the collapse is 1 − SS_res/SS_tot of every run's points against the universal curve in the
rescaled time x = (t − t_c)/w. The plateaus far from the kink (A ≈ 0 or 1) are fitted by any sigmoid, so the R² is
computed within ``|x| <= window`` (default 3 widths; None: all points) — an option, since the paper's fit window
is not known. The time axis is linear in steps (``log_time``: ln t instead; also an option).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

WINDOW = 3.0
RISE = 2.0 * math.atanh(0.8)  # 10-90% rise time of ½(1 + tanh x) in units of w


@dataclass(frozen=True)
class Kink:
    t_c: float  # the kink's centre (steps, or ln steps with log_time)
    w: float  # its width, same unit
    r2: float  # this run's R² within the window


def normalize_curve(acc: np.ndarray) -> np.ndarray:
    """(acc − min) / (max − min); all-NaN when the curve is flat."""
    a = np.asarray(acc, float)
    span = np.nanmax(a) - np.nanmin(a)
    return np.full_like(a, np.nan) if not span > 0 else (a - np.nanmin(a)) / span


def kink_profile(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(x))


def _crossing(t: np.ndarray, A: np.ndarray, level: float) -> float:
    i = int(np.argmax(A >= level))
    if i == 0:
        return float(t[0])
    t0, t1, a0, a1 = t[i - 1], t[i], A[i - 1], A[i]
    return float(t0 + (level - a0) * (t1 - t0) / (a1 - a0)) if a1 != a0 else float(t1)


def r2_in_window(x: np.ndarray, A: np.ndarray, window: float | None = WINDOW) -> float:
    keep = np.isfinite(x) & np.isfinite(A) & (np.abs(x) <= window if window is not None else True)
    if keep.sum() < 3:
        return float("nan")
    res = A[keep] - kink_profile(x[keep])
    tot = A[keep] - A[keep].mean()
    return float(1.0 - (res @ res) / (tot @ tot)) if tot @ tot > 0 else float("nan")


def fit_kink(steps: np.ndarray, acc: np.ndarray, log_time: bool = False, window: float | None = WINDOW) -> Kink | None:
    """Least-squares tanh kink of one run's normalised accuracy; None when the curve is flat or the fit fails."""
    from scipy.optimize import curve_fit

    t = np.log(np.maximum(np.asarray(steps, float), 1.0)) if log_time else np.asarray(steps, float)
    A = normalize_curve(acc)
    if not np.isfinite(A).any() or len(t) < 4:
        return None
    t10, t50, t90 = (_crossing(t, A, q) for q in (0.1, 0.5, 0.9))
    w0 = max((t90 - t10) / RISE, 1e-3 * (t[-1] - t[0]) or 1e-3)
    try:
        (t_c, w), _ = curve_fit(lambda tt, c, ww: kink_profile((tt - c) / ww), t, A, p0=(t50, w0), maxfev=5000)
    except (RuntimeError, ValueError):
        return None
    if not (np.isfinite(t_c) and np.isfinite(w)) or w <= 0:
        return None
    return Kink(float(t_c), float(w), r2_in_window((t - t_c) / w, A, window))


def collapse_r2(curves: Sequence[tuple[np.ndarray, np.ndarray]], kinks: Sequence[Kink | None],
                log_time: bool = False, window: float | None = WINDOW) -> float:
    """Pooled R² of every fitted run's normalised curve against ½(1 + tanh x), x = (t − t_c)/w."""
    xs, As = [], []
    for (steps, acc), k in zip(curves, kinks, strict=True):
        if k is None:
            continue
        t = np.log(np.maximum(np.asarray(steps, float), 1.0)) if log_time else np.asarray(steps, float)
        xs.append((t - k.t_c) / k.w)
        As.append(normalize_curve(acc))
    if not xs:
        return float("nan")
    return r2_in_window(np.concatenate(xs), np.concatenate(As), window)
