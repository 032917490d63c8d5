"""Per-example observables of a model's predictions, summarised as distributions [03 §13 item 1].

``logprob_quantiles``: the quantile function of per-example log p(y|x) (the observable 03 §13's abstract finds
best) on mid-point levels; the kernel a probe and the checkpoint analysis (``analyze dmd``) share.
"""

from __future__ import annotations

import torch
from torch import Tensor


def log_prob_correct(z: Tensor, y: Tensor) -> Tensor:
    """``z [M, N, C]`` logits (after τ), ``y [M, N]`` labels -> ``[M, N]`` log p(y|x) under the softmax (float64)."""
    return torch.log_softmax(z.double(), -1).gather(-1, y[..., None]).squeeze(-1)


def quantile_levels(m: int) -> Tensor:
    return (torch.arange(m, dtype=torch.float64) + 0.5) / m


def logprob_quantiles(z: Tensor, y: Tensor, m: int = 32) -> Tensor:
    """``[M, m]``: the quantiles of log p(y|x) over the N examples at levels (i + ½)/m."""
    lp = log_prob_correct(z, y)
    return torch.quantile(lp, quantile_levels(m).to(lp.device), dim=-1).T
