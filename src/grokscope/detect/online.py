"""Online (causal) early-warning detector: fed one value per evaluation, it keeps its indicator and raises a
sustained-threshold alarm. Used inside a run (the ``ews`` probe) and inside the Monitor.

At each update the indicator is that of the series *so far*: the last ``max_points`` values are detrended
(``detect.ews.detrend``; the Gaussian smoother reflects at the latest point, so no future value enters), and the
indicator (lag-1 autocorrelation or variance) is taken on the last ``window`` residuals. The threshold is the
(1 − fpr) quantile of the first ``calibrate`` indicator values (the run's early window, taken as background), then
frozen; the alarm is the step at which the indicator has exceeded it for ``k`` consecutive evaluations.
Evaluations are taken as equally spaced (``grid: index``): on a geometric eval grid this is the naive reading,
recorded in ``settings`` (the offline ``analyze ews`` resamples instead).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .ews import detrend, lag1_autocorr


class OnlineEWS:
    def __init__(self, indicator: str = "ac1", detrend_method: str = "gaussian", bandwidth: float = 0.2,
                 window: int = 20, k: int = 3, fpr: float = 0.05, calibrate: int = 20, max_points: int = 400) -> None:
        if indicator not in ("ac1", "var"):
            raise ValueError(f"online indicator must be ac1 or var, got {indicator!r}")
        if window < 3:
            raise ValueError("online window must be >= 3 points")
        self.settings = {"indicator": indicator, "detrend": detrend_method, "bandwidth": bandwidth,
                         "window": window, "k": k, "fpr": fpr, "calibrate": calibrate, "max_points": max_points,
                         "grid": "index"}
        self.values: list[float] = []
        self.indicator: list[float] = []
        self.threshold: float | None = None
        self.streak = 0
        self.alarm: int | None = None

    def update(self, step: int, value: float) -> float:
        """Feed the value at ``step``; returns the current indicator (NaN until a window is full)."""
        s = self.settings
        if not math.isfinite(value):
            return math.nan
        self.values.append(float(value))
        self.values = self.values[-s["max_points"]:]
        if len(self.values) < s["window"]:
            return math.nan
        _, resid = detrend(np.array(self.values), s["detrend"], s["bandwidth"])
        win = resid[-s["window"]:]
        ind = float(lag1_autocorr(win[None])[0]) if s["indicator"] == "ac1" else float(win.var(ddof=1))
        if not math.isfinite(ind):
            return math.nan
        self.indicator.append(ind)
        if self.threshold is None:
            if len(self.indicator) >= s["calibrate"]:
                self.threshold = float(np.quantile(self.indicator[:s["calibrate"]], 1 - s["fpr"]))
            return ind
        self.streak = self.streak + 1 if ind > self.threshold else 0
        if self.alarm is None and self.streak >= s["k"]:
            self.alarm = int(step)
        return ind

    def state_dict(self) -> dict[str, Any]:
        return {"values": list(self.values), "indicator": list(self.indicator), "threshold": self.threshold,
                "streak": self.streak, "alarm": self.alarm}

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        self.values, self.indicator = list(sd["values"]), list(sd["indicator"])
        self.threshold, self.streak, self.alarm = sd["threshold"], int(sd["streak"]), sd["alarm"]


def metric_key(signal: str) -> str:
    """``lar/lar`` -> ``lar.lar`` (a metric name inside the ``ews/`` name space and an event key suffix)."""
    return signal.replace("/", ".")
