"""A pool member's metric history, and its truncation at a question step (the benchmark's causality guard).

A :class:`History` holds one member's evaluation steps ``[n]`` and metric values ``{metric: [n]}`` (NaN where a
metric was not measured at a step) plus the few config values a predictor may read (``lr``, ``wd``). Predictors
only ever see ``h.upto(step)``: the rows at steps ``<= step``. Events (T_mem, T_grok) are not part of it: a
predictor that wants T_mem computes it from the train accuracy it was given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class History:
    steps: np.ndarray  # [n] int, increasing
    metrics: dict[str, np.ndarray]  # metric -> [n] float (NaN: not measured there)
    info: dict[str, Any] = field(default_factory=dict)  # lr, wd, task, model, ... (config values, not outcomes)
    checkpoints: dict[int, str] = field(default_factory=dict)  # step -> weights file (for checkpoint predictors)

    def __len__(self) -> int:
        return int(self.steps.size)

    @property
    def last_step(self) -> int:
        return int(self.steps[-1]) if self.steps.size else 0

    def get(self, metric: str) -> np.ndarray:
        """``[n]`` values of ``metric`` (all NaN when the run never recorded it)."""
        v = self.metrics.get(metric)
        return np.full(self.steps.size, np.nan) if v is None else v

    def has(self, metric: str) -> bool:
        v = self.metrics.get(metric)
        return v is not None and bool(np.isfinite(v).any())

    def prefix(self, family: str) -> list[str]:
        """Metric names starting with ``family`` (sorted)."""
        return sorted(k for k in self.metrics if k.startswith(family))

    def upto(self, step: int) -> History:
        """The history seen at ``step``: rows at steps <= step, checkpoints at or before it."""
        keep = self.steps <= step
        return History(self.steps[keep], {k: v[keep] for k, v in self.metrics.items()}, dict(self.info),
                       {s: p for s, p in self.checkpoints.items() if s <= step})

    def with_future(self, step: int, value: float) -> History:
        """A copy whose rows after ``step`` are replaced by ``value`` (the causality audit's altered future)."""
        late = self.steps > step
        return History(self.steps, {k: np.where(late, value, v) for k, v in self.metrics.items()},
                       dict(self.info), dict(self.checkpoints))
