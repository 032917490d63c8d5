"""Quantile function of per-example log p(y|x) on the training set (papers/03 §13, reconstructed).

For 1-D distributions W₂(μ, ν) = ‖Q_μ − Q_ν‖_{L²(0,1)}, so the quantiles on a fixed grid of mid-point levels
u_i = (i + ½)/m are Wasserstein coordinates of the distribution of the observable: the input of a Hankel-DMD
residual detector. Observable: log-probability of the (training) label under the run's loss link (softmax for CE);
the training set is our choice of probe set (the abstract does not say which).
Metrics ``logprob_quantiles/q00`` ... ``q{m-1}``, m = ``LEVELS``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..train.losses import probabilities
from .base import EvalContext, probe

LEVELS = 32


def quantile_levels(m: int = LEVELS) -> Tensor:
    """Mid-point levels ``[m]``: (i + ½)/m."""
    return (torch.arange(m, dtype=torch.float64) + 0.5) / m


def quantile_embed(samples: Tensor, m: int = LEVELS) -> Tensor:
    """``samples [M, n]`` -> quantile function on the mid-point grid ``[M, m]`` (linear interpolation)."""
    u = quantile_levels(m).to(samples.device)
    return torch.quantile(samples.double(), u, dim=1).T


def correct_logprob(loss_name: str, z: Tensor, y: Tensor) -> Tensor:
    """log p(y|x) per example: ``z [M, n, C]``, ``y [M, n]`` -> ``[M, n]`` (float64; 1e−300 floor)."""
    p = probabilities(loss_name, z.double()).gather(-1, y[..., None]).squeeze(-1)
    return p.clamp_min(1e-300).log()


@probe("logprob_quantiles", uses_labels=True, cost="cheap")
def logprob_quantiles(ctx: EvalContext) -> dict[str, Tensor]:
    lp = correct_logprob(ctx.loss_name, ctx.at(ctx.logits, ctx.train_idx), ctx.y_train)
    Q = quantile_embed(lp)
    return {f"logprob_quantiles/q{i:02d}": Q[:, i] for i in range(Q.shape[1])}
