"""Toy norm clamp: measure W_c on a free control, then hold ‖W‖ at ρ·W_c (paper 4 §4.2, claims 1-2).

Stage ``control``: free training; W_c = median over grokked seeds of ‖W‖ at T_grok (paper 4: "the network groks
when ‖W‖ reaches a concentrated value W_c"). Stage ``clamp``: one arm per ρ, the global weight norm held at ρ·W_c
after every step from ``from_step`` on (``intervene.clamp``), same seeds as the control (shared init and split,
DESIGN.md "Seeds"), so arms are paired by seed. The claim rows: grokking is delayed by a clamp above W_c, the delay
grows exponentially in ρ (``log T = a + α·ρ``), and W_c is concentrated across seeds.

Quick scale is a one-hot quadratic MLP (Gromov 2023 style) on (a+b) mod 23, which groks in a few hundred steps and
trains in seconds on one CPU thread; it is a framework check and a qualitative test of the clamp effect, not a test of
paper 4's constants (those need the paper scale: its embed-concat MLP at p = 59).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import UserError
from .base import Context, Experiment, Stage, experiment
from .bootstrap import bootstrap, censored_times, log_slope_estimate, ratio_estimate
from .claims import ClaimRow, Estimate, PaperValue, at_most, ratio_at_least, same_sign

PAPER_ALPHA = 7.4  # paper 4 §4.2 (2): T_grok ∝ exp(α ρ), α ≈ 7.4 on the 3-level fit (7.64 on the dense sweep)
PAPER_WC_CV = 0.02  # paper 4 §4.2 (1): W_c CV 1-2% across training fractions at p = 59


def _base(ctx: Context, steps: int) -> dict[str, Any]:
    p = ctx.params
    return {"preset": p["preset"], "seeds": p["seeds"], "member_cap": 16,
            "base": {"task": {"p": p["p"], "frac": p["frac"]}, "model": {"d_hidden": p["d_hidden"]},
                     "optim": {"lr": p["lr"]}, "train": {"steps": steps}, "eval": {"points": p["eval_points"]}}}


def control_spec(ctx: Context) -> dict[str, Any]:
    """Free runs, one per seed; stop at 1.5x the last member's T_grok (only T_grok and ‖W‖ there are needed)."""
    spec = _base(ctx, ctx.params["control_steps"])
    spec["base"]["train"]["stop_on_grok"] = 1.5
    return spec


def measure_wc(ctx: Context, stage: str = "control") -> tuple[float, list[float]]:
    """W_c: median over grokked members of the free-control ``stage`` of ‖W‖ (``norm/total``) at T_grok; and the
    per-member norms."""
    st = ctx.stages[stage]
    grokked = [m for m in st.members if m["t_grok"] is not None and not m["censored"]]
    norms = [v for v in st.metric_at(grokked, "norm/total") if v is not None]
    if not norms:
        raise UserError(f"{ctx.experiment.name}: no {stage} member grokked in {ctx.params['control_steps']} steps, "
                        "so W_c cannot be measured; raise control_steps")
    return float(np.median(norms)), norms


def clamp_spec(ctx: Context) -> dict[str, Any]:
    """One arm per ρ, clamped at ρ·W_c (W_c measured in the control stage)."""
    w_c, _ = measure_wc(ctx)
    spec = _base(ctx, ctx.params["clamp_steps"])
    spec["arms"] = {f"rho{rho:g}": {"intervene.clamp.rho": rho, "intervene.clamp.w_c": round(w_c, 4),
                                    "intervene.clamp.from_step": ctx.params["from_step"]}
                    for rho in ctx.params["rhos"]}
    return spec


def _cv(x: np.ndarray) -> float:
    return float(np.std(x, ddof=1) / np.mean(x)) if len(x) > 1 else math.nan


@experiment
class ToyNormClamp(Experiment):
    name = "toy-norm-clamp"
    claim = "holding ‖W‖ above the critical norm W_c delays grokking, exponentially in ρ = ‖W‖/W_c"
    paper = "paper 4 (arXiv:2606.13753) §4.2, claims 1-2"
    scales = {
        "quick": {"preset": "gromov", "p": 23, "frac": 0.5, "d_hidden": 64, "lr": 2e-2, "seeds": 3,
                  "control_steps": 800, "clamp_steps": 800, "from_step": 50, "rhos": [0.8, 1.0, 1.2],
                  "eval_points": 150},
        "paper": {"preset": "clevix-mlp", "p": 59, "frac": 0.4, "d_hidden": 256, "lr": 1e-3, "seeds": 12,
                  "control_steps": 10_000, "clamp_steps": 60_000, "from_step": 0, "rhos": [0.85, 1.0, 1.15, 1.3],
                  "eval_points": 400},
    }
    notes = {"quick": ["one-hot quadratic MLP with MSE (gromov preset) instead of paper 4's embed-concat GELU MLP "
                       "with CE: qualitative check only"]}
    stages = (Stage("control", control_spec, "free runs: W_c = median ‖W‖ at T_grok"),
              Stage("clamp", clamp_spec, "‖W‖ held at ρ·W_c, one arm per ρ"))

    def analyse(self, ctx: Context) -> list[ClaimRow]:
        rhos = list(ctx.params["rhos"])
        st = ctx.stages["clamp"]
        arms = [sorted(st.where(arm=f"rho{r:g}"), key=lambda m: m["seed"]) for r in rhos]
        times = [censored_times([m["t_grok"] for m in a], [m["censored"] for m in a]) for a in arms]
        budget = float(ctx.params["clamp_steps"])
        lo, hi = rhos[0], rhos[-1]
        paper_ratio = math.exp(PAPER_ALPHA * (hi - lo))
        ratio = ratio_estimate(times[-1], times[0], budget=budget, paired=True)
        alpha = log_slope_estimate(rhos, times, unit="per ρ")
        excluded = [f"{r:g}" for r, t in zip(rhos, times, strict=True) if np.isinf(np.median(t))]
        _, norms = measure_wc(ctx)
        x = np.array(norms)
        cv = Estimate(_cv(x), *bootstrap([x], _cv), n=len(x))
        return [
            ClaimRow(f"a clamp at ρ = {hi:g} delays grokking vs ρ = {lo:g} (ratio of median T_grok)",
                     PaperValue(paper_ratio, "paper 4 §4.2 (2)", f"≈ {paper_ratio:.0f}× (exp(α·Δρ), α ≈ {PAPER_ALPHA})"),
                     ratio, ratio_at_least(2.0), [f"paired by seed; budget {budget:.0f} steps"]),
            ClaimRow("delay law log T_grok = a + α·ρ: α > 0",
                     PaperValue(PAPER_ALPHA, "paper 4 §4.2 (2)", f"α ≈ {PAPER_ALPHA} per ρ, R² > 0.99"),
                     alpha, same_sign(),
                     [f"ρ levels with a censored median left out of the fit: {', '.join(excluded)}"] if excluded else []),
            ClaimRow("W_c is concentrated: CV of ‖W‖ at T_grok across control seeds",
                     PaperValue(PAPER_WC_CV, "paper 4 §4.2 (1)", "CV 1-2%"), cv, at_most(0.1)),
        ]
