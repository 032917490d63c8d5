"""Closed-loop rules (``[[intervene.on_alarm]]``, config_phases.OnAlarmRule): evaluated per member after every
evaluation is recorded; a rule whose condition held at ``hold`` consecutive evaluations fires its actions
(``train/actions.py``) on that member and records an event (step, reason).

Conditions (papers/03 §11 E3: the λ₂ slope over the last 50 steps < −0.003 for 10 consecutive steps):

- ``stat = value``: the metric's value at this evaluation;
- ``stat = slope`` / ``abs_slope``: the least-squares slope per step (np.polyfit, degree 1) of the metric over the
  evaluations at steps in (t − window, t] and >= ``from_step``, this one included (fewer than 2 finite points:
  the condition does not hold);
- ``alarm``: a detector's alarm event (a stateful probe's ``events()``, e.g. ``alarm/ews_graph.fiedler``) holds
  from its step on.
A NaN statistic never satisfies a condition. The rule state (streaks, firings) is in the resume state: a killed
run resumes with the rules where they were.
"""

from __future__ import annotations

import bisect
import operator
from typing import Any

import numpy as np

from ..config_phases import OnAlarmRule
from .actions import ACTIONS, check_action

OPS = {"<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge}


def window_slope(steps: np.ndarray, values: np.ndarray, t: int, window: int, from_step: int = 0) -> float:
    """Least-squares slope per step of ``values`` over the steps in (t − window, t] that are >= from_step."""
    steps, values = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    keep = (steps > t - window) & (steps <= t) & (steps >= from_step) & np.isfinite(values)
    if keep.sum() < 2:
        return float("nan")
    x, y = steps[keep], values[keep]
    x = x - x.mean()
    return float((x * (y - y.mean())).sum() / (x * x).sum())


class Rules:
    """The rules of one run, with per-member state."""

    def __init__(self, rules: list[OnAlarmRule], M: int, groups: dict[str, list[str]],
                 phase_names: list[str] | None, minibatch: bool = True) -> None:
        for r in rules:
            for i, a in enumerate(r.actions):
                where = f"intervene.on_alarm[{r.name}].actions[{i}]"
                check_action(a.action, a.args(), where)
                args = a.args()
                if a.action == "freeze_group" and args["group"] not in groups:
                    raise ValueError(f"{where}: unknown group {args['group']!r} (model groups: {sorted(groups)})")
                if a.action == "set_replay" and (phase_names is None or args["source"] not in phase_names):
                    raise ValueError(f"{where}: set_replay source {args['source']!r} is not a phase of this run "
                                     f"(phases: {phase_names or 'none: add [[phases]]'})")
                if a.action == "set_replay" and not (0 <= float(args["fraction"]) < 1 and minibatch):
                    raise ValueError(f"{where}: set_replay needs a fraction in [0, 1) and a minibatch "
                                     "(train.batch_size)")
                if a.action == "scale_lr" and not float(args["factor"]) > 0:
                    raise ValueError(f"{where}: scale_lr factor must be > 0")
        self.rules, self.M = rules, M
        self.streak = {r.name: [0] * M for r in rules}
        self.firings: dict[str, list[list[dict[str, Any]]]] = {r.name: [[] for _ in range(M)] for r in rules}

    def statistic(self, r: OnAlarmRule, m: int, t: int, steps: list[int], history: Any,
                  alarms: dict[str, list[Any]]) -> float:
        if r.alarm is not None:
            a = (alarms.get(r.alarm) or [None] * self.M)[m]
            return 1.0 if a is not None and a <= t else 0.0
        col = history(r.metric)
        if r.stat == "value":
            return float(col[-1, m]) if len(col) else float("nan")
        i0 = bisect.bisect_right(steps, t - r.window)  # only the window's evaluations: O(window) per eval
        slope = window_slope(np.asarray(steps[i0:]), col[i0:, m], t, r.window, r.from_step)
        return abs(slope) if r.stat == "abs_slope" else slope

    def holds(self, r: OnAlarmRule, x: float) -> bool:
        if r.alarm is not None:
            return x == 1.0
        return bool(np.isfinite(x)) and OPS[r.op](x, r.threshold)

    def on_eval(self, s: Any, t: int, steps: list[int], history: Any, alarms: dict[str, list[Any]],
                active: list[bool]) -> list[dict[str, Any]]:
        """Update every rule at the evaluation at step t; apply and return the firings (one dict each)."""
        fired: list[dict[str, Any]] = []
        for r in self.rules:
            for m in range(self.M):
                if not active[m] or t < r.from_step or not self._armed(r, m, t):
                    self.streak[r.name][m] = 0
                    continue
                x = self.statistic(r, m, t, steps, history, alarms)
                self.streak[r.name][m] = self.streak[r.name][m] + 1 if self.holds(r, x) else 0
                if self.streak[r.name][m] < r.hold:
                    continue
                self.streak[r.name][m] = 0
                what = "; ".join(ACTIONS[a.action](s, m, **a.args()) for a in r.actions)
                cond = f"{r.alarm} raised" if r.alarm else f"{r.stat}({r.metric}) = {x:.4g} {r.op} {r.threshold:g}"
                event = {"rule": r.name, "member": m, "step": int(t),
                         "reason": f"{cond} at {r.hold} consecutive evals", "actions": what}
                self.firings[r.name][m].append(event)
                fired.append(event)
        return fired

    def _armed(self, r: OnAlarmRule, m: int, t: int) -> bool:
        mine = self.firings[r.name][m]
        if mine and (r.once or t - mine[-1]["step"] < r.refractory):
            return False
        if r.after is not None:
            pre = self.firings[r.after][m]
            return bool(pre) and pre[0]["step"] < t
        return True

    def events(self) -> dict[str, list[Any]]:
        """events.json keys per member: ``fired/<rule>`` (first firing step or None), ``fired/<rule>.n`` (count)
        and ``fired/<rule>.reason`` (the first firing's reason and actions)."""
        out: dict[str, list[Any]] = {}
        for r in self.rules:
            f = self.firings[r.name]
            out[f"fired/{r.name}"] = [e[0]["step"] if e else None for e in f]
            out[f"fired/{r.name}.n"] = [len(e) for e in f]
            out[f"fired/{r.name}.reason"] = [f"{e[0]['reason']}: {e[0]['actions']}" if e else None for e in f]
        return out

    def all_firings(self) -> list[dict[str, Any]]:
        return sorted((e for f in self.firings.values() for mem in f for e in mem), key=lambda e: (e["step"], e["member"]))

    def state_dict(self) -> dict[str, Any]:
        return {"streak": {k: list(v) for k, v in self.streak.items()},
                "firings": {k: [list(m) for m in v] for k, v in self.firings.items()}}

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        for k in self.streak:
            if k in sd["streak"]:
                self.streak[k] = list(sd["streak"][k])
                self.firings[k] = [list(m) for m in sd["firings"][k]]
