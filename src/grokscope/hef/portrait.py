"""The two-field portrait of one run member (papers/03 §12; every quantity is a RECONSTRUCTED operationalisation).

From the ``two_field`` probe's stored metrics (run with ``eval.probe_options.two_field = {sketch = K}``):

- the fields: ‖∇L‖ (``two_field/grad_norm``), ‖λθ‖ (``two_field/wd_norm``), their ratio and cos(∇L, θ);
- the **balance point**: the first evaluation after T_mem (or after the start, without T_mem) where
  ‖∇L‖ ≤ ‖λθ‖ (the weight-decay field at least as strong as the loss-gradient field); None if never;
- the trajectory in the top ``k`` principal components of its sketch (``two_field/z*``), coarse-grained into
  ``n_states`` k-means states; the global Σ̂ and the windowed Σ̂(t) of that chain (``hef.markov``); Σ̂'s peak step
  (the earliest window of the maximum: a slow trajectory crosses few states per window, so Σ̂(t) takes few distinct
  values, ``sigma_levels``, and ties are common);
- the quasi-potential Φ̂ = −ln p̂ (KDE) on the first two components (``hef.landscape``);
- the transition window: the 10-90% rise of the test accuracy from its tanh-kink fit (``hef.kink``), and whether
  Σ̂(t) peaks inside it (the window widened by half a Σ̂ window on each side), with the chance rate of that
  (the share of Σ̂ windows whose centre lies inside).

A linear eval grid (``eval.grid = "linear"``) keeps the chain's transitions equally spaced in time; on a geometric
grid the windows are counted in evaluations, not steps (the result says which grid it used).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import kink, landscape, markov

N_PCS = 3


def balance_point(steps: np.ndarray, ratio: np.ndarray, after: int | None = None) -> int | None:
    """First step (>= ``after``) where ‖∇L‖ / ‖λθ‖ <= 1, else None."""
    ok = np.isfinite(ratio) & (ratio <= 1.0) & (steps >= (after or 0))
    return int(steps[np.argmax(ok)]) if ok.any() else None


def transition_window(steps: np.ndarray, test_acc: np.ndarray) -> tuple[float, float] | None:
    """The 10-90% rise of the fitted tanh kink (t_c ∓ atanh(0.8)·w), None without a fit."""
    k = kink.fit_kink(steps, test_acc)
    if k is None:
        return None
    half = 0.5 * kink.RISE * k.w
    return k.t_c - half, k.t_c + half


def member_portrait(steps: np.ndarray, series: dict[str, np.ndarray], sketch: np.ndarray, t_mem: int | None,
                    t_grok: int | None, n_states: int = markov.N_STATES, window: int = markov.WINDOW,
                    k: int = N_PCS) -> dict[str, Any]:
    """The portrait of one member: ``series`` has grad_norm, wd_norm, ratio, cos, test_acc (each ``[T]``),
    ``sketch [T, K]``; returns JSON-ready numbers and the arrays the figure draws (``curves``)."""
    steps = np.asarray(steps, float)
    coords, explained = landscape.pca(sketch, k)
    states = markov.kmeans(coords, n_states, seed=0)
    centres, sig = markov.windowed_entropy_production(states, n_states, window)
    sig_steps = steps[centres] if len(centres) else np.array([])
    out: dict[str, Any] = {
        "t_mem": t_mem, "t_grok": t_grok, "grokked": t_grok is not None,
        "balance_step": balance_point(steps, series["ratio"], t_mem),
        "explained_variance": [float(v) for v in explained],
        "n_states": n_states, "window": window,
        "sigma_total": markov.entropy_production(states, n_states),
        "sigma_peak_step": float(sig_steps[np.nanargmax(sig)]) if len(sig) and np.isfinite(sig).any() else None,
        "sigma_max": float(np.nanmax(sig)) if len(sig) and np.isfinite(sig).any() else None,
        "sigma_levels": int(len(np.unique(np.round(sig[np.isfinite(sig)], 12)))) if len(sig) else 0,
    }
    out.update(_fields_at(steps, series, t_grok))
    out.update(_transition(steps, series["test_acc"], sig_steps, sig, window) if t_grok is not None else
               {"transition": None, "sigma_peak_in_transition": None, "chance": None, "sigma_in_out_ratio": None})
    phi = None
    if len(coords) > 3 and coords.shape[1] >= 2:
        try:
            phi = landscape.quasi_potential(coords[:, :2])
        except np.linalg.LinAlgError:  # a degenerate (e.g. frozen) trajectory has no 2-D density
            phi = None
    out["curves"] = {"steps": steps, "coords": coords, "states": states, "sigma_steps": sig_steps, "sigma": sig,
                     "phi": phi, **series}
    return out


def _fields_at(steps: np.ndarray, series: dict[str, np.ndarray], t: int | None) -> dict[str, Any]:
    if t is None:
        return {"ratio_at_t_grok": None, "cos_at_t_grok": None}
    i = int(np.argmin(np.abs(steps - t)))
    return {"ratio_at_t_grok": float(series["ratio"][i]), "cos_at_t_grok": float(series["cos"][i])}


def _transition(steps: np.ndarray, acc: np.ndarray, sig_steps: np.ndarray, sig: np.ndarray,
                window: int) -> dict[str, Any]:
    tw = transition_window(steps, acc)
    if tw is None or not len(sig) or not np.isfinite(sig).any():
        return {"transition": None, "sigma_peak_in_transition": None, "chance": None, "sigma_in_out_ratio": None}
    dt = float(np.median(np.diff(steps))) if len(steps) > 1 else 0.0
    lo, hi = tw[0] - 0.5 * window * dt, tw[1] + 0.5 * window * dt
    inside = (sig_steps >= lo) & (sig_steps <= hi)
    peak = float(sig_steps[np.nanargmax(sig)])
    ratio = float(np.nanmean(sig[inside]) / np.nanmean(sig[~inside])) if inside.any() and (~inside).any() \
        and np.nanmean(sig[~inside]) > 0 else float("nan")
    return {"transition": [float(tw[0]), float(tw[1])], "sigma_peak_in_transition": bool(lo <= peak <= hi),
            "chance": float(inside.mean()), "sigma_in_out_ratio": ratio}


FIELDS = ("grad_norm", "wd_norm", "ratio", "cos")


def run_portraits(path: Any, member: int | None = None, **kw: Any) -> dict[str, Any]:
    """Portraits of a stored run's members (all, or one); a run without the sketch metrics is one UserError line."""
    from ..api import load_run
    from ..errors import UserError

    run = load_run(path)
    df = run.metrics()
    zs = sorted({m for m in df.metric.unique() if m.startswith("two_field/z")}, key=lambda m: int(m[len("two_field/z"):]))
    if not zs or "two_field/grad_norm" not in set(df.metric.unique()):
        raise UserError(f"run {run.path} has no two-field trajectory: train with eval.probes including "
                        "\"two_field\" and eval.probe_options.two_field = {sketch = 8} (or more)")
    members = [int(m["member"]) for m in run.members]
    if member is not None and member not in members:
        raise UserError(f"run {run.path} has no member {member} (members: {members[0]}..{members[-1]})")
    events = {int(e["member"]): e for e in run.events}
    wide = df[df.metric.isin([*zs, *(f"two_field/{f}" for f in FIELDS), "test/acc"])].pivot_table(
        index=["member", "step"], columns="metric", values="value").reset_index()
    out = {"run": str(run.path), "grid": run.config.eval.grid, "sketch": len(zs), "members": []}
    for m in members if member is None else [member]:
        d = wide[wide.member == m].dropna(subset=[*zs, "two_field/grad_norm", "test/acc"]).sort_values("step")
        if len(d) < 2 * kw.get("window", markov.WINDOW):
            raise UserError(f"run {run.path} member {m}: {len(d)} evaluations with the two-field metrics; the "
                            f"portrait needs at least {2 * kw.get('window', markov.WINDOW)} (a denser eval grid)")
        e = events.get(m, {})
        series = {f: d[f"two_field/{f}"].to_numpy(float) for f in FIELDS} | {"test_acc": d["test/acc"].to_numpy(float)}
        t_grok = None if e.get("censored") else e.get("t_grok")
        res = member_portrait(d.step.to_numpy(float), series, d[zs].to_numpy(float), e.get("t_mem"), t_grok, **kw)
        out["members"].append({"member": m, "seed": e.get("seed"), **res})
    return out
