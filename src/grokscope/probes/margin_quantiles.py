"""Quantile function of the per-example margin on the training set (papers/03 §13, reconstructed).

The margin of example i is its correct logit minus the largest other logit, z_y − max_{c≠y} z_c (after the
output temperature), one of the observables 03 §13 lists beside log p(y|x) and the loss. As for
``logprob_quantiles``, its quantiles on the mid-point levels (i + ½)/m are Wasserstein coordinates of the
distribution: the input of the Hankel-DMD residual. Metrics ``margin_quantiles/q00`` ... ``q{m-1}``.
"""

from __future__ import annotations

from torch import Tensor

from .base import EvalContext, probe
from .logprob_quantiles import LEVELS, quantile_embed


def margins(z: Tensor, y: Tensor) -> Tensor:
    """Correct logit minus the best other: ``z [M, n, C]``, ``y [M, n]`` -> ``[M, n]`` (float64)."""
    z = z.double()
    correct = z.gather(-1, y[..., None]).squeeze(-1)
    other = z.scatter(-1, y[..., None], float("-inf")).max(-1).values
    return correct - other


@probe("margin_quantiles", uses_labels=True, cost="cheap")
def margin_quantiles(ctx: EvalContext) -> dict[str, Tensor]:
    Q = quantile_embed(margins(ctx.at(ctx.logits, ctx.train_idx), ctx.y_train), LEVELS)
    return {f"margin_quantiles/q{i:02d}": Q[:, i] for i in range(Q.shape[1])}


