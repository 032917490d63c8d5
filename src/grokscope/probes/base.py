"""The measurement interface (probe API v2): a probe declares what it needs, and only that is computed.

A probe maps one shared evaluation pass to per-member scalars ``{"family/name": Tensor[M]}``. It declares:

- ``hooks``: named hook activations it reads (or a function of the model's ``roles`` giving them); only those
  are kept over the N examples, and none at all when no probe asks (the model's fast path runs);
- ``all_queries``: attention hooks at every query position, not only the readout query;
- ``needs``: extra inputs, any of ``"grad"`` (the per-member full-batch training gradient, computed only then),
  ``"history"`` (the metric history so far), ``"task"`` (the task's structure: p, op, token roles, ...);
- ``uses_labels``: whether its outputs read labels (True/False, or the names of the metrics that do); every
  metric is marked label-free or not in the run's ``meta.json``;
- ``every``: its cadence (run at every k-th evaluation of the grid); ``cost``: a hint for users.

A stateless probe is a function ``(ctx) -> dict``. A stateful probe (an ML-fitted β, an alarm's window) is a
class with ``__call__(ctx)``, ``state_dict()``/``load_state_dict(sd)`` (saved in the run's resume state, so resume
stays bit-identical), optionally ``after_step(t, params, grads, delta)`` (sees every update: ``delta`` = new
params - old params, per name ``[M, ...]``) and ``events() -> {key: [value per member]}`` (extra event keys, e.g.
an alarm step, that become ``members`` columns in the catalog). Register either with ``@probe(name, ...)``.
The mathematics of a probe belongs in a pure kernel on tensors with a leading member axis, so the Monitor
(M = 1) and checkpoint analyses call the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import Tensor

from ..errors import UserError
from ..registry import Registry

NEEDS = ("grad", "history", "task")


@dataclass
class EvalContext:
    """Everything a probe may read. Shapes: M members, N examples, C classes."""

    params: dict[str, Tensor]  # name -> [M, ...]
    groups: dict[str, list[str]]  # weight group -> parameter names
    logits: Tensor  # [M, N, C] after the temperature (z = logits / τ), working dtype
    y: Tensor  # [M, N] clean labels
    y_train: Tensor  # [M, n_train] training labels (after label noise)
    train_idx: Tensor  # [M, n_train]
    test_idx: Tensor  # [M, n_test]
    loss_name: str  # "ce", "mse" or "stablemax"
    cache: dict[str, Tensor] = field(default_factory=dict)  # the requested hook activations over all N examples
    x: Tensor | None = None  # int64 [M|1, N, S] inputs
    step: int = 0  # optimizer updates done
    lr: Tensor | None = None  # [M] learning rate of the last update (after warm-up)
    wd: Tensor | None = None  # [M] weight decay
    tau: Tensor | None = None  # [M] output temperature
    roles: Any = None  # the model's ModelRoles (embed, unembed, unembed_in, layers, attention, hidden)
    task: dict[str, Any] = field(default_factory=dict)  # the task's structure (needs "task")
    grad: dict[str, Tensor] | None = None  # full-batch training gradient per parameter [M, ...] (needs "grad")
    history: dict[str, np.ndarray] = field(default_factory=dict)  # metric -> [evals, M] so far (needs "history")
    history_steps: np.ndarray | None = None  # [evals] steps of the history

    def at(self, t: Tensor, idx: Tensor) -> Tensor:
        """Rows of a per-example tensor ``t [M, N, ...]`` at per-member indices ``idx [M, n]``."""
        return t.gather(1, idx.view(*idx.shape, *([1] * (t.dim() - 2))).expand(*idx.shape, *t.shape[2:]))


Hooks = Sequence[str] | Callable[[Any], Sequence[str]]


@dataclass(frozen=True)
class Probe:
    """A registered probe: its factory and what it declares."""

    name: str
    make: Callable[[], Callable[[EvalContext], dict[str, Tensor]]]  # a new instance per run (state lives there)
    hooks: Hooks = ()
    needs: frozenset[str] = frozenset()
    uses_labels: bool | frozenset[str] = True  # or the names of the metrics that read labels
    every: int = 1
    cost: str = "cheap"  # cheap (O(N·C)), forward (needs hooks), heavy (SVDs, gradients, ...)
    all_queries: bool = False
    unsupported: Callable[[Any], str | None] | None = None  # roles -> why this model cannot serve it (or None)

    def skip_reason(self, roles: Any) -> str | None:
        """Why a model with these ``roles`` cannot serve this probe (attention on an MLP), or None."""
        return None if self.unsupported is None or roles is None else self.unsupported(roles)

    def hook_names(self, roles: Any) -> list[str]:
        return list(self.hooks(roles) if callable(self.hooks) else self.hooks)

    def reads_labels(self, metric: str) -> bool:
        return self.uses_labels if isinstance(self.uses_labels, bool) else metric in self.uses_labels

    def describe(self) -> dict[str, Any]:
        uses = self.uses_labels if isinstance(self.uses_labels, bool) else sorted(self.uses_labels)
        return {"uses_labels": uses, "every": self.every, "cost": self.cost, "needs": sorted(self.needs)}


PROBES: Registry = Registry("probe")


def probe(name: str, *, hooks: Hooks = (), needs: Sequence[str] = (), uses_labels: bool | Sequence[str] = True,
          every: int = 1,
          cost: str = "cheap", all_queries: bool = False,
          unsupported: Callable[[Any], str | None] | None = None) -> Callable:
    """Register a probe function ``(ctx) -> dict`` or a stateful probe class (instantiated once per run).

    ``unsupported(roles)`` says why a model cannot serve the probe (None when it can); such a probe is skipped
    with one warning line (``resolve``)."""
    unknown = sorted(set(needs) - set(NEEDS))
    if unknown:
        raise ValueError(f"probe {name!r}: unknown need {unknown[0]!r} (choose from {', '.join(NEEDS)})")
    if every < 1:
        raise ValueError(f"probe {name!r}: every must be >= 1")

    def deco(obj: Any) -> Any:
        make = obj if isinstance(obj, type) else (lambda: obj)
        uses = uses_labels if isinstance(uses_labels, bool) else frozenset(uses_labels)
        PROBES.register(name)(Probe(name, make, hooks, frozenset(needs), uses, every, cost, all_queries,
                                    unsupported))
        return obj

    return deco


def resolve(names: Sequence[str], roles: Any = None, warn: Callable[[str], None] | None = None) -> list[Probe]:
    """The probes named by ``eval.probes`` (set names such as ``"default"`` expanded, see ``sets.py``).

    An unknown name is a ``UserError`` (one line); a probe the model (its ``roles``) cannot serve is dropped with
    one warning line through ``warn`` (stderr by default).
    """
    import sys

    from .sets import expand

    out = []
    for name in expand(names):
        p = PROBES.get(name)
        reason = p.skip_reason(roles)
        if reason is not None:
            (warn or (lambda m: sys.stderr.write(m + "\n")))(f"warning: probe {name!r} skipped: {reason}")
            continue
        out.append(p)
    return out


def _make(p: Probe, options: dict[str, Any]) -> Callable[[EvalContext], dict[str, Tensor]]:
    """A new instance of probe ``p`` with its ``eval.probe_options`` (a bad option is one line, not a traceback)."""
    if not options:
        return p.make()
    try:
        return p.make(**options)
    except TypeError as e:
        raise UserError(f"eval.probe_options.{p.name}: {e}") from None
    except (KeyError, ValueError) as e:
        raise UserError(f"eval.probe_options.{p.name}: {e.args[0] if e.args else e}") from None


class ProbeSet:
    """The probes of one run, instantiated: what they need in union, their state, their step hooks."""

    def __init__(self, probes: list[Probe], options: dict[str, dict[str, Any]] | None = None) -> None:
        self.probes = probes
        stray = sorted(set(options or {}) - {p.name for p in probes})
        if stray:
            raise UserError(f"eval.probe_options.{stray[0]}: no such probe among eval.probes "
                            f"({', '.join(p.name for p in probes)})")
        self.instances = [_make(p, (options or {}).get(p.name, {})) for p in probes]
        self.label_free: dict[str, bool] = {}  # metric -> written by a probe that reads no labels

    def due(self, eval_index: int) -> list[int]:
        """Indices of the probes that run at the ``eval_index``-th evaluation (0-based)."""
        return [i for i, p in enumerate(self.probes) if eval_index % p.every == 0]

    def hooks(self, roles: Any, due: list[int]) -> set[str]:
        return {h for i in due for h in self.probes[i].hook_names(roles)}

    def needs(self, due: list[int]) -> set[str]:
        return {n for i in due for n in self.probes[i].needs}

    def all_queries(self, due: list[int]) -> bool:
        return any(self.probes[i].all_queries for i in due)

    @property
    def step_hooks(self) -> list[Callable]:
        return [inst.after_step for inst in self.instances if hasattr(inst, "after_step")]

    def run(self, ctx: EvalContext, due: list[int]) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        for i in due:
            values = self.instances[i](ctx)
            for name in values:
                self.label_free[name] = not self.probes[i].reads_labels(name)
            out.update(values)
        return out

    def events(self) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for inst in self.instances:
            if hasattr(inst, "events"):
                out.update(inst.events())
        return out

    def state_dict(self) -> dict[str, Any]:
        return {p.name: inst.state_dict() for p, inst in zip(self.probes, self.instances) if hasattr(inst, "state_dict")}

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        for p, inst in zip(self.probes, self.instances):
            if hasattr(inst, "load_state_dict") and p.name in sd:
                inst.load_state_dict(sd[p.name])
