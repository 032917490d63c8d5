"""Attention-head re-initialisation vs matched weight-norm clipping at λ = 0.05 (paper 9, arXiv:2605.20441; 02 §9).

Stage ``arms``: one transformer per arm and seed at λ = ``wd`` (paired seeds: the arms of a seed share init, split
and data order, since seeds derive from the config without the intervention), with the ``attention`` probe:

- ``A`` control;
- ``B`` re-initialise the heads ``heads`` of layer 0 after step ``at_step`` (``intervene.reinit_heads``);
- ``C`` matched weight-norm clipping after the same step (``intervene.clip_norm.match_heads``): ‖W‖ rescaled by one
  scalar to exactly the norm B's member gets from its re-init draw (``train.surgery``).

Which heads, at which step, and how the clip target was matched are not published (02 §9 [I]): all three are options
(``heads``, ``at_step``; the matching rule is ``train.surgery``'s). Peak σ_H = max of ``attention/entropy_std``
over the evaluations after ``at_step``. Claims: paired differences B − A, C − A, C − B of the peak (mean, paired
Cohen d = mean/sd of the differences, 95% CIs by resampling seeds).

Stage ``regimes``: the control at two more λ values (``regime_wds``: below λ_c and the paper's collapse value 10),
classified by :func:`classify_regime` from (λ, final test accuracy, final s̄) into memorisation / developmental
grokking / collapse; the claim is the share of members placed in the regime the paper gives their λ.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .base import Context, Experiment, Stage, StageResult, experiment
from .bootstrap import N_BOOT, bootstrap
from .claims import ClaimRow, Estimate, PaperValue, Rule, at_least, ci_contains, same_sign

P9 = "paper 9 (arXiv:2605.20441) §9 intervention"
SIGMA, SIM = "attention/entropy_std", "attention/mean_similarity"
REGIMES = ("memorisation", "developmental grokking", "collapse")


# -- kernels ---------------------------------------------------------------------------------------------------
def peak_after(curve: tuple[np.ndarray, np.ndarray] | None, step: float) -> float:
    """Max of a curve over the evaluations strictly after ``step`` (nan if none)."""
    if curve is None:
        return math.nan
    s, v = curve
    v = v[(s > step) & np.isfinite(v)]
    return float(v.max()) if v.size else math.nan


def paired_d(diff: np.ndarray) -> float:
    """Paired Cohen d: mean / sample sd (ddof 1) of the differences; nan with < 2 pairs or zero spread."""
    diff = np.asarray(diff, float)
    if diff.size < 2:
        return math.nan
    sd = diff.std(ddof=1)
    return float(diff.mean() / sd) if sd > 0 else math.nan


def classify_regime(lam: float, final_acc: float, s_bar: float, lam_c: float, acc_threshold: float = 0.9,
                    collapse_similarity: float = 0.99) -> str:
    """Paper 9's regimes from (λ, final test accuracy, final s̄) [reconstructed rule, 02 §9 item 5]:

    - ``collapse``: λ above the boundary and s̄ ≥ ``collapse_similarity`` without generalising (the heads' patterns
      identical: the paper's λ = 10 regime, "s̄ → 1");
    - ``developmental grokking``: final test accuracy ≥ ``acc_threshold``;
    - ``memorisation``: otherwise (below the boundary λ_c, or not generalised in the budget)."""
    if lam > lam_c and s_bar >= collapse_similarity and final_acc < acc_threshold:
        return "collapse"
    return "developmental grokking" if final_acc >= acc_threshold else "memorisation"


def expected_regime(lam: float, lam_c: float, lam_collapse: float) -> str:
    """The paper's regime of a λ bin: below λ_c memorisation, at ≥ ``lam_collapse`` collapse, else grokking."""
    if lam < lam_c:
        return "memorisation"
    return "collapse" if lam >= lam_collapse else "developmental grokking"


def contains_zero() -> Rule:
    """A null claim (no significant difference): reproduced if the 95% CI contains 0, contradicted if it excludes it."""

    def judge(paper: float | None, m: Estimate) -> str:
        if math.isnan(m.value) or not m.has_ci:
            return "not reproduced"
        lo, hi = m.span()
        return "reproduced" if lo <= 0 <= hi else "contradicted"

    return Rule("reproduced if the 95% CI contains 0 (no significant difference); contradicted if it excludes 0",
                judge)


# -- stages ------------------------------------------------------------------------------------------------------
def _base(ctx: Context) -> dict[str, Any]:
    p = ctx.params
    return {"preset": p["preset"], "seeds": p["seeds"], "member_cap": len(p["seeds"]),
            "threads_per_worker": p.get("threads", 1),
            "base": {"task": {"p": p["p"], "frac": p["frac"]}, "model": dict(p["model"]),
                     "optim": {"lr": p["lr"], "wd": p["wd"]},
                     "train": {"steps": p["steps"], "stop_on_grok": p["stop_on_grok"]},
                     "eval": {"points": p["eval_points"], "grok_threshold": p["grok_threshold"],
                              "probes": ["accuracy", "norms", "attention"]},
                     "checkpoint": {"count": 1}}}


def arms_spec(ctx: Context) -> dict[str, Any]:
    p = ctx.params
    spec = _base(ctx)
    spec["arms"] = {"A": {},
                    "B": {"intervene.reinit_heads": {"step": p["at_step"], "heads": list(p["heads"])}},
                    "C": {"intervene.clip_norm": {"step": p["at_step"], "match_heads": list(p["heads"])}}}
    return spec


def regimes_spec(ctx: Context) -> dict[str, Any]:
    spec = _base(ctx)
    spec["base"]["train"]["stop_on_grok"] = None
    spec["grid"] = {"optim.wd": list(ctx.params["regime_wds"])}
    return spec


def lam_c(p: dict[str, Any]) -> float:
    """The boundary at this scale: the paper's λ_c·η·T_max = 0.0158·1e-3·10,000 held fixed (wd-regimes' form)."""
    return 0.158 / (p["lr"] * p["steps"])


@experiment
class HeadReinit(Experiment):
    name = "head-reinit"
    claim = ("re-initialising attention heads lowers the peak attention-entropy spread σ_H; a matched weight-norm "
             "clip does not (so the effect is not the norm change); the regime (memorisation / grokking / collapse) "
             "reads from (λ, final test accuracy, s̄)")
    paper = "paper 9 (arXiv:2605.20441) §9: intervention A/B/C at λ = 0.05; regimes"
    scales = {
        "quick": {"preset": "nanda", "p": 31, "frac": 0.5, "lr": 3e-3, "wd": 0.05, "seeds": list(range(6)),
                  "steps": 3000, "stop_on_grok": None, "eval_points": 60, "grok_threshold": 0.95,
                  "at_step": 300, "heads": [0, 1], "regime_wds": [0.001, 10.0],
                  "model": {"d_model": 64, "n_heads": 4, "d_mlp": 256}, "threads": 1},
        "paper": {"preset": "power", "p": 97, "frac": 0.5, "lr": 1e-3, "wd": 0.05, "seeds": list(range(10)),
                  "steps": 10_000, "stop_on_grok": None, "eval_points": 300, "grok_threshold": 0.99,
                  "at_step": 1000, "heads": [0, 1, 2, 3], "regime_wds": [0.001, 10.0],
                  "model": {"n_layers": 4, "n_heads": 8, "d_model": 128, "d_mlp": 512}, "threads": 1},
    }
    scales["tiny"] = {**scales["quick"], "p": 17, "seeds": [0, 1], "steps": 120, "eval_points": 12, "at_step": 40,
                      "regime_wds": [10.0], "model": {"d_model": 16, "n_heads": 4, "d_mlp": 32}}
    notes = {"quick": ["a 1-layer, 4-head, d 64 transformer (Nanda's, no LayerNorm) on (a+b) mod 31, 50% train, "
                       "full batch, lr 3e-3, 3,000 steps, 6 paired seeds, instead of the paper's 4-layer, 8-head, "
                       "d 128 model at p = 97, batch 512, lr 1e-3, 10 paired seeds",
                       "heads 0 and 1 (of 4) re-drawn after step 300 (the paper's heads and step are not published)",
                       "λ_c of the regime rule: the paper's λ_c·η·T_max = 0.158 at this lr and budget"],
             "tiny": ["framework check: p = 17, d 16, 120 steps, 2 seeds; not a test of the claims"],
             "paper": ["heads 0-3 of layer 0 after step 1,000 (not published); steps read as epochs"]}
    stages = (Stage("arms", arms_spec, "control / head re-init / matched clip, paired seeds"),
              Stage("regimes", regimes_spec, "the control at λ below λ_c and at the collapse value"))

    def analyse(self, ctx: Context) -> list[ClaimRow]:
        p = ctx.params
        nb = int(p.get("n_boot", N_BOOT))
        peaks = arm_peaks(ctx.stages["arms"], p["at_step"])
        seeds = sorted(set.intersection(*(set(v) for v in peaks.values())))
        arr = {a: np.array([peaks[a][s] for s in seeds]) for a in "ABC"}
        note = [f"{len(seeds)} paired seeds; mean peak σ_H: " + ", ".join(f"{a} {np.nanmean(arr[a]):.4f}" for a in "ABC")]
        rows = []
        for (x, y), (pv, pd) in {("B", "A"): (-0.055, -1.190), ("C", "A"): (None, None),
                                 ("C", "B"): (0.048, 1.586)}.items():
            diff = arr[x] - arr[y]
            est = _mean_est(diff, nb)
            d = paired_d(diff)
            lo, hi = bootstrap([diff], paired_d, n_boot=nb) if math.isfinite(d) else (None, None)
            dn = [f"paired Cohen d = {d:.2f}" + (f" [{lo:.2f}, {hi:.2f}]" if lo is not None else "")
                  + f"; sd of the differences {np.std(diff, ddof=1) if diff.size > 1 else math.nan:.4f}"]
            if pv is None:
                rows.append(ClaimRow(f"peak σ_H: {x} − {y} (matched clip vs control) is not significant",
                                     PaperValue(0.0, P9, "C vs A: not significant"), est, contains_zero(),
                                     note + dn))
                continue
            rows.append(ClaimRow(f"peak σ_H: {x} − {y} (paired)",
                                 PaperValue(pv, P9, f"Δ = {pv:+.3f}" + (" ± 0.046, p_t = 4.5e-3 (n = 10)"
                                                                         if x == "B" else " (n = 10)")),
                                 est, ci_contains(), note + dn))
            rows.append(ClaimRow(f"peak σ_H: {x} − {y}, paired Cohen d",
                                 PaperValue(pd, P9, f"d = {pd:+.3f}"),
                                 Estimate(d, lo, hi, n=len(diff)) if math.isfinite(d) else Estimate(math.nan),
                                 same_sign()))
        rows.append(regime_row(ctx))
        return rows


def arm_peaks(st: StageResult, at_step: float) -> dict[str, dict[int, float]]:
    """arm -> seed -> peak σ_H after ``at_step``."""
    curves = st.curves(SIGMA)
    out: dict[str, dict[int, float]] = {a: {} for a in "ABC"}
    for m in st.members:
        arm = m["values"].get("arm")
        if arm in out:
            out[arm][int(m["values"]["seed"])] = peak_after(curves.get((str(m["run_id"]), int(m["member"]))), at_step)
    return out


def _mean_est(x: np.ndarray, nb: int) -> Estimate:
    x = x[np.isfinite(x)]
    if x.size < 2:
        return Estimate(math.nan, n=int(x.size))
    lo, hi = bootstrap([x], np.mean, n_boot=nb)
    return Estimate(float(x.mean()), lo, hi, n=int(x.size))


def _final(curve: tuple[np.ndarray, np.ndarray] | None) -> float:
    return float(curve[1][-1]) if curve is not None and len(curve[1]) else math.nan


def regime_row(ctx: Context) -> ClaimRow:
    """Share of members (the controls at λ = wd and the regime stage's λ values) placed in their λ's regime."""
    p = ctx.params
    lc = lam_c(p)
    members: list[tuple[float, float, float]] = []
    for st, only_a in ((ctx.stages["arms"], True), (ctx.stages["regimes"], False)):
        sims, accs = st.curves(SIM), st.curves("test/acc")
        for m in st.members:
            if only_a and m["values"].get("arm") != "A":
                continue
            key = (str(m["run_id"]), int(m["member"]))
            lam = float(m["values"].get("optim.wd", m.get("wd") or p["wd"]))
            members.append((lam, _final(accs.get(key)), _final(sims.get(key))))
    got = [classify_regime(lam, acc, s, lc, p["grok_threshold"]) for lam, acc, s in members]
    want = [expected_regime(lam, lc, 10.0) for lam, _, _ in members]
    ok = np.array([g == w for g, w in zip(got, want)], float)
    lo, hi = bootstrap([ok], np.mean, n_boot=int(p.get("n_boot", N_BOOT))) if ok.size > 1 else (None, None)
    table = "; ".join(f"λ {lam:g}: acc {acc:.2f}, s̄ {s:.3f} → {g}" for (lam, acc, s), g in zip(members, got))
    return ClaimRow("the regime classifier places each λ in the paper's regime (share of members)",
                    PaperValue(1.0, f"{P9}; regimes (02 §9: λ < λ_c no grok, λ = 10 collapse with s̄ → 1)",
                               "memorisation below λ_c, developmental grokking above, collapse at λ = 10"),
                    Estimate(float(ok.mean()) if ok.size else math.nan, lo, hi, n=int(ok.size)), at_least(0.8),
                    [f"λ_c = {lc:.3g} at this scale; {table}"])
