"""T_eff of minibatch SGD from the measured per-example gradient covariance (papers/01 §3.3 [reconstructed];
Jastrzębski et al. 2017 for the SDE approximation).

SGD: θ <- θ - η (g + ζ) with minibatch noise ζ of covariance ≈ C / B (C: the per-example gradient covariance,
sampling with replacement). Langevin (``intervene.langevin_T``): θ <- θ - η g + sqrt(2ηT) ξ, covariance 2ηT·I.
Equating the mean noise power per parameter, η² tr(C) / B = 2ηT·P, gives

    T_eff = η · tr(C) / (2 B P)        (P parameters)

which puts minibatch SGD on the Langevin temperature axis. The noise of SGD is multiplicative (C depends on θ; in a
deep linear net it vanishes at W = 0, Mori et al. 2022), so T_eff depends on where it is measured: report it
at the trapped (off) state and say so.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def gradient_covariance_trace(per_example_grads: Tensor) -> Tensor:
    """tr(C) from per-example gradients ``[n, P]``: Σ_p Var_i(g_ip) (population variance over the n examples)."""
    g = per_example_grads.double()
    return ((g - g.mean(0, keepdim=True)) ** 2).mean(0).sum()


def t_eff(per_example_grads: Tensor, lr: float, batch_size: int) -> float:
    """T_eff = η tr(C) / (2 B P) from per-example gradients ``[n, P]``."""
    P = per_example_grads.shape[1]
    return float(lr * gradient_covariance_trace(per_example_grads) / (2 * batch_size * P))


def per_example_grads(loss_of: Callable[[int], Tensor], params: list[Tensor], n: int) -> Tensor:
    """``[n, P]``: the gradient of ``loss_of(i)`` (example i's loss) with respect to ``params``, flattened."""
    rows = []
    for i in range(n):
        gs = torch.autograd.grad(loss_of(i), params)
        rows.append(torch.cat([g.reshape(-1) for g in gs]))
    return torch.stack(rows)
