"""Two-layer grokking: feature repulsion and spectral lock-in, x² against ReLU (Xu 2026, arXiv:2605.08119, on
Tian's Li₂ framework; papers/03 §14).

One stage, ``train``: the ``tian-x2`` preset (Ŷ = σ(XW)V without biases, K = 2048, (a+b) mod 71 on two one-hots,
40% train, MSE of the class-centred output on the zero-mean one-hot target, Adam lr 1e-3 with *coupled* L2 decay,
full batch, metrics before each step), one run per activation (x², ReLU: the zip axis ``model.act`` ×
``train.steps``, run in parallel by the sweep's workers), each packing the ``grok`` arm (η = 2e-4) and the
``control`` arm (η = 0) of every seed on the member axis; a seed's two arms share init and split.

Measured (``two_layer_rows``):

- lock-in: the slope detector on log σ₂/σ₃ of the last-20-updates Gram (``update_gram`` probe, online on every
  update, event ``lockin_step``); the late-stage median of σ₂/σ₃ over epochs 200–400 and its grok/control ratio;
  the detector's timing against test accuracy 0.99 (the paper: it lags by ~35 epochs: a confirmation, not a warning);
- repulsion: Theorem 6's sign-match at stored checkpoints (``repulsion_at``: the paper's epochs 50, 100, 175, 250,
  300 (and 500, the last for ReLU) at paper scale; only those the rows read at quick scale), i.e. the weights the
  run wrote at those steps, not a replay (``repulsion`` probe; stored as the run's
  ``offline/repulsion.parquet`` so a rerun reuses it);
- ρ_tian ≥ 0.075, the initiation marker (``tian`` / ``tian_early`` probe).
"""

from __future__ import annotations

from typing import Any

from .base import Context, Experiment, Stage, experiment
from .claims import ClaimRow

ACTS = {"x2": "quadratic", "relu": "relu"}  # the rows' names -> the model's act


def train_spec(ctx: Context) -> dict[str, Any]:
    p = ctx.params
    acts = list(p["acts"])
    base: dict[str, Any] = {
        "task": {"p": p["p"], "frac": p["frac"]},
        "model": {"d_hidden": p["width"]},
        "optim": {"lr": p["lr"]},
        "eval": {"grid": "linear", "every": p["eval_every"], "probes": list(p["probes"])},
        "checkpoint": {"count": 0, "at": list(p["checkpoints"])},
    }
    steps = [p["epochs"][a] for a in acts]
    if len(set(steps)) == 1:  # a zip axis lists distinct values
        base["train"] = {"steps": steps[0]}
        axes = {"grid": {"model.act": [ACTS[a] for a in acts]}}
    else:
        axes = {"zip": {"model.act": [ACTS[a] for a in acts], "train.steps": steps}}
    return {"preset": "tian-x2", "seeds": list(p["seeds"]), "member_cap": 64, "base": base, **axes,
            "arms": {"grok": {"optim.wd": p["eta"]}, "control": {"optim.wd": 0.0}},
            "threads_per_worker": p["threads"]}


_SHARED = {"p": 71, "frac": 0.4, "width": 2048, "lr": 1e-3, "eta": 2e-4, "acts": ["x2", "relu"], "threads": 1,
           "rho_threshold": 0.075, "late": [200, 400]}


@experiment
class TwoLayer(Experiment):
    name = "two-layer"
    claim = ("in Tian's two-layer net, x² grokking locks the first-layer updates into a rank-2 spectrum (σ₂/σ₃ "
             "grows; a slope detector fires after generalisation) and similar features repel (Theorem 6); ReLU "
             "does not lock in")
    paper = "Xu 2026 (arXiv:2605.08119) on Tian 2025 (arXiv:2509.21519); papers/03 §14"
    scales = {
        "paper": {**_SHARED, "seeds": list(range(15)), "epochs": {"x2": 400, "relu": 800}, "eval_every": 1,
                  "probes": ["accuracy", "update_gram", "tian"], "checkpoints": [50, 100, 175, 250, 300, 500],
                  "repulsion_at": {"x2": [50, 100, 175, 250, 300], "relu": [50, 100, 175, 250, 300, 500, "last"]}},
        "quick": {**_SHARED, "seeds": list(range(5)), "epochs": {"x2": 400, "relu": 400}, "eval_every": 5,
                  "probes": ["accuracy", "update_gram", "tian_early"], "checkpoints": [50, 100, 175, 250, 300],
                  "repulsion_at": {"x2": [50, 300], "relu": ["last"]}},
        # a framework check in seconds: a narrow net on (a+b) mod 17, not a test of the paper's numbers
        "tiny": {**_SHARED, "p": 17, "frac": 0.5, "width": 32, "lr": 3e-3, "seeds": [0],
                 "epochs": {"x2": 50, "relu": 50}, "eval_every": 2,
                 "probes": ["accuracy", "update_gram", "tian_early"], "checkpoints": [25, 50], "late": [30, 50],
                 "repulsion_at": {"x2": [50], "relu": ["last"]}},
    }
    notes = {
        "quick": ["5 + 5 seeds per activation (the paper: 15 + 15)",
                  "metrics every 5th epoch (the paper: every epoch): test-accuracy crossings and the late-stage "
                  "median use that grid; the slope detector runs on every update inside the probe (exact)",
                  "ReLU trained 400 epochs (the paper: 800): its rows are read at epochs <= 400, its last "
                  "sign-match at epoch 400 (the paper quotes 1.000 by epoch 500)",
                  "ρ_tian only at epochs <= 30 (tian_early), every 5th: it crosses at epochs 11–25 in the paper",
                  "sign-match at the run's stored checkpoints (not a deterministic replay), only at the epochs the "
                  "rows read (x²: 50 and 300; ReLU: the last): the weights of epochs 100, 175, 250 are stored, "
                  "`grokscope analyze probes RUN --probes repulsion` evaluates them"],
        "paper": ["sign-match at the run's stored checkpoints (not a deterministic replay)"],
        "tiny": ["framework check: p = 17, K = 32, lr 3e-3, 50 epochs, one seed per arm; not a test of the paper"],
    }
    stages = (Stage("train", train_spec, "x² and ReLU runs, grok (η = 2e-4) and control (η = 0) arms packed"),)

    def analyse(self, ctx: Context) -> list[ClaimRow]:
        from .two_layer_rows import rows

        return rows(ctx)
