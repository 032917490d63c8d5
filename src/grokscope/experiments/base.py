"""Experiments: one published claim each, as stages of sweeps plus an analysis that yields claim rows.

An :class:`Experiment` is a class registered with :func:`experiment` (in :data:`EXPERIMENTS`). It declares

* ``name``, ``claim`` (one line), ``paper`` (the source);
* ``scales``: parameters per scale — ``"quick"`` (CPU-sized, minutes) and ``"paper"`` (the paper's sizes) — read
  by the stages as ``ctx.params``; every parameter whose quick value differs from the paper's is listed in the
  table's scale notes automatically (``p: 59 → 23``), together with the free-text ``notes`` for that scale;
* ``stages``: :class:`Stage` objects run in order. A stage's ``build(ctx)`` turns the parameters and the results of
  the earlier stages (``ctx.stages[name]``: catalog member rows) into a sweep spec (a dict, see
  ``grokscope.sweep.spec``), e.g. measure W_c on a free control run, then clamp arms at ρ·W_c;
* ``analyse(ctx) -> list[ClaimRow]``: the claim rows, with verdicts computed by their rules.

Training goes through ``grokscope.sweep.run_sweep``, one sweep directory per stage, so a rerun skips every complete
run and resumes interrupted ones; results are read back with ``grokscope.store.catalog.Catalog``. Layout::

    <out>/<experiment>/<stage>/     a sweep directory (sweep.json, runs/<run-id>/ ...) per stage
    <out>/<experiment>/claims.json  claims.md  claims.html

A stage is only a function from earlier results to configs, so a *fork* stage (branch arms from a saved training
state of an earlier stage's run) is one more stage whose spec carries the fork keys of the run config, pointing at
``ctx.stages[...].members[i]["path"]`` and a step: nothing here needs to know about forking.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..errors import UserError
from ..registry import Registry
from .claims import ClaimRow

SCALES = ("quick", "paper")


@dataclass(frozen=True)
class Stage:
    """One sweep of an experiment: ``build(ctx)`` returns its sweep spec (dict), given the earlier stages' results.

    A stage whose runs are not sweeps of the core run config (the LM stages) gives ``run(ctx, dir)`` instead, which
    trains into ``dir`` (reusing finished runs) and returns the stage's result."""

    name: str
    build: Callable[[Context], dict[str, Any]] | None = None
    summary: str = ""
    run: Callable[[Context, Path], StageResult] | None = None  # trains by itself into the given dir (LM stages)


@dataclass
class StageResult:
    """A finished stage: its sweep directory and one row per trained member (Catalog ``members`` columns).

    Each row also has ``values``: the sweep cell's axis values (``arm``, ``seed``, grid axes) of that member.
    """

    name: str
    dir: Path
    members: list[dict[str, Any]]
    runs_trained: int = 0
    runs_skipped: int = 0

    def where(self, **values: Any) -> list[dict[str, Any]]:
        """Members whose cell values match, e.g. ``where(arm="clamp")``."""
        return [m for m in self.members if all(m["values"].get(k) == v for k, v in values.items())]

    def metric_at(self, rows: list[dict[str, Any]], metric: str, step_key: str = "t_grok") -> list[float | None]:
        """``metric`` of each member at the step in its column ``step_key`` (None where that step is None)."""
        from ..store.catalog import Catalog

        want = [(r["run_id"], r["member"], r[step_key]) for r in rows]
        with Catalog(self.dir) as cat:
            df = cat.metrics({w[0] for w in want}, [metric])
        values = {(r, int(m), int(s)): float(v) for r, m, s, v in zip(df.run_id, df.member, df.step, df.value)}
        return [None if s is None else values.get((r, int(m), int(s))) for r, m, s in want]

    def curves(self, metric: str) -> dict[tuple[str, int], tuple[Any, Any]]:
        """``(run_id, member) -> (steps [n], values [n])`` of one metric for every member, in step order."""
        from ..store.catalog import Catalog

        with Catalog(self.dir) as cat:
            df = cat.metrics({m["run_id"] for m in self.members}, [metric])
        return {(str(k[0]), int(k[1])): (d.step.to_numpy(float), d.value.to_numpy(float))
                for k, d in df.sort_values("step").groupby(["run_id", "member"])}


@dataclass
class Context:
    """What a stage's ``build`` and the ``analyse`` see: the scale, its parameters, the finished stages."""

    experiment: Experiment
    scale: str
    params: dict[str, Any]
    out: Path
    stages: dict[str, StageResult] = field(default_factory=dict)


class Experiment:
    """Base class: set the class attributes, list the stages, implement ``analyse``; register with ``@experiment``."""

    name: ClassVar[str]
    claim: ClassVar[str]
    paper: ClassVar[str]
    scales: ClassVar[dict[str, dict[str, Any]]]
    notes: ClassVar[dict[str, list[str]]] = {}
    stages: ClassVar[tuple[Stage, ...]]

    def analyse(self, ctx: Context) -> list[ClaimRow]:
        raise NotImplementedError

    def params(self, scale: str) -> dict[str, Any]:
        if scale not in self.scales:
            raise UserError(f"experiment {self.name!r} has no scale {scale!r} (choose from: {', '.join(self.scales)})")
        return dict(self.scales[scale])

    def scale_notes(self, scale: str) -> list[str]:
        """What differs from the paper at this scale: changed parameters (``key: paper → this``) and free text."""
        paper = self.scales.get("paper", {})
        mine = self.params(scale)
        changed = [f"{k}: {_fmt(paper[k])} → {_fmt(v)}" for k, v in mine.items()
                   if scale != "paper" and k in paper and paper[k] != v]
        return changed + list(self.notes.get(scale, []))


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


EXPERIMENTS: Registry[Experiment] = Registry("experiment")


def experiment(cls: type[Experiment]) -> type[Experiment]:
    """Class decorator: check the declaration and register one instance under ``cls.name``."""
    for attr in ("name", "claim", "paper", "scales", "stages"):
        if not hasattr(cls, attr):
            raise TypeError(f"experiment {cls.__name__} lacks {attr!r}")
    names = [s.name for s in cls.stages]
    if len(set(names)) != len(names) or not names:
        raise TypeError(f"experiment {cls.name}: stage names must be distinct and non-empty, got {names}")
    if "quick" not in cls.scales:
        raise TypeError(f"experiment {cls.name}: a 'quick' scale is required")
    EXPERIMENTS.register(cls.name)(cls())
    return cls


def load_all() -> Registry[Experiment]:
    """Import every module of this package (each registers its experiments) and return the registry."""
    import importlib
    import pkgutil

    from . import __path__ as pkg_path

    for mod in pkgutil.iter_modules(pkg_path):
        importlib.import_module(f"{__package__}.{mod.name}")
    return EXPERIMENTS
