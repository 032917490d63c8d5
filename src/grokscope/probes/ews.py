"""``ews``: online early-warning alarms inside a run (``detect/online.py``), label-free.

For each watched signal present in the history (``SIGNALS``: the LAR and the weight norm by default), one
``OnlineEWS`` per member is fed the signal's latest value at each evaluation (the history holds the evaluations
before this one: the indicator lags by one evaluation). Writes ``ews/ac1.<signal>`` and, at the end, the events
``alarm/ews_<signal>`` (alarm step per member, None if none), which become ``members`` columns
(``alarm_ews_<signal>``). A user's own variant: ``make_ews_probe(name, signals, **detector settings)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from ..detect.online import OnlineEWS, metric_key
from .base import EvalContext, probe

SIGNALS = ("lar/lar", "norm/total")


def make_ews_probe(name: str, signals: Sequence[str] = SIGNALS, **settings: Any) -> type:
    """Register a stateful probe ``name`` watching ``signals`` with ``OnlineEWS(**settings)`` detectors."""

    class EWSProbe:
        def __init__(self) -> None:
            self.detectors: dict[str, list[OnlineEWS]] = {}
            self.last_step: int | None = None

        def __call__(self, ctx: EvalContext) -> dict[str, Tensor]:
            M = ctx.logits.shape[0]
            steps = ctx.history_steps
            out = {}
            fresh = steps is not None and len(steps) and (self.last_step is None or int(steps[-1]) > self.last_step)
            for sig in signals:
                hist = ctx.history.get(sig)
                if hist is None or not len(hist):
                    continue
                dets = self.detectors.setdefault(sig, [OnlineEWS(**settings) for _ in range(M)])
                vals = [dets[m].indicator[-1] if dets[m].indicator else math.nan for m in range(M)]
                if fresh:
                    vals = [dets[m].update(int(steps[-1]), float(hist[-1, m])) for m in range(M)]
                out[f"ews/ac1.{metric_key(sig)}"] = torch.tensor(vals, dtype=torch.float64)
            if fresh:
                self.last_step = int(steps[-1])
            return out

        def events(self) -> dict[str, list[Any]]:
            return {f"alarm/ews_{metric_key(sig)}": [d.alarm for d in dets] for sig, dets in self.detectors.items()}

        def state_dict(self) -> dict[str, Any]:
            return {"last_step": self.last_step,
                    "detectors": {s: [d.state_dict() for d in ds] for s, ds in self.detectors.items()}}

        def load_state_dict(self, sd: dict[str, Any]) -> None:
            self.last_step = sd["last_step"]
            self.detectors = {}
            for s, states in sd["detectors"].items():
                self.detectors[s] = [OnlineEWS(**settings) for _ in states]
                for d, st in zip(self.detectors[s], states):
                    d.load_state_dict(st)

    EWSProbe.__name__ = f"EWSProbe_{name}"
    return probe(name, needs=["history"], uses_labels=False, cost="cheap")(EWSProbe)


make_ews_probe("ews")
