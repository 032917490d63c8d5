"""The weight-norm peak before grokking (HEF's "E_c fingerprint", papers/01 §5.2-5.3 item 1; RECONSTRUCTED).

t_peak is the step of the highest local maximum of the *smoothed* norm whose prominence is at least
``prominence`` × (max − min) of the smoothed curve (a monotone curve, or wiggles below that, have no peak: None).
Smoothing is a centred moving average over ``window`` evaluations (edges: the window shrinks). The paper's body is
not public, so the window and the prominence are options, not its method.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

WINDOW = 5  # evaluations in the centred moving average
PROMINENCE = 0.05  # of the smoothed curve's range


def smooth(values: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """Centred moving average over ``window`` points (odd or even; the window shrinks at the edges)."""
    v = np.asarray(values, dtype=float)
    if window <= 1 or len(v) < 2:
        return v.copy()
    half = window // 2
    c = np.concatenate([[0.0], np.cumsum(v)])
    lo = np.clip(np.arange(len(v)) - half, 0, len(v))
    hi = np.clip(np.arange(len(v)) + window - half, 0, len(v))
    return (c[hi] - c[lo]) / (hi - lo)


def norm_peak(steps: np.ndarray, norm: np.ndarray, window: int = WINDOW,
              prominence: float = PROMINENCE) -> int | None:
    """Step of the most prominent-enough interior maximum of the smoothed norm (the highest one), else None."""
    from scipy.signal import find_peaks

    s = smooth(norm, window)
    if len(s) < 3 or not np.all(np.isfinite(s)):
        return None
    span = float(s.max() - s.min())
    if span <= 0:
        return None
    idx, _ = find_peaks(s, prominence=prominence * span)
    if len(idx) == 0:
        return None
    return int(np.asarray(steps)[idx[np.argmax(s[idx])]])


def fingerprint_rate(t_peak: Sequence[int | None], t_grok: Sequence[int | None]) -> float:
    """Fraction of grokked runs (t_grok not None) whose norm peak comes strictly before T_grok (no peak: not)."""
    pairs = [(p, g) for p, g in zip(t_peak, t_grok, strict=True) if g is not None]
    if not pairs:
        return float("nan")
    return sum(p is not None and p < g for p, g in pairs) / len(pairs)


def lead_times(t_peak: Sequence[int | None], t_grok: Sequence[int | None]) -> np.ndarray:
    """T_grok − t_peak over the runs that grokked and have a peak (negative: the peak came after)."""
    return np.array([g - p for p, g in zip(t_peak, t_grok, strict=True) if p is not None and g is not None], float)
