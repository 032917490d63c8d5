"""Feature lottery: the pitchfork at β_c, direction persistence, trajectory shapes, β/β_c on a grokking run, and
the SAE lottery (paper 8, Yang 2026, arXiv:2605.24057; papers/02 §8). Kernels: ``experiments.lottery_kernels``.

Stage ``runs``: a 1-layer transformer on (a+b) mod p, seeds per arm, with log-spaced checkpoints:

- ``grok``: wd 1 (groks);
- ``wd_off``: the same with weight decay removed at T_mem (``intervene.wd_off_at_t_mem``), the weight-decay-removal
  control;
- ``rotation``: trained on (a−b) mod p while the concept measured is a+b: a pretext target that puts no clustering
  pressure on the concept (our stand-in for the paper's rotation-prediction control [reconstructed]).

From every checkpoint the hidden state fed to the unembedding (all p² inputs) gives β_c = 1/λ_max(Cov z) and NC1
w.r.t. the concept labels a+b. β is option (a) of 02 §8, a fixed probe precision, set to ``beta0_ratio`` × β_c at
the first checkpoint (the ML-fitted β of option (b) is ≥ β_c at the collapsed state by construction, so it cannot
show a crossing; ``probes.gmm`` logs it online). Toy and SAE parts run in the analysis (seconds to minutes).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from . import lottery_kernels as lk
from .base import Context, Experiment, Stage, experiment
from .bootstrap import N_BOOT, bootstrap
from .claims import ClaimRow, Estimate, PaperValue, at_least, same_sign, within

P8 = "paper 8 (arXiv:2605.24057)"


def runs_spec(ctx: Context) -> dict[str, Any]:
    p = ctx.params
    return {"preset": "nanda", "seeds": p["seeds"], "member_cap": len(p["seeds"]),
            "base": {"task": {"p": p["p"], "frac": p["frac"]}, "model": dict(p["model"]),
                     "optim": {"lr": p["lr"], "wd": 1.0}, "train": {"steps": p["steps"]},
                     "eval": {"points": p["eval_points"], "grok_threshold": p["grok_threshold"],
                              "probes": ["accuracy", "norms"]},
                     "checkpoint": {"count": p["checkpoints"]}},
            "arms": {"grok": {}, "wd_off": {"intervene.wd_off_at_t_mem": True}, "rotation": {"task.op": "sub"}}}


@torch.no_grad()
def trajectory(path: str, beta0_ratio: float) -> dict[str, np.ndarray]:
    """steps [T], log(β/β_c) [T, M], log NC1 (concept a+b) [T, M] of a run's checkpoints."""
    from ..api import load_run
    from ..probes.gmm import beta_c, nc1

    run = load_run(path)
    setup = run.setup()
    data, model = setup.data, setup.model
    x = torch.as_tensor(data.x)
    i0, i1 = data.input_positions[:2]
    p = int(run.config.task.p)
    concept = (x[:, i0] + x[:, i1]) % p
    key = model.roles.unembed_in
    steps, bc, nc = [], [], []
    for step in run.checkpoint_steps():
        model.load_state_dict(run.load_checkpoint(step)["params"])
        cache: dict = {}
        model(x[None], cache, keep=[key])
        Z = cache[key].double()  # [M, N, d]
        steps.append(step)
        bc.append(beta_c(Z).numpy())
        nc.append(nc1(Z, concept.expand(Z.shape[0], -1), p).numpy())
    bc_arr = np.array(bc)
    beta = beta0_ratio * bc_arr[0]  # fixed precision per member
    return {"steps": np.array(steps, float), "log_ratio": np.log(beta[None] / bc_arr), "log_nc1": np.log(np.array(nc))}


def _mean_est(x: list[float], nb: int) -> Estimate:
    a = np.array([v for v in x if math.isfinite(v)], float)
    if a.size == 0:
        return Estimate(math.nan, n=0)
    if a.size == 1:
        return Estimate(float(a[0]), n=1)
    return Estimate(float(a.mean()), *bootstrap([a], np.mean, n_boot=nb), n=int(a.size))


