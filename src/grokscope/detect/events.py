"""Transition times from evaluation curves (DESIGN.md conventions).

T_mem = first eval step with train acc >= mem_threshold; T_grok = first eval step with test acc >= grok_threshold
(or, with a loss rule, the first step of k consecutive evals with test loss < below). A member that never
crosses is *censored* at the budget: its time is None, never a made-up number. delay = T_grok - T_mem.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


def first_crossing(steps: np.ndarray, values: np.ndarray, threshold: float) -> int | None:
    """First step where ``values >= threshold`` (``steps``, ``values``: 1-D, same length), else None."""
    hits = np.flatnonzero(np.asarray(values) >= threshold)
    return int(steps[hits[0]]) if hits.size else None


def first_streak_below(steps: np.ndarray, values: np.ndarray, below: float, k: int) -> int | None:
    """First step that starts ``k`` consecutive values ``< below``, else None."""
    run = 0
    for i, v in enumerate(np.asarray(values)):
        run = run + 1 if v < below else 0
        if run == k:
            return int(steps[i - k + 1])
    return None


@dataclass
class MemberEvents:
    member: int
    seed: int
    t_mem: int | None
    t_grok: int | None
    delay: int | None
    censored: bool  # never grokked within the budget
    budget: int  # last evaluated step (censoring time)

    def as_dict(self) -> dict:
        return asdict(self)


def member_events(member: int, seed: int, steps: np.ndarray, train_acc: np.ndarray, test_acc: np.ndarray,
                  test_loss: np.ndarray | None = None, mem_threshold: float = 0.99, grok_threshold: float = 0.90,
                  loss_rule: tuple[float, int] | None = None) -> MemberEvents:
    steps = np.asarray(steps)
    t_mem = first_crossing(steps, train_acc, mem_threshold)
    if loss_rule is not None:
        if test_loss is None:
            raise ValueError("the loss rule needs test loss")
        t_grok = first_streak_below(steps, test_loss, *loss_rule)
    else:
        t_grok = first_crossing(steps, test_acc, grok_threshold)
    delay = t_grok - t_mem if (t_grok is not None and t_mem is not None) else None
    budget = int(steps[-1]) if steps.size else 0
    return MemberEvents(member, seed, t_mem, t_grok, delay, t_grok is None, budget)


def _field(cfg: object, name: str, default: object = None) -> object:
    """A field of an EvalConfig, or of its JSON form (a dict, as the catalog reads it from config.json)."""
    value = cfg.get(name) if isinstance(cfg, dict) else getattr(cfg, name, None)
    return default if value is None else value


def loss_rule_of(eval_cfg: object) -> tuple[float, int] | None:
    rule = _field(eval_cfg, "loss_rule")
    if rule is None:
        return None
    return (float(_field(rule, "below")), int(_field(rule, "k")))  # type: ignore[arg-type]


def events_from_curves(member: int, seed: int, steps: np.ndarray, curves: dict[str, np.ndarray],
                       eval_cfg: object) -> MemberEvents:
    """The one place events are derived from a member's curves (``curves[metric]``: values at ``steps``; a
    missing metric is all-NaN). ``eval_cfg``: an EvalConfig or its JSON dict. Used by the loop's stop rule and
    recorder, by ``Run.events`` for a run without events.json, and by the catalog for a run still running."""
    nan = np.full(len(steps), np.nan)
    get = lambda name: np.asarray(curves.get(name, nan), dtype=float)  # noqa: E731
    return member_events(member, seed, np.asarray(steps), get("train/acc"), get("test/acc"), get("test/loss"),
                         float(_field(eval_cfg, "mem_threshold", 0.99)),  # type: ignore[arg-type]
                         float(_field(eval_cfg, "grok_threshold", 0.90)), loss_rule_of(eval_cfg))  # type: ignore[arg-type]


def snapshot_at(steps: np.ndarray, curves: dict[str, np.ndarray], step: int | None) -> dict[str, float | None] | None:
    """Every metric's value at ``step`` (the eval at or, for a cadenced metric, the last before it); None if censored."""
    if step is None:
        return None
    steps = np.asarray(steps)
    out: dict[str, float | None] = {}
    for name, values in curves.items():
        v = np.asarray(values, dtype=float)
        ok = (steps <= step) & ~np.isnan(v)
        out[name] = float(v[ok][-1]) if ok.any() else None
    return out
