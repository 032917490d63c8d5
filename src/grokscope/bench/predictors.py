"""The predictor registry: every early-warning signal and baseline the benchmark scores (issue 14).

A :class:`Predictor` maps a member's :class:`~grokscope.bench.history.History` (already truncated at the question
step by the protocol) to a *signal* ``[n]`` on its eval steps; its value at the question step is the run-level
score, and the same signal, thresholded by the sustained-alarm rule, gives its alarm step. Signals must be causal
(index i reads indices <= i): the protocol audits each one and rejects a predictor that is not.

Each is marked ``label_free`` (reads no labels at all) and ``uses`` ("none", "train labels" or "test labels"): the
combined model uses the label-free ones only. ``kind`` is "baseline" (step, losses, weight norm) or "predictor".
Two are *fitted* on the calibration part of the pool (``fit``): the first-passage forecast (its V★, κ fixed at the
paper's), and the orientation of every score is fitted there too (``protocol``). Two are *checkpoint* predictors,
evaluated once at the question step on the stored weights (``bench/checkpoint_scores.py``): the SGLD local learning
coefficient and a heavy-tail exponent of the weight spectra.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..registry import Registry
from . import signals as S
from .history import History

KAPPA_PAPER = 0.252  # 02 §10: the paper's headline calibration (1-layer transformer, p = 97)


@dataclass(frozen=True)
class Predictor:
    name: str
    signal: Callable[[History, dict[str, Any]], np.ndarray]  # (history, fitted params) -> [n] causal signal
    label_free: bool
    uses: str  # "none", "train labels", "test labels"
    kind: str  # "baseline" or "predictor"
    needs: tuple[str, ...]  # metrics it reads (a member lacking all of them is "not available")
    source: str  # the paper section it comes from
    about: str
    fit: Callable[[list[tuple[History, int | None]]], dict[str, Any]] | None = None
    forecasts: bool = False  # the signal is a forecast of T_grok (scored by MAPE too)
    checkpoint: bool = False  # evaluated at the question step's checkpoint only (no alarm series)

    def available(self, h: History) -> bool:
        if not self.needs:
            return True
        return any(h.has(m) or h.prefix(m + "/q") for m in self.needs)


PREDICTORS: Registry[Predictor] = Registry("predictor")


def register(name: str, signal: Callable[..., np.ndarray], *, uses: str = "none", kind: str = "predictor",
             needs: tuple[str, ...] = (), source: str = "", about: str = "", **kw: Any) -> Predictor:
    p = Predictor(name, signal, uses == "none", uses, kind, needs, source, about, **kw)
    PREDICTORS.register(name)(p)
    return p


def value(metric: str, log: bool = False) -> Callable[[History, dict], np.ndarray]:
    def f(h: History, _: dict) -> np.ndarray:
        v = h.get(metric)
        if log:
            with np.errstate(invalid="ignore", divide="ignore"):
                v = np.log10(np.where(v > 0, v, np.nan))
        return v
    return f


def slope(metric: str, k: int = 8) -> Callable[[History, dict], np.ndarray]:
    return lambda h, _: S.trailing_slope(h.steps, h.get(metric), k)


def _fourier_gini(h: History, _: dict) -> np.ndarray:
    op = h.info.get("op")
    return h.get("fourier/gini_mul" if op == "mul" else "fourier/gini_add")


def _steps_since_mem(h: History, _: dict) -> np.ndarray:
    t_mem = S.first_time(h.steps, h.get("train/acc"), 0.99)
    return np.where(np.isfinite(t_mem), h.steps - t_mem, 0.0)


def _dmd(h: History, _: dict) -> np.ndarray:
    cols = h.prefix("logprob_quantiles/q")
    if not cols:
        return np.full(len(h), np.nan)
    return S.dmd_residual(np.stack([h.get(c) for c in cols], 1))


def _forecast(h: History, fitted: dict) -> np.ndarray:
    lr, wd = float(h.info.get("lr", math.nan)), float(h.info.get("wd", math.nan))
    return S.first_passage_forecast(h.steps, h.get("train/acc"), h.get("norm/sq"), lr, wd,
                                     fitted.get("kappa", KAPPA_PAPER), fitted.get("v_star", math.nan))


def _fit_forecast(cases: list[tuple[History, int | None]]) -> dict[str, Any]:
    rows = []
    for h, t_grok in cases:
        t_mem = S.first_time(h.steps, h.get("train/acc"), 0.99)
        if t_grok is None or not np.isfinite(t_mem).any():
            continue
        i = int(np.flatnonzero(np.isfinite(t_mem))[0])
        rows.append((float(t_mem[i]), float(t_grok), float(h.get("norm/sq")[i]),
                     float(h.info.get("lr", 0)) * float(h.info.get("wd", 0))))
    return {"kappa": KAPPA_PAPER, "v_star": S.calibrate_v_star(rows, KAPPA_PAPER), "n_fit": len(rows)}


def _nan_signal(h: History, _: dict) -> np.ndarray:  # checkpoint predictors have no per-eval signal
    return np.full(len(h), np.nan)


# -- baselines (the "honest baselines" of 02 §9's README caveat) ---------------------------------------------------
register("step", lambda h, _: h.steps.astype(float), kind="baseline", needs=("train/loss",), source="02 §9",
         about="the training clock: the question step itself (constant across runs at one question)")
register("steps_since_mem", _steps_since_mem, uses="train labels", kind="baseline", needs=("train/acc",),
         source="02 §9", about="steps since train accuracy first reached 0.99 (0 before)")
register("train_loss", value("train/loss", log=True), uses="train labels", kind="baseline", needs=("train/loss",),
         source="02 §9", about="log10 training loss")
register("test_loss", value("test/loss", log=True), uses="test labels", kind="baseline", needs=("test/loss",),
         source="02 §9", about="log10 held-out loss (reads held-out labels)")
register("weight_norm", value("norm/total"), kind="baseline", needs=("norm/total",), source="02 §9, 03 §13",
         about="total weight norm ||W||")
register("weight_norm_slope", slope("norm/total"), kind="baseline", needs=("norm/total",), source="02 §9",
         about="trailing slope of ||W|| over the last 8 evals (per 1,000 steps)")

# -- published predictors -------------------------------------------------------------------------------------------
register("lar", value("lar/lar"), needs=("lar/lar",), source="02 §7", about="unembedding log-alignment ratio")
register("lar_slope", slope("lar/lar"), needs=("lar/lar",), source="02 §7",
         about="trailing slope of the LAR (8 evals, per 1,000 steps)")
register("beta_ratio", value("gmm/beta_ratio", log=True), needs=("gmm/beta_ratio",), source="02 §8",
         about="log10 β/β_c of the GMM probe (ML-fitted β, option (b), reconstructed); > 0 past the crossing")
register("fiedler", value("graph/fiedler"), needs=("graph/fiedler",), source="03 §11",
         about="Fiedler value λ₂ of the |W| layer graph")
register("fiedler_ews_detrended", lambda h, _: S.online_ac1(h.get("graph/fiedler"), "gaussian"),
         needs=("graph/fiedler",), source="03 §11",
         about="lag-1 autocorrelation of λ₂ so far, Gaussian-detrended (bandwidth 0.2), window 20 evals")
register("fiedler_ews_naive", lambda h, _: S.online_ac1(h.get("graph/fiedler"), "none"),
         needs=("graph/fiedler",), source="03 §11",
         about="lag-1 autocorrelation of λ₂ so far, not detrended (paper 11's variant), window 20 evals")
register("dmd_residual", _dmd, uses="train labels", needs=("logprob_quantiles",), source="03 §13",
         about="sliding Hankel-DMD residual of the train log p(y|x) quantiles (window 20, delay 3, rank 4)")
register("attention_entropy_std", value("attention/entropy_std"), needs=("attention/entropy_std",),
         source="02 §9", about="std over heads of attention entropy (transformers only)")
register("head_similarity", value("attention/mean_similarity"), needs=("attention/mean_similarity",),
         source="02 §9", about="mean pairwise head cosine similarity (transformers only)")
register("update_gram", value("update_gram/s2_s3", log=True), needs=("update_gram/s2_s3",), source="03 §14",
         about="log10 σ₂/σ₃ of the last 20 first-layer updates' Gram (lock-in)")
register("fourier_gini", _fourier_gini, needs=("fourier/gini_add",), source="01 §2",
         about="Gini of W_E's spectrum in the task's own basis (additive for +, characters for ×)")
register("logit_scale", value("logit/scale", log=True), needs=("logit/scale",), source="01 §1",
         about="log10 effective logit scale")
register("norm_peak", lambda h, _: S.drop_from_peak(h.get("norm/total")), needs=("norm/total",), source="01 §4",
         about="fraction the weight norm has fallen from its running peak")
register("first_passage", lambda h, fitted: -_forecast(h, fitted), uses="train labels", needs=("norm/sq",),
         source="02 §10", fit=_fit_forecast, forecasts=True,
         about="minus the first-passage forecast of T_grok (κ = 0.252 fixed; V★ fitted on the calibration part)")
register("llc", _nan_signal, uses="train labels", needs=("train/loss",), source="devinterp (Lau et al. 2023)", checkpoint=True,
         about="SGLD local learning coefficient λ̂ at the question step's checkpoint (bench/llc.py)")
register("esd_alpha", _nan_signal, needs=("train/loss",), source="02 §9 (WeightWatcher α)", checkpoint=True,
         about="native Hill estimate of the power-law exponent of the weight ESDs (not the weightwatcher package)")


def forecast_of(p: Predictor, signal: np.ndarray) -> np.ndarray:
    """A forecaster's T_grok forecast from its signal (the signal is minus the forecast)."""
    return -np.asarray(signal, float)
