"""Plots on demand: any stored metric of one or more runs against steps (``grokscope plot --metric``,
``grokscope compare``).

One panel per metric, stacked, steps shared. A run is drawn per member (one thin line each) or as the mean over its
members with the min..max range shaded. Steps on a log axis by default (step 0 left out there); the value axis
linear unless ``log_y``. Written as PNG, PDF or SVG by the output's suffix (``figure_io``).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from .figure_io import figure_format, save_figure


def check_metrics(wanted: list[str], available: set[str], where: str) -> None:
    """Every wanted metric is stored; else one line naming the closest stored names."""
    for m in wanted:
        if m not in available:
            close = difflib.get_close_matches(m, sorted(available), n=5, cutoff=0.4)
            if not close:  # same namespace, or the name without it
                close = sorted(a for a in available if a.split("/")[0] == m.split("/")[0])[:5]
            hint = f"; close: {', '.join(close)}" if close else f"; it has {len(available)} metrics (see `grokscope show`)"
            raise UserError(f"{where} has no metric {m!r}{hint}")


def series(df: Any, metric: str) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """member -> (steps, values) of ``metric`` in a long metrics table, sorted by step, finite values only."""
    sub = df[df["metric"] == metric].sort_values("step")
    out = {}
    for m, g in sub.groupby("member", sort=True):
        v = g["value"].to_numpy(dtype=float)
        keep = np.isfinite(v)
        out[int(m)] = (g["step"].to_numpy()[keep], v[keep])
    return out


def mean_range(per_member: dict[int, tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, ...]:
    """(steps, mean, min, max) over the members measured at each step."""
    by_step: dict[int, list[float]] = {}
    for steps, vals in per_member.values():
        for s, v in zip(steps, vals):
            by_step.setdefault(int(s), []).append(float(v))
    steps = np.array(sorted(by_step), dtype=np.int64)
    vals = [np.array(by_step[s]) for s in steps]
    return (steps, np.array([v.mean() for v in vals]), np.array([v.min() for v in vals]),
            np.array([v.max() for v in vals]))


def plot_metrics(runs: list[tuple[str, Any]], metrics: list[str], out: str | Path, per_member: bool = False,
                 log_y: bool = False, log_steps: bool = True, title: str | None = None,
                 events: bool = True) -> Path:
    """Draw ``metrics`` of ``runs`` ((label, long metrics DataFrame, events list)) to ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure_format(out)  # a wrong suffix fails before any drawing
    n = len(metrics)
    fig, axs = plt.subplots(n, 1, figsize=(8.5, 2.6 * n + 1.0), sharex=True, squeeze=False, layout="constrained")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, metric in zip(axs[:, 0], metrics):
        for i, (label, (df, evs)) in enumerate(runs):
            c = colors[i % len(colors)]
            per = series(df, metric)
            if log_steps:
                per = {m: (s[s > 0], v[s > 0]) for m, (s, v) in per.items()}
            if not per:
                continue
            if per_member:
                for j, (s, v) in enumerate(per.values()):
                    ax.plot(s, v, color=c, lw=1.0, alpha=0.8, label=label if j == 0 else None)
            else:
                s, mean, lo, hi = mean_range(per)
                ax.plot(s, mean, color=c, lw=1.6, label=f"{label} (mean of {len(per)})" if len(per) > 1 else label)
                if len(per) > 1:
                    ax.fill_between(s, lo, hi, color=c, alpha=0.18, lw=0)
            if events:
                for e in evs:
                    if e.get("t_grok"):
                        ax.axvline(e["t_grok"], color=c, lw=0.6, alpha=0.4)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        if log_y:
            ax.set_yscale("log")
        if log_steps:
            ax.set_xscale("log")
    axs[-1, 0].set_xlabel("step")
    axs[0, 0].legend(fontsize=7, loc="best")
    what = "per member" if per_member else "mean over members, shaded: min..max"
    fig.suptitle(title or f"{what}; vertical lines: T_grok", fontsize=9)
    path = save_figure(fig, out)
    plt.close(fig)
    return path
