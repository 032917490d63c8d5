"""Weight norms (DESIGN.md): ||W|| = sqrt(Σ_i ||W_i||_F²) over weight matrices, total and per group, and
``norm/sq`` = ||W||²; the first-passage quantities of papers/02 §10:

- ``norm/V`` = V_t = ‖θ_t‖², the squared norm of all parameters;
- ``norm/angle_mem``: α_t = arccos(⟨θ_t, θ_mem⟩ / (‖θ_t‖‖θ_mem‖)) in radians, θ_mem = θ at T_mem (the first eval
  with train accuracy ≥ ``MEM_THRESHOLD``, as in ``detect.events``); NaN until T_mem is known. The reference θ_mem
  is reconstructed in 02 §10 ("probably θ_{T_mem}"). It reads the training labels through T_mem.

The history a probe sees ends at the previous evaluation, so the probe keeps θ of the previous evaluation: when
T_mem first appears in the history it is that evaluation's step, and that copy becomes θ_mem.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..detect.events import first_crossing
from ..train.interventions import member_sq_norm
from .base import EvalContext, probe

MEM_THRESHOLD = 0.99


def flat_params(params: dict[str, Tensor]) -> Tensor:
    """All parameters of each member as one vector ``[M, P]`` (float64, names sorted)."""
    return torch.cat([params[n].detach().double().flatten(1) for n in sorted(params)], 1)


def angle(a: Tensor, b: Tensor) -> Tensor:
    """Angle in radians between rows of ``a`` and ``b`` ``[M, P]`` -> ``[M]``."""
    cos = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-300)
    return cos.clamp(-1.0, 1.0).acos()


def weight_norms(ctx: EvalContext) -> dict[str, Tensor]:
    out = {}
    total = 0
    for group, names in ctx.groups.items():
        sq = member_sq_norm(ctx.params, names)
        out[f"norm/{group}"] = sq.sqrt()
        total = total + sq
    out["norm/total"] = total.sqrt()
    out["norm/sq"] = total
    return out


class Norms:
    def __init__(self) -> None:
        self.prev: Tensor | None = None  # θ at the previous evaluation [M, P]
        self.ref: Tensor | None = None  # θ_mem [M, P] (rows of members without T_mem are NaN)

    def __call__(self, ctx: EvalContext) -> dict[str, Tensor]:
        out = weight_norms(ctx)
        theta = flat_params(ctx.params)
        out["norm/V"] = theta.square().sum(1)
        M = theta.shape[0]
        if self.ref is None:
            self.ref = torch.full_like(theta, math.nan)
        acc = ctx.history.get("train/acc")
        if acc is not None and self.prev is not None and ctx.history_steps is not None and len(acc):
            for m in range(M):
                if torch.isnan(self.ref[m, 0]) and first_crossing(ctx.history_steps, acc[:, m], MEM_THRESHOLD) \
                        is not None:
                    self.ref[m] = self.prev[m]
        out["norm/angle_mem"] = angle(theta, self.ref)  # NaN rows stay NaN
        self.prev = theta
        return out

    def state_dict(self) -> dict:
        return {"prev": self.prev, "ref": self.ref}

    def load_state_dict(self, sd: dict) -> None:
        self.prev, self.ref = sd["prev"], sd["ref"]


probe("norms", needs=["history"], uses_labels=["norm/angle_mem"])(Norms)
