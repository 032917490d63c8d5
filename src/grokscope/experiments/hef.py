"""HEF: emergence across a 111-run grokking grid (paper 5, Khanh 2026, arXiv:2606.07563; papers/01 §5).

The paper's body is not public: the protocol is RECONSTRUCTED (papers/01 §5.3) and every level below is an option.
111 runs = a grid of 3 initialisation scales × 3 weight decays × 3 train fractions × 4 seeds = 108 MLP runs
(stage ``grid``: the quick preset's embed-concat GELU MLP on (a+b) mod p) + 3 seeds of a 1-layer transformer at the
grid's centre cell (stage ``arch``: the architecture comparison of "universal convergence"). Init scale and weight
decay are packed on the member axis; the train fraction changes the number of training examples (the split's
shape), which the member axis cannot hold (``task.frac`` is not a packable key), so each fraction is its own run.

Per run (``grokscope.hef.measure``): t_peak of the smoothed ‖W‖ with a prominence rule, the lead T_grok − t_peak,
the tanh kink of the test accuracy, the final test accuracy, the E_c candidates; per pair of seeds in a cell and per
MLP × transformer pair: Jaccard of the key-frequency sets and linear CKA of the embeddings. Every run logs the
two-field probe with its trajectory sketch, so `grokscope analyze portrait RUN` draws any grid run (on its geometric
eval grid). Rows:
:mod:`grokscope.experiments.hef_rows`.
"""

from __future__ import annotations

from typing import Any

from ..presets import NANDA_MODEL
from .base import Context, Experiment, Stage, experiment
from .claims import ClaimRow


def _base(ctx: Context) -> dict[str, Any]:
    p = ctx.params
    return {"task": {"p": p["p"]}, "train": {"steps": p["steps"], "stop_on_grok": p["stop_on_grok"]},
            "eval": {"points": p["eval_points"], "probes": ["accuracy", "norms", "two_field"],
                     "probe_options": {"two_field": {"energy": True, "sketch": 8}}},
            "checkpoint": {"count": 2}}


def grid_spec(ctx: Context) -> dict[str, Any]:
    """The MLP grid: init scale × wd × train fraction × seeds (init scale and wd on the member axis)."""
    p = ctx.params
    base = _base(ctx)
    base["optim"] = {"lr": p["lr"]}
    base["model"] = dict(p.get("mlp", {}))
    return {"preset": "quick", "seeds": p["seeds"], "member_cap": p["member_cap"], "base": base,
            "grid": {"intervene.init_scale": list(p["init_scales"]), "optim.wd": list(p["wds"]),
                     "task.frac": list(p["fracs"])}}


def centre(levels: list[float]) -> float:
    return levels[len(levels) // 2]


def arch_spec(ctx: Context) -> dict[str, Any]:
    """The transformer at the grid's centre cell (same task, init scale, wd and fraction), ``arch_seeds`` seeds."""
    p = ctx.params
    base = _base(ctx)
    base["task"]["frac"] = centre(p["fracs"])
    base["model"] = {**NANDA_MODEL, **p.get("transformer", {})}
    base["optim"] = {"lr": p["arch_lr"], "wd": centre(p["wds"])}
    base["intervene"] = {"init_scale": centre(p["init_scales"])}
    return {"preset": "nanda", "seeds": p["arch_seeds"], "member_cap": p["member_cap"], "base": base}


@experiment
class HEF(Experiment):
    name = "hef"
    claim = ("grokking runs across init scale × weight decay × train fraction share an E_c fingerprint (the weight "
             "norm peaks before grokking), a tanh-kink collapse, one final accuracy, and converge to the same "
             "representation")
    paper = "paper 5 (Khanh 2026, arXiv:2606.07563) §5.2-5.3 (protocol reconstructed)"
    scales = {
        # 108 + 3 = 111 runs; measured CPU cost and the extrapolation to 2 hours: docs/hef.md
        # fractions 0.4-0.6: at p = 43 a 0.3 fraction left 6 of 9 cells (seed 0) ungrokked after 6,000 steps
        "quick": {"p": 43, "lr": 1e-2, "init_scales": [0.7, 1.0, 1.4], "wds": [0.5, 1.0, 2.0],
                  "fracs": [0.4, 0.5, 0.6], "seeds": 4, "steps": 8000, "stop_on_grok": 1.5, "eval_points": 200,
                  "member_cap": 12, "arch_seeds": 3, "arch_lr": 3e-3, "key_factor": 3.0,
                  "transformer": {"d_model": 64, "d_mlp": 256}, "peak_window": 5, "peak_prominence": 0.05,
                  "fit_window": 3.0},
        "paper": {"p": 97, "lr": 1e-3, "init_scales": [0.7, 1.0, 1.4], "wds": [0.5, 1.0, 2.0],
                  "fracs": [0.3, 0.4, 0.5], "seeds": 4, "steps": 30_000, "stop_on_grok": 1.5, "eval_points": 300,
                  "member_cap": 12, "arch_seeds": 3, "arch_lr": 1e-3, "key_factor": 3.0, "transformer": {},
                  "peak_window": 5, "peak_prominence": 0.05, "fit_window": 3.0},
    }
    # a framework check of a few minutes on one core: 2 × 2 × 1 levels × 2 seeds + 1 small transformer
    scales["tiny"] = {**scales["quick"], "init_scales": [0.8, 1.2], "wds": [1.0, 2.0], "fracs": [0.5], "seeds": 2,
                      "steps": 1500, "eval_points": 80, "arch_seeds": 1, "transformer": {"d_model": 32, "d_mlp": 64,
                                                                                        "n_heads": 2}}
    notes = {"quick": ["the grid's levels, the model (the quick preset's MLP, p = 43, lr 1e-2) and the transformer "
                       "(d_model 64, 3 seeds at the centre cell) are the toolkit's reconstruction: the paper's body "
                       "is not public (papers/01 §5.3)",
                       "each member stops at 1.5 × its T_grok: the final accuracy is read there",
                       "t_peak: smoothed ‖W‖ (5-eval moving average), prominence ≥ 5% of its range; tanh fit R² "
                       "within ±3 widths of t_c"],
             "paper": ["'paper' is the reconstruction at p = 97, lr 1e-3 (a guess, papers/01 §5.3), not a "
                       "verified protocol"],
             "tiny": ["framework check: 2 × 2 × 1 levels × 2 seeds + 1 transformer seed; not a test of paper 5"]}
    stages = (Stage("grid", grid_spec, "MLP: init scale × wd × train fraction × seeds"),
              Stage("arch", arch_spec, "transformer at the grid's centre cell (MLP vs transformer)"))

    def analyse(self, ctx: Context) -> list[ClaimRow]:
        from .hef_rows import hef_rows

        return hef_rows(ctx)
