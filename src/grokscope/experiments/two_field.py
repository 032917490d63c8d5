"""The two-field portrait of training (paper 12, Khanh 2026, arXiv:2605.16325; papers/03 §12).

The paper has no experiments and no numbers (only its abstract is readable): every row here is the toolkit's
*operationalisation* (``grokscope.hef.portrait``), labelled so, and no paper value is quoted as a measurement.

Stage ``train``: the quick preset's embed-concat MLP on (a+b) mod p, packed in one run: ``grok`` members (wd 1:
they grok) and ``control`` members (wd 0: the same seeds, init and split, no weight-decay field), on a linear eval
grid with the ``two_field`` probe, its trajectory sketch and the update energy. The analysis draws each member's
portrait (fields, angle, balance point, windowed Σ̂(t) of the coarse-grained trajectory, quasi-potential −ln p̂)
and asks whether entropy production peaks at the transition — against the chance that a peak lands in the
transition window at all.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Context, Experiment, Stage, experiment
from .bootstrap import bootstrap
from .claims import ClaimRow, Estimate, PaperValue, Rule, at_least, ratio_at_least

SRC = "paper 12 (arXiv:2605.16325), papers/03 §12"
NO_NUMBER = "no experiment or number in the paper: the row tests the toolkit's operationalisation"


def train_spec(ctx: Context) -> dict[str, Any]:
    p = ctx.params
    return {"preset": "quick", "seeds": p["seeds"], "member_cap": 16,
            "base": {"task": {"p": p["p"], "frac": p["frac"]},
                     "train": {"steps": p["steps"], "stop_on_grok": p["stop_on_grok"]},
                     "eval": {"grid": "linear", "every": p["eval_every"],
                              "probes": ["accuracy", "norms", "two_field"],
                              "probe_options": {"two_field": {"sketch": p["sketch"], "energy": True}}},
                     "checkpoint": {"count": 2}},
            "arms": {"grok": {"optim.wd": p["wd"]}, "control": {"optim.wd": 0.0}}}


def above_chance(chance: float) -> Rule:
    """A hit rate against its chance rate: reproduced if the 95% CI is above it, contradicted if below."""

    def judge(paper: float | None, m: Estimate) -> str:
        if np.isnan(m.value) or not m.has_ci or np.isnan(chance):
            return "not reproduced"
        lo, hi = m.span()
        return "reproduced" if lo > chance else "contradicted" if hi < chance else "not reproduced"

    return Rule(f"reproduced if the 95% CI of the hit rate is above the chance rate {chance:.2f}; contradicted if "
                "below; else not reproduced", judge)


def portraits(ctx: Context) -> list[dict[str, Any]]:
    """Every member's portrait (runs read once each), with its arm; figures under ``<out>/figures/``."""
    from ..hef.figures import grid_figure, portrait_figure
    from ..hef.portrait import run_portraits

    stage = ctx.stages["train"]
    arm = {(m["path"], int(m["member"])): m["values"].get("arm") for m in stage.members}
    out: list[dict[str, Any]] = []
    fig_dir = ctx.out / "figures"
    for path in sorted({m["path"] for m in stage.members}):
        res = run_portraits(path, n_states=ctx.params["states"], window=ctx.params["window"])
        for r in res["members"]:
            r["arm"] = arm.get((path, int(r["member"])))
            out.append(r)
            portrait_figure(res, fig_dir / f"portrait-{r['arm']}-seed{r['seed']}.png", r["member"])
    grid_figure(out, fig_dir / "sigma-across-runs.png")
    return out


def _est(x: list[float], unit: str = "") -> Estimate:
    a = np.array([v for v in x if v is not None and np.isfinite(v)], float)
    if not len(a):
        return Estimate(float("nan"), n=0)
    return Estimate(float(a.mean()), *bootstrap([a], np.mean), unit=unit, n=len(a))


def _median_ratio(a: list[float], b: list[float]) -> Estimate:
    x = np.array([v for v in a if v is not None], float)
    y = np.array([v for v in b if v is not None], float)
    if not len(x) or not len(y):
        return Estimate(float("nan"), n=len(x) + len(y))
    stat = lambda u, v: float(np.median(u) / np.median(v)) if np.median(v) > 0 else float("nan")  # noqa: E731
    return Estimate(stat(x, y), *bootstrap([x, y], stat), unit="×", n=len(x) + len(y))


