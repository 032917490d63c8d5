"""The causal norm delay law (paper 4, arXiv:2606.13753 §4.2 claims 1-6) and the same-state fork test (paper 1,
arXiv:2606.18465 §1.4 (7)), trained here.

Stages, all on the same member seeds (shared init and split: a clamp arm is the control's counterfactual):

- ``control``: free runs; W_c = median ‖W‖ at T_grok (claim 1); they keep full training states at their checkpoints
  (``checkpoint.states``) so the fork stage can branch from them.
- ``clamp``: ‖W‖ held at ρ·W_c from step 0 (claim 2), one arm per ρ (≥ 5 levels): α of ``ln T = c + α ρ`` with a
  bootstrap CI, and the R² of the fit to the per-level medians (claim 3).
- ``matrix``: the ρ × lr matrix (claim 5), the lr × 1 row taken from ``clamp``: does the held norm move T_grok more
  than the learning rate?
- ``rescale``: a one-shot rescale to ρ·W_c at ``t_int`` (the control's median T_mem), then released (claim 6):
  the span of T_grok over ρ against the span of the sustained clamp over [0.90, 1.15].
- ``fork``: branch every control member at a step after memorisation and before grokking into four arms, free and
  clamped at ×1, ×ρ_f and ×1/ρ_f of its own norm there (``intervene.clamp.relative``); delays counted from the fork;
  the raised/same ratio (paper 1 §1.4 (7): 3.36 at p = 59).

Quick scale: the ``quick`` preset's embed-concat GELU MLP on (a+b) mod 43 (lr 1e-2) instead of paper 4's d = 128 /
H = 256 MLP at p = 59 (lr 1e-3), 6 seeds instead of 16, shorter budgets; the verdicts compare shapes (signs,
ratios), not paper 4's constants.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import UserError
from .base import Context, Experiment, Stage, experiment
from .bootstrap import bootstrap, log_fit_r2, log_slope_estimate, median, paired_estimate, ratio, ratio_estimate, seed_times
from .claims import ClaimRow, Estimate, PaperValue, at_least, at_most, ratio_at_least, ratio_below_one, same_sign
from .toy import measure_wc

P4, P1 = "paper 4 (arXiv:2606.13753) §4.2", "paper 1 (arXiv:2606.18465) §1.4 (7)"


def _spec(ctx: Context, steps: int, stop: float | None = 1.2, states: bool = False) -> dict[str, Any]:
    """A stage's sweep spec; only the control (``states``: the fork's parent) keeps many checkpoints."""
    p = ctx.params
    train: dict[str, Any] = {"steps": steps, "stop_on_grok": stop}
    return {"preset": p["preset"], "seeds": p["seeds"], "member_cap": 16,
            "base": {"task": {"p": p["p"], "frac": p["frac"]}, "model": dict(p.get("model", {})),
                     "optim": {"lr": p["lr"]}, "train": train, "eval": {"points": p["eval_points"]},
                     "checkpoint": {"count": p["checkpoints"] if states else 2, "states": states}}}


def control_spec(ctx: Context) -> dict[str, Any]:
    """Free runs to 1.5 × each member's T_grok, with full states at the checkpoints (the fork's parents)."""
    return _spec(ctx, ctx.params["control_steps"], stop=1.5, states=True)


def _clamp_arm(rho: float, w_c: float) -> dict[str, Any]:
    return {"intervene.clamp.rho": rho, "intervene.clamp.w_c": round(w_c, 4), "intervene.clamp.from_step": 0}


def clamp_spec(ctx: Context) -> dict[str, Any]:
    w_c, _ = measure_wc(ctx)
    spec = _spec(ctx, ctx.params["clamp_steps"])
    spec["arms"] = {f"rho{r:g}": _clamp_arm(r, w_c) for r in ctx.params["rhos"]}
    return spec


def matrix_spec(ctx: Context) -> dict[str, Any]:
    """ρ × lr arms; the lr × 1 row is the clamp stage's."""
    w_c, _ = measure_wc(ctx)
    spec = _spec(ctx, ctx.params["clamp_steps"])
    spec["arms"] = {f"rho{r:g}_lr{f:g}": {**_clamp_arm(r, w_c), "optim.lr": ctx.params["lr"] * f}
                    for r in ctx.params["matrix_rhos"] for f in ctx.params["lr_factors"] if f != 1}
    return spec


def t_int(ctx: Context) -> int:
    """The one-shot rescale step: the control's median T_mem (memorised, not yet grokked)."""
    t_mem = [m["t_mem"] for m in ctx.stages["control"].members if m["t_mem"] is not None]
    if not t_mem:
        raise UserError(f"{ctx.experiment.name}: no control member memorised; raise control_steps")
    return max(1, int(np.median(t_mem)))


