"""Logit-scale and saturation diagnostics (paper 1 §1.3; Prieto et al. 2025 for softmax collapse).

- ``logit/scale``: mean over all N inputs of ||z||₂, z = logits/τ (effective logit scale L); the only metric of a
  regression task (real targets, no classes).
- ``logit/sc_frac``: fraction of *training* points whose correct-class probability is exactly 1.0 in the
  working precision (softmax collapse).
- ``logit/sat_frac``: fraction of all N inputs with max probability > 0.999.
- ``logit/margin`` and ``logit/margin_test``: mean over training (test) points of the margin z_y − max_{c≠y} z_c
  (after τ): positive where the point is classified correctly.

The kernels are pure functions on ``[M, ...]`` tensors (M = 1 for a single model); the probe only wires them to the
evaluation context.
"""

from __future__ import annotations

from torch import Tensor

from ..train.losses import probabilities
from .base import EvalContext, probe

SATURATED = 0.999  # max probability above which an input counts as saturated


def logit_scale(z: Tensor) -> Tensor:
    """``z [M, N, C]`` (after τ) -> ``[M]`` mean L2 norm of the logit vectors (float64)."""
    return z.double().norm(dim=-1).mean(1)


def collapse_frac(p_correct: Tensor) -> Tensor:
    """``p_correct [M, n]`` in the working dtype -> ``[M]`` fraction exactly 1.0 (softmax collapse)."""
    return (p_correct >= 1.0).double().mean(1)


def saturation_frac(probs: Tensor, threshold: float = SATURATED) -> Tensor:
    """``probs [M, N, C]`` -> ``[M]`` fraction of inputs whose max probability exceeds ``threshold``."""
    return (probs.max(-1).values > threshold).double().mean(1)


def mean_margin(z: Tensor, y: Tensor) -> Tensor:
    """``z [M, n, C]``, ``y [M, n]`` -> ``[M]`` mean of z_y − max_{c≠y} z_c (float64)."""
    z = z.double()
    correct = z.gather(-1, y[..., None]).squeeze(-1)
    other = z.scatter(-1, y[..., None], float("-inf")).max(-1).values
    return (correct - other).mean(1)


@probe("logits", uses_labels=["logit/sc_frac", "logit/margin", "logit/margin_test"])
def logits(ctx: EvalContext) -> dict[str, Tensor]:
    if ctx.y.is_floating_point():  # a regression (real targets): no classes, only the output scale is defined
        return {"logit/scale": logit_scale(ctx.logits)}
    probs = probabilities(ctx.loss_name, ctx.logits)  # working dtype on purpose: collapse is a precision effect
    p_train = ctx.at(probs, ctx.train_idx).gather(-1, ctx.y_train[..., None]).squeeze(-1)
    return {"logit/scale": logit_scale(ctx.logits), "logit/sc_frac": collapse_frac(p_train),
            "logit/sat_frac": saturation_frac(probs),
            "logit/margin": mean_margin(ctx.at(ctx.logits, ctx.train_idx), ctx.y_train),
            "logit/margin_test": mean_margin(ctx.at(ctx.logits, ctx.test_idx), ctx.y.gather(1, ctx.test_idx))}
