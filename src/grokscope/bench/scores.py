"""Scores of the benchmark (issue 14): run-level AUROC with a bootstrap CI, score orientation fitted on the
calibration part, lead time at a calibrated false-alarm rate, forecast error (MAPE).

- AUROC is the Mann–Whitney statistic (``detect.alarms.auroc``); its 95% CI is the percentile interval of a
  stratified bootstrap over runs (positives and negatives resampled separately, so every resample has both).
- Orientation: a score's sign (does a higher value mean "will grok" or "will not") is fitted on the calibration
  runs (the sign with AUROC >= ½ there) and only then applied to the held-out runs; a score that carries no
  information therefore lands near ½ on held-out runs instead of being flipped to look good.
- Lead time = T_grok − alarm step, the alarm being the sustained-threshold rule (``detect.alarms``, k evals in a
  row) on the oriented signal up to T_grok only (nothing after T_grok enters), with its threshold calibrated on the
  calibration part's non-grokking runs to a run-level false-alarm rate (``calibrate_on_controls``). The held-out
  false-alarm rate (fraction of held-out non-grokking runs that alarm anywhere in their budget) is reported with it.
- MAPE = median and mean of |T̂ − T_grok| / T_grok over held-out grokked runs that have a forecast.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..detect.alarms import auroc, calibrate_on_controls, sustained_alarm


def auroc_ci(pos: Sequence[float], neg: Sequence[float], n_boot: int = 1000, seed: int = 0,
             level: float = 0.95) -> tuple[float, float, float]:
    """(AUROC, low, high) with a stratified percentile bootstrap over runs; NaNs when a class is empty."""
    p, n = np.asarray(pos, float), np.asarray(neg, float)
    a = auroc(p, n)
    if p.size == 0 or n.size == 0:
        return a, math.nan, math.nan
    rng = np.random.default_rng(seed)
    ip = rng.integers(0, p.size, (n_boot, p.size))
    ineg = rng.integers(0, n.size, (n_boot, n.size))
    P, N = p[ip][:, :, None], n[ineg][:, None, :]
    boots = ((P > N).mean((1, 2)) + 0.5 * (P == N).mean((1, 2)))
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2])
    return a, float(lo), float(hi)


def orientation(scores: Sequence[float], labels: Sequence[bool]) -> int:
    """+1 if higher scores go with grokking on these (calibration) runs, else -1 (NaNs ignored; +1 on a tie)."""
    s, y = np.asarray(scores, float), np.asarray(labels, bool)
    ok = np.isfinite(s)
    a = auroc(s[ok & y], s[ok & ~y])
    return -1 if a < 0.5 else 1


def impute(scores: np.ndarray, fill: float) -> np.ndarray:
    """NaN scores (not measurable at the question step) -> ``fill`` (the calibration part's median: neutral);
    ±inf are kept (a forecast of "never")."""
    s = np.asarray(scores, float).copy()
    s[np.isnan(s)] = fill
    return s


def neutral_fill(calib_scores: np.ndarray) -> float:
    s = np.asarray(calib_scores, float)
    s = s[np.isfinite(s)]
    return float(np.median(s)) if s.size else 0.0


def calibrated_threshold(control_signals: Sequence[np.ndarray], fpr: float, k: int) -> float | None:
    """Sustained-alarm threshold at run-level false-alarm rate ``fpr`` on control (non-grokking) signals that are
    already oriented (alarm above); None when no control has a full window of finite values."""
    usable = [np.where(np.isfinite(s), s, np.nan) for s in control_signals if np.isfinite(s).sum() >= k]
    if not usable:
        return None
    thr = calibrate_on_controls(usable, fpr=fpr, k=k, direction=1)
    return None if not math.isfinite(thr) else thr


def alarm_step(steps: np.ndarray, oriented: np.ndarray, threshold: float, k: int) -> int | None:
    """First sustained exceedance of ``threshold`` by the oriented signal (NaN breaks a streak)."""
    return sustained_alarm(np.asarray(steps), np.where(np.isfinite(oriented), oriented, np.nan), threshold, k, 1)


def lead_summary(leads: Sequence[int | None], n_grokked: int) -> dict[str, float | int | None]:
    """Median and quartiles of the lead times of the runs that alarmed before T_grok, and how many did."""
    vals = np.array([v for v in leads if v is not None], float)
    q = np.quantile(vals, [0.25, 0.5, 0.75]) if vals.size else [math.nan] * 3
    return {"median": _f(q[1]), "q25": _f(q[0]), "q75": _f(q[2]), "n_alarmed": int(vals.size),
            "n_grokked": int(n_grokked), "values": [int(v) for v in vals]}


def mape(forecasts: Sequence[float], truths: Sequence[float]) -> dict[str, float | int | None]:
    """Median / mean absolute percentage error of finite forecasts against the true T_grok."""
    f, t = np.asarray(forecasts, float), np.asarray(truths, float)
    ok = np.isfinite(f) & np.isfinite(t) & (t > 0)
    if not ok.any():
        return {"median": None, "mean": None, "n": 0}
    e = np.abs(f[ok] - t[ok]) / t[ok]
    return {"median": float(np.median(e)), "mean": float(e.mean()), "n": int(ok.sum())}


def _f(x: float) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else float(x)
