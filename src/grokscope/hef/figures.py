"""Figures of the two-field portrait (matplotlib, Agg): per member, the fields, their angle, Σ̂(t) and the
trajectory over the quasi-potential; across runs, Σ̂(t) of every member against its transition."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _marks(ax: Any, r: dict[str, Any]) -> None:
    for key, style in (("t_mem", ":"), ("t_grok", "--"), ("balance_step", "-.")):
        if r.get(key) is not None:
            ax.axvline(r[key], color="k", ls=style, lw=0.8, label=key)
    if r.get("transition"):
        ax.axvspan(*r["transition"], color="tab:orange", alpha=0.15, label="10-90% rise")


def portrait_figure(res: dict[str, Any], path: str | Path, member: int | None = None) -> Path:
    """Four panels of one member (default: the first): field norms, cos(∇L, θ), Σ̂(t), trajectory over Φ̂."""
    from ..report.figure_io import save_figure

    plt = _plt()
    rows = res["members"]
    r = next((m for m in rows if m["member"] == member), rows[0]) if member is not None else rows[0]
    c = r["curves"]
    fig, ax = plt.subplots(2, 2, figsize=(11, 8))
    a = ax[0, 0]
    a.semilogy(c["steps"], c["grad_norm"], label="‖∇L‖")
    a.semilogy(c["steps"], c["wd_norm"], label="‖λθ‖")
    _marks(a, r)
    a.set(xlabel="step", title="the two fields (loss gradient, weight decay)")
    a.legend(fontsize=7)
    a = ax[0, 1]
    a.plot(c["steps"], c["cos"], color="tab:green")
    a.plot(c["steps"], c["test_acc"], color="tab:gray", lw=0.8, label="test acc")
    _marks(a, r)
    a.set(xlabel="step", title="cos(∇L, θ) and test accuracy")
    a.legend(fontsize=7)
    a = ax[1, 0]
    if len(c["sigma"]):
        a.plot(c["sigma_steps"], c["sigma"], color="tab:red")
    _marks(a, r)
    a.set(xlabel="step", ylabel="Σ̂ per transition",
          title=f"entropy production, windows of {r['window']} evals, {r['n_states']} states")
    a = ax[1, 1]
    z = c["coords"]
    if c.get("phi") is not None and "phi" in c["phi"]:
        p = c["phi"]
        cs = a.contourf(p["x"], p["y"], p["phi"], levels=20, cmap="viridis")
        fig.colorbar(cs, ax=a, label="Φ̂ = −ln p̂")
    if z.shape[1] >= 2:
        a.scatter(z[:, 0], z[:, 1], c=c["steps"], cmap="autumn", s=6)
    ev = ", ".join(f"{v:.0%}" for v in r["explained_variance"][:2])
    a.set(xlabel="PC1", ylabel="PC2", title=f"trajectory over the quasi-potential (PCs explain {ev})")
    fig.suptitle(f"{res['run']} member {r['member']} — operationalisations of papers/03 §12, not the paper's "
                 "measurements", fontsize=9)
    fig.tight_layout()
    out = save_figure(fig, path)
    plt.close(fig)
    return out


def grid_figure(portraits: list[dict[str, Any]], path: str | Path) -> Path:
    """Σ̂(t) of every member, time in units of its T_grok (controls: in steps / the median T_grok)."""
    from ..report.figure_io import save_figure

    plt = _plt()
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    groks = [r["t_grok"] for r in portraits if r["t_grok"]]
    ref = float(np.median(groks)) if groks else 1.0
    for r in portraits:
        c = r["curves"]
        scale = r["t_grok"] or ref
        a = ax[0] if r["t_grok"] else ax[1]
        if len(c["sigma"]):
            a.plot(np.asarray(c["sigma_steps"]) / scale, c["sigma"], lw=0.8)
    for a, t in zip(ax, ("grokking members: step / T_grok", "controls (no T_grok): step / median T_grok")):
        a.axvline(1.0, color="k", ls="--", lw=0.8)
        a.set(xlabel=t, ylabel="Σ̂ per transition")
    fig.tight_layout()
    out = save_figure(fig, path)
    plt.close(fig)
    return out


def collapse_figure(recs: list[dict[str, Any]], path: str | Path) -> Path:
    """HEF across the grid: every grokked run's normalised accuracy against (t − t_c)/w over the tanh kink, and
    the test-accuracy curves in units of T_grok with each run's t_peak marked."""
    from ..report.figure_io import save_figure
    from .kink import kink_profile, normalize_curve

    plt = _plt()
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for r in recs:
        if r["t_grok"] is None or r["kink"] is None:
            continue
        steps, acc = (np.asarray(v, float) for v in r["curve"])
        ax[0].plot((steps - r["kink"]["t_c"]) / r["kink"]["w"], normalize_curve(acc), lw=0.5, alpha=0.5)
        ax[1].plot(steps / r["t_grok"], acc, lw=0.5, alpha=0.5)
        if r["t_peak"] is not None:
            ax[1].axvline(r["t_peak"] / r["t_grok"], color="k", lw=0.3, alpha=0.3)
    x = np.linspace(-6, 6, 200)
    ax[0].plot(x, kink_profile(x), "k--", lw=1.5, label="½(1 + tanh x)")
    ax[0].set(xlim=(-6, 6), xlabel="(t − t_c) / w", ylabel="normalised test accuracy", title="tanh-kink collapse")
    ax[0].legend(fontsize=8)
    ax[1].set(xscale="log", xlabel="step / T_grok", ylabel="test accuracy",
              title="grokked runs; grey lines: each run's norm peak t_peak / T_grok")
    fig.tight_layout()
    out = save_figure(fig, path)
    plt.close(fig)
    return out
