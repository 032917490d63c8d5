"""Config sections for phases (``[[phases]]``: task switches, optimiser changes, replay) and closed-loop rules
(``[[intervene.on_alarm]]``: a condition on a metric or a detector alarm, then actions), papers/03 §11 E2/E3.

Both lists are empty by default and then left out of the run id's hash (``hash_view``): adding these sections did
not change the id of any existing run.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PHASES_DOC = "task, optimiser and replay switches: [[phases]] tables (at, name, task, optim, replay)"
ON_ALARM_DOC = ("closed-loop rules: [[intervene.on_alarm]] tables (name, metric or alarm, stat, window, op, threshold, "
                "hold, from_step, after, once, refractory, actions)")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PhaseOptim(_Section):
    lr: float | None = Field(None, gt=0.0, description="learning rate of every member from the phase on (None: keep)")
    wd: float | None = Field(None, ge=0.0, description="weight decay of every member from the phase on (None: keep)")


class ReplayConfig(_Section):
    """Replay: each minibatch holds exactly round(fraction·B) training examples of an earlier phase's task (its own
    training split, its own epoch order) and B − that many of the current task's (the first of the current batch)."""

    fraction: float = Field(..., ge=0.0, lt=1.0, description="share of every batch drawn from the replayed task")
    source: str = Field(..., description="name of the earlier phase whose training data is replayed (the base "
                        "phase's name is its task label, e.g. 'add' for a modular add task)")


class PhaseConfig(_Section):
    """From step ``at`` on (the evaluation at ``at`` still belongs to the phase before; update at+1 is the new
    phase's first): the task, optimiser settings and data mixture change. Model shapes must stay the same."""

    at: int = Field(..., ge=1, description="updates after this many steps use the phase")
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$", description="phase name, used in "
                             "the per-task metrics task/<name>/...; default: the task label (a modular task's op), "
                             "else phase<i>")
    task: dict[str, Any] = Field(default_factory=dict, description="task fields changed from the base task "
                                 "(e.g. {op = \"mul\"}); the same p/vocabulary/classes/positions are required")
    optim: PhaseOptim = Field(default_factory=PhaseOptim, description="optimiser values from the phase on")
    replay: ReplayConfig | None = Field(None, description="replay an earlier phase's training data")


class AlarmAction(_Section):
    """One action of a rule: ``action`` names a registered action (``train.actions.ACTIONS``: scale_lr,
    set_replay, freeze_group, ...), the other keys are its arguments (checked when the run is built)."""

    model_config = ConfigDict(extra="allow")
    action: str = Field(..., description="registered action name")

    def args(self) -> dict[str, Any]:
        return {k: v for k, v in (self.model_extra or {}).items()}


class OnAlarmRule(_Section):
    """A closed-loop rule, evaluated per member at every evaluation (papers/03 §11 E3: the slope of λ₂ over the
    last 50 steps < −0.003 for 10 consecutive steps halves the lr and adds replay). It fires when its condition
    has held at ``hold`` consecutive evaluations; then every action applies to that member and an event (step,
    reason) is recorded. ``once``: it never fires again; else it re-arms ``refractory`` steps after a firing."""

    name: str = Field(..., pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$", description="rule name (event keys)")
    metric: str | None = Field(None, description="metric the condition reads (e.g. graph/fiedler, task/add/test/acc)")
    alarm: str | None = Field(None, description="or: a detector's alarm event key (e.g. alarm/ews_graph.fiedler); "
                              "the condition holds from the alarm's step on")
    stat: Literal["value", "slope", "abs_slope"] = Field(
        "value", description="value: the metric's latest value; slope: least-squares slope per step of the metric "
        "over the evaluations in the last `window` steps (this one included); abs_slope: its absolute value")
    window: int = Field(50, ge=1, description="slope window in steps (paper 11: 50)")
    op: Literal["<", ">", "<=", ">="] = Field("<", description="comparison with the threshold")
    threshold: float = Field(0.0, description="the condition is `stat op threshold`")
    hold: int = Field(1, ge=1, description="consecutive evaluations the condition must hold (paper 11: 10 steps "
                      "at one evaluation per step; at an eval spacing of k steps, about 10/k)")
    from_step: int = Field(0, ge=0, description="the rule is evaluated at evals >= this step, and a slope window "
                           "uses no evaluation before it (paper 11 resets the λ₂ history at the phase boundary)")
    after: str | None = Field(None, description="armed only once this other rule has fired for the member "
                              "(paper 11's escalation)")
    once: bool = Field(True, description="fire at most once per member")
    refractory: int = Field(0, ge=0, description="with once = false: steps after a firing before it can fire again")
    actions: list[AlarmAction] = Field(..., min_length=1, description="what a firing does, in order")

    @model_validator(mode="after")
    def _check(self) -> OnAlarmRule:
        if (self.metric is None) == (self.alarm is None):
            raise ValueError(f"intervene.on_alarm rule {self.name!r} needs exactly one of metric, alarm")
        return self


def task_label(task: dict[str, Any], index: int) -> str:
    """A phase's default name: a modular task's op, else ``phase<index>``."""
    return str(task["op"]) if task.get("name") == "modular" and "op" in task else f"phase{index}"


def phase_tasks(base_task: dict[str, Any], phases: list[PhaseConfig]) -> list[tuple[str, dict[str, Any]]]:
    """``(name, task dict)`` of the base phase and of every listed phase (json-mode task mappings; each phase
    changes the base task by its ``task`` fields). Names are distinct (a ValueError otherwise)."""
    out = [(task_label(base_task, 0), base_task)]
    for i, ph in enumerate(phases, 1):
        if "name" in ph.task and ph.task["name"] != base_task.get("name"):
            raise ValueError(f"phases[{i - 1}].task.name: a phase keeps the task family ({base_task.get('name')!r})")
        task = {**copy.deepcopy(base_task), **ph.task}
        out.append((ph.name or task_label(task, i), task))
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise ValueError(f"phase names must be distinct, got {names} (give each phase a name)")
    return out


def check_phases(phases: list[PhaseConfig], rules: list[OnAlarmRule], steps: int) -> None:
    """Order and references: phases strictly after each other and before the budget; replay sources earlier
    phases; rule names distinct and ``after`` naming another rule."""
    ats = [p.at for p in phases]
    if ats != sorted(set(ats)):
        raise ValueError(f"phases must be listed in increasing order of distinct `at` steps, got {ats}")
    if ats and ats[-1] >= steps:
        raise ValueError(f"phases: a phase at step {ats[-1]} is not before train.steps {steps}")
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise ValueError(f"intervene.on_alarm rule names must be distinct, got {names}")
    for r in rules:
        if r.after is not None and (r.after not in names or r.after == r.name):
            raise ValueError(f"intervene.on_alarm rule {r.name!r}: after = {r.after!r} names no other rule")


OMIT_WHEN_EMPTY = (("phases",), ("intervene", "on_alarm"), ("intervene", "reinit_heads"), ("intervene", "clip_norm"))


def hash_view(dump: dict[str, Any]) -> dict[str, Any]:
    """The config mapping the run id hashes: the new defaulted sections are dropped while empty (so every
    run that does not use them keeps the id it had before they existed)."""
    out = copy.deepcopy(dump)
    for path in OMIT_WHEN_EMPTY:
        node = out
        for part in path[:-1]:
            node = node.get(part, {})
        if path[-1] in node and node[path[-1]] in ([], None):  # empty list / unset section
            node.pop(path[-1])
    return out
