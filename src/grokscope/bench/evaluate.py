"""Score every predictor on a pool under the protocol: the leaderboard rows (issue 14).

For each predictor: the causality audit, then at every question fraction the held-out AUROC (seed folds; the
orientation and any fitted constant come from the calibration folds only), at the headline question the
leave-one-task-out AUROC, the lead time at a calibrated false-alarm rate with its distribution, the forecast error
for forecasters, and the cost per evaluation. Then the combined model (L2 logistic on every label-free predictor)
against the best single label-free one. Checkpoint predictors (LLC, α) come in as precomputed scores.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from . import scores as SC
from .logistic import fit_logistic
from .predictors import Predictor, forecast_of
from .protocol import Fold, Member, audit_causal, check_disjoint, eligible, question_step, seed_folds, task_folds


@dataclass(frozen=True)
class Settings:
    questions: tuple[float, ...] = (0.1, 0.25, 0.5)  # fractions of the budget at which the question is posed
    headline: float = 0.25  # the question whose AUROC ranks the leaderboard
    fpr: float = 0.05  # run-level false-alarm rate the alarm thresholds are calibrated to (on controls)
    k: int = 3  # sustained alarm: evaluations in a row beyond the threshold
    folds: int = 2  # seed folds
    n_boot: int = 1000  # bootstrap resamples for CIs
    l2: float = 1.0  # combined model's L2 penalty
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Scorer:
    """Signals of one predictor, computed on truncated histories only, with timing."""

    p: Predictor
    ckpt: dict[str, dict[str, float]] = field(default_factory=dict)  # member key -> {question: score}
    seconds: float = 0.0
    evals: int = 0

    def signal(self, m: Member, upto: int, fitted: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        h = m.history.upto(upto)
        t0 = time.perf_counter()
        s = np.asarray(self.p.signal(h, fitted), float)
        self.seconds += time.perf_counter() - t0
        self.evals += len(h)
        return h.steps, s

    def score(self, m: Member, q: float, fitted: dict[str, Any]) -> float:
        if self.p.checkpoint:
            return float(self.ckpt.get(m.key, {}).get(f"{q:g}", math.nan))
        _, s = self.signal(m, question_step(m, q), fitted)
        fin = s[~np.isnan(s)]
        return float(fin[-1]) if fin.size else math.nan


def _fit(p: Predictor, members: Sequence[Member], idx: Sequence[int]) -> dict[str, Any]:
    return p.fit([(members[i].history, members[i].t_grok) for i in idx]) if p.fit else {}


def held_out_scores(sc: Scorer, members: Sequence[Member], folds: Sequence[Fold], q: float,
                    avail: set[int]) -> tuple[dict[int, float], dict[str, Any]]:
    """Oriented, imputed held-out score of every eligible available member (each scored by its fold's calibration)."""
    out: dict[int, float] = {}
    orient = []
    for f in folds:
        fitted = _fit(sc.p, members, f.calib)
        cal = [i for i in f.calib if i in avail and eligible(members[i], question_step(members[i], q))]
        tst = [i for i in f.test if i in avail and eligible(members[i], question_step(members[i], q))]
        if not cal or not tst:
            continue
        s_cal = np.array([sc.score(members[i], q, fitted) for i in cal])
        d = SC.orientation(s_cal, [members[i].grokked for i in cal])
        fill = SC.neutral_fill(d * s_cal)
        s_tst = SC.impute(d * np.array([sc.score(members[i], q, fitted) for i in tst]), fill)
        out.update(zip(tst, s_tst.tolist()))
        orient.append(d)
    return out, {"orientation": orient}


def auroc_of(members: Sequence[Member], scores: dict[int, float], settings: Settings) -> dict[str, Any]:
    pos = [s for i, s in scores.items() if members[i].grokked]
    neg = [s for i, s in scores.items() if not members[i].grokked]
    a, lo, hi = SC.auroc_ci(pos, neg, settings.n_boot, settings.seed)
    return {"auroc": _num(a), "ci95": [_num(lo), _num(hi)], "n_pos": len(pos), "n_neg": len(neg)}


def lead_times(sc: Scorer, members: Sequence[Member], folds: Sequence[Fold], avail: set[int],
               settings: Settings) -> dict[str, Any]:
    """Alarm lead times on held-out grokkers (signal up to T_grok), thresholds from calibration controls."""
    leads: list[int | None] = []
    false_alarms = n_controls = n_grokked = 0
    for f in folds:
        fitted = _fit(sc.p, members, f.calib)
        cal = [i for i in f.calib if i in avail]
        if not cal:
            continue
        q = settings.headline
        s_cal = np.array([sc.score(members[i], q, fitted) for i in cal
                          if eligible(members[i], question_step(members[i], q))])
        y_cal = [members[i].grokked for i in cal if eligible(members[i], question_step(members[i], q))]
        d = SC.orientation(s_cal, y_cal) if len(s_cal) else 1
        controls = [d * sc.signal(members[i], members[i].budget, fitted)[1] for i in cal if not members[i].grokked]
        thr = SC.calibrated_threshold(controls, settings.fpr, settings.k)
        for i in f.test:
            if i not in avail:
                continue
            m = members[i]
            if m.grokked:
                n_grokked += 1
                if thr is None:
                    leads.append(None)
                    continue
                steps, s = sc.signal(m, int(m.t_grok), fitted)  # nothing after T_grok
                a = SC.alarm_step(steps, d * s, thr, settings.k)
                leads.append(None if a is None else int(m.t_grok) - a)
            else:
                n_controls += 1
                if thr is not None:
                    steps, s = sc.signal(m, m.budget, fitted)
                    false_alarms += SC.alarm_step(steps, d * s, thr, settings.k) is not None
    out = SC.lead_summary(leads, n_grokked)
    fracs = [(lead / members[i].t_grok) for i, lead in zip(_grokked_test(members, folds, avail), leads)
             if lead is not None and members[i].t_grok]
    out.update({"fpr_target": settings.fpr, "heldout_fpr": _num(false_alarms / n_controls) if n_controls else None,
                "n_controls": n_controls, "lead_fraction_median_with_misses": _median_with_misses(fracs, n_grokked)})
    return out


def _grokked_test(members: Sequence[Member], folds: Sequence[Fold], avail: set[int]) -> list[int]:
    return [i for f in folds for i in f.test if i in avail and members[i].grokked]


def _median_with_misses(fracs: list[float], n: int) -> float | None:
    """Median of lead/T_grok over all held-out grokkers, a run without an alarm before T_grok counting as 0."""
    if n == 0:
        return None
    return float(np.median(fracs + [0.0] * (n - len(fracs))))


def forecast_error(sc: Scorer, members: Sequence[Member], folds: Sequence[Fold], q: float,
                   avail: set[int]) -> dict[str, Any]:
    fc, truth = [], []
    for f in folds:
        fitted = _fit(sc.p, members, f.calib)
        for i in f.test:
            m = members[i]
            if i in avail and m.grokked and eligible(m, question_step(m, q)):
                _, s = sc.signal(m, question_step(m, q), fitted)
                fin = s[np.isfinite(s)]
                fc.append(float(forecast_of(sc.p, fin[-1:])[0]) if fin.size else math.nan)
                truth.append(float(m.t_grok))
    return SC.mape(fc, truth)


def score_predictor(p: Predictor, members: Sequence[Member], settings: Settings,
                    ckpt: dict[str, dict[str, float]] | None = None) -> dict[str, Any]:
    sc = Scorer(p, ckpt or {})
    row: dict[str, Any] = {"predictor": p.name, "kind": p.kind, "label_free": p.label_free, "uses": p.uses,
                           "source": p.source, "about": p.about}
    if p.checkpoint:
        avail = {i for i, m in enumerate(members) if m.key in sc.ckpt}
    else:
        avail = {i for i, m in enumerate(members) if p.available(m.history)}
    row["coverage"] = len(avail) / max(len(members), 1)
    if not avail:
        return {**row, "status": "not available (no member recorded its metrics)", "auroc": None}
    folds = seed_folds(members, settings.folds)
    check_disjoint(folds)
    if not p.checkpoint:
        sample = [members[i].history for i in sorted(avail)[:: max(len(avail) // 6, 1)]]
        reason = audit_causal(p.signal, sample, _fit(p, members, folds[0].calib), seed=settings.seed)
        if reason:
            return {**row, "status": f"rejected: {reason}", "auroc": None}
    row["status"] = "scored"
    by_q, helds = {}, {}
    for q in settings.questions:
        helds[q], info = held_out_scores(sc, members, folds, q, avail)
        by_q[f"{q:g}"] = {**auroc_of(members, helds[q], settings), **info}
    head = by_q[f"{settings.headline:g}"]
    held = helds[settings.headline] if settings.headline in helds else \
        held_out_scores(sc, members, folds, settings.headline, avail)[0]
    row["held_out"] = [[members[i].key, _num(v), members[i].grokked] for i, v in sorted(held.items())]
    row.update({"auroc": head["auroc"], "auroc_ci95": head["ci95"], "n_pos": head["n_pos"], "n_neg": head["n_neg"],
                "by_question": by_q})
    tf = task_folds(members)
    check_disjoint(tf)
    held, _ = held_out_scores(sc, members, tf, settings.headline, avail)
    row["task_transfer"] = auroc_of(members, held, settings)
    row["lead_time"] = None if p.checkpoint else lead_times(sc, members, folds, avail, settings)
    if p.forecasts:
        row["mape"] = {f"{q:g}": forecast_error(sc, members, folds, q, avail) for q in settings.questions}
    row["cost_ms_per_eval"] = _num(1e3 * sc.seconds / sc.evals) if sc.evals else None
    return row


def combined(members: Sequence[Member], predictors: Sequence[Predictor], settings: Settings,
             ckpt: dict[str, dict[str, dict[str, float]]] | None = None, name: str = "combined_label_free"
             ) -> dict[str, Any]:
    """L2 logistic on the given predictors' scores, calibrated on each seed fold's calibration runs."""
    ckpt = ckpt or {}
    scorers = [Scorer(p, ckpt.get(p.name, {})) for p in predictors]
    folds = seed_folds(members, settings.folds)
    by_q: dict[str, Any] = {}
    head_held: dict[int, float] = {}
    for q in settings.questions:
        held: dict[int, float] = {}
        for f in folds:
            fitted = [_fit(p, members, f.calib) for p in predictors]
            cal = [i for i in f.calib if eligible(members[i], question_step(members[i], q))]
            tst = [i for i in f.test if eligible(members[i], question_step(members[i], q))]
            if not cal or not tst:
                continue
            Xc = np.array([[s.score(members[i], q, fi) for s, fi in zip(scorers, fitted)] for i in cal])
            Xt = np.array([[s.score(members[i], q, fi) for s, fi in zip(scorers, fitted)] for i in tst])
            yc = np.array([members[i].grokked for i in cal])
            for j in range(Xc.shape[1]):  # neutral fill from the calibration rows; ±inf clipped to their range
                col = Xc[:, j]
                fin = col[np.isfinite(col)]
                lo, hi, med = (fin.min(), fin.max(), np.median(fin)) if fin.size else (0.0, 0.0, 0.0)
                for X in (Xc, Xt):
                    X[:, j] = np.clip(np.where(np.isnan(X[:, j]), med, X[:, j]), lo, hi)
            if yc.all() or not yc.any():
                continue
            model = fit_logistic(Xc, yc, settings.l2)
            held.update(zip(tst, model.decision(Xt).tolist()))
        by_q[f"{q:g}"] = auroc_of(members, held, settings)
        if q == settings.headline:
            head_held = held
    head = by_q[f"{settings.headline:g}"]
    held_out = [[members[i].key, _num(v), members[i].grokked] for i, v in sorted(head_held.items())]
    return {"_held": head_held, "held_out": held_out, "predictor": name, "kind": "combined",
            "label_free": all(p.label_free for p in predictors),
            "uses": "none" if all(p.label_free for p in predictors) else "labels", "status": "scored",
            "inputs": [p.name for p in predictors], "auroc": head["auroc"], "auroc_ci95": head["ci95"],
            "n_pos": head["n_pos"], "n_neg": head["n_neg"], "by_question": by_q, "lead_time": None,
            "about": f"L2 logistic (λ = {settings.l2:g}) on {len(predictors)} predictors' scores"}


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else float(x)
