"""Claim rows of the ``dlc`` (paper 2) and ``clock`` (Nanda et al. 2023) reproductions, from the trained stage.

Every number is measured on the last checkpoint of each trained run (quick scale: one run at p = 113) with
``mech.analysis`` and ``mech.progress``; the verdict rules are the issue's acceptance thresholds, stated in each row.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..experiments.base import Context
from ..experiments.claims import ClaimRow, Estimate, PaperValue, Rule, at_least, at_most, ratio_at_least

P2 = "paper 2 §2.4"


def in_range(lo_x: float, hi_x: float) -> Rule:
    def judge(paper: float | None, m: Estimate) -> str:
        if math.isnan(m.value):
            return "not reproduced"
        lo, hi = m.span()
        if lo_x <= lo and hi <= hi_x:
            return "reproduced"
        return "shape reproduced" if lo_x <= m.value <= hi_x else "contradicted"
    return Rule(f"reproduced if within [{lo_x:g}, {hi_x:g}]; contradicted if outside", judge)


def _est(values: list[float], unit: str = "") -> Estimate:
    """Mean over runs; with several runs, the min-max range as the interval (no bootstrap over < 5 runs)."""
    v = [x for x in values if not math.isnan(x)]
    if not v:
        return Estimate(math.nan, unit=unit, n=0)
    if len(v) == 1:
        return Estimate(v[0], unit=unit, n=1)
    return Estimate(float(np.mean(v)), float(min(v)), float(max(v)), unit=unit, n=len(v))


def measure(ctx: Context) -> list[dict[str, Any]]:
    """One record per trained run of the stage: p, grok status, the Fourier analysis and the progress measures."""
    from .runs import analyze_fourier, analyze_progress

    out = []
    for path in sorted({m["path"] for m in ctx.stages["train"].members}):
        fo = analyze_fourier(path, factor=ctx.params.get("factor", 5.0) if _p(path) == 113 else 3.0)
        pr = analyze_progress(path, factor=fo["factor"])
        out.append({"path": path, "p": fo["p"], "fourier": fo, "progress": pr})
    return out


def _p(path: str) -> int:
    from ..api import load_run

    return load_run(path).config.task.p


def _rows_of(records: list[dict], fn: Any) -> list[float]:
    return [float(fn(r)) for r in records]


def _member0(r: dict, kind: str) -> dict:
    return r["fourier"]["bases"][kind]["members"][0]


def _last(r: dict) -> dict:
    return [x for x in r["progress"]["rows"] if x["member"] == 0][-1]


def _grok_note(records: list[dict]) -> list[str]:
    notes = []
    for r in records:
        e = r["fourier"]["members"][0]
        notes.append(f"p = {r['p']}: " + (f"grokked at step {e['t_grok']} (seed {e['seed']}), read at step "
                                          f"{r['fourier']['step']}" if e["grokked"] else
                                          f"did not grok by step {r['fourier']['step']}"))
    return notes


def spectrum_rows(records: list[dict], sparse: str, dense: str, paper: dict[str, Any], src: str) -> list[ClaimRow]:
    """Gini, IPR and clean-neuron rows in the sparse and the dense basis; notes say when each run grokked."""
    notes = _grok_note(records)
    g_s = _est(_rows_of(records, lambda r: _member0(r, sparse)["embed"]["gini"]))
    g_d = _est(_rows_of(records, lambda r: _member0(r, dense)["embed"]["gini"]))
    def gini_text(v: float | None, what: str) -> str:
        return f"Gini {v}" if v is not None else f"{what} (no number given)"

    rows = [
        ClaimRow(f"W_E Gini in the {sparse} basis is high (sparse spectrum)",
                 PaperValue(paper["gini_sparse"], src, gini_text(paper["gini_sparse"], "sparse")), g_s, at_least(0.45),
                 notes),
        ClaimRow(f"W_E Gini in the {dense} basis is low (dense spectrum)",
                 PaperValue(paper["gini_dense"], src, gini_text(paper["gini_dense"], "dense")), g_d, at_most(0.15),
                 notes),
        ClaimRow(f"Gini ratio {sparse} / {dense}",
                 PaperValue(paper.get("gini_ratio"), src, paper.get("gini_ratio_text", "")),
                 _est(_rows_of(records, lambda r: _member0(r, sparse)["embed"]["gini"]
                               / max(_member0(r, dense)["embed"]["gini"], 1e-12))), ratio_at_least(3.0)),
        ClaimRow(f"W_E IPR (participation number (Σx²)²/Σx⁴ of the frequency norms) in the {sparse} basis",
                 PaperValue(paper.get("ipr_sparse"), src), _est(_rows_of(records, lambda r: _member0(r, sparse)
                                                                      ["embed"]["ipr"])), at_most(10.0)),
    ]
    if "neurons" in _member0(records[0], sparse):
        rows += [
            ClaimRow(f"clean-neuron fraction (> 85% energy on one frequency) in the {sparse} basis",
                     PaperValue(paper.get("clean_sparse"), src, paper.get("clean_sparse_text", "")),
                     _est(_rows_of(records, lambda r: _member0(r, sparse)["neurons"]["clean_fraction"])),
                     at_least(0.8), notes),
            ClaimRow(f"clean-neuron fraction in the {dense} basis",
                     PaperValue(paper.get("clean_dense"), src, paper.get("clean_dense_text", "")),
                     _est(_rows_of(records, lambda r: _member0(r, dense)["neurons"]["clean_fraction"])),
                     at_most(0.05)),
        ]
    return rows


def _keyed(fn: Any) -> Any:
    """``fn(record)``, or NaN where the run has no key frequencies (nothing to restrict to: no verdict)."""
    return lambda r: fn(r) if r["progress"]["key_frequencies"][0] else math.nan


def progress_rows(records: list[dict], src: str) -> list[ClaimRow]:
    return [
        ClaimRow("restricted loss (key-frequency clock directions only) / full loss, all inputs, last checkpoint",
                 PaperValue(None, src, "restricted loss ≈ or below the full loss after grokking"),
                 _est(_rows_of(records, _keyed(lambda r: _last(r)["restricted_loss"] / max(_last(r)["full_loss"], 1e-300)))),
                 at_most(2.0)),
        ClaimRow("excluded loss (key directions removed) / train loss, training inputs, last checkpoint",
                 PaperValue(None, src, "excluded loss rises far above the train loss"),
                 _est(_rows_of(records, _keyed(lambda r: _last(r)["excluded_loss"] / max(_last(r)["train_loss"], 1e-300)))),
                 ratio_at_least(10.0)),
        ClaimRow("clock fit: R² of class-centred logits vs Σ_k c_k cos(ω_k(α+β−γ)) over the key frequencies",
                 PaperValue(None, src + " [INF: the algorithm]", "logits ∝ Σ_k cos(ω_k(α+β−γ))"),
                 _est([float(r["progress"]["clock_r2"][0]) for r in records]), at_least(0.5)),
    ]


def dlc_rows(ctx: Context) -> list[ClaimRow]:
    recs = measure(ctx)
    main = [r for r in recs if r["p"] == ctx.params["primes"][0]]
    paper = {"gini_sparse": 0.5794, "gini_dense": 0.0714, "gini_ratio": 8.12, "gini_ratio_text": "8.12×",
             "ipr_sparse": 4.06, "clean_sparse": 496 / 512, "clean_sparse_text": "496/512 (96.9%)",
             "clean_dense": 0.0, "clean_dense_text": "0/512"}
    rows = spectrum_rows(main, "multiplicative", "additive", paper, P2)
    n_keys = _est(_rows_of(main, lambda r: len(_member0(r, "multiplicative")["embed"]["key_frequencies"])))
    legendre = _est(_rows_of(main, lambda r: float((r["p"] - 1) // 2 in _member0(r, "multiplicative")["embed"]
                                                  ["key_frequencies"])))
    keys = "; ".join(f"p = {r['p']}: {_member0(r, 'multiplicative')['embed']['key_frequencies']}" for r in main)
    rows += [
        ClaimRow("number of key frequencies (character basis, > 5× median)",
                 PaperValue(4, P2, "4: [2, 8, 47, 56] (seed-dependent)"), n_keys, in_range(4, 7), [keys]),
        ClaimRow("the Legendre character k = (p−1)/2 is a key frequency (1 = yes)",
                 PaperValue(1, P2, "56 is key at p = 113 (norm 5.64)"), legendre, at_least(1.0)),
        ClaimRow("W_E effective rank (Σσ)²/Σσ²",
                 PaperValue(17.1, P2, "17.1 of 112"),
                 _est(_rows_of(main, lambda r: _member0(r, "multiplicative")["embed_effective_rank"])),
                 in_range(17.1 / 1.5, 17.1 * 1.5)),
    ]
    if "attention_std" in main[0]["fourier"]:
        rows.append(ClaimRow("attention input-dependence: mean over heads of the std of attention '=' → a",
                             PaperValue(0.315, P2, "0.29-0.34 per head (input-dependent, unlike addition)"),
                             _est(_rows_of(main, lambda r: np.mean([h[0] for h in r["fourier"]["attention_std"][0]]))),
                             in_range(0.2, 0.45)))
    rows += progress_rows(main, P2 + "; Nanda et al. 2023 §5 (progress measures)")
    others = [r for r in recs if r["p"] != ctx.params["primes"][0]]
    if others:
        ok = [float(4 <= len(_member0(r, "multiplicative")["embed"]["key_frequencies"]) <= 7) for r in others]
        rows.append(ClaimRow("multi-prime: fraction of primes with 4-7 key frequencies (> 3× median)",
                             PaperValue(1.0, P2, "9/9 primes (59 … 97)"), _est([float(np.mean(ok))]), at_least(1.0),
                             ["; ".join(f"p = {r['p']}: {_member0(r, 'multiplicative')['embed']['key_frequencies']}"
                                        for r in others)]))
    return rows


def clock_rows(ctx: Context) -> list[ClaimRow]:
    recs = measure(ctx)
    src = "Nanda et al. 2023 (peers.md config B)"
    paper = {"gini_sparse": None, "gini_dense": None, "gini_ratio": None,
             "gini_ratio_text": "the reverse of paper 2: additive sparse", "clean_sparse": None, "clean_dense": None}
    rows = spectrum_rows(recs, "additive", "multiplicative", paper, src)
    n_keys = _est(_rows_of(recs, lambda r: len(_member0(r, "additive")["embed"]["key_frequencies"])))
    rows.append(ClaimRow("number of key frequencies (additive basis, > 5× median)",
                         PaperValue(5, src, "5 at p = 113"), n_keys, in_range(3, 7),
                         ["; ".join(f"p = {r['p']}: {_member0(r, 'additive')['embed']['key_frequencies']}"
                                    for r in recs)]))
    rows += progress_rows(recs, src + " §5")
    return rows
