"""Log-alignment ratio of the unembedding (Shehper & Vaswani 2026; papers/02 §7).

For the unembedding ``W [n, C]`` (grokscope's ``[in, out]`` layout: n = fan-in = d) and the hidden states fed to
it ``X [N, n]``, with ``‖A‖_rms = ‖A‖_F / sqrt(numel A)``::

    LAR = log_n( ‖X W‖_rms / (‖W‖_rms ‖X‖_rms) ),     k̂ = n^{2(1 − LAR)}  (effective dimension)

Online form: three sums of squares (of X, of W, of the bias-free logits XW) pooled over chunks of examples, never
an average of per-chunk LARs (02 §7 item 2). Spectral form: with W = Σ σ_i u_i v_iᵀ (u_i ∈ R^n), p_i = σ_i²/Σσ²
and q_i = ‖X u_i‖²/‖X‖_F², LAR = 1 + ½ log_n Σ_i p_i q_i. Isotropic random W and X give LAR ≈ ½; both spectra
uniform on the same k directions give k̂ = k.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import EvalContext, probe

CHUNK = 4096  # examples per pooled chunk


def lar_sums(W: Tensor, X: Tensor, chunk: int = CHUNK) -> tuple[Tensor, Tensor, Tensor]:
    """``W [M, n, C]``, ``X [M, N, n]`` -> (Σ (XW)², Σ W², Σ X²), each ``[M]`` float64, pooled over chunks of N."""
    W = W.double()
    sxw = torch.zeros(W.shape[0], dtype=torch.float64, device=W.device)
    sx = torch.zeros_like(sxw)
    for xc in X.split(chunk, dim=1):
        xc = xc.double()
        sxw += torch.bmm(xc, W).square().sum((1, 2))
        sx += xc.square().sum((1, 2))
    return sxw, W.square().sum((1, 2)), sx


def lar_from_sums(sxw: Tensor, sw: Tensor, sx: Tensor, n: int, N: int, C: int) -> Tensor:
    """LAR ``[M]`` from the pooled sums of squares: n fan-in, N examples, C outputs."""
    ratio_sq = (sxw / (N * C)) / ((sw / (n * C)) * (sx / (N * n)))
    return 0.5 * ratio_sq.log() / math.log(n)


def lar(W: Tensor, X: Tensor) -> Tensor:
    """Direct (online) LAR: ``W [M, n, C]``, ``X [M, N, n]`` -> ``[M]``."""
    n, C = W.shape[1], W.shape[2]
    return lar_from_sums(*lar_sums(W, X), n, X.shape[1], C)


def lar_spectral(W: Tensor, X: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Spectral LAR: ``W [M, n, C]``, ``X [M, N, n]`` -> (LAR [M], p [M, n], q [M, n]).

    p: weight spectrum σ_i²/Σσ² (zero-padded to n directions); q: share of ‖X‖_F² along W's input singular
    directions u_i (completed to a basis of R^n, so q sums to 1).
    """
    W, X = W.double(), X.double()
    n = W.shape[1]
    U, S, _ = torch.linalg.svd(W, full_matrices=True)  # U [M, n, n]
    p = torch.zeros(W.shape[0], n, dtype=torch.float64, device=W.device)
    p[:, : S.shape[1]] = S.square() / S.square().sum(1, keepdim=True)
    q = torch.bmm(X, U).square().sum(1)
    q = q / q.sum(1, keepdim=True)
    return 1 + 0.5 * (p * q).sum(1).log() / math.log(n), p, q


def effective_dim(lar_value: Tensor, n: int) -> Tensor:
    """k̂ = n^{2(1 − LAR)}: the number of shared directions that would give this LAR."""
    return torch.as_tensor(float(n)) ** (2 * (1 - lar_value))


def _unembed_in(roles) -> list[str]:
    return [roles.unembed_in]


@probe("lar", hooks=_unembed_in, uses_labels=False, cost="forward")
def lar_probe(ctx: EvalContext) -> dict[str, Tensor]:
    W, X = ctx.params[ctx.roles.unembed], ctx.cache[ctx.roles.unembed_in]  # [M, n, C], [M, N, n]
    value = lar(W, X)
    return {"lar/lar": value, "lar/k_hat": effective_dim(value, W.shape[1])}