@experiment
class FeatureLottery(Experiment):
    name = "feature-lottery"
    claim = ("prototypes of a passive GMM probe pitchfork at β_c = 1/λ_max and keep their early direction; grokking "
             "is a 'delayed escape' in the (log β/β_c, log NC1) plane, a no-clustering control has 'no arc'; the "
             "first 5% of SAE training is a feature lottery (early purity predicts final purity)")
    paper = "paper 8 (Yang 2026, arXiv:2605.24057): toy (K = 200, d = 10), shapes, grokking, SAE lottery"
    scales = {
        "quick": {"p": 31, "frac": 0.5, "lr": 3e-3, "seeds": [0, 1], "steps": 3000, "eval_points": 60,
                  "checkpoints": 30, "grok_threshold": 0.95, "beta0_ratio": 0.5,
                  "model": {"d_model": 64, "n_heads": 4, "d_mlp": 256},
                  "toy_n": 1000, "toy_K": 200, "toy_d": 10, "toy_iters": 60, "toy_seeds": 5, "persist_iters": 150,
                  "sae_seeds": 3, "sae_n": 4000, "sae_steps": 1500, "sae_atoms": 256, "sae_labels": 15},
        "paper": {"p": 97, "frac": 0.3, "lr": 1e-3, "seeds": [0, 1, 2], "steps": 20_000, "eval_points": 200,
                  "checkpoints": 60, "grok_threshold": 0.95, "beta0_ratio": 0.5,
                  "model": {"d_model": 128, "n_heads": 4, "d_mlp": 512},
                  "toy_n": 4000, "toy_K": 200, "toy_d": 10, "toy_iters": 200, "toy_seeds": 5, "persist_iters": 600,
                  "sae_seeds": 3, "sae_n": 20000, "sae_steps": 20_000, "sae_atoms": 1024, "sae_labels": 15},
    }
    scales["tiny"] = {**scales["quick"], "p": 11, "seeds": [0], "steps": 80, "eval_points": 10, "checkpoints": 6,
                      "model": {"d_model": 16, "n_heads": 4, "d_mlp": 32}, "toy_n": 300, "toy_K": 20,
                      "toy_iters": 30, "toy_seeds": 2, "persist_iters": 60, "sae_seeds": 2, "sae_n": 800,
                      "sae_steps": 200, "sae_atoms": 32}
    notes = {"quick": ["toy: N = 1,000 points, 60 EM iterations per β, 150-iteration anneal (the paper's N and "
                       "schedule are not published); SAE: synthetic data with 15 latent labels (Zipf-like), a "
                       "self-trained 64-unit MLP, 256 atoms, 1,500 steps, snapshot at 5% (step 75) instead of "
                       "Pythia L6 with POS tags, 20k steps, snapshot at step 1k",
                       "grokking: p = 31, d 64 1-layer transformer, lr 3e-3, 2 seeds; rotation control = a−b "
                       "target with the a+b concept measured [reconstructed]"],
             "paper": ["SAE on synthetic latents (no Pythia offline); the grokking setup is our choice"],
             "tiny": ["framework check: tiny sizes everywhere; not a test of the claims"]}
    stages = (Stage("runs", runs_spec, "grok / wd removed at T_mem / rotation-style control, log-spaced checkpoints"),)

    def analyse(self, ctx: Context) -> list[ClaimRow]:
        p = ctx.params
        nb = int(p.get("n_boot", N_BOOT))
        with torch.random.fork_rng():
            return toy_rows(p, nb) + run_rows(ctx, nb) + sae_rows(p, nb)


def toy_rows(p: dict[str, Any], nb: int) -> list[ClaimRow]:
    ratios = np.geomspace(0.7, 1.4, 11)
    crit, align, persist = [], [], []
    for s in range(p["toy_seeds"]):
        Z = lk.anisotropic_mixture(p["toy_n"], p["toy_d"], seed=s)
        if s < 2:  # the pitchfork scan on two mixtures (its spread is deterministic given the draw)
            sp, al = lk.pitchfork(Z, ratios, p["toy_K"], p["toy_iters"], seed=s)
            kick = lk.spread(lk.collapsed_start(Z, p["toy_K"], 1e-4, s), Z.mean(0))
            crit.append(lk.critical_ratio(ratios, sp, kick, p["toy_iters"]))
            align.append(float(al[ratios > 1.1].mean()))
        persist.append(lk.direction_persistence(Z, p["toy_K"], iters=p["persist_iters"], seed=s))
    src = f"{P8} §3 / App. E (toy, K = 200, d = 10)"
    return [
        ClaimRow("the collapsed prototypes lose stability at β/β_c = 1 (β_c = 1/λ_max Cov z): crossing of the growth rate",
                 PaperValue(1.0, src, "pitchfork at β_c = 1/λ_max"), _mean_est(crit, nb), within(0.05),
                 [f"11 β/β_c values in [0.7, 1.4], K = {p['toy_K']}, {p['toy_iters']} EM iterations each"]),
        ClaimRow("above β_c the prototypes split along the principal eigenvector: mean |cos|",
                 PaperValue(1.0, src, "supercritical pitchfork along the top eigenvector of Cov z"),
                 _mean_est(align, nb), at_least(0.9), ["at β/β_c > 1.1"]),
        ClaimRow("direction persistence: Spearman ρ(onset direction, final direction) over prototypes",
                 PaperValue(0.948, src, "+0.948 ± 0.006 (5 seeds)"), _mean_est(persist, nb), within(0.05),
                 [f"{p['toy_seeds']} seeds; per-seed ρ: " + ", ".join(f"{v:.3f}" for v in persist)
                  + " [reconstructed: displacement along the top eigenvector at onset vs after the anneal]"]),
    ]


