"""Local learning coefficient by SGLD (Lau et al. 2023, as the devinterp project defines its estimator).

λ̂(w*) = nβ (E_w[L_n(w)] − L_n(w*)),  β = 1/log n,

the expectation over the tempered, localised posterior ∝ exp(−nβ L_n(w) − (γ/2)||w − w*||²), sampled by SGLD:

w ← w − (ε/2)(nβ ∇L_n(w) + γ (w − w*)) + N(0, ε),

with ``chains`` independent chains of ``draws`` steps after ``burn_in``, started at w*. Here the gradient is the
full-batch one (the pool's training sets are small) and every member of a packed run is sampled at once (the
loss is summed over members, so each member's chain only sees its own loss). ε, γ, chains and draws are
documented options (devinterp leaves them to the user; its grokking notebooks use ε ~ 1e-4..1e-3, γ ~ 100..1000).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor


def sgld_llc(loss: Callable[[], Tensor], params: dict[str, Tensor], n: int, *, eps: float = 1e-4,
             gamma: float = 100.0, chains: int = 2, draws: int = 40, burn_in: int = 10, seed: int = 0) -> Tensor:
    """λ̂ per member ``[M]``. ``loss() -> [M]`` is each member's mean training loss at the current values of
    ``params`` (name -> ``[M, ...]`` leaf tensors that require grad, at w*); they are moved by the chains and
    restored to w* at the end."""
    beta = 1.0 / math.log(n)
    nbeta = n * beta
    star = {k: v.detach().clone() for k, v in params.items()}
    with torch.no_grad():
        l_star = loss().detach()
    gen = torch.Generator().manual_seed(seed)
    total = torch.zeros_like(l_star)
    count = 0
    try:
        for _ in range(chains):
            with torch.no_grad():
                for k, v in params.items():
                    v.copy_(star[k])
            for t in range(burn_in + draws):
                with torch.enable_grad():
                    lw = loss()
                    grads = torch.autograd.grad(lw.sum(), list(params.values()))
                if t >= burn_in:
                    total += lw.detach()
                    count += 1
                with torch.no_grad():
                    for (k, v), g in zip(params.items(), grads):
                        noise = torch.randn(v.shape, generator=gen, dtype=v.dtype).to(v.device) * math.sqrt(eps)
                        v.add_(-(eps / 2) * (nbeta * g + gamma * (v - star[k])) + noise)
    finally:
        with torch.no_grad():
            for k, v in params.items():
                v.copy_(star[k])
    return nbeta * (total / max(count, 1) - l_star)


def run_llc(setup: Any, **kw: Any) -> Tensor:
    """λ̂ per member of a rebuilt run (a ``train.setup.Setup`` whose model holds the checkpoint's weights)."""
    from ..train.losses import per_example

    s = setup

    def loss() -> Tensor:
        z = s.model(s.x_train) / s.tau[:, None, None]
        return per_example(s.cfg.loss.name, z, s.y_train).mean(1)

    params = {k: v for k, v in s.params.items() if v.requires_grad}
    return sgld_llc(loss, params, int(s.x_train.shape[1]), **kw)