def rescale_spec(ctx: Context) -> dict[str, Any]:
    w_c, _ = measure_wc(ctx)
    spec = _spec(ctx, ctx.params["clamp_steps"])
    spec["arms"] = {f"once{r:g}": {"intervene.rescale.step": t_int(ctx), "intervene.rescale.to_norm": round(r * w_c, 4)}
                    for r in ctx.params["once_rhos"]}
    return spec


def fork_point(ctx: Context) -> tuple[str, int]:
    """(parent run, fork step): the latest control checkpoint with a saved state at or before half the earliest
    T_grok and after every member memorised (paper 1: t_fork = 800, after memorisation, before grokking)."""
    from ..api import load_run

    members = ctx.stages["control"].members
    paths = sorted({m["path"] for m in members})
    if len(paths) != 1:
        raise UserError(f"{ctx.experiment.name}: the control must be one packed run to fork from, got {len(paths)}")
    t_mem = [m["t_mem"] for m in members]
    t_grok = [m["t_grok"] for m in members]
    if None in t_mem or None in t_grok:
        raise UserError(f"{ctx.experiment.name}: every control member must memorise and grok to place the fork; "
                        "raise control_steps")
    run = load_run(paths[0])
    states = [s for s in run.checkpoint_steps() if (run.path / "ckpt" / f"state_{s:08d}.pt").is_file()]
    ok = [s for s in states if max(t_mem) <= s <= 0.5 * min(t_grok)] or \
         [s for s in states if max(t_mem) <= s < min(t_grok)]
    if not ok:
        raise UserError(f"{ctx.experiment.name}: no saved control state between T_mem {max(t_mem)} and T_grok "
                        f"{min(t_grok)}; raise checkpoints")
    return paths[0], max(ok)


def fork_spec(ctx: Context) -> dict[str, Any]:
    parent, step = fork_point(ctx)
    rho = ctx.params["fork_rho"]
    spec = _spec(ctx, ctx.params["fork_steps"])
    spec["base"]["train"]["fork"] = {"run": parent, "step": step}
    relative = {"free": None, "same": 1.0, "raised": rho, "lowered": round(1 / rho, 6)}
    spec["arms"] = {name: ({} if r is None else {"intervene.clamp.relative": r, "intervene.clamp.from_step": step})
                    for name, r in relative.items()}
    return spec


# -- analysis ------------------------------------------------------------------------------------------------------
def _span(groups: list[np.ndarray]) -> float:
    """max / min of the median times over the levels (nan when a median is censored)."""
    meds = [median(g) for g in groups]
    if any(not np.isfinite(m) for m in meds):
        return math.nan
    return max(meds) / min(meds)


def _cv(x: np.ndarray) -> float:
    return float(np.std(x, ddof=1) / np.mean(x)) if len(x) > 1 else math.nan


