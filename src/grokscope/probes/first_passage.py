"""Online first-passage forecast of T_grok (02 §10): once a member memorises, ``forecast/t_grok`` per member.

At the first evaluation with train accuracy ≥ ``MEM_THRESHOLD`` (T_mem, paper: 0.99) the probe records
``V_mem = ‖W‖²`` (weight matrices, as ``norm/sq``) and from then on reports
``T_mem + max(ln(V_mem/V★), 0)/(2κηλ)`` with the member's current η and λ (NaN before T_mem, or with λ = 0); the
last forecast and V_mem become event keys ``forecast/t_grok`` and ``forecast/v_mem`` (catalog columns
``forecast_t_grok``, ``forecast_v_mem``), so after the run ``t_grok − forecast_t_grok`` is its error.

The constants are a named calibration (``grokscope.laws.forecast.CALIBRATIONS``, default the paper's headline cell:
κ = 0.252, V★ = 2501 for its 1-layer transformer; V★ does not transfer across architectures). To forecast with your
own, calibrate on a cell of your grokked runs and save it,
``grokscope forecast RUN --calibration CELL_DIR --save-calibration my-cal.json``, then run with
``eval.probe_options = {first_passage = {calibration = "my-cal.json"}}`` (the calibration's name, κ and V★ are
recorded with the run's events as ``forecast/kappa`` and ``forecast/v_star``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from ..train.interventions import member_sq_norm
from .base import EvalContext, probe

MEM_THRESHOLD = 0.99


def first_passage_t_grok(t_mem: Tensor, v_mem: Tensor, lr: Tensor, wd: Tensor, kappa: float, v_star: float) -> Tensor:
    """``T_mem + max(ln(V_mem/V★), 0)/(2κηλ)`` [M] (steps); NaN where T_mem is unknown (NaN) or ηλ = 0."""
    rate = 2 * kappa * lr * wd
    delay = torch.clamp(torch.log(v_mem / v_star), min=0) / rate
    return torch.where(rate > 0, t_mem + delay, torch.full_like(t_mem, math.nan))


@probe("first_passage", uses_labels=True, cost="cheap")
class FirstPassageForecast:
    """Options (``eval.probe_options.first_passage``): ``calibration``, a shipped name or a calibration file written
    by ``grokscope forecast RUN --calibration CELL --save-calibration FILE``; ``kappa`` / ``v_star`` override it."""

    CALIBRATION = "first-passage-1l-p97"
    KAPPA: float | None = None  # None: from the calibration
    V_STAR: float | None = None

    def __init__(self, calibration: str | None = None, kappa: float | None = None,
                 v_star: float | None = None) -> None:
        from ..laws.forecast import load_calibration

        cal = load_calibration(calibration or self.CALIBRATION)
        self.calibration = cal.name
        self.kappa = float(kappa if kappa is not None else self.KAPPA if self.KAPPA is not None else cal.kappa)
        self.v_star = float(v_star if v_star is not None else self.V_STAR if self.V_STAR is not None else cal.v_star)
        if not (self.kappa > 0 and self.v_star > 0):
            raise ValueError(f"κ and V★ must be > 0 (got κ = {self.kappa}, V★ = {self.v_star})")
        self.t_mem: Tensor | None = None  # [M] float, NaN until memorised
        self.v_mem: Tensor | None = None
        self.last: Tensor | None = None

    def __call__(self, ctx: EvalContext) -> dict[str, Tensor]:
        z = ctx.at(ctx.logits, ctx.train_idx)
        acc = (z.argmax(-1) == ctx.y_train).float().mean(-1)  # [M]
        v = sum(member_sq_norm(ctx.params, names) for names in ctx.groups.values()).double().cpu()
        m = acc.shape[0]
        if self.t_mem is None:
            self.t_mem = torch.full((m,), math.nan, dtype=torch.float64)
            self.v_mem = torch.full((m,), math.nan, dtype=torch.float64)
        new = torch.isnan(self.t_mem) & (acc.cpu() >= MEM_THRESHOLD)
        self.t_mem = torch.where(new, torch.full_like(self.t_mem, float(ctx.step)), self.t_mem)
        self.v_mem = torch.where(new, v, self.v_mem)
        lr = ctx.lr.double().cpu() if ctx.lr is not None else torch.full((m,), math.nan, dtype=torch.float64)
        wd = ctx.wd.double().cpu() if ctx.wd is not None else torch.zeros(m, dtype=torch.float64)
        self.last = first_passage_t_grok(self.t_mem, self.v_mem, lr, wd, self.kappa, self.v_star)
        return {"forecast/t_grok": self.last.to(acc.device, acc.dtype)}

    def events(self) -> dict[str, list[Any]]:
        if self.last is None:
            return {}
        clean = lambda t: [None if math.isnan(v) else float(v) for v in t.tolist()]  # noqa: E731
        m = len(self.last)
        return {"forecast/t_grok": clean(self.last), "forecast/v_mem": clean(self.v_mem),
                "forecast/kappa": [self.kappa] * m, "forecast/v_star": [self.v_star] * m}

    def state_dict(self) -> dict[str, Any]:
        return {"t_mem": self.t_mem, "v_mem": self.v_mem, "last": self.last}

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        self.t_mem, self.v_mem, self.last = sd["t_mem"], sd["v_mem"], sd["last"]