def run_rows(ctx: Context, nb: int) -> list[ClaimRow]:
    p = ctx.params
    st = ctx.stages["runs"]
    traj = {path: trajectory(path, p["beta0_ratio"]) for path in sorted({m["path"] for m in st.members})}
    shapes: dict[str, list[str]] = {"grok": [], "wd_off": [], "rotation": []}
    lags, ctrl_cross, lines = [], [], []
    for m in st.members:
        arm, t = m["values"].get("arm"), traj[m["path"]]
        j = int(m["member"])
        shape = lk.classify_shape(t["steps"], t["log_ratio"][:, j], t["log_nc1"][:, j])
        cross = np.nonzero(t["log_ratio"][:, j] >= 0)[0]
        t_cross = float(t["steps"][cross[0]]) if cross.size else math.nan
        grok = m.get("t_grok") is not None and not m.get("censored")
        if arm != "grok" or grok:  # a grokking-arm member that did not grok says nothing about grokking's shape
            shapes[arm].append(shape)
        if arm == "grok" and grok and math.isfinite(t_cross):
            lags.append(math.log10(m["t_grok"] / max(t_cross, 1.0)))
        if arm == "wd_off":
            ctrl_cross.append(float(math.isfinite(t_cross) and not grok))
        lines.append(f"{arm} seed {m['values'].get('seed')}: {shape}, crossing {t_cross:g}, "
                     f"T_grok {m.get('t_grok') if grok else 'none'}, NC1 {math.exp(t['log_nc1'][0, j]):.3g} → "
                     f"{math.exp(t['log_nc1'][-1, j]):.3g}")

    def share(arm: str, want: str) -> Estimate:
        s = shapes[arm]
        return Estimate(float(np.mean([x == want for x in s])) if s else math.nan, n=len(s))

    src = f"{P8} §4 (four shapes) / §6"
    note = ["; ".join(lines) + f"; β fixed at {p['beta0_ratio']:g} × β_c(first checkpoint)"]
    return [
        ClaimRow("grokking traces a 'delayed escape' in (log β/β_c, log NC1): share of the grokked members",
                 PaperValue(None, src, "(iii) delayed escape: grokking on modular arithmetic"),
                 share("grok", "delayed escape"), at_least(0.5), note),
        ClaimRow("a control without clustering pressure has 'no arc': share of rotation-arm members",
                 PaperValue(None, src, "(iv) no arc: rotation-prediction control"), share("rotation", "no arc"),
                 at_least(0.5)),
        ClaimRow("the β/β_c crossing precedes the test-accuracy jump: log10(T_grok / t_cross), grokking arm",
                 PaperValue(None, f"{P8} Prop. 1 / App. C", "symmetry breaking lags the zero-crossing, by orders "
                            "of magnitude in grokking"), _mean_est(lags, nb), same_sign()),
        ClaimRow("weight decay removed at T_mem: the crossing without the jump (share of members crossed, not grokked)",
                 PaperValue(None, f"{P8} App. C", "post-critical escape needs the weight-decay drive"),
                 Estimate(float(np.mean(ctrl_cross)) if ctrl_cross and shapes["grok"] else math.nan,
                          n=len(ctrl_cross)), at_least(0.5),
                 ["undetermined unless some grokking-arm member grokked (else no jump to withhold)"]),
    ]


def sae_rows(p: dict[str, Any], nb: int) -> list[ClaimRow]:
    rhos, tops, ratios = [], [], []
    n_labels = p["sae_labels"]
    snap = max(1, p["sae_steps"] // 20)
    for s in range(p["sae_seeds"]):
        x, lab = lk.latent_data(p["sae_n"], n_labels, seed=s)
        H = lk.train_encoder(x, lab, seed=s)
        early, final = lk.train_sae(H, p["sae_atoms"], p["sae_steps"], snapshot=snap, seed=s)
        rho, top, ratio = lk.lottery_stats(lk.atom_purity(early, lab), lk.atom_purity(final, lab), n_labels)
        rhos.append(rho)
        tops.append(top)
        ratios.append(ratio)
    src = f"{P8} §5 (3 seeds)"
    note = [f"{p['sae_seeds']} seeds; snapshot at step {snap} of {p['sae_steps']} (5%); top-50 activating examples; "
            f"baseline 1/{n_labels} (uniform-random labelling); per-seed ρ_id: " + ", ".join(f"{v:.2f}" for v in rhos)]
    return [
        ClaimRow("SAE feature lottery: ρ_id = Spearman(purity at 5%, final purity) over atoms",
                 PaperValue(0.41, src, "0.41 ± 0.04 (step 1k vs 20k, POS purity)"), _mean_est(rhos, nb),
                 within(0.5), note),
        ClaimRow("top decile of atoms by early purity: final purity over the uniform-random baseline",
                 PaperValue(12.3, src, "0.82 ± 0.03, 12.3× the uniform-random baseline"), _mean_est(ratios, nb),
                 within(0.25), ["final purity of the top decile: " + ", ".join(f"{v:.2f}" for v in tops)]),
    ]
