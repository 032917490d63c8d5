"""Heavy-tail exponent of the weight matrices' empirical spectral densities: a native stand-in for WeightWatcher's α.

For each weight matrix W (member axis aside, ``[in, out]``), the ESD is the eigenvalues λ_i = s_i² of WᵀW. The
power-law exponent of its upper tail is the Hill / continuous maximum-likelihood estimate on the top ``tail``
fraction of eigenvalues (Clauset, Shalizi & Newman 2009): α̂ = 1 + k / Σ_{i<=k} ln(λ_(i) / λ_(k)), with λ_(k) the
smallest eigenvalue in the tail. WeightWatcher chooses the tail by a KS-distance scan over x_min; this estimator
fixes the tail fraction instead (a documented simplification, not the ``weightwatcher`` package). The score of a
member is the mean α̂ over its weight matrices with at least ``min_eigs`` eigenvalues.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def hill_alpha(eigs: Tensor, tail: float = 0.5) -> Tensor:
    """``eigs [M, n]`` (non-negative) -> α̂ ``[M]`` on the top ``tail`` fraction (at least 3 eigenvalues)."""
    lam = torch.sort(eigs.double().clamp_min(1e-30), dim=-1, descending=True).values
    k = max(3, int(math.ceil(tail * lam.shape[-1])))
    k = min(k, lam.shape[-1])
    top = lam[:, :k]
    logs = torch.log(top / top[:, -1:]).sum(-1)
    return 1 + k / logs.clamp_min(1e-12)


def esd_alpha(weights: list[Tensor], tail: float = 0.5, min_eigs: int = 8) -> Tensor:
    """Mean α̂ over the weight matrices ``[M, a, b]`` with at least ``min_eigs`` singular values -> ``[M]``."""
    alphas = []
    for W in weights:
        if W.dim() != 3 or min(W.shape[1:]) < min_eigs:
            continue
        s = torch.linalg.svdvals(W.double())
        alphas.append(hill_alpha(s ** 2, tail))
    if not alphas:
        return torch.full((weights[0].shape[0] if weights else 1,), math.nan, dtype=torch.float64)
    return torch.stack(alphas).mean(0)
