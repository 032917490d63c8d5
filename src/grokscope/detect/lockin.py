"""Spectral lock-in detectors on the update-Gram ratio σ₂/σ₃ (Xu 2026, papers/03 §14 "Slope detector" and
"Late-stage magnitude"). Pure numpy on per-epoch series; the ``update_gram`` probe runs the slope detector online
on every update, the two-layer reproduction runs both on the recorded series.
"""

from __future__ import annotations

import math

import numpy as np

LAG, SLOPE, T_MIN = 25, 0.04, 100  # §14: s(t) = [log r(t) − log r(t−25)]/25, fire = min{t >= 100 : s(t) > 0.04}
LATE = (200, 400)  # §14: median of σ₂/σ₃ over epochs 200–400


def slope_detector(steps: np.ndarray, ratio: np.ndarray, lag: int = LAG, thresh: float = SLOPE,
                   t_min: int = T_MIN) -> int | None:
    """First step t >= ``t_min`` with [log r(t) − log r(t − lag)]/lag > ``thresh``, or None.

    ``steps`` [T] increasing, ``ratio`` [T] σ₂/σ₃ (NaN: not measured); only steps whose t − lag was measured count,
    so a sparse series gives the slope over exactly ``lag`` epochs or nothing."""
    steps = np.asarray(steps, dtype=np.int64)
    logs = dict(zip(steps.tolist(), np.log(np.asarray(ratio, dtype=float)).tolist()))
    for t in steps.tolist():
        if t < t_min or (t - lag) not in logs:
            continue
        s = (logs[t] - logs[t - lag]) / lag
        if math.isfinite(s) and s > thresh:
            return int(t)
    return None


def late_stage_median(steps: np.ndarray, ratio: np.ndarray, window: tuple[int, int] = LATE) -> float:
    """Median of σ₂/σ₃ over steps in [lo, hi] (NaN when none was measured there)."""
    steps, ratio = np.asarray(steps), np.asarray(ratio, dtype=float)
    sel = ratio[(steps >= window[0]) & (steps <= window[1])]
    sel = sel[np.isfinite(sel)]
    return float(np.median(sel)) if sel.size else math.nan


def first_crossing(steps: np.ndarray, values: np.ndarray, level: float) -> int | None:
    """First step where ``values`` >= ``level`` (None if never)."""
    values = np.asarray(values, dtype=float)
    hit = np.nonzero(values >= level)[0]
    return int(np.asarray(steps)[hit[0]]) if hit.size else None
