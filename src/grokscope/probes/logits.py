"""Logit-scale and saturation diagnostics (paper 1 §1.3; Prieto et al. 2025 for softmax collapse).

- ``logit/scale``: mean over all N inputs of ||z||₂, z = logits/τ (effective logit scale L).
- ``logit/sc_frac``: fraction of *training* points whose correct-class probability is exactly 1.0 in the
  working precision (softmax collapse).
- ``logit/sat_frac``: fraction of all N inputs with max probability > 0.999.
"""

from __future__ import annotations

from torch import Tensor

from ..train.losses import probabilities
from .base import EvalContext, probe


@probe("logits", uses_labels=["logit/sc_frac"])
def logits(ctx: EvalContext) -> dict[str, Tensor]:
    z = ctx.logits
    probs = probabilities(ctx.loss_name, z)  # working dtype on purpose: collapse is a precision effect
    p_train = ctx.at(probs, ctx.train_idx).gather(-1, ctx.y_train[..., None]).squeeze(-1)
    return {
        "logit/scale": z.double().norm(dim=-1).mean(1),
        "logit/sc_frac": (p_train >= 1.0).double().mean(1),
        "logit/sat_frac": (probs.max(-1).values > 0.999).double().mean(1),
    }
