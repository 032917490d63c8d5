"""Alarm rules over a detector's signal, and their calibration to a false-alarm rate [03 §13 item 7].

- ``sustained_alarm``: the alarm is raised at the first step where the signal has exceeded the threshold for ``k``
  consecutive windows (the step of the k-th exceedance: the first moment an online monitor can know it).
- A run's *sustained level* ``L = max_t min(s[t-k+1..t])`` is the largest threshold it would still alarm at: the
  run alarms at threshold c iff L > c. So calibrating on a pool of controls (non-grokking runs) to a run-level
  false-alarm rate α is the (1 − α) quantile of their sustained levels (``calibrate_on_controls``); calibrating on
  the run's own early window (far from onset) is the (1 − α) quantile of its window values there
  (``calibrate_on_early``, a per-window rate).
- Alarms are events: ``alarm_events`` gives ``{"alarm/<detector>": [step or None per member]}``, which the run's
  events.json stores and the catalog shows as ``members`` columns (``alarm_<detector>``).
- ``lead_time = onset − alarm`` (positive: the alarm came first; None when either is missing).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _oriented(signal: np.ndarray, direction: int) -> np.ndarray:
    if direction not in (1, -1):
        raise ValueError("direction must be +1 (alarm above) or -1 (alarm below)")
    return direction * np.asarray(signal, dtype=float)


def sustained_alarm(steps: np.ndarray, signal: np.ndarray, threshold: float, k: int = 3,
                    direction: int = 1) -> int | None:
    """First step at which ``signal`` [n] (at ``steps`` [n]) has been beyond ``threshold`` for ``k`` consecutive
    windows (above for ``direction=+1``, below for -1); NaN breaks a streak. None if never."""
    if k < 1:
        raise ValueError("k must be >= 1")
    s = _oriented(signal, direction)
    c = direction * threshold
    run = 0
    for i, v in enumerate(s):
        run = run + 1 if v > c else 0  # NaN > c is False
        if run >= k:
            return int(steps[i])
    return None


def sustained_level(signal: np.ndarray, k: int = 3, direction: int = 1) -> float:
    """``max_t min(s[t-k+1..t])`` in the alarm's orientation (returned in the signal's units): the run alarms at a
    threshold iff its level is beyond it. NaN windows are skipped; -inf (oriented) if no full window."""
    s = _oriented(signal, direction)
    if s.size < k:
        return -direction * np.inf
    mins = np.lib.stride_tricks.sliding_window_view(s, k).min(-1)
    mins = mins[~np.isnan(mins)]
    return float(direction * mins.max()) if mins.size else -direction * np.inf


def calibrate_on_controls(control_signals: Sequence[np.ndarray], fpr: float = 0.05, k: int = 3,
                          direction: int = 1) -> float:
    """Threshold at which at most a fraction ``fpr`` of the control runs (non-grokking) would alarm."""
    if not 0 <= fpr < 1:
        raise ValueError("fpr must be in [0, 1)")
    levels = np.array([direction * sustained_level(s, k, direction) for s in control_signals])
    if levels.size == 0:
        raise ValueError("no control signals to calibrate on")
    # the smallest c with #{L > c} <= fpr·n: the ceil((1 − fpr)·n)-th smallest level
    idx = int(np.ceil((1 - fpr) * levels.size)) - 1
    return float(direction * np.sort(levels)[max(idx, 0)])


def calibrate_on_early(signal: np.ndarray, fpr: float = 0.05, early: float = 0.2, direction: int = 1) -> float:
    """Threshold exceeded by a fraction ``fpr`` of the run's early windows (the first ``early`` fraction of its
    non-NaN values, taken as pre-transition background): a per-window false-alarm rate."""
    s = _oriented(signal, direction)
    s = s[~np.isnan(s)]
    n = max(int(round(early * s.size)), 1)
    if s.size == 0:
        raise ValueError("no values to calibrate on")
    return float(direction * np.quantile(s[:n], 1 - fpr))


def lead_time(onset: int | None, alarm: int | None) -> int | None:
    """onset − alarm (positive: the alarm preceded the onset); None when either is missing."""
    return None if onset is None or alarm is None else int(onset - alarm)


def alarm_events(detector: str, alarms: Sequence[int | None]) -> dict[str, list[int | None]]:
    """events.json extra keys for one detector: ``{"alarm/<detector>": [step or None per member]}``."""
    return {f"alarm/{detector}": [None if a is None else int(a) for a in alarms]}


def auroc(scores_pos: Sequence[float], scores_neg: Sequence[float]) -> float:
    """Run-level AUROC as the Mann–Whitney statistic P(score_pos > score_neg) + ½ P(tie)."""
    p, n = np.asarray(scores_pos, dtype=float)[:, None], np.asarray(scores_neg, dtype=float)[None, :]
    if p.size == 0 or n.size == 0:
        return float("nan")
    return float(((p > n).sum() + 0.5 * (p == n).sum()) / (p.size * n.size))
