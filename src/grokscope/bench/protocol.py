"""The benchmark's protocol (issue 14): questions, eligibility, held-out splits, and the causality audit.

- **Question**: "will this run grok within its budget?", posed at a fixed fraction f of the member's budget,
  t_q = round(f·budget), using only the history up to t_q (``History.upto``). A member that has already grokked by
  t_q is not asked (the answer is in its test accuracy): it is left out of that question and counted.
- **Splits**: by seed (``seed_folds``: k folds on the member's seed; every run is scored by a model calibrated on
  the other folds only) and by task (``task_folds``: leave one task out, to show transfer). A split never puts a run
  in both its calibration and its scored part (``check_disjoint``).
- **Causality audit** (``audit_causal``): a predictor's signal at eval i must be the same whether it is computed on
  the whole history, on the history cut at i, or on a history whose future (after i) was altered. A predictor that
  fails is rejected: its scores are not reported. Lead times use the history up to T_grok only, so nothing after
  T_grok enters them in any case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .history import History


@dataclass
class Member:
    """One pool member: identity, outcome and its full history (the protocol hands predictors truncations)."""

    run_id: str
    member: int
    seed: int
    task: str  # e.g. "modular-add", "parity", "permutation"
    model: str
    family: str  # the pool family (sweep) it belongs to
    t_grok: int | None  # None: did not grok within its budget (censored)
    budget: int
    history: History
    path: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # whole-run events (never shown to predictors)

    @property
    def key(self) -> str:
        return f"{self.run_id}/{self.member}"

    @property
    def grokked(self) -> bool:
        return self.t_grok is not None


def question_step(m: Member, frac: float) -> int:
    return int(round(frac * m.budget))


def eligible(m: Member, t_q: int) -> bool:
    """Asked at t_q: not grokked yet (censored, or T_grok after t_q)."""
    return m.t_grok is None or m.t_grok > t_q


@dataclass(frozen=True)
class Fold:
    name: str
    calib: tuple[int, ...]  # indices into the member list
    test: tuple[int, ...]


def seed_folds(members: Sequence[Member], k: int = 2) -> list[Fold]:
    """k folds on the seed (fold = seed mod k): each fold's runs are scored by what the other folds calibrate."""
    folds = []
    for f in range(k):
        test = tuple(i for i, m in enumerate(members) if m.seed % k == f)
        calib = tuple(i for i, m in enumerate(members) if m.seed % k != f)
        folds.append(Fold(f"seed%{k}={f}", calib, test))
    return folds


def task_folds(members: Sequence[Member]) -> list[Fold]:
    """Leave one task out: calibrate on the other tasks, score the held-out one."""
    tasks = sorted({m.task for m in members})
    return [Fold(f"task={t}", tuple(i for i, m in enumerate(members) if m.task != t),
                 tuple(i for i, m in enumerate(members) if m.task == t)) for t in tasks]


def check_disjoint(folds: Sequence[Fold]) -> None:
    for f in folds:
        both = set(f.calib) & set(f.test)
        if both:
            raise AssertionError(f"fold {f.name}: members {sorted(both)[:3]} both calibrate and are scored")


def _same(a: float, b: float, rtol: float = 1e-6) -> bool:
    if np.isnan(a) and np.isnan(b):
        return True
    if np.isinf(a) or np.isinf(b):
        return bool(a == b)
    return bool(abs(a - b) <= rtol * max(1.0, abs(a), abs(b)))


def audit_causal(signal: Any, histories: Sequence[History], fitted: dict[str, Any], n_points: int = 4,
                 seed: int = 0) -> str | None:
    """None if ``signal(h, fitted)`` is causal on these histories; else a one-line reason (the first violation).

    At a few random evals i of each history: signal(h)[i] == signal(h.upto(step_i))[-1] == signal(h with every
    value after step_i replaced)[i]."""
    rng = np.random.default_rng(seed)
    for h in histories:
        if len(h) < 3:
            continue
        full = np.asarray(signal(h, fitted), float)
        for i in sorted(rng.choice(len(h) - 1, size=min(n_points, len(h) - 1), replace=False)):
            step = int(h.steps[i])
            cut = np.asarray(signal(h.upto(step), fitted), float)
            alt = np.asarray(signal(h.with_future(step, 1e3), fitted), float)
            if not _same(full[i], cut[-1]) or not _same(full[i], alt[i]):
                return (f"not causal: its value at step {step} changes with the data after it "
                        f"({full[i]:.4g} on the whole run, {cut[-1]:.4g} on the run cut there)")
    return None
