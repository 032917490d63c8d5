"""Weight norms (DESIGN.md): ||W|| = sqrt(Σ_i ||W_i||_F²) over weight matrices, total and per group, and V = ||W||²."""

from __future__ import annotations

from torch import Tensor

from ..train.interventions import member_sq_norm
from .base import EvalContext, probe


@probe("norms", uses_labels=False)
def norms(ctx: EvalContext) -> dict[str, Tensor]:
    out = {}
    total = 0
    for group, names in ctx.groups.items():
        sq = member_sq_norm(ctx.params, names)
        out[f"norm/{group}"] = sq.sqrt()
        total = total + sq
    out["norm/total"] = total.sqrt()
    out["norm/sq"] = total
    return out
