"""Noise-driven escape from metastable phases (paper 3, Ersoy & Wiesner 2026, arXiv:2606.17120, papers/01 §3).

Only the abstract is public: the mode model, the trapping protocol, the temperature mapping, the escape criterion and
sparse sub-sampling are **reconstructed** (papers/01 §3.3, from Ziyin & Ueda arXiv:2205.12510); every row says so.

Stage ``curves`` (the run store, ``teacher`` task + ``deeplinear``): sparse sub-sampling (n_train << input dimension
through nuisance coordinates) under Langevin noise, and its T = 0 control, with train / test error curves.
The analysis then runs the escape simulations (``grokscope.escape.study``: many members per temperature on one
member axis, cached in ``<out>/arrhenius/escape.json``) and the 1-D Langevin mode model, and judges:

1. Arrhenius scaling: log τ against 1/T, slope vs the analytic barrier ΔE (width-1 net: a point saddle);
2. the same with the Langer prefactor T^{k/2} (width w: the saddle is a k = (L-1)(w-1)-dimensional manifold of
   hidden-unit rotations, so τ ∝ T^{k/2} e^{ΔE/T}); the plain slope is shown beside it;
3. τ over >= two decades; 4. exponential waiting times (KS, parametric bootstrap p);
5. full-batch GD never escapes (control); 6. minibatch SGD at T = 0 (its T_eff measured);
7. one metastable state per nonzero singular value (k modes -> k sequential escapes);
8. the grokking-like curve from sparse sub-sampling; 9. the 1-D reference against ΔE.

Stage ``mlp-sgd`` is the nonlinear probe (``arrhenius_mlp``): T_grok of the quick MLP on modular addition against
the minibatch-SGD temperature η/B, and a full-batch arm (T_SGD = 0), judged against the Arrhenius form either way.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .arrhenius_mlp import mlp_sgd_rows, mlp_sgd_spec
from .base import Context, Experiment, Stage, experiment
from .bootstrap import bootstrap, median
from .claims import ClaimRow, Estimate, PaperValue, at_least, at_most, ci_contains, within

ABSTRACT = "paper 3 abstract (arXiv:2606.17120)"
RECON = "reconstructed protocol (papers/01 §3.3)"


def curves_spec(ctx: Context) -> dict[str, Any]:
    """Sparse sub-sampling under Langevin noise, and the same at T = 0 (full-batch GD)."""
    p = ctx.params["sparse"]
    base = {"task": {"name": "teacher", "d_in": p["d"], "d_out": p["d"], "spectrum": [1.0], "n_train": p["n_train"],
                     "n_test": 256, "nuisance_dims": p["nuisance_dims"], "nuisance_scale": p["nuisance_scale"]},
            "model": {"name": "deeplinear", "depth": 3, "width": p["width"]},
            "optim": {"name": "sgd", "lr": 0.05, "wd": 0.4}, "intervene": {"init_scale": 0.1},
            "train": {"steps": p["steps"], "stop_on_grok": None},
            "eval": {"points": p["eval_points"], "probes": ["accuracy", "norms", "modes"],
                     "mem_threshold": 0.9, "grok_threshold": 0.5},
            "checkpoint": {"count": 2}}
    return {"preset": "teacher-escape", "seeds": p["seeds"], "member_cap": 2 * p["seeds"], "base": base,
            "arms": {"noise": {"intervene.langevin_T": p["T"]}, "gd": {"intervene.langevin_T": 0.0}}}


def _arr(times: list) -> np.ndarray:
    from ..escape.study import as_array

    return as_array(times)


def _fraction(x: np.ndarray, unit: str = "") -> Estimate:
    x = np.asarray(x, dtype=float)
    return Estimate(float(x.mean()), *bootstrap([x], lambda v: float(np.mean(v))), unit=unit, n=len(x))


def _span_decades(temps: list[float], groups: list[np.ndarray]) -> Estimate:
    def span(*g: np.ndarray) -> float:
        meds = [median(v) for v in g]
        finite = [m for m in meds if np.isfinite(m) and m > 0]
        return math.log10(max(finite) / min(finite)) if len(finite) >= 2 else math.nan

    low, high = bootstrap(groups, span)
    return Estimate(span(*groups), low, high, unit="decades", n=int(sum(len(g) for g in groups)))


def sparse_curves(ctx: Context) -> dict[str, Any]:
    """Per noise-arm member: T_mem (train err <= 0.1), T_test (test err <= 0.5), final train/test errors."""
    from ..store.catalog import Catalog

    st = ctx.stages["curves"]
    rows = st.where(arm="noise")
    with Catalog(st.dir) as cat:
        df = cat.metrics({r["run_id"] for r in rows}, ["train/err", "test/err"])
    out = []
    for r in rows:
        d = df[(df.run_id == r["run_id"]) & (df.member == r["member"])].sort_values("step")
        tr = d[d.metric == "train/err"]
        te = d[d.metric == "test/err"]
        t_mem = next((int(s) for s, v in zip(tr.step, tr.value) if v <= 0.1), None)
        t_test = next((int(s) for s, v in zip(te.step, te.value) if v <= 0.5), None)
        out.append({"t_mem": t_mem, "t_test": t_test, "train_final": float(tr.value.iloc[-1]),
                    "test_final": float(te.value.iloc[-1])})
    return {"members": out, "gd_censored": [bool(r["censored"]) for r in st.where(arm="gd")]}


def grokking_curve(m: dict[str, Any], min_delay: float) -> bool:
    """A canonical grokking curve: train error falls first, test error falls >= min_delay × later, and ends within
    0.1 of the final train error."""
    if m["t_mem"] is None or m["t_test"] is None:
        return False
    return m["t_test"] >= min_delay * max(m["t_mem"], 1) and m["test_final"] <= m["train_final"] + 0.1


@experiment
class Arrhenius(Experiment):
    name = "arrhenius"
    claim = ("a deep linear net trapped in a metastable 'feature off' phase escapes only by noise, with Arrhenius "
             "escape times τ ∝ exp(ΔE/T) over two decades [mode model and protocol reconstructed]")
    paper = "paper 3 (Ersoy & Wiesner 2026, arXiv:2606.17120): abstract only; papers/01 §3.3 reconstruction"
    _common = {"depth": 3, "s": 1.0, "gamma": 0.2, "lr": 0.15, "d": 4, "n_train": 64, "init_scale": 0.1,
               "width": 1, "wide_width": 4, "sgd_batch": 4, "threads": 1, "mode_spectrum": [1.5, 1.0, 0.75],
               "mode_width": 3, "mode_x": 4.0, "min_delay": 5.0}
    scales = {
        "quick": {**_common, "xs": [1.0, 2.2, 3.4, 4.6, 5.8, 7.0], "seeds": 28, "budget_factor": 4.5,
                  "max_steps": 150_000, "wide_max_steps": 20_000, "control_steps": 20_000, "mode_steps": 40_000,
                  "reference_n": 400,
                  "sparse": {"d": 4, "n_train": 16, "nuisance_dims": 60, "nuisance_scale": 0.5, "width": 8,
                             "steps": 4000, "eval_points": 80, "seeds": 4, "T": 0.0023},
                  "mlp": {"p": 43, "frac": 0.4, "lr": 1e-2, "batches": [32, 64, 128, 256], "seeds": 4,
                          "steps": 6000, "eval_points": 120}},
        "paper": {**_common, "xs": [1.0, 1.9, 2.8, 3.7, 4.6, 5.5, 6.4, 7.3, 8.2], "seeds": 64, "budget_factor": 6.0,
                  "max_steps": 600_000, "wide_max_steps": 50_000, "control_steps": 100_000, "mode_steps": 150_000,
                  "reference_n": 2000,
                  "sparse": {"d": 4, "n_train": 16, "nuisance_dims": 60, "nuisance_scale": 0.5, "width": 8,
                             "steps": 20_000, "eval_points": 200, "seeds": 16, "T": 0.0023},
                  "mlp": {"p": 59, "frac": 0.4, "lr": 1e-2, "batches": [16, 32, 64, 128, 256, 512], "seeds": 12,
                          "steps": 30_000, "eval_points": 300}},
        "tiny": {**_common, "figure": False, "xs": [1.0, 2.0, 3.0], "seeds": 4, "budget_factor": 3.0, "max_steps": 1500,
                 "wide_max_steps": 600, "control_steps": 200, "mode_steps": 800, "reference_n": 20,
                 "mode_x": 2.0,
                 "sparse": {"d": 4, "n_train": 16, "nuisance_dims": 12, "nuisance_scale": 0.5, "width": 2,
                            "steps": 60, "eval_points": 8, "seeds": 1, "T": 0.0023},
                 "mlp": {"p": 13, "frac": 0.5, "lr": 1e-2, "batches": [16, 32], "seeds": 1, "steps": 40,
                         "eval_points": 6}},
    }
    _recon = ("only paper 3's abstract is public: the mode model, the trapping protocol (tiny init in the off basin, "
              "γ < γ_c), the escape criterion (mode amplitude past half its on value), the temperature (Langevin "
              "sqrt(2ηT)ξ on every weight) and sparse sub-sampling are reconstructed (papers/01 §3.3)")
    _unknown = ("paper 3's networks, widths, depths and data sets are unknown; the numbers compared are the mode "
                "model's (analytic ΔE), not the paper's")
    notes = {"quick": [_recon, _unknown], "paper": [_recon, _unknown],
             "tiny": [_recon, "framework check: 3 temperatures × 4 members, short budgets; not a test of the claims"]}
    stages = (Stage("curves", curves_spec, "sparse sub-sampling with Langevin noise and its T = 0 control"),
              Stage("mlp-sgd", mlp_sgd_spec, "nonlinear probe: the quick MLP on (a+b) mod p per minibatch size"))

    def analyse(self, ctx: Context) -> list[ClaimRow]:
        from ..escape.study import measure

        p = ctx.params
        doc = measure({k: v for k, v in p.items() if k not in ("sparse", "mlp")}, ctx.out / "escape.json")
        if p.get("figure", True):
            from ..escape.figures import arrhenius_figure

            arrhenius_figure(doc, ctx.out / "arrhenius.png")
        return arrhenius_rows(p, doc, sparse_curves(ctx)) + mlp_sgd_rows(ctx)


def arrhenius_rows(p: dict[str, Any], doc: dict[str, Any], sparse: dict[str, Any]) -> list[ClaimRow]:
    from ..escape.fits import arrhenius_fit, exponential_ks, slope_estimate

    dE = doc["barrier"]
    land = doc["landscape"]
    mode_src = (f"mode model at L={p['depth']}, s={p['s']:g}, γ={p['gamma']:g} (γ_c={land['gamma_c']:.3f}): "
                f"ΔE = {dE:.5f}")
    temps = [a["T"] for a in doc["arrhenius"]]
    groups = [_arr(a["times"]) for a in doc["arrhenius"]]
    fit = arrhenius_fit(temps, groups)
    slope = slope_estimate(temps, groups)
    k = (p["depth"] - 1) * (p["wide_width"] - 1)
    wide = [_arr(a["times"]) for a in doc["wide"]]
    # Langer: τ = τ0 T^{k/2} exp(ΔE/T) -> fit log(τ / T^{k/2}) on 1/T: rescale each group's times by T^{-k/2}
    wide_scaled = [g * T ** (-k / 2) for g, T in zip(wide, temps)]
    langer = slope_estimate(temps, wide_scaled)
    plain_wide = arrhenius_fit(temps, wide)
    ref = [_arr(a["times"]) for a in doc["reference"]]
    ref_fit = slope_estimate(temps, ref)
    kramers_ratio = [float(np.mean(g[np.isfinite(g)])) / a["kramers_steps"] for g, a in zip(ref, doc["reference"])
                     if np.isfinite(g).sum()]
    escapes = [int(np.isfinite(g).sum()) for g in groups]
    ks = [exponential_ks(g)[1] for g in groups if np.isfinite(g).sum() >= 5]
    ks_est = Estimate(float(np.median(ks)) if ks else math.nan, unit="median KS p", n=len(ks))
    gd = _arr(doc["gd"]["times"])
    sgd = _arr(doc["sgd"]["times"])
    md = doc["modes"]
    mt = np.array([_arr(row) for row in md["times"]])  # [M, k]
    n_esc = np.isfinite(mt).sum(1).astype(float)
    ordered = [bool(np.all(np.diff(row[np.isfinite(row)]) >= 0)) for row in mt]
    spars = sparse["members"]
    curve_ok = np.array([grokking_curve(m, p["min_delay"]) for m in spars], dtype=float)
    rel = lambda e: f"{e.value / dE:.2f} ΔE" if np.isfinite(e.value) else "n/a"  # noqa: E731
    slope_notes = [f"{mode_src} (polynomial roots; brute-force grid agrees)",
                   f"width {p['width']}, {p['seeds']} members per temperature, T = ΔE/x for x = "
                   f"{', '.join(f'{x:g}' for x in p['xs'])}; escapes per temperature {escapes}",
                   f"τ = median escape time (censored members at +inf); R² = {fit.r2:.3f}; slope = {rel(slope)}",
                   f"1-D Langevin mode model at the same T and η: slope {ref_fit.value:.5f} ({rel(ref_fit)}); "
                   f"mean τ / Kramers = {', '.join(f'{r:.2f}' for r in kramers_ratio)}"]
    return [
        ClaimRow("Arrhenius scaling: log τ_escape = log τ_0 + ΔE/T, fitted slope vs the analytic barrier ΔE "
                 "(width-1 net, point saddle)",
                 PaperValue(dE, f"{ABSTRACT} (Arrhenius scaling); ΔE from the {RECON}", f"slope = ΔE = {dE:.5f}"),
                 slope, ci_contains(), slope_notes),
        ClaimRow(f"Arrhenius with the Langer prefactor T^(k/2), k = (L-1)(w-1) = {k} (width {p['wide_width']}: a "
                 "saddle manifold of hidden-unit rotations)",
                 PaperValue(dE, f"{ABSTRACT}; prefactor {RECON}", f"slope = ΔE = {dE:.5f}"), langer, ci_contains(),
                 [f"plain Arrhenius slope at width {p['wide_width']}: {plain_wide.slope:.5f} "
                  f"({plain_wide.slope / dE:.2f} ΔE, R² {plain_wide.r2:.3f}): the entropy of the saddle manifold "
                  "hides most of the barrier unless the T^(k/2) prefactor is fitted; Langer slope " + rel(langer)]),
        ClaimRow("grokking-like delays over two orders of magnitude of escape time (max/min median τ)",
                 PaperValue(2.0, f"{ABSTRACT}", "two orders of magnitude"), _span_decades(temps, groups),
                 at_least(2.0), [f"median τ per temperature: {', '.join(f'{median(g):.0f}' for g in groups)} steps"]),
        ClaimRow("escape times are exponentially distributed (memoryless waiting; KS vs a shifted exponential)",
                 PaperValue(None, RECON, "roughly exponential"), ks_est, at_least(0.05),
                 [f"per-temperature KS p (parametric bootstrap): {', '.join(f'{v:.2f}' for v in ks)}"]),
        ClaimRow("full-batch GD never escapes the trapped state (control, T = 0): fraction escaped",
                 PaperValue(0.0, f"{ABSTRACT} (escape only by noise)", "0"), _fraction(np.isfinite(gd)),
                 at_most(0.0), [f"{len(gd)} members, {doc['gd']['budget']} steps"]),
        ClaimRow(f"minibatch SGD noise alone (B = {p['sgd_batch']}, T = 0) drives the escape: fraction escaped",
                 PaperValue(1.0, f"{ABSTRACT} ('escapes only when SGD noise drives it over the barrier')",
                            "escapes"), _fraction(np.isfinite(sgd)), at_least(0.5),
                 [f"T_eff = η tr(C)/(2BP) at the trapped init = {doc['sgd']['t_eff_init']:.2e} vs ΔE = {dE:.2e}: "
                  "per-example gradients of a deep linear net vanish at W = 0 (multiplicative noise, Mori et al. "
                  "2022), so minibatch noise cannot lift it; paper 3's temperature knob is unknown "
                  f"({doc['sgd']['budget']} steps)"]),
        ClaimRow(f"one metastable state per nonzero singular value: a teacher with k = {len(md['spectrum'])} modes "
                 "shows k escapes (mean per member)",
                 PaperValue(float(len(md["spectrum"])), ABSTRACT, f"{len(md['spectrum'])} (one per s_i)"),
                 _fraction(n_esc, "escapes"), ci_contains(),
                 [f"spectrum {md['spectrum']}, barriers {', '.join(f'{b:.4f}' for b in md['barriers'])}, "
                  f"T = {md['T']:.5f}, width {p['mode_width']}; escapes in order of decreasing s in "
                  f"{sum(ordered)}/{len(ordered)} members; median escape step per mode "
                  f"{', '.join(f'{median(mt[:, i]):.0f}' for i in range(mt.shape[1]))}"]),
        ClaimRow("sparse sub-sampling gives the canonical grokking curve (train error falls first, test error falls "
                 f">= {p['min_delay']:g}× later to within 0.1 of the final train error): fraction of members",
                 PaperValue(None, f"{ABSTRACT}; sparse sub-sampling {RECON}", "canonical grokking curve"),
                 _fraction(curve_ok), at_least(0.5), [_sparse_note(p, spars, sparse["gd_censored"])]),
        ClaimRow("reference: the 1-D Langevin mode model's Arrhenius slope equals ΔE",
                 PaperValue(dE, "Kramers (exact reference for the mode model)", f"ΔE = {dE:.5f}"), ref_fit,
                 within(0.1), [f"{p['reference_n']} trajectories per temperature; ±10% because Kramers' law is "
                               "asymptotic in ΔE/T (corrections O(T/ΔE)): mean τ / Kramers = "
                               + ", ".join(f"{r:.2f}" for r in kramers_ratio)]),
    ]


def _sparse_note(p: dict[str, Any], spars: list[dict[str, Any]], gd_censored: list[bool]) -> str:
    sp = p["sparse"]
    fmt = lambda v: "never" if v is None else str(v)  # noqa: E731
    per = "; ".join(f"T_mem {fmt(m['t_mem'])}, test err <= 0.5 at {fmt(m['t_test'])}, final train/test err "
                    f"{m['train_final']:.2f}/{m['test_final']:.2f}" for m in spars)
    return (f"n_train {sp['n_train']} << input dim {sp['d'] + sp['nuisance_dims']} ({sp['d']} teacher + "
            f"{sp['nuisance_dims']} nuisance coordinates, scale {sp['nuisance_scale']:g}), width {sp['width']}, "
            f"T = {sp['T']:g}: {per}; T = 0 control censored {sum(gd_censored)}/{len(gd_censored)}. In a deep linear "
            "net one training mode carries memorisation and generalisation together, so train and test error fall "
            "at the same escape")