@experiment
class TwoField(Experiment):
    name = "two-field"
    claim = ("training as a driven system under two fields (loss gradient, weight decay): entropy production of "
             "the coarse-grained trajectory peaks at the grokking transition [operationalisation]")
    paper = "paper 12 (Khanh 2026, arXiv:2605.16325), papers/03 §12: no experiments in the paper"
    scales = {
        "quick": {"p": 43, "frac": 0.4, "wd": 1.0, "seeds": 4, "steps": 3000, "stop_on_grok": 2.0,
                  "eval_every": 10, "sketch": 16, "states": 6, "window": 40},
        "tiny": {"p": 43, "frac": 0.5, "wd": 1.0, "seeds": 1, "steps": 1000, "stop_on_grok": 2.0,
                 "eval_every": 5, "sketch": 8, "states": 6, "window": 20},
    }
    scales["paper"] = dict(scales["quick"])  # the paper has no protocol: "paper" = quick, said in the notes
    notes = {"quick": ["the paper has no experiments: a protocol of the toolkit's own (quick preset MLP, grok arm "
                       "wd 1 vs control arm wd 0, same seeds); Σ̂ and Φ̂ are operationalisations (papers/03 §12)",
                       "the loss-gradient field is the raw full-batch ∇L while the optimiser is AdamW: the balance "
                       "point compares ∇L with λθ, not Adam's preconditioned step"],
             "paper": ["no paper protocol exists: identical to quick"],
             "tiny": ["framework check: 1,000 steps, one seed per arm; not a test of anything"]}
    stages = (Stage("train", train_spec, "grok (wd > 0) and control (wd 0) members with the two_field probe"),)

    def analyse(self, ctx: Context) -> list[ClaimRow]:
        rows = portraits(ctx)
        grok = [r for r in rows if r["grokked"]]
        ctrl = [r for r in rows if not r["grokked"]]
        hits = [float(r["sigma_peak_in_transition"]) for r in grok if r["sigma_peak_in_transition"] is not None]
        chance = float(np.mean([r["chance"] for r in grok if r["chance"] is not None])) if grok else float("nan")
        hit = _est(hits)
        grok_arm_ctrl = [r for r in ctrl if r["arm"] == "grok"]
        notes = [f"{len(grok)} grokking members, {len(ctrl)} non-grokking ({len(grok_arm_ctrl)} of them in the "
                 f"grok arm); Σ̂ on {ctx.params['states']} k-means states, windows of {ctx.params['window']} evals",
                 "distinct Σ̂(t) values per member (resolution; ties go to the earliest window): "
                 + ", ".join(str(r["sigma_levels"]) for r in grok)]
        balance = [float(r["balance_step"] is not None and r["balance_step"] <= r["t_grok"]) for r in grok]
        return [
            ClaimRow("entropy production Σ̂(t) peaks inside the transition window (hit rate over grokking members)",
                     PaperValue(None, SRC, NO_NUMBER), hit, above_chance(chance),
                     notes + [f"chance rate (share of Σ̂ windows inside the widened 10-90% rise): {chance:.2f}"]),
            ClaimRow("Σ̂ inside the transition window / outside it (median over grokking members)",
                     PaperValue(None, SRC, NO_NUMBER),
                     _median_ratio([r["sigma_in_out_ratio"] for r in grok if r["sigma_in_out_ratio"] is not None
                                    and np.isfinite(r["sigma_in_out_ratio"])], [1.0]),
                     ratio_at_least(1.5), ["the ratio's CI resamples members"]),
            ClaimRow("peak Σ̂: grokking members / non-grokking controls (ratio of medians)",
                     PaperValue(None, SRC, NO_NUMBER),
                     _median_ratio([r["sigma_max"] for r in grok], [r["sigma_max"] for r in ctrl]),
                     ratio_at_least(1.5), ["nan when every control grokked too"] if not ctrl else []),
            ClaimRow("the fields balance (‖∇L‖ ≤ ‖λθ‖) before T_grok (fraction of grokking members)",
                     PaperValue(None, SRC, NO_NUMBER), _est(balance), at_least(0.5),
                     ["balance steps: " + ", ".join(str(r["balance_step"]) for r in grok)]),
        ]