@experiment
class NormDelayLaw(Experiment):
    name = "norm-delay-law"
    claim = ("holding the weight norm at ρ·W_c sets the grokking time, T_grok ∝ exp(α ρ); the norm moves it far "
             "more than the learning rate, and only while it is held")
    paper = "paper 4 (arXiv:2606.13753) §4.2 claims 1-6; paper 1 (arXiv:2606.18465) §1.4 (7)"
    scales = {
        "quick": {"preset": "quick", "p": 43, "frac": 0.4, "lr": 1e-2, "seeds": 6, "eval_points": 200,
                  "checkpoints": 24, "control_steps": 3000, "clamp_steps": 12_000, "fork_steps": 12_000,
                  "rhos": [0.85, 0.9, 1.0, 1.15, 1.2], "matrix_rhos": [0.85, 1.0, 1.2], "lr_factors": [0.5, 1, 2],
                  "once_rhos": [0.7, 1.0, 1.3], "fork_rho": 1.15},
        "paper": {"preset": "clevix-mlp", "p": 59, "frac": 0.4, "lr": 1e-3, "seeds": 16, "eval_points": 400,
                  "checkpoints": 40, "control_steps": 10_000, "clamp_steps": 60_000, "fork_steps": 60_000,
                  "rhos": [0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15, 1.2, 1.25, 1.3], "matrix_rhos": [0.85, 1.0, 1.15, 1.3],
                  "lr_factors": [1, 2, 4, 8], "once_rhos": [0.7, 0.85, 1.0, 1.15, 1.3], "fork_rho": 1.15,
                  "model": {"d_embed": 128, "d_hidden": 256}},
    }
    # a framework check that trains in about a minute (the gromov one-hot MLP at p = 23): not a test of the law
    scales["tiny"] = {**scales["quick"], "preset": "gromov", "p": 23, "frac": 0.5, "lr": 2e-2, "seeds": 3,
                      "eval_points": 60, "checkpoints": 12, "control_steps": 1500, "clamp_steps": 3000,
                      "fork_steps": 3000, "model": {"d_hidden": 64}}
    notes = {"tiny": ["framework check: the gromov one-hot MLP at p = 23, 3 seeds; not a test of paper 4's law"],
             "quick": ["the quick preset's embed-concat GELU MLP (d_embed 32, d_hidden 128) on (a+b) mod 43 at lr "
                       "1e-2 instead of paper 4's d 128 / H 256 MLP at p = 59, lr 1e-3: shapes (signs, ratios, R²) "
                       "are compared, not paper 4's constants",
                       "clamp arms stop at 1.2 × their T_grok; the fork parent is the control run itself"]}
    stages = (Stage("control", control_spec, "free runs: W_c = median ‖W‖ at T_grok; states kept for the fork"),
              Stage("clamp", clamp_spec, "‖W‖ held at ρ·W_c from step 0, one arm per ρ"),
              Stage("matrix", matrix_spec, "ρ × lr arms (the lr × 1 row is the clamp stage)"),
              Stage("rescale", rescale_spec, "one-shot rescale to ρ·W_c at the control's median T_mem"),
              Stage("fork", fork_spec, "same-state fork: free / ×1 / ×ρ / ×1/ρ of the norm at the fork"))

    def analyse(self, ctx: Context) -> list[ClaimRow]:
        p = ctx.params
        rhos, budget = list(p["rhos"]), float(p["clamp_steps"])
        clamp, matrix = ctx.stages["clamp"], ctx.stages["matrix"]
        arm = {r: seed_times(clamp.where(arm=f"rho{r:g}")) for r in rhos}
        _, norms = measure_wc(ctx)
        x = np.array(norms)
        rows = [ClaimRow("W_c is concentrated: CV of ‖W‖ at T_grok across control seeds",
                         PaperValue(0.02, f"{P4} (1)", "CV 1-2% (p = 59)"), Estimate(_cv(x), *bootstrap([x], _cv),
                                                                                      n=len(x)), at_most(0.1),
                         [f"W_c = {np.median(x):.2f}"])]
        groups = [arm[r] for r in rhos]
        excluded = [f"{r:g}" for r in rhos if not np.isfinite(median(arm[r]))]
        rows.append(ClaimRow("delay law ln T_grok = c + α·ρ under a sustained clamp: α > 0",
                             PaperValue(7.64, f"{P4} (3)", "α = 7.64 [7.47, 7.81] per ρ (dense sweep, p = 59)"),
                             log_slope_estimate(rhos, groups, unit="per ρ"), same_sign(),
                             [f"ρ levels {', '.join(f'{r:g}' for r in rhos)}"]
                             + ([f"censored medians left out: {', '.join(excluded)}"] if excluded else [])))
        rows.append(ClaimRow("R² of the exponential law on the per-level medians",
                             PaperValue(0.994, f"{P4} (3)", "R² = 0.994 over [0.85, 1.25]"),
                             Estimate(log_fit_r2(rhos, groups), n=len(rhos)), at_least(0.9)))
        rows += self._matrix_rows(ctx, arm, matrix, budget)
        rows += self._rescale_rows(ctx, arm)
        rows += self._fork_rows(ctx)
        return rows

    @staticmethod
    def _matrix_rows(ctx: Context, arm: dict, matrix: Any, budget: float) -> list[ClaimRow]:
        p = ctx.params
        lo_r, hi_r = min(p["matrix_rhos"]), max(p["matrix_rhos"])
        lo_f, hi_f = min(p["lr_factors"]), max(p["lr_factors"])

        def cell(r: float, f: float) -> np.ndarray:
            return arm[r] if f == 1 else seed_times(matrix.where(arm=f"rho{r:g}_lr{f:g}"))

        table = {(r, f): median(cell(r, f)) for r in p["matrix_rhos"] for f in p["lr_factors"]}
        text = "; ".join(f"ρ {r:g}: " + ", ".join(f"lr×{f:g} {table[(r, f)]:.0f}" for f in p["lr_factors"])
                         for r in p["matrix_rhos"])
        norm_fx = ratio_estimate(cell(hi_r, 1), cell(lo_r, 1), budget=budget, paired=True)
        lr_fx = ratio_estimate(cell(1.0, lo_f), cell(1.0, hi_f), budget=budget, paired=True)

        def dominance(a_hi: np.ndarray, a_lo: np.ndarray, b_lo: np.ndarray, b_hi: np.ndarray) -> float:
            return ratio(a_hi, a_lo) / ratio(b_lo, b_hi)

        samples = [cell(hi_r, 1), cell(lo_r, 1), cell(1.0, lo_f), cell(1.0, hi_f)]
        dom = paired_estimate(samples, dominance, budget)
        return [
            ClaimRow(f"norm effect: T_grok at ρ = {hi_r:g} / at ρ = {lo_r:g} (lr × 1)",
                     PaperValue(19.0, f"{P4} (5)", "≈ 19× over ρ 0.85 → 1.30"), norm_fx, ratio_at_least(2.0),
                     [f"median T_grok: {text}"]),
            ClaimRow(f"lr effect: T_grok at lr × {lo_f:g} / at lr × {hi_f:g} (ρ = 1)",
                     PaperValue(2.0, f"{P4} (5)", "≈ 2× over lr 1e-3 → 8e-3"), lr_fx, ratio_at_least(1.0)),
            ClaimRow("the held norm moves T_grok more than the lr: norm effect / lr effect",
                     PaperValue(9.5, f"{P4} (5)", "19× / 2× ≈ 9.5"), dom, ratio_at_least(2.0),
                     [f"ranges: ρ {lo_r:g} → {hi_r:g}, lr × {lo_f:g} → × {hi_f:g}"]),
        ]

    @staticmethod
    def _rescale_rows(ctx: Context, arm: dict) -> list[ClaimRow]:
        p = ctx.params
        once = [seed_times(ctx.stages["rescale"].where(arm=f"once{r:g}")) for r in p["once_rhos"]]
        held = [arm[r] for r in (0.9, 1.15) if r in arm]
        span_once = Estimate(_span(once), *bootstrap(once, lambda *g: _span(list(g)), paired=True), unit="×",
                             n=sum(map(len, once)))
        span_held = Estimate(_span(held), *bootstrap(held, lambda *g: _span(list(g)), paired=True), unit="×",
                             n=sum(map(len, held)))

        def contrast(*g: np.ndarray) -> float:
            k = len(once)
            return _span(list(g[k:])) / _span(list(g[:k]))

        both = [*once, *held]
        c = Estimate(contrast(*both), *bootstrap(both, contrast, paired=True), unit="×", n=sum(map(len, both)))
        rng = f"{min(p['once_rhos']):g}-{max(p['once_rhos']):g}"
        return [
            ClaimRow(f"a one-shot rescale to ρ·W_c at t_int, then released: span of T_grok over ρ {rng}",
                     PaperValue(1.2, f"{P4} (6)", "1.2× over ρ 0.70-1.30"), span_once, at_most(2.0),
                     [f"t_int = {t_int(ctx)} (the control's median T_mem)"]),
            ClaimRow("a sustained clamp: span of T_grok over ρ 0.90-1.15",
                     PaperValue(7.3, f"{P4} (6)", "7.3× over ρ 0.90-1.15"), span_held, ratio_at_least(2.0)),
            ClaimRow("only a held norm sets the delay: sustained span / one-shot span",
                     PaperValue(7.3 / 1.2, f"{P4} (6)", "7.3 / 1.2 ≈ 6.1"), c, ratio_at_least(2.0)),
        ]

    @staticmethod
    def _fork_rows(ctx: Context) -> list[ClaimRow]:
        _, step = fork_point(ctx)
        fork = ctx.stages["fork"]
        delay = {a: seed_times(fork.where(arm=a)) - step for a in ("lowered", "free", "same", "raised")}
        meds = ", ".join(f"{a} {median(d):.0f}" for a, d in delay.items())
        budget = float(ctx.params["fork_steps"] - step)
        return [ClaimRow("same-state fork: delay from the fork, clamp raised ×ρ / held ×1 (raised / same)",
                         PaperValue(3.36, P1, "3.36 [3.27, 3.43] (p = 59; 3.27 at p = 97)"),
                         ratio_estimate(delay["raised"], delay["same"], budget=budget, paired=True),
                         ratio_at_least(1.5), [f"fork at step {step}; median delays: {meds}"]),
                ClaimRow("same-state fork: lowered ×1/ρ / free (a lower held norm groks sooner than free)",
                         PaperValue(1525 / 4225, P1, "lowered 1525 vs free 4225 (p = 59): 0.36"),
                         ratio_estimate(delay["lowered"], delay["free"], budget=budget, paired=True),
                         ratio_below_one())]
